//! `switchyard serve --config-file FILE`: the server's settings from a TOML file, and
//! `serve --print-config`.
//!
//! The file's keys are the long names of `serve`'s flags (`listen = "0.0.0.0:7400"`,
//! `max-body-bytes = 2097152`, `shutdown-grace = "8s"`), its values what the flag would take.
//! Precedence, highest first: command-line flag, environment variable, file, default. No flag
//! is listed here: every `serve` flag that has an environment variable is a setting, so a flag
//! added to [`ServeArgs`] is a key at once. Flags without one (`--reset-admin-token`,
//! `--print-config`, `--help`) are one-time actions, refused in the file, and so is
//! `config-file` itself.
//!
//! How: the command line is parsed once to find the file; each of the file's values is checked
//! with its flag's own clap value parser (so the file is refused with the parser's message,
//! naming the file and key), then becomes that flag's default value, and the command line is
//! parsed again. Clap itself thereby keeps a flag over its environment variable over the file.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};

use crate::UsageError;
use crate::serve::ServeArgs;

/// The name of the `serve` subcommand in the command tree.
const SERVE: &str = "serve";

/// `serve`'s flags that choose and print its config file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigFileArgs {
    /// The server's config file (TOML): its keys are the long names of the flags below that have
    /// an environment variable, its values what the flag takes, e.g. `listen = "0.0.0.0:7400"`, `max-body-bytes = 2097152`,
    /// `shutdown-grace = "8s"`. A flag or environment variable wins over the file, the file
    /// over the default. Not the global --config, which is the client commands' file.
    #[arg(long, env = "SWITCHYARD_SERVE_CONFIG", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Print the effective configuration as TOML (every key, its value and where it came from:
    /// flag, env, file or default) and exit without opening the store. A password in a URL is
    /// masked; the output loads as a --config-file.
    #[arg(long)]
    pub print_config: bool,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    Flag,
    /// An environment variable.
    Env,
    /// The config file.
    File,
    /// The built-in default (or no value at all).
    Default,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// A setting's value as the config file spells it.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Integer(i64),
    Text(String),
}

/// One setting of the effective configuration.
#[derive(Debug, Clone)]
struct Setting {
    key: String,
    /// `None` when the flag is unset and has no default.
    value: Option<Value>,
    source: Source,
    /// A password (or the whole value) was replaced by `****`.
    masked: bool,
}

/// The settings `serve` runs with, and where each came from.
#[derive(Debug, Clone)]
pub struct EffectiveConfig {
    file: Option<PathBuf>,
    settings: Vec<Setting>,
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read the config file {}: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    /// The file is not TOML.
    #[error("the config file {} is not valid TOML: {message}", file.display())]
    Syntax { file: PathBuf, message: String },
    /// A key is not a flag of `serve`.
    #[error("{}: unknown key `{key}` (did you mean `{nearest}`?)", file.display())]
    UnknownKey { file: PathBuf, key: String, nearest: String },
    /// A key names a flag that is not a setting.
    #[error("{}: `{key}` cannot be set in a config file: {why}", file.display())]
    NotASetting { file: PathBuf, key: String, why: &'static str },
    /// A value its flag's parser refuses.
    #[error("{}: bad value for `{key}`: {message}", file.display())]
    BadValue { file: PathBuf, key: String, message: String },
}

/// Parses `argv` as `cmd` (the whole command tree) would, with `serve`'s unset flags taken from
/// its config file; returns the arguments and where each setting came from. Every failure is a
/// [`UsageError`] (exit code 2).
pub fn resolve(cmd: clap::Command, argv: Vec<OsString>) -> anyhow::Result<(ServeArgs, EffectiveConfig)> {
    let matches = cmd.clone().try_get_matches_from(&argv).map_err(clap_usage)?;
    let serve_matches = matches.subcommand_matches(SERVE).ok_or_else(|| UsageError("not a serve command".into()))?;
    if matches.value_source("config") == Some(ValueSource::CommandLine)
        || serve_matches.value_source("config") == Some(ValueSource::CommandLine)
    {
        return Err(UsageError(
            "--config names the client commands' config file and serve does not read it; the server's is --config-file FILE"
                .into(),
        )
        .into());
    }
    let file = serve_matches.get_one::<PathBuf>("config_file").cloned();

    let mut built = cmd.clone();
    built.build();
    let serve_cmd = built.find_subcommand(SERVE).ok_or_else(|| UsageError("no serve command".into()))?;
    let mut from_file = Vec::new();
    let mut cmd = cmd;
    if let Some(path) = &file {
        for (key, text) in read_file(path, serve_cmd).map_err(|e| UsageError(e.to_string()))? {
            let id = setting_by_key(serve_cmd, &key).map(|arg| arg.get_id().to_string());
            let Some(id) = id else { continue };
            // The command is parsed once per process: leaking the few file values is the price
            // of handing clap a `&'static str` default.
            let text: &'static str = Box::leak(text.into_boxed_str());
            let id_ref = id.clone();
            cmd = cmd.mut_subcommand(SERVE, move |serve| serve.mut_arg(&id_ref, |arg| arg.default_value(text)));
            from_file.push(id);
        }
    }

    let matches = cmd.try_get_matches_from(&argv).map_err(|e| match &file {
        Some(path) => UsageError(format!("{} (with the values of {})", clap_message(&e), path.display())),
        None => UsageError(clap_message(&e)),
    })?;
    let serve_matches = matches.subcommand_matches(SERVE).ok_or_else(|| UsageError("not a serve command".into()))?;
    let args = ServeArgs::from_arg_matches(serve_matches).map_err(clap_usage)?;
    let settings = settings(serve_cmd)
        .map(|arg| setting(arg, serve_matches, from_file.iter().any(|id| id == arg.get_id())))
        .collect();
    Ok((args, EffectiveConfig { file, settings }))
}

/// The file's keys and values, each value checked by its flag's parser.
fn read_file(path: &Path, serve: &clap::Command) -> Result<Vec<(String, String)>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read { file: path.into(), source })?;
    parse_file(path, &text, serve)
}

