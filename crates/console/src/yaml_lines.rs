//! Where in a flow's YAML text a validation error's field is: the editor shows each error at its
//! line. The validator reports fields by path (`nodes.fetch.url`, `edges[2].when`,
//! `nodes[0].id`); this finds the line that path names, reading the text as a person wrote it
//! (block or flow style), and answers the nearest line it can be sure of when the field itself
//! is not written (a missing field is reported at its node).

/// One step of a field path.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            if let Ok(i) = stripped[..end].parse() {
                out.push(Step::Index(i));
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Whether `line` names `key` as a mapping key (`key:` at its start, after `- `, or in a flow
/// mapping after `{` or `,`).
fn has_key(line: &str, key: &str) -> bool {
    let text = line.trim_start().trim_start_matches("- ");
    let starts = |t: &str| {
        let t = t.trim_start().trim_start_matches(['"', '\'']);
        t.strip_prefix(key).is_some_and(|r| r.trim_start_matches(['"', '\'']).trim_start().starts_with(':'))
    };
    starts(text) || text.split(['{', ',']).skip(1).any(starts)
}

/// Whether the line range holds `id: <id>`.
fn names_id(lines: &[&str], id: &str) -> bool {
    lines.iter().any(|line| {
        let text = line.trim_start().trim_start_matches("- ");
        text.split(['{', ',']).any(|part| {
            let part = part.trim();
            let Some(rest) = part.strip_prefix("id:") else { return false };
            rest.trim().trim_end_matches(['}', ' ']).trim_matches(['"', '\'']) == id
        })
    })
}

/// The 1-based line `path` names in `yaml`, if it can be found.
pub fn line_of(yaml: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = yaml.lines().collect();
    let steps = steps(path);
    let Some(Step::Key(top)) = steps.first() else { return None };
    let top_line = lines.iter().position(|l| indent(l) == 0 && has_key(l, top))?;
    let mut found = top_line;
    // The range of the current item: from `start` up to (not including) `end`.
    let mut start = top_line + 1;
    let mut end = lines[start.min(lines.len())..]
        .iter()
        .position(|l| {
            indent(l) == 0
                && !l.trim().is_empty()
                && !l.trim_start().starts_with('-')
                && !l.trim_start().starts_with('#')
        })
        .map_or(lines.len(), |p| p + start);
    // Whether the value being looked into is a block list (after a key) or a mapping (an item).
    // A flow-style list on the key's own line (`nodes: [ ... ]`) has no lines to look into.
    let mut in_list = is_list(&lines, start, end);
    for step in &steps[1..] {
        match step {
            Step::Index(_) | Step::Key(_) if matches!(step, Step::Index(_)) || in_list => {
                let items = item_starts(&lines, start, end);
                let chosen = match step {
                    Step::Index(i) => items.get(*i).copied(),
                    Step::Key(id) => items.iter().copied().enumerate().find_map(|(k, s)| {
                        let e = items.get(k + 1).copied().unwrap_or(end);
                        names_id(&lines[s..e], id).then_some(s)
                    }),
                };
                let Some(item) = chosen else { return Some(found + 1) };
                let next = items.iter().copied().find(|&s| s > item).unwrap_or(end);
                found = item;
                start = item;
                end = next;
                in_list = false;
            }
            Step::Key(key) => {
                let Some(at) = (start..end).find(|&i| has_key(lines[i], key)) else { return Some(found + 1) };
                found = at;
                let own = indent(lines[at].trim_start_matches("- "));
                start = at + 1;
                end = (start..end).find(|&i| !lines[i].trim().is_empty() && indent(lines[i]) <= own).unwrap_or(end);
                in_list = is_list(&lines, start, end);
            }
            Step::Index(_) => {}
        }
    }
    Some(found + 1)
}

/// Whether the range is a block list (its first meaningful line starts with `- `).
fn is_list(lines: &[&str], start: usize, end: usize) -> bool {
    (start..end.min(lines.len()))
        .map(|i| lines[i].trim_start())
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("- ") || l == "-")
}

/// The lines where the items of the block list in the range start.
fn item_starts(lines: &[&str], start: usize, end: usize) -> Vec<usize> {
    let end = end.min(lines.len());
    let Some(first) = (start..end).find(|&i| lines[i].trim_start().starts_with('-')) else { return Vec::new() };
    let dash = indent(lines[first]);
    (first..end).filter(|&i| indent(lines[i]) == dash && lines[i].trim_start().starts_with('-')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "name: demo
description: a flow
nodes:
  - { id: a, kind: transform, value: 'input.x' }
  - id: fetch
    kind: http
    url: \"'https://x'\"
    retry:
      max_attempts: 3
  - id: b
    kind: transform
edges:
  - { from: a, to: fetch }
  - from: fetch
    to: b
    when: 'nope('
";

    #[test]
    fn paths_find_their_lines() {
        assert_eq!(line_of(FLOW, "description"), Some(2));
        assert_eq!(line_of(FLOW, "nodes.a.value"), Some(4));
        assert_eq!(line_of(FLOW, "nodes.fetch.url"), Some(7));
        assert_eq!(line_of(FLOW, "nodes.fetch.retry.max_attempts"), Some(9));
        assert_eq!(line_of(FLOW, "nodes[2].kind"), Some(11));
        assert_eq!(line_of(FLOW, "edges[1].when"), Some(16));
        assert_eq!(line_of(FLOW, "edges[0]"), Some(13));
    }

    #[test]
    fn a_missing_field_is_shown_at_its_node() {
        assert_eq!(line_of(FLOW, "nodes.b.value"), Some(10));
        assert_eq!(line_of(FLOW, "nodes.zzz"), Some(3));
        assert_eq!(line_of(FLOW, "input_schema"), None);
        assert_eq!(line_of("", "nodes.a"), None);
    }

    #[test]
    fn paths_split_into_steps() {
        assert_eq!(steps("edges[2].when"), vec![Step::Key("edges"), Step::Index(2), Step::Key("when")]);
        assert_eq!(steps("nodes.a"), vec![Step::Key("nodes"), Step::Key("a")]);
    }
}
