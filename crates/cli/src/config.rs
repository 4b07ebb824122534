//! Where the client commands find their server, token, space and output format.
//!
//! Precedence, highest first: command-line flags, environment variables (clap reads both into
//! [`GlobalArgs`]), the context in use (`--context`, `SWITCHYARD_CONTEXT`, else the current one;
//! see [`crate::context`]), the config file (`server`, `token`, `space`, `output`, `ca_cert`),
//! defaults.
//! When no token is given anywhere and the server is local, the admin token `serve` wrote is
//! used: `$SWITCHYARD_DATA_DIR/admin.token`, else `switchyard-data/admin.token` in the current
//! directory or the nearest parent that has one. Every place looked at is remembered, so that a
//! refusal can say where the CLI looked.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::UsageError;
use crate::context::{self, ActiveContext, ContextToken};
use crate::output::OutputFormat;

/// Server used when none is configured.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7400";
/// Space used when none is configured.
pub const DEFAULT_SPACE: &str = "default";
/// Data directory `serve` uses when `SWITCHYARD_DATA_DIR` is not set.
pub const DEFAULT_DATA_DIR: &str = "./switchyard-data";
/// Name of the data directory looked for in the current directory and its parents.
const DATA_DIR_NAME: &str = "switchyard-data";

/// Log format of `serve` and `bench`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Log level of `serve` (`RUST_LOG`, when set, overrides it).
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
    /// Space to work in; a project as ORG/PROJECT (the space ORG.PROJECT) [default: default].
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
    /// PEM file of a CA to trust for https:// servers, besides the system's roots (for a
    /// server whose certificate a private CA issued).
    #[arg(long, global = true, env = "SWITCHYARD_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// PEM file of a client certificate to present to a server that verifies them (`serve
    /// --tls-client-ca`); without a token, requests then act as the principal its subject
    /// names (needs --client-key).
    #[arg(long, global = true, env = "SWITCHYARD_CLIENT_CERT", value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM file of --client-cert's private key.
    #[arg(long, global = true, env = "SWITCHYARD_CLIENT_KEY", value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Config file [default: $XDG_CONFIG_HOME/switchyard/config.toml].
    #[arg(long, global = true, env = "SWITCHYARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format of serve and bench.
    #[arg(long, global = true, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Context to use (see `switchyard context`) [default: the current one].
    #[arg(long, global = true, env = "SWITCHYARD_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
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
    /// PEM file of a CA to trust; a relative path is taken from the config file's directory.
    pub ca_cert: Option<PathBuf>,
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
    /// `$SWITCHYARD_TOKEN`, to tell it from `--token`.
    pub token_var: Option<String>,
    /// The current directory, where the search for a local admin token starts.
    pub cwd: Option<PathBuf>,
}

impl Env {
    /// Reads the variables from this process's environment (empty ones count as unset).
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Env {
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
            data_dir: var("SWITCHYARD_DATA_DIR"),
            token_var: std::env::var("SWITCHYARD_TOKEN").ok().filter(|v| !v.trim().is_empty()),
            cwd: std::env::current_dir().ok(),
        }
    }
}

/// Where a token came from, for error hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token`, `SWITCHYARD_TOKEN` or the config file (before [`Settings::resolve`] says which).
    Given,
    /// `--token`.
    Flag,
    /// `SWITCHYARD_TOKEN`.
    EnvVar,
    /// The context of this name, stored in its file or read from its token file.
    Context(String, PathBuf),
    /// The config file at this path.
    ConfigFile(PathBuf),
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
    /// Every place looked at for a token and what was there, one line each, for hints.
    pub token_lookup: Vec<String>,
    /// PEM file of a CA to trust for https:// servers.
    pub ca_cert: Option<PathBuf>,
    /// PEM files of the client certificate and its key to present.
    pub client_identity: Option<(PathBuf, PathBuf)>,
}