/// The keys and values of a config file's `text`, each value checked by its flag's parser.
fn parse_file(path: &Path, text: &str, serve: &clap::Command) -> Result<Vec<(String, String)>, ConfigFileError> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| ConfigFileError::Syntax { file: path.into(), message: e.to_string().trim_end().to_string() })?;
    let mut values = Vec::with_capacity(table.len());
    for (key, value) in table {
        // The global options (the client's --config, --server, …) are not serve's to set.
        let mut own = serve.get_arguments().filter(|arg| !arg.is_global_set());
        let Some(arg) = own.find(|arg| arg.get_long() == Some(key.as_str())) else {
            let nearest = settings(serve)
                .filter_map(|arg| arg.get_long())
                .min_by_key(|long| strsim::levenshtein(long, &key))
                .unwrap_or("listen")
                .to_string();
            return Err(ConfigFileError::UnknownKey { file: path.into(), key, nearest });
        };
        if !is_setting(arg) {
            let why = if is_config_file_arg(arg) {
                "it is about the config file itself; give it on the command line"
            } else {
                "it is a one-time action, not a setting; give it on the command line"
            };
            return Err(ConfigFileError::NotASetting { file: path.into(), key, why });
        }
        let bad = |message: String| ConfigFileError::BadValue { file: path.into(), key: key.clone(), message };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::Array(_) | toml::Value::Table(_) => {
                return Err(bad(format!(
                    "expected one value (a string, number or boolean), found {}",
                    value.type_str()
                )));
            }
        };
        check_value(arg, &text).map_err(bad)?;
        values.push((key, text));
    }
    Ok(values)
}

/// The `serve` flags that are settings: its own (not the global options) that have an
/// environment variable, except those choosing the config file.
fn settings(serve: &clap::Command) -> impl Iterator<Item = &Arg> {
    serve.get_arguments().filter(|arg| is_setting(arg))
}

/// Whether `arg` (of the built `serve` command) is a setting the config file may hold.
fn is_setting(arg: &Arg) -> bool {
    !arg.is_global_set() && arg.get_long().is_some() && arg.get_env().is_some() && !is_config_file_arg(arg)
}

/// Whether `arg` is one of [`ConfigFileArgs`].
fn is_config_file_arg(arg: &Arg) -> bool {
    ConfigFileArgs::augment_args(clap::Command::new("config")).get_arguments().any(|a| a.get_id() == arg.get_id())
}

/// The setting whose long flag is `key`, if any.
fn setting_by_key<'a>(serve: &'a clap::Command, key: &str) -> Option<&'a Arg> {
    settings(serve).find(|arg| arg.get_long() == Some(key))
}

