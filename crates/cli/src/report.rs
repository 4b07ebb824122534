//! How a failed command is reported: a stable code, a message, details and hints, printed as
//! text or, under `--output json|jsonl`, as one JSON object on stderr; and its exit code.
//!
//! Codes: a server's refusal keeps the server's code (`instance_not_found`, `unauthorized`, …);
//! the CLI's own are `usage` (called wrongly: arguments, JSON arguments, addresses, config and
//! contexts files), `context_not_found`, `unreachable` (no answer from the server),
//! `bad_response` (an answer the CLI cannot read) and `failed` (anything else: a local file, a
//! benchmark's failed requests, the server command).

use std::ffi::OsString;

use clap::ValueEnum;
use clap::error::ErrorKind;
use serde_json::{Value, json};
use switchyard_client::ClientError;

use crate::UsageError;
use crate::config::Settings;
use crate::context::ContextError;
use crate::output::{OutputFormat, compact, describe_details, eprint_line};

/// Exit code when the server refused or could not be reached, or the command failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when the command was called wrongly.
pub const EXIT_USAGE: u8 = 2;

/// A failed command, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Stable error code.
    pub code: String,
    /// One sentence for people.
    pub message: String,
    /// Machine-readable context (the server's, for its refusals); `null` when none.
    pub details: Value,
    /// Lines that say what to do about it.
    pub hints: Vec<String>,
    /// The process exit code.
    pub exit: u8,
    /// The first line in text form (today's wording, which tests and people rely on).
    text: String,
}

impl Failure {
    fn new(code: &str, message: String, exit: u8) -> Failure {
        Failure {
            code: code.into(),
            text: format!("error: {message}"),
            message,
            details: Value::Null,
            hints: Vec::new(),
            exit,
        }
    }

    /// Classifies an error; `settings` (when they were resolved) adds the server and token hints.
    pub fn of(err: &anyhow::Error, settings: Option<&Settings>) -> Failure {
        if let Some(usage) = err.downcast_ref::<UsageError>() {
            return Failure::new("usage", usage.0.clone(), EXIT_USAGE);
        }
        if let Some(context) = err.downcast_ref::<ContextError>() {
            let exit = if context.is_usage() { EXIT_USAGE } else { EXIT_FAILURE };
            return Failure::new(context.code(), context.to_string(), exit);
        }
        let Some(client_err) = err.downcast_ref::<ClientError>() else {
            return Failure::new("failed", format!("{err:#}"), EXIT_FAILURE);
        };
        match client_err {
            ClientError::Api { code, message, details, .. } => {
                let mut failure = Failure::new(code, message.clone(), EXIT_FAILURE);
                failure.text = format!("error: {code}: {message}");
                failure.details = details.clone();
                if code == "unauthorized"
                    && let Some(settings) = settings
                {
                    failure.hints = settings.unauthorized_hint();
                }
                failure
            }
            ClientError::Transport(message) => {
                let server = settings.map_or("the server", |s| s.server.as_str());
                let mut failure = Failure::new(
                    "unreachable",
                    format!("could not reach the server at {server}: {message}"),
                    EXIT_FAILURE,
                );
                if let Some(settings) = settings {
                    failure.details = json!({ "server": settings.server });
                }
                failure
            }
            ClientError::Certificate(message) => {
                let server = settings.map_or("the server", |s| s.server.as_str());
                let mut failure = Failure::new(
                    "untrusted_certificate",
                    format!("the TLS certificate of {server} is not trusted: {message}"),
                    EXIT_FAILURE,
                );
                failure.hints = vec![
                    "if a private CA issued it, pass that CA's certificate with --ca-cert FILE (or SWITCHYARD_CA_CERT, or ca_cert in the config file)".to_string(),
                ];
                if let Some(settings) = settings {
                    failure.details = json!({ "server": settings.server });
                }
                failure
            }
            ClientError::InvalidServer(_) | ClientError::InvalidArgument(_) | ClientError::InvalidCaCert(_) => {
                Failure::new("usage", client_err.to_string(), EXIT_USAGE)
            }
            ClientError::Decode(_) => Failure::new("bad_response", format!("{err:#}"), EXIT_FAILURE),
        }
    }

    /// A command line clap refused.
    pub fn of_clap(err: &clap::Error) -> Failure {
        let rendered = err.render().to_string();
        let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
        let message = match first.strip_prefix("error: ") {
            Some(message) => message.trim().to_string(),
            None => "the command is incomplete; --help lists what it takes".to_string(),
        };
        let mut failure = Failure::new("usage", message, EXIT_USAGE);
        failure.details = json!({ "kind": snake_case(&format!("{:?}", err.kind())) });
        failure
    }