impl Settings {
    /// Merges flags/env, the context in use, the config file and defaults, then looks for a
    /// local admin token.
    pub fn resolve(args: &GlobalArgs, env: &Env) -> anyhow::Result<Settings> {
        let config = config_path(args.config.as_deref(), env);
        let file = match &config {
            Some((path, explicit)) => load(path, *explicit)?.unwrap_or_default(),
            None => ConfigFile::default(),
        };
        let active = context::active(args.context.as_deref(), env)?;
        let mut lookup = Vec::new();
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        lookup.push(format!("--token and SWITCHYARD_TOKEN: {}", if given(&args.token) { "given" } else { "not set" }));
        let file_token = given(&file.token);
        let layered = match &active {
            Some(ctx) => {
                let (layer, line) = context_layer(ctx, args, &file);
                lookup.push(line);
                layer
            }
            None => {
                lookup.push(match context::contexts_path(env) {
                    Some(path) => format!(
                        "contexts: none in use (--context, SWITCHYARD_CONTEXT or `switchyard context use`; file {})",
                        path.display()
                    ),
                    None => "contexts: none (no HOME or XDG_CONFIG_HOME)".into(),
                });
                file
            }
        };
        lookup.push(match (&config, active.is_some()) {
            (_, true) => "config file: its server and token give way to the context".into(),
            (Some((path, _)), false) => {
                format!("config file {}: {}", path.display(), if file_token { "has a token" } else { "no token" })
            }
            (None, false) => "config file: none (no HOME or XDG_CONFIG_HOME)".into(),
        });
        let from_layer = given(&layered.token);
        let mut settings = merge(args, layered);
        settings.token_source = match (&settings.token_source, &active) {
            (TokenSource::None, _) => TokenSource::None,
            _ if given(&args.token) => {
                if env.token_var.as_deref().map(str::trim) == args.token.as_deref().map(str::trim) {
                    TokenSource::EnvVar
                } else {
                    TokenSource::Flag
                }
            }
            (_, Some(ctx)) if from_layer => match &ctx.token {
                ContextToken::File(_, path) => TokenSource::Context(ctx.name.clone(), path.clone()),
                _ => TokenSource::Context(ctx.name.clone(), ctx.file.clone()),
            },
            _ => match &config {
                Some((path, _)) => TokenSource::ConfigFile(path.clone()),
                None => TokenSource::Given,
            },
        };
        if settings.token.is_none() {
            match local_admin_token(&settings.server, env) {
                Ok((token, path)) => {
                    settings.token = Some(token);
                    settings.token_source = TokenSource::AdminTokenFile(path);
                }
                Err(line) => lookup.push(line),
            }
        }
        settings.token_lookup = lookup;
        Ok(settings)
    }

    /// What to tell a person whose request was refused as `unauthorized`: where the token came
    /// from, or every place the CLI looked for one, and how to give one.
    pub fn unauthorized_hint(&self) -> Vec<String> {
        let refused = |what: String| {
            vec![format!(
                "hint: {what} was refused by {}: it is not a token of that server, or it was revoked",
                self.server
            )]
        };
        match &self.token_source {
            TokenSource::Flag => refused("the token given with --token".into()),
            TokenSource::EnvVar => refused("the token in SWITCHYARD_TOKEN".into()),
            TokenSource::Given => refused("the token given".into()),
            TokenSource::Context(name, path) => refused(format!("the token of context {name} ({})", path.display())),
            TokenSource::ConfigFile(path) => refused(format!("the token in the config file {}", path.display())),
            TokenSource::AdminTokenFile(path) => vec![format!(
                "hint: the admin token read from {} was refused by {}: that file belongs to the server whose \
                 data directory holds it, which may not be this one; pass --token or use a context",
                path.display(),
                self.server
            )],
            TokenSource::None => {
                let mut lines = vec!["hint: no token was given; the CLI looked in:".to_string()];
                lines.extend(self.token_lookup.iter().map(|l| format!("  {l}")));
                lines.push(
                    "hint: pass --token TOKEN (or set SWITCHYARD_TOKEN), or save a context with \
                     `switchyard context add NAME --server URL --token TOKEN` and `switchyard context use NAME`; \
                     for a server on this machine, run from the directory that holds its switchyard-data \
                     (or a subdirectory), or set SWITCHYARD_DATA_DIR"
                        .into(),
                );
                lines
            }
        }
    }
}