/// Runs `arg`'s value parser on `text`; the parser's message when it refuses it.
fn check_value(arg: &Arg, text: &str) -> Result<(), String> {
    let probe = clap::Command::new("value").no_binary_name(true).arg(
        Arg::new("value")
            .value_parser(arg.get_value_parser().clone())
            .action(ArgAction::Set)
            .allow_hyphen_values(true)
            .required(true),
    );
    probe.try_get_matches_from([text]).map(|_| ()).map_err(|e| parser_message(&e))
}

/// What a value parser said, without clap's framing (which would name the probe argument).
fn parser_message(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    if let Some(source) = std::error::Error::source(err) {
        return source.to_string();
    }
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => format!("\"{v}\""),
        _ => "the value".to_string(),
    };
    match err.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("{value} is not one of {}", valid.join(", ")),
        _ => clap_message(err),
    }
}

/// Clap's message for `err`: its first line, without the `error: ` prefix.
fn clap_message(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_string()
}

/// A clap error as a usage error; help and version requests print and exit as clap does.
fn clap_usage(err: clap::Error) -> anyhow::Error {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        err.exit();
    }
    UsageError(clap_message(&err)).into()
}

/// One setting's value and source after the final parse.
fn setting(arg: &Arg, matches: &ArgMatches, in_file: bool) -> Setting {
    let id = arg.get_id().as_str();
    let key = arg.get_long().unwrap_or(id).to_string();
    let source = match matches.value_source(id) {
        Some(ValueSource::CommandLine) => Source::Flag,
        Some(ValueSource::EnvVariable) => Source::Env,
        Some(ValueSource::DefaultValue) if in_file => Source::File,
        _ => Source::Default,
    };
    let is_flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
    if is_flag {
        let value = matches.try_get_one::<bool>(id).ok().flatten().copied().map(Value::Bool);
        return Setting { key, value, source, masked: false };
    }
    let raw = matches.get_raw(id).and_then(|mut values| values.next()).map(|v| v.to_string_lossy().into_owned());
    let Some(raw) = raw else {
        return Setting { key, value: None, source, masked: false };
    };
    let (text, masked) = if arg.is_hide_env_values_set() { ("****".to_string(), true) } else { mask_password(&raw) };
    let value = match text.parse::<i64>() {
        Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => Value::Integer(n),
        _ => Value::Text(text),
    };
    Setting { key, value: Some(value), source, masked }
}

/// `text` with the password of a URL in it (`scheme://user:PASSWORD@host`) replaced by `****`;
/// whether it had one.
fn mask_password(text: &str) -> (String, bool) {
    let Some(scheme_end) = text.find("://") else {
        return (text.to_string(), false);
    };
    let rest_start = scheme_end + 3;
    let rest = &text[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (text.to_string(), false);
    };
    let Some(colon) = rest[..at].find(':') else {
        return (text.to_string(), false);
    };
    let masked = format!("{}{}****{}", &text[..rest_start], &rest[..=colon], &rest[at..]);
    (masked, true)
}

impl EffectiveConfig {
    /// The configuration as a TOML config file, each value's source in a comment beside it;
    /// unset settings are comments.
    pub fn to_toml(&self, rust_log: Option<&str>) -> String {
        let mut out = String::new();
        out.push_str("# The effective configuration of `switchyard serve`; after each value, where it came from\n");
        out.push_str("# (flag, env, file or default). `switchyard serve --config-file FILE` loads it as it is.\n");
        if let Some(file) = &self.file {
            let _ = writeln!(out, "# Config file: {}", file.display());
        }
        if let Some(directives) = rust_log {
            let _ = writeln!(out, "# RUST_LOG is set and overrides log-level: {directives:?}");
        }
        for setting in &self.settings {
            let source = setting.source.as_str();
            let note = if setting.masked { "; password masked" } else { "" };
            match &setting.value {
                Some(value) => {
                    let _ = writeln!(out, "{} = {}  # {source}{note}", setting.key, toml_value(value));
                }
                None => {
                    let _ = writeln!(out, "# {}: not set  # {source}", setting.key);
                }
            }
        }
        out
    }

    /// One line for the log: every setting that did not come from its default.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for setting in self.settings.iter().filter(|s| s.source != Source::Default) {
            if !out.is_empty() {
                out.push_str(", ");
            }
            let value = setting.value.as_ref().map_or_else(|| "unset".to_string(), toml_value);
            let _ = write!(out, "{}={value} ({})", setting.key, setting.source.as_str());
        }
        if out.is_empty() { "all defaults".to_string() } else { out }
    }
}

