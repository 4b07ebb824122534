//! Which space `switchyard watch PATTERN` watches, and what it tells the user when the pattern
//! as written could match nothing.
//!
//! A pattern is `SPACE[:NAME…][*]` (what the server filters on) or, for convenience, relative
//! to `--space`: `order:*` in a space that has no space called `order` means
//! `SPACE:order:*`. The rule is decided against the spaces the token can see, and the CLI
//! says on stderr whenever it reads a pattern as relative or watches a space that does not
//! exist yet, so a watch never waits in silence for records that cannot come.

/// What to watch: the space, the address pattern sent to the server, and a note for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedWatch {
    /// The space watched.
    pub space: String,
    /// The address pattern sent to the server (`None`: everything in the space).
    pub address: Option<String>,
    /// Why the watch may stay quiet, or how the pattern was read; printed on stderr.
    pub note: Option<String>,
}

/// Resolves `pattern` given the `--space` in effect and the spaces that exist (`None` when
/// they could not be listed: then the pattern is taken as written, without notes).
pub fn resolve(pattern: Option<&str>, current_space: &str, existing: Option<&[String]>) -> ResolvedWatch {
    let exists = |space: &str| existing.is_none_or(|spaces| spaces.iter().any(|s| s == space));
    let pattern = pattern.map(str::trim).filter(|p| !p.is_empty() && *p != "*");
    let Some(pattern) = pattern else {
        let note = (!exists(current_space)).then(|| {
            format!(
                "space \"{current_space}\" does not exist yet: nothing will show until something is written there{}",
                other_spaces_hint(existing)
            )
        });
        return ResolvedWatch { space: current_space.to_string(), address: None, note };
    };
    let first = match pattern.split_once(':') {
        Some((space, _)) => space,
        None => pattern.trim_end_matches('*'),
    };
    if exists(first) {
        return ResolvedWatch { space: first.to_string(), address: Some(pattern.to_string()), note: None };
    }
    // `order:*` while watching acme: the first segment names no space, the current one exists.
    if pattern.contains(':') && exists(current_space) {
        let address = format!("{current_space}:{pattern}");
        let note = format!(
            "there is no space \"{first}\": watching \"{address}\" in space \"{current_space}\" (write SPACE:{pattern} to name another space)"
        );
        return ResolvedWatch { space: current_space.to_string(), address: Some(address), note: Some(note) };
    }
    let note = format!(
        "space \"{first}\" does not exist yet: \"{pattern}\" matches nothing until something is written there (a pattern is SPACE:NAME…, or NAME… within --space){}",
        other_spaces_hint(existing)
    );
    ResolvedWatch { space: first.to_string(), address: Some(pattern.to_string()), note: Some(note) }
}

fn other_spaces_hint(existing: Option<&[String]>) -> String {
    match existing {
        Some(spaces) if !spaces.is_empty() => format!("; spaces: {}", spaces.join(", ")),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spaces(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// pattern, --space, the spaces there are, the space watched, the address sent, a note.
    type Case<'a> = (Option<&'a str>, &'a str, Option<&'a [String]>, &'a str, Option<&'a str>, bool);

    #[test]
    fn patterns_resolve_against_the_spaces_that_exist() {
        let acme = spaces(&["acme"]);
        let cases: &[Case<'_>] = &[
            (None, "acme", Some(&acme), "acme", None, false),
            (Some("*"), "acme", Some(&acme), "acme", None, false),
            (Some("*"), "default", Some(&acme), "default", None, true),
            (Some("acme:order:*"), "default", Some(&acme), "acme", Some("acme:order:*"), false),
            (Some("acme"), "default", Some(&acme), "acme", Some("acme"), false),
            (Some("acme*"), "default", Some(&acme), "acme", Some("acme*"), false),
            (Some("order:*"), "acme", Some(&acme), "acme", Some("acme:order:*"), true),
            (Some("order:o-1"), "acme", Some(&acme), "acme", Some("acme:order:o-1"), true),
            (Some("order:*"), "default", Some(&acme), "order", Some("order:*"), true),
            (Some("beta:x"), "acme", Some(&[]), "beta", Some("beta:x"), true),
            // Spaces unknown (listing failed): as written, silently.
            (Some("order:*"), "acme", None, "order", Some("order:*"), false),
            (None, "acme", None, "acme", None, false),
        ];
        for (pattern, current, existing, space, address, noted) in cases {
            let got = resolve(*pattern, current, *existing);
            assert_eq!(got.space, *space, "{pattern:?} in {current}");
            assert_eq!(got.address.as_deref(), *address, "{pattern:?} in {current}");
            assert_eq!(got.note.is_some(), *noted, "{pattern:?} in {current}: {:?}", got.note);
        }
    }

    #[test]
    fn a_note_for_a_missing_space_lists_the_spaces_there_are() {
        let got = resolve(Some("*"), "default", Some(&spaces(&["acme", "beta"])));
        let note = got.note.expect("a note");
        assert!(note.contains("\"default\" does not exist yet") && note.contains("spaces: acme, beta"), "{note}");
    }
}