    /// The JSON form: `{"error":{"code","message","details"[,"hint"]}}`.
    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message, "details": self.details });
        if !self.hints.is_empty()
            && let Some(map) = error.as_object_mut()
        {
            let lines: Vec<&str> = self.hints.iter().map(|l| l.strip_prefix("hint: ").unwrap_or(l)).collect();
            map.insert("hint".into(), Value::String(lines.join("\n")));
        }
        json!({ "error": error })
    }

    /// Prints the failure to stderr in `format`.
    pub fn print(&self, format: OutputFormat) {
        match format {
            OutputFormat::Json | OutputFormat::Jsonl => eprint_line(&compact(&self.to_json())),
            OutputFormat::Table => {
                eprint_line(&self.text);
                for line in describe_details(&self.details) {
                    eprint_line(&line);
                }
                for line in &self.hints {
                    eprint_line(line);
                }
            }
        }
    }
}

/// `MissingRequiredArgument` → `missing_required_argument`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Reports a command line clap refused and returns the exit code: help and version go out as
/// clap prints them; under `--output json|jsonl` an error is the JSON object, else clap's text.
pub fn clap_error(err: clap::Error, format: OutputFormat) -> u8 {
    let shown_as_is = matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if shown_as_is || format == OutputFormat::Table {
        let _ = err.print();
        return u8::try_from(err.exit_code()).unwrap_or(EXIT_USAGE);
    }
    let failure = Failure::of_clap(&err);
    failure.print(format);
    failure.exit
}

/// The output format a command line asks for, found without parsing it (for errors clap
/// reports before there is a parse): the last `-o`/`--output` value, else `SWITCHYARD_OUTPUT`.
pub fn requested_output(args: &[OsString], env_value: Option<&str>) -> OutputFormat {
    let parse = |v: &str| OutputFormat::from_str(v, true).ok();
    let mut found = None;
    let mut args = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        let value = match arg {
            "--" => break,
            "-o" | "--output" => args.next(),
            _ => arg.strip_prefix("--output=").or_else(|| arg.strip_prefix("-o").filter(|v| !v.is_empty())),
        };
        if let Some(format) = value.and_then(|v| parse(v.trim_start_matches('='))) {
            found = Some(format);
        }
    }
    found.or_else(|| env_value.and_then(parse)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("switchyard").chain(list.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn requested_output_reads_flags_then_the_variable() {
        let table: &[(&[&str], Option<&str>, OutputFormat)] = &[
            (&["instance", "get", "x"], None, OutputFormat::Table),
            (&["-o", "json", "instance", "get"], None, OutputFormat::Json),
            (&["instance", "get", "--output", "jsonl"], None, OutputFormat::Jsonl),
            (&["--output=json", "x"], None, OutputFormat::Json),
            (&["-ojson", "x"], None, OutputFormat::Json),
            (&["-o=json", "x"], None, OutputFormat::Json),
            (&["x"], Some("json"), OutputFormat::Json),
            (&["-o", "table", "x"], Some("json"), OutputFormat::Table),
            (&["-o", "xml", "x"], Some("json"), OutputFormat::Json),
            (&["--", "-o", "json"], None, OutputFormat::Table),
        ];
        for (list, env, want) in table {
            assert_eq!(requested_output(&args(list), *env), *want, "{list:?} {env:?}");
        }
    }

    #[test]
    fn errors_are_classified_with_stable_codes_and_exit_codes() {
        let table: Vec<(anyhow::Error, &str, u8)> = vec![
            (UsageError("bad".into()).into(), "usage", EXIT_USAGE),
            (ClientError::Transport("refused".into()).into(), "unreachable", EXIT_FAILURE),
            (ClientError::InvalidServer("x".into()).into(), "usage", EXIT_USAGE),
            (ClientError::Decode("x".into()).into(), "bad_response", EXIT_FAILURE),
            (
                ClientError::Api {
                    status: 404,
                    code: "machine_not_found".into(),
                    message: "m".into(),
                    details: json!({}),
                }
                .into(),
                "machine_not_found",
                EXIT_FAILURE,
            ),
            (ContextError::NoneInUse.into(), "context_not_found", EXIT_USAGE),
            (anyhow::anyhow!("cannot read x.wasm"), "failed", EXIT_FAILURE),
        ];
        for (err, code, exit) in table {
            let failure = Failure::of(&err, None);
            assert_eq!((failure.code.as_str(), failure.exit), (code, exit), "{err:#}");
            assert_eq!(failure.to_json()["error"]["code"], code);
        }
    }

    #[test]
    fn clap_kinds_become_snake_case() {
        assert_eq!(snake_case("MissingRequiredArgument"), "missing_required_argument");
        assert_eq!(snake_case("Io"), "io");
    }
}
