//! Where the client commands find their server, token, space and output format.
//!
//! Precedence, highest first: command-line flags, environment variables (clap reads both into
//! [`GlobalArgs`]), the config file (`server`, `token`, `space`, `output`), defaults. When no
//! token is given anywhere and the server is local, the admin token `serve` wrote is used.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::UsageError;
use crate::output::OutputFormat;

/// Server used when none is configured.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7400";
/// Space used when none is configured.
pub const DEFAULT_SPACE: &str = "default";
/// Data directory `serve` uses when `SWITCHYARD_DATA_DIR` is not set.
pub const DEFAULT_DATA_DIR: &str = "./switchyard-data";

/// Log format of `serve` and `bench`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Log level of `serve` and `bench` (`RUST_LOG`, when set, overrides it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Lifecycle events too (started, migrated, shut down).
    #[default]
    Info,
    /// Per-request detail from Switchyard's own modules.
    Debug,
    /// Everything Switchyard's own modules log.
    Trace,
}

/// Options every command takes; all optional so the config file can fill the gaps.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Space to work in [default: default].
    #[arg(long, global = true, env = "SWITCHYARD_SPACE", value_name = "SPACE")]
    pub space: Option<String>,
    /// Output format [default: table].
    #[arg(short, long, global = true, env = "SWITCHYARD_OUTPUT", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// Server URL or host:port [default: http://127.0.0.1:7400].
    #[arg(long, global = true, env = "SWITCHYARD_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Access token [default: a local server's admin token].
    #[arg(long, global = true, env = "SWITCHYARD_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Config file [default: $XDG_CONFIG_HOME/switchyard/config.toml].
    #[arg(long, global = true, env = "SWITCHYARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format of serve and bench.
    #[arg(long, global = true, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// The config file's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Server URL or host:port.
    pub server: Option<String>,
    /// Access token.
    pub token: Option<String>,
    /// Space to work in.
    pub space: Option<String>,
    /// Output format.
    pub output: Option<OutputFormat>,
}

/// The process environment this module reads besides clap's variables.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$SWITCHYARD_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
}

impl Env {
    /// Reads the variables from this process's environment (empty ones count as unset).
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Env { xdg_config_home: var("XDG_CONFIG_HOME"), home: var("HOME"), data_dir: var("SWITCHYARD_DATA_DIR") }
    }
}

/// Where a token came from, for error hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token`, `SWITCHYARD_TOKEN` or the config file.
    Given,
    /// The admin token file of a local server.
    AdminTokenFile(PathBuf),
    /// Nowhere.
    None,
}

/// The settings a client command runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Server URL or host:port.
    pub server: String,
    /// Access token.
    pub token: Option<String>,
    /// Where the token came from.
    pub token_source: TokenSource,
    /// Space to work in.
    pub space: String,
    /// Output format.
    pub output: OutputFormat,
}

impl Settings {
    /// Merges flags/env, the config file and defaults, then looks for a local admin token.
    pub fn resolve(args: &GlobalArgs, env: &Env) -> Result<Settings, UsageError> {
        let file = match config_path(args.config.as_deref(), env) {
            Some((path, explicit)) => load(&path, explicit)?.unwrap_or_default(),
            None => ConfigFile::default(),
        };
        let mut settings = merge(args, file);
        if settings.token.is_none()
            && let Some((token, path)) = local_admin_token(&settings.server, env)
        {
            settings.token = Some(token);
            settings.token_source = TokenSource::AdminTokenFile(path);
        }
        Ok(settings)
    }
}

/// The config file to read and whether it was named explicitly (`--config`, `SWITCHYARD_CONFIG`).
pub fn config_path(explicit: Option<&Path>, env: &Env) -> Option<(PathBuf, bool)> {
    if let Some(path) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Some((path.to_path_buf(), true));
    }
    // The XDG spec says a relative $XDG_CONFIG_HOME is to be ignored.
    let base = match &env.xdg_config_home {
        Some(xdg) if xdg.is_absolute() => xdg.clone(),
        _ => env.home.as_ref()?.join(".config"),
    };
    Some((base.join("switchyard").join("config.toml"), false))
}