/// The context as a layer over the config file: its server and token replace the file's, its
/// space (when set) the file's space. The token is dropped when a flag or variable points the
/// command at another server: a context's token goes only to its own server. Also returns the
/// line that says so for hints.
fn context_layer(ctx: &ActiveContext, args: &GlobalArgs, file: &ConfigFile) -> (ConfigFile, String) {
    let other_server = args
        .server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter(|s| !same_server(s, &ctx.server))
        .map(str::to_string);
    let where_ = format!("context {} ({})", ctx.name, ctx.file.display());
    let (token, line) = match (&ctx.token, &other_server) {
        (ContextToken::None, _) => (None, format!("{where_}: no token")),
        (_, Some(other)) => {
            (None, format!("{where_}: its token is for {}, not {other}, so it was not used", ctx.server))
        }
        (ContextToken::Stored(token), None) => (Some(token.clone()), format!("{where_}: a stored token")),
        (ContextToken::File(token, path), None) => {
            (Some(token.clone()), format!("{where_}: the token in {}", path.display()))
        }
    };
    let layer = ConfigFile {
        server: Some(ctx.server.clone()),
        token,
        space: ctx.space.clone().or_else(|| file.space.clone()),
        output: file.output,
        // A context stores no CA: the config file's (or --ca-cert) applies to it too.
        ca_cert: file.ca_cert.clone(),
    };
    (layer, line)
}

