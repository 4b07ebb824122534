//! Rendering replies as tables and summaries, or as the server's JSON.

use std::io::Write;

use anyhow::Context;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned columns and summaries for people.
    #[default]
    Table,
    /// The server's JSON reply, pretty-printed (streams: one record per line).
    Json,
    /// One compact JSON object per line: each item of a list, each record of a stream.
    Jsonl,
}

/// The fields under which list replies carry their items; `jsonl` prints each item on a line.
/// Named, not guessed, so that an object that merely has an array field (a token's `spaces`)
/// stays one line.
const LIST_FIELDS: &[&str] = &[
    "machines",
    "instances",
    "events",
    "spaces",
    "tokens",
    "keys",
    "history",
    "subscriptions",
    "dead_letters",
    "invocations",
    "records",
    "contexts",
    "jobs",
    "buckets",
    "functions",
    "versions",
    "flows",
    "runs",
    "env",
    "secrets",
];

/// Paging fields a list reply may carry beside its items; `jsonl` drops them.
const PAGING_FIELDS: &[&str] = &["next_cursor", "next_after"];

/// The lines `jsonl` prints for a reply: one per item of a list (a JSON array, or an object
/// holding only an array under one of [`LIST_FIELDS`] and paging fields), else the reply.
pub fn jsonl_lines(value: &Value) -> Vec<String> {
    let items = match value {
        Value::Array(items) => Some(items),
        Value::Object(map) => {
            let mut lists = map.iter().filter(|(k, v)| LIST_FIELDS.contains(&k.as_str()) && v.is_array());
            match (lists.next(), lists.next()) {
                (Some((key, list)), None) if map.keys().all(|k| k == key || PAGING_FIELDS.contains(&k.as_str())) => {
                    list.as_array()
                }
                _ => None,
            }
        }
        _ => None,
    };
    match items {
        Some(items) => items.iter().map(compact).collect(),
        None => vec![compact(value)],
    }
}

/// Formats rows under headers as aligned columns (two spaces apart, last column unpadded).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&headers).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Formats `key value` pairs with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        out.push_str(&format!("{key:width$}  {value}\n"));
    }
    out
}

/// Compact one-line JSON.
pub fn compact(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<{e}>"))
}

/// Pretty JSON followed by a newline.
pub fn pretty(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<{e}>"));
    text.push('\n');
    text
}

/// Prints `value` as pretty JSON (json), one line per item (jsonl) or `table()` of it (table).
pub fn print<T: Serialize>(format: OutputFormat, value: &T, table: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => emit(&pretty(value)),
        OutputFormat::Jsonl => {
            let value = serde_json::to_value(value).context("encoding the reply as JSON")?;
            let mut text = String::new();
            for line in jsonl_lines(&value) {
                text.push_str(&line);
                text.push('\n');
            }
            emit(&text)
        }
        OutputFormat::Table => emit(&table(value)),
    }
}

/// Prints a reply that has no table form as JSON: compact lines under jsonl, else pretty.
pub fn print_json(format: OutputFormat, value: &impl Serialize) -> anyhow::Result<()> {
    print(format, value, |v| pretty(v))
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// Writes formatted text to stdout as `print!` does, but a closed pipe (`| grep -q`, `| head`)
/// is not an error, as in [`emit`]; `print!` panics on it (Rust ignores SIGPIPE).
pub fn emit_fmt(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// `println!` through [`emit_fmt`]: a closed pipe is not an error, any other failure is.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::emit_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// `print!` through [`emit_fmt`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::emit_fmt(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// Writes a line to stderr, ignoring failures (there is nowhere left to report them).
pub fn eprint_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Describes an error's `details` for people: one line per validation error, else compact JSON.
pub fn describe_details(details: &Value) -> Vec<String> {
    match details {
        Value::Null => Vec::new(),
        Value::Object(map) if map.is_empty() => Vec::new(),
        Value::Object(map) => {
            let mut lines = Vec::new();
            let mut rest = map.clone();
            if let Some(Value::Array(errors)) = map.get("errors") {
                rest.remove("errors");
                for error in errors {
                    if let Some(text) = error.as_str() {
                        lines.push(format!("  {text}"));
                        continue;
                    }
                    let message = error.get("message").and_then(Value::as_str);
                    let path = error.get("path").and_then(Value::as_str).filter(|p| !p.is_empty());
                    match (path, message) {
                        (Some(path), Some(message)) => lines.push(format!("  {path}: {message}")),
                        (None, Some(message)) => lines.push(format!("  {message}")),
                        _ => lines.push(format!("  {}", compact(error))),
                    }
                }
            }
            if !rest.is_empty() {
                lines.push(format!("  details: {}", compact(&rest)));
            }
            lines
        }
        other => vec![format!("  details: {}", compact(other))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_aligns_columns_and_leaves_the_last_unpadded() {
        let rows =
            vec![vec!["o-1".into(), "pending".into(), "1".into()], vec!["order-22".into(), "paid".into(), "12".into()]];
        let text = table(&["ID", "STATE", "REVISION"], &rows);
        assert_eq!(text, "ID        STATE    REVISION\no-1       pending  1\norder-22  paid     12\n");
    }

    #[test]
    fn empty_table_prints_headers() {
        assert_eq!(table(&["NAME", "VERSION"], &[]), "NAME  VERSION\n");
    }

    #[test]
    fn jsonl_prints_one_line_per_item_of_a_list_else_the_reply() {
        let table: &[(Value, &[&str])] = &[
            (json!([{"a": 1}, {"a": 2}]), &[r#"{"a":1}"#, r#"{"a":2}"#]),
            (json!({"instances": [{"id": "o-1"}], "next_cursor": "x"}), &[r#"{"id":"o-1"}"#]),
            (json!({"machines": []}), &[]),
            (json!({"token": "t", "spaces": ["acme", "b"]}), &[r#"{"spaces":["acme","b"],"token":"t"}"#]),
            (json!({"deleted": true}), &[r#"{"deleted":true}"#]),
            (json!({"name": "b", "history": 5}), &[r#"{"history":5,"name":"b"}"#]),
            (json!({"keys": [1], "history": [2]}), &[r#"{"history":[2],"keys":[1]}"#]),
            (json!("text"), &[r#""text""#]),
        ];
        for (value, want) in table {
            assert_eq!(jsonl_lines(value), *want, "{value}");
        }
    }

    #[test]
    fn details_are_described_per_kind() {
        let table: &[(Value, &[&str])] = &[
            (Value::Null, &[]),
            (json!({}), &[]),
            (
                json!({"actual_state": "paid", "actual_revision": 3}),
                &[r#"  details: {"actual_revision":3,"actual_state":"paid"}"#],
            ),
            (
                json!({"errors": [{"path": "states.x", "message": "unknown state"}, {"message": "bad"}]}),
                &["  states.x: unknown state", "  bad"],
            ),
            (json!({"errors": [{"path": "", "message": "m"}], "line": 3}), &["  m", r#"  details: {"line":3}"#]),
            (json!({"errors": ["\"amount\" is a required property"]}), &[r#"  "amount" is a required property"#]),
        ];
        for (details, want) in table {
            assert_eq!(describe_details(details), *want, "{details}");
        }
    }
}