/// Reads a config file; a missing file is `None` unless it was named explicitly.
pub fn load(path: &Path, explicit: bool) -> Result<Option<ConfigFile>, UsageError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(UsageError(format!("config file {} does not exist", path.display())));
        }
        Err(e) => return Err(UsageError(format!("cannot read config file {}: {e}", path.display()))),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| UsageError(format!("config file {}: {}", path.display(), e.to_string().trim_end())))
}

/// Fills what the flags and environment left unset from `file`, then from the defaults.
pub fn merge(args: &GlobalArgs, file: ConfigFile) -> Settings {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let token = given(&args.token).or_else(|| given(&file.token)).map(|t| t.trim().to_string());
    Settings {
        server: given(&args.server).or_else(|| given(&file.server)).unwrap_or_else(|| DEFAULT_SERVER.into()),
        token_source: if token.is_some() { TokenSource::Given } else { TokenSource::None },
        token,
        space: given(&args.space).or_else(|| given(&file.space)).unwrap_or_else(|| DEFAULT_SPACE.into()),
        output: args.output.or(file.output).unwrap_or_default(),
    }
}

/// The admin token of a server on this machine: `$SWITCHYARD_DATA_DIR/admin.token`, or
/// `./switchyard-data/admin.token` (where `serve` writes it by default).
pub fn local_admin_token(server: &str, env: &Env) -> Option<(String, PathBuf)> {
    let url = switchyard_client::server_url(server).ok()?;
    if !matches!(url.host_str()?, "127.0.0.1" | "localhost" | "[::1]") {
        return None;
    }
    let dir = env.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let path = dir.join("admin.token");
    let token = std::fs::read_to_string(&path).ok()?.trim().to_string();
    (!token.is_empty()).then_some((token, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        server: Option<&str>,
        token: Option<&str>,
        space: Option<&str>,
        output: Option<OutputFormat>,
    ) -> GlobalArgs {
        GlobalArgs {
            server: server.map(Into::into),
            token: token.map(Into::into),
            space: space.map(Into::into),
            output,
            ..GlobalArgs::default()
        }
    }

    fn file(
        server: Option<&str>,
        token: Option<&str>,
        space: Option<&str>,
        output: Option<OutputFormat>,
    ) -> ConfigFile {
        ConfigFile {
            server: server.map(Into::into),
            token: token.map(Into::into),
            space: space.map(Into::into),
            output,
        }
    }

    #[test]
    fn flags_and_env_win_over_the_config_file() {
        let s = merge(
            &args(Some("http://flag:1"), Some("flag-token"), Some("flagspace"), Some(OutputFormat::Json)),
            file(Some("http://file:1"), Some("file-token"), Some("filespace"), Some(OutputFormat::Table)),
        );
        assert_eq!(s.server, "http://flag:1");
        assert_eq!(s.token.as_deref(), Some("flag-token"));
        assert_eq!(s.space, "flagspace");
        assert_eq!(s.output, OutputFormat::Json);
        assert_eq!(s.token_source, TokenSource::Given);
    }

    #[test]
    fn config_file_fills_only_what_flags_and_env_left_unset() {
        let s = merge(
            &args(None, Some("env-token"), None, None),
            file(Some("http://file:1"), Some("file-token"), Some("filespace"), Some(OutputFormat::Json)),
        );
        assert_eq!(s.server, "http://file:1");
        assert_eq!(s.token.as_deref(), Some("env-token"));
        assert_eq!(s.space, "filespace");
        assert_eq!(s.output, OutputFormat::Json);
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let s = merge(&args(None, None, None, None), ConfigFile::default());
        assert_eq!(s.server, DEFAULT_SERVER);
        assert_eq!(s.token, None);
        assert_eq!(s.token_source, TokenSource::None);
        assert_eq!(s.space, DEFAULT_SPACE);
        assert_eq!(s.output, OutputFormat::Table);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = merge(&args(Some(""), Some(" "), Some(""), None), file(None, Some("file-token"), None, None));
        assert_eq!(s.server, DEFAULT_SERVER);
        assert_eq!(s.token.as_deref(), Some("file-token"));
        assert_eq!(s.space, DEFAULT_SPACE);
    }

    #[test]
    fn config_path_prefers_explicit_then_xdg_then_home() {
        let env = Env { xdg_config_home: Some("/xdg".into()), home: Some("/home/u".into()), data_dir: None };
        assert_eq!(config_path(Some(Path::new("/etc/sy.toml")), &env), Some(("/etc/sy.toml".into(), true)));
        assert_eq!(config_path(None, &env), Some(("/xdg/switchyard/config.toml".into(), false)));
        let relative_xdg = Env { xdg_config_home: Some("rel".into()), ..env.clone() };
        assert_eq!(config_path(None, &relative_xdg), Some(("/home/u/.config/switchyard/config.toml".into(), false)));
        assert_eq!(config_path(None, &Env::default()), None);
    }

    #[test]
    fn missing_default_config_is_silent_but_missing_explicit_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        assert_eq!(load(&path, false).unwrap(), None);
        assert!(load(&path, true).unwrap_err().0.contains("does not exist"));
    }

    #[test]
    fn config_file_parses_or_explains() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let table: &[(&str, Result<ConfigFile, &str>)] = &[
            ("", Ok(ConfigFile::default())),
            (
                "server = \"h:1\"\ntoken = \"t\"\nspace = \"acme\"\noutput = \"json\"\n",
                Ok(file(Some("h:1"), Some("t"), Some("acme"), Some(OutputFormat::Json))),
            ),
            ("output = \"xml\"", Err("unknown variant `xml`")),
            ("sever = \"h:1\"", Err("unknown field `sever`")),
            ("server = ", Err("config.toml")),
            ("server = 1", Err("invalid type")),
        ];
        for (text, expected) in table {
            std::fs::write(&path, text).unwrap();
            match (load(&path, true), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got.as_ref(), Some(want), "{text}"),
                (Err(err), Err(want)) => assert!(err.0.contains(want), "{text}: {}", err.0),
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn resolve_reads_the_config_file_named_by_args() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "server = \"http://from-file:9\"\ntoken = \"wrong\"\n").unwrap();
        let mut a = args(None, Some("right"), None, None);
        a.config = Some(path);
        let s = Settings::resolve(&a, &Env::default()).unwrap();
        assert_eq!(s.server, "http://from-file:9");
        assert_eq!(s.token.as_deref(), Some("right"));
    }

    #[test]
    fn local_server_without_token_uses_the_admin_token_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.token"), "sy_admin\n").unwrap();
        let env =
            Env { data_dir: Some(dir.path().to_path_buf()), home: Some(dir.path().join("home")), ..Env::default() };
        for server in ["http://127.0.0.1:7400", "localhost:7400", "http://[::1]:7400"] {
            let s = Settings::resolve(&args(Some(server), None, None, None), &env).unwrap();
            assert_eq!(s.token.as_deref(), Some("sy_admin"), "{server}");
            assert!(matches!(s.token_source, TokenSource::AdminTokenFile(_)));
        }
        // Not for a remote server, and never over a token that was given.
        let s = Settings::resolve(&args(Some("http://example.com:7400"), None, None, None), &env).unwrap();
        assert_eq!(s.token, None);
        let s = Settings::resolve(&args(Some("127.0.0.1:7400"), Some("mine"), None, None), &env).unwrap();
        assert_eq!(s.token.as_deref(), Some("mine"));
    }
}
