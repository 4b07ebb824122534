//! The error tables of `docs/http-api.md`, read for the tests that hold the code and the
//! running server to them.
//!
//! The section `## Errors` holds two tables: the API's codes, then the codes a failed function
//! invocation answers with. Each row is `| code | status | meaning |`, the code in backticks and
//! optionally qualified (`` `conflict` (KV) ``, a second row for a code with a second cause), the
//! status a number or `—` for a code that is never an answer's.

use std::path::Path;

/// One row of an error table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    /// The row's first cell without backticks, e.g. `conflict (KV)`: what names the row.
    pub label: String,
    /// The code alone, e.g. `conflict`.
    pub code: String,
    /// The documented status; `None` for `—`.
    pub status: Option<u16>,
}

/// The two tables of `## Errors` in docs/http-api.md: the API's codes and the invocation codes.
/// Panics, naming the line, on a table that does not parse: the docs are the tests' input.
pub fn error_tables() -> (Vec<ErrorRow>, Vec<ErrorRow>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/http-api.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut tables = parse_error_tables(&text);
    assert_eq!(tables.len(), 2, "`## Errors` in {} must hold two tables", path.display());
    let invocation = tables.pop().unwrap_or_default();
    let api = tables.pop().unwrap_or_default();
    (api, invocation)
}

/// The tables of the `## Errors` section of `markdown`, in order.
fn parse_error_tables(markdown: &str) -> Vec<Vec<ErrorRow>> {
    let section = markdown
        .split("\n## ")
        .find(|s| s.starts_with("Errors\n"))
        .unwrap_or_else(|| panic!("docs/http-api.md has no `## Errors` section"));
    let mut tables: Vec<Vec<ErrorRow>> = Vec::new();
    let mut in_table = false;
    for line in section.lines() {
        let Some(row) = line.strip_prefix('|') else {
            in_table = false;
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if !in_table {
            // The header row starts a table; the separator row follows it.
            assert_eq!(cells.first().copied(), Some("code"), "a table must start with a `code` header: {line}");
            tables.push(Vec::new());
            in_table = true;
            continue;
        }
        if cells.first().is_some_and(|c| c.starts_with("---")) {
            continue;
        }
        let first = cells.first().copied().unwrap_or_default();
        let code = first
            .strip_prefix('`')
            .and_then(|rest| rest.split_once('`'))
            .map(|(code, _)| code.to_owned())
            .unwrap_or_else(|| panic!("the first cell must be a code in backticks: {line}"));
        let status = match cells.get(1).copied() {
            Some("—") => None,
            Some(n) => Some(n.parse().unwrap_or_else(|_| panic!("the second cell must be a status or —: {line}"))),
            None => panic!("a row needs a status: {line}"),
        };
        let label = first.replace('`', "");
        if let Some(table) = tables.last_mut() {
            table.push(ErrorRow { label, code, status });
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_each_table_are_read_with_their_code_and_status() {
        let text = "# API\n\n## Errors\nIntro.\n\n| code | status | meaning |\n|---|---|---|\n\
                    | `bad_request` | 400 | malformed |\n| `conflict` (KV) | 409 | a | b |\n\n\
                    Then:\n\n| code | status | meaning |\n|---|---|---|\n| `function_abandoned` | — | never |\n\n\
                    ## Machines\n| code | status |\n|---|---|\n| `x` | 1 |\n";
        let tables = parse_error_tables(text);
        let row = |label: &str, code: &str, status| ErrorRow { label: label.into(), code: code.into(), status };
        assert_eq!(
            tables,
            vec![
                vec![row("bad_request", "bad_request", Some(400)), row("conflict (KV)", "conflict", Some(409))],
                vec![row("function_abandoned", "function_abandoned", None)],
            ]
        );
    }

    #[test]
    fn the_documents_tables_parse() {
        let (api, invocation) = error_tables();
        assert!(api.iter().any(|r| r.code == "internal" && r.status == Some(500)), "{api:?}");
        assert!(invocation.iter().any(|r| r.code == "function_timeout" && r.status == Some(504)), "{invocation:?}");
    }
}