/// `value` in TOML syntax (strings quoted and escaped).
fn toml_value(value: &Value) -> String {
    match value {
        Value::Bool(b) => toml::Value::Boolean(*b).to_string(),
        Value::Integer(n) => toml::Value::Integer(*n).to_string(),
        Value::Text(s) => toml::Value::String(s.clone()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// A root command holding `serve` the way `main` does, with a global `--config` option.
    #[derive(Debug, clap::Parser)]
    struct Root {
        #[arg(long, global = true, env = "SWITCHYARD_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Serve(ServeArgs),
    }

    fn serve_command() -> clap::Command {
        let mut root = Root::command();
        root.build();
        root.find_subcommand(SERVE).expect("serve").clone()
    }

    #[test]
    fn file_errors_name_the_file_the_key_and_the_fix() {
        let serve = serve_command();
        let cases: &[(&str, &str)] = &[
            ("max_body_bytes = 10", "f.toml: unknown key `max_body_bytes` (did you mean `max-body-bytes`?)"),
            ("lisen = \"127.0.0.1:1\"", "unknown key `lisen` (did you mean `listen`?)"),
            ("max-body-bytes = \"lots\"", "f.toml: bad value for `max-body-bytes`: invalid digit found in string"),
            ("max-body-bytes = -1", "bad value for `max-body-bytes`: invalid digit found in string"),
            ("shutdown-grace = \"soon\"", "bad value for `shutdown-grace`: "),
            ("idle-timeout = \"0s\"", "bad value for `idle-timeout`: a timeout must be longer than zero"),
            ("max-connections = 0", "bad value for `max-connections`: 0 is not in 1..=4294967295"),
            (
                "log-level = \"loud\"",
                "bad value for `log-level`: \"loud\" is not one of error, warn, info, debug, trace",
            ),
            (
                "listen = [\"a\", \"b\"]",
                "bad value for `listen`: expected one value (a string, number or boolean), found array",
            ),
            ("function-allow-private-networks = \"maybe\"", "bad value for `function-allow-private-networks`:"),
            ("reset-admin-token = true", "`reset-admin-token` cannot be set in a config file: it is a one-time action"),
            ("print-config = true", "`print-config` cannot be set in a config file"),
            (
                "config-file = \"other.toml\"",
                "`config-file` cannot be set in a config file: it is about the config file",
            ),
            ("config = \"client.toml\"", "unknown key `config`"),
            ("listen = ", "the config file f.toml is not valid TOML"),
        ];
        for (text, expected) in cases {
            let err = parse_file(Path::new("f.toml"), text, &serve).expect_err(text);
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn file_values_are_checked_and_kept_as_text() {
        let serve = serve_command();
        let text = "listen = \"0.0.0.0:7400\"\nmax-body-bytes = 2048\nfunction-allow-private-networks = true\nshutdown-grace = \"3s\"";
        let values = parse_file(Path::new("f.toml"), text, &serve).expect("valid");
        let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            values,
            [
                ("function-allow-private-networks", "true"),
                ("listen", "0.0.0.0:7400"),
                ("max-body-bytes", "2048"),
                ("shutdown-grace", "3s")
            ]
        );
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        let cases = [
            ("postgres://user:secret@db:5432/sy", "postgres://user:****@db:5432/sy", true),
            ("postgres://user@db/sy", "postgres://user@db/sy", false),
            ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:****@h/db?sslmode=require", true),
            ("http://host:7400/a@b", "http://host:7400/a@b", false),
            ("./switchyard-data", "./switchyard-data", false),
        ];
        for (text, masked, was_masked) in cases {
            assert_eq!(mask_password(text), (masked.to_string(), was_masked), "{text}");
        }
    }

    #[test]
    fn every_serve_flag_with_an_environment_variable_is_a_setting() {
        let serve = serve_command();
        let keys: Vec<&str> = settings(&serve).filter_map(|a| a.get_long()).collect();
        for key in ["listen", "data-dir", "store", "max-body-bytes", "shutdown-grace", "log-level", "metrics-public"] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        for key in ["config-file", "print-config", "reset-admin-token", "help", "config"] {
            assert!(!keys.contains(&key), "{key} must not be a setting");
        }
    }
}