/// Whether two server addresses name the same server (`127.0.0.1:7400` is
/// `http://127.0.0.1:7400/`).
fn same_server(a: &str, b: &str) -> bool {
    match (switchyard_client::server_url(a), switchyard_client::server_url(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

/// The output format for commands that resolve nothing else (`context`): flags and
/// environment, else the config file's (an unreadable file is left for other commands to
/// report), else the default.
pub fn output_format(args: &GlobalArgs, env: &Env) -> OutputFormat {
    let from_file = || {
        let (path, explicit) = config_path(args.config.as_deref(), env)?;
        load(&path, explicit).ok().flatten()?.output
    };
    args.output.or_else(from_file).unwrap_or_default()
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
    let mut file: ConfigFile = toml::from_str(&text)
        .map_err(|e| UsageError(format!("config file {}: {}", path.display(), e.to_string().trim_end())))?;
    if let (Some(ca_cert), Some(dir)) = (&mut file.ca_cert, path.parent()) {
        *ca_cert = dir.join(&*ca_cert);
    }
    Ok(Some(file))
}

/// Fills what the flags and environment left unset from `file`, then from the defaults.
pub fn merge(args: &GlobalArgs, file: ConfigFile) -> Settings {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let token = given(&args.token).or_else(|| given(&file.token)).map(|t| t.trim().to_string());
    Settings {
        server: given(&args.server).or_else(|| given(&file.server)).unwrap_or_else(|| DEFAULT_SERVER.into()),
        token_source: if token.is_some() { TokenSource::Given } else { TokenSource::None },
        token,
        // `acme/orders` names the project's space, `acme.orders`; what does not resolve is
        // passed on for the server to refuse with its reason.
        space: given(&args.space)
            .or_else(|| given(&file.space))
            .map(|s| switchyard_model::resolve_space_ref(&s).unwrap_or(s))
            .unwrap_or_else(|| DEFAULT_SPACE.into()),
        output: args.output.or(file.output).unwrap_or_default(),
        token_lookup: Vec::new(),
        ca_cert: args.ca_cert.clone().filter(|p| !p.as_os_str().is_empty()).or(file.ca_cert),
        client_identity: args.client_cert.clone().zip(args.client_key.clone()),
    }
}

/// The files that may hold a local server's admin token, in the order they are tried:
/// `$SWITCHYARD_DATA_DIR/admin.token` when that is set, else `switchyard-data/admin.token` in
/// the current directory and each of its parents (`serve` writes it to `./switchyard-data`
/// by default, so a command run in a project's subdirectory finds it too).
pub fn admin_token_candidates(env: &Env) -> Vec<PathBuf> {
    if let Some(dir) = &env.data_dir {
        return vec![dir.join("admin.token")];
    }
    match &env.cwd {
        Some(cwd) => cwd.ancestors().map(|dir| dir.join(DATA_DIR_NAME).join("admin.token")).collect(),
        None => vec![Path::new(DEFAULT_DATA_DIR).join("admin.token")],
    }
}

/// The admin token of a server on this machine (see [`admin_token_candidates`]), or a line
/// saying where the CLI looked and why nothing was used.
pub fn local_admin_token(server: &str, env: &Env) -> Result<(String, PathBuf), String> {
    let local = switchyard_client::server_url(server)
        .ok()
        .and_then(|url| url.host_str().map(|h| matches!(h, "127.0.0.1" | "localhost" | "[::1]")));
    if local != Some(true) {
        return Err(format!("a local server's admin token: not looked for, {server} is not on this machine"));
    }
    let candidates = admin_token_candidates(env);
    for path in &candidates {
        match std::fs::read_to_string(path) {
            Ok(token) if !token.trim().is_empty() => return Ok((token.trim().to_string(), path.clone())),
            _ => continue,
        }
    }
    let paths: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    let source = if env.data_dir.is_some() { "$SWITCHYARD_DATA_DIR" } else { "this directory and its parents" };
    Err(format!("a local server's admin token ({source}): none of {}", paths.join(", ")))
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
            ca_cert: None,
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
        let env = Env { xdg_config_home: Some("/xdg".into()), home: Some("/home/u".into()), ..Env::default() };
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
    fn ca_cert_comes_from_flags_then_the_config_file_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "ca_cert = \"ca.pem\"\n").unwrap();
        let mut a = args(None, None, None, None);
        a.config = Some(path.clone());
        let s = Settings::resolve(&a, &Env::default()).unwrap();
        assert_eq!(s.ca_cert, Some(dir.path().join("ca.pem")));
        a.ca_cert = Some("/etc/flag.pem".into());
        let s = Settings::resolve(&a, &Env::default()).unwrap();
        assert_eq!(s.ca_cert, Some("/etc/flag.pem".into()));
        std::fs::write(&path, "ca_cert = \"/abs/ca.pem\"\n").unwrap();
        a.ca_cert = None;
        let s = Settings::resolve(&a, &Env::default()).unwrap();
        assert_eq!(s.ca_cert, Some("/abs/ca.pem".into()));
    }

    #[test]
    fn local_server_without_token_uses_the_admin_token_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.token"), "sy_admin\n").unwrap();
        let env =
            Env { data_dir: Some(dir.path().to_path_buf()), home: Some(dir.path().join("home")), ..Env::default() };
        for server in ["http://127.0.0.1:7400", "localhost:7400", "http://[::1]:7400", "https://localhost:7400"] {
            let s = Settings::resolve(&args(Some(server), None, None, None), &env).unwrap();
            assert_eq!(s.token.as_deref(), Some("sy_admin"), "{server}");
            assert!(matches!(s.token_source, TokenSource::AdminTokenFile(_)));
        }
        // Not for a remote server, and never over a token that was given.
        let s = Settings::resolve(&args(Some("http://example.com:7400"), None, None, None), &env).unwrap();
        assert_eq!(s.token, None);
        let s = Settings::resolve(&args(Some("127.0.0.1:7400"), Some("mine"), None, None), &env).unwrap();
        assert_eq!(s.token.as_deref(), Some("mine"));
        assert_eq!(s.token_source, TokenSource::Flag);
    }

    #[test]
    fn admin_token_is_found_in_a_parent_directory_and_every_path_tried_is_named() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("greet").join("src");
        std::fs::create_dir_all(&deep).unwrap();
        let env = Env { cwd: Some(deep.clone()), home: Some(root.path().join("home")), ..Env::default() };
        let candidates = admin_token_candidates(&env);
        assert_eq!(candidates[0], deep.join("switchyard-data/admin.token"));
        assert_eq!(candidates[2], root.path().join("switchyard-data/admin.token"));
        assert_eq!(candidates.last().map(PathBuf::as_path), Some(Path::new("/switchyard-data/admin.token")));

        std::fs::create_dir_all(root.path().join("switchyard-data")).unwrap();
        std::fs::write(root.path().join("switchyard-data/admin.token"), "sy_parent\n").unwrap();
        let s = Settings::resolve(&args(Some("127.0.0.1:7400"), None, None, None), &env).unwrap();
        assert_eq!(s.token.as_deref(), Some("sy_parent"));
        assert_eq!(s.token_source, TokenSource::AdminTokenFile(root.path().join("switchyard-data/admin.token")));

        // $SWITCHYARD_DATA_DIR replaces the search, and the hint names what was tried.
        let elsewhere = root.path().join("elsewhere");
        let env = Env { data_dir: Some(elsewhere.clone()), ..env };
        let s = Settings::resolve(&args(Some("127.0.0.1:7400"), None, None, None), &env).unwrap();
        assert_eq!(s.token, None);
        let hint = s.unauthorized_hint().join("\n");
        assert!(hint.contains(&elsewhere.join("admin.token").display().to_string()), "{hint}");
        assert!(hint.contains("--token and SWITCHYARD_TOKEN: not set"), "{hint}");
        assert!(hint.contains("switchyard context add"), "{hint}");
    }

    #[test]
    fn remote_server_hint_says_the_admin_token_was_not_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env { cwd: Some(dir.path().to_path_buf()), ..Env::default() };
        let s = Settings::resolve(&args(Some("http://example.com:7400"), None, None, None), &env).unwrap();
        let hint = s.unauthorized_hint().join("\n");
        assert!(hint.contains("not looked for, http://example.com:7400 is not on this machine"), "{hint}");
    }

    /// Writes a contexts file under `dir` (as XDG_CONFIG_HOME) and returns the env that sees it.
    fn with_contexts(dir: &Path, text: &str) -> Env {
        let path = dir.join("switchyard").join("contexts.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        Env { xdg_config_home: Some(dir.to_path_buf()), cwd: Some(dir.to_path_buf()), ..Env::default() }
    }

    #[test]
    fn context_sits_between_env_and_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.toml"), "server = \"http://file:1\"\ntoken = \"ft\"\nspace = \"fs\"\n")
            .unwrap();
        let env = with_contexts(
            dir.path(),
            "current = \"a\"\n[contexts.a]\nserver = \"http://ctx-a:1\"\ntoken = \"ta\"\n\
             [contexts.b]\nserver = \"http://ctx-b:1\"\ntoken = \"tb\"\nspace = \"bs\"\n",
        );
        let mut a = args(None, None, None, None);
        a.config = Some(dir.path().join("c.toml"));
        // The current context's server and token beat the config file; its unset space does not.
        let s = Settings::resolve(&a, &env).unwrap();
        assert_eq!((s.server.as_str(), s.token.as_deref(), s.space.as_str()), ("http://ctx-a:1", Some("ta"), "fs"));
        assert!(matches!(&s.token_source, TokenSource::Context(name, _) if name == "a"));
        // --context picks another one.
        a.context = Some("b".into());
        let s = Settings::resolve(&a, &env).unwrap();
        assert_eq!((s.server.as_str(), s.token.as_deref(), s.space.as_str()), ("http://ctx-b:1", Some("tb"), "bs"));
        // Flags and variables beat the context.
        a.space = Some("flag".into());
        a.token = Some("flag-token".into());
        let s = Settings::resolve(&a, &env).unwrap();
        assert_eq!((s.token.as_deref(), s.space.as_str()), (Some("flag-token"), "flag"));
        // A missing context is an error, not a silent fallback.
        a.context = Some("nope".into());
        let err = Settings::resolve(&a, &env).unwrap_err();
        assert!(err.to_string().contains("no context named \"nope\""), "{err}");
    }

    #[test]
    fn a_contexts_token_is_not_sent_to_another_server() {
        let dir = tempfile::tempdir().unwrap();
        let env = with_contexts(dir.path(), "current = \"a\"\n[contexts.a]\nserver = \"ctx:1\"\ntoken = \"ta\"\n");
        let s = Settings::resolve(&args(Some("http://ctx:1/"), None, None, None), &env).unwrap();
        assert_eq!(s.token.as_deref(), Some("ta"), "the same server, spelled differently");
        let s = Settings::resolve(&args(Some("http://other:1"), None, None, None), &env).unwrap();
        assert_eq!(s.token, None);
        let hint = s.unauthorized_hint().join("\n");
        assert!(hint.contains("its token is for ctx:1, not http://other:1"), "{hint}");
    }
}
