//! Contexts: a server, a token and a space saved under a name, so the CLI reaches its server
//! from any directory (`switchyard context add|use|list|get|delete`).
//!
//! They live in `contexts.toml` beside the config file (`$XDG_CONFIG_HOME/switchyard/`, else
//! `~/.config/switchyard/`), a file only the CLI writes (mode 0600: it may hold tokens), so the
//! hand-written `config.toml` is never rewritten. A context is a unit: its token is sent only
//! to its own server.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Env;
use crate::output::{self, OutputFormat, fields, table};

/// Name of the contexts file inside the CLI's config directory.
const CONTEXTS_FILE: &str = "contexts.toml";
/// Longest context name.
const MAX_NAME: usize = 64;

/// Why a context could not be used or saved.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A context was named (or is current) that the file does not hold.
    #[error("no context named \"{name}\" in {file}{known}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The contexts file.
        file: String,
        /// The names that do exist, for the message.
        known: String,
    },
    /// `context get` without a name while none is in use.
    #[error("no context is in use; name one, or pick one with `switchyard context use NAME`")]
    NoneInUse,
    /// A bad name, server, token file or contexts file: the command was called wrongly.
    #[error("{0}")]
    Invalid(String),
    /// The contexts file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl ContextError {
    /// The stable code reported for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ContextError::NotFound { .. } | ContextError::NoneInUse => "context_not_found",
            ContextError::Invalid(_) => "usage",
            ContextError::Write { .. } => "failed",
        }
    }

    /// Whether the command was called wrongly (exit 2) rather than failed (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ContextError::Write { .. })
    }
}

/// The contexts file as stored (its own type, so an in-memory rename cannot break it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextsFile {
    /// The context used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<String>,
    /// The contexts by name.
    #[serde(default)]
    contexts: BTreeMap<String, StoredContext>,
}

/// One context as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredContext {
    /// Server URL or host:port.
    server: String,
    /// The token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// A file holding the token, read on every use (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_file: Option<PathBuf>,
    /// Space to work in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    space: Option<String>,
}

/// Where an active context's token comes from, for hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextToken {
    /// Stored in the contexts file.
    Stored(String),
    /// Read from this file.
    File(String, PathBuf),
    /// The context has none.
    None,
}

/// The context a command runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveContext {
    /// Its name.
    pub name: String,
    /// The contexts file it came from.
    pub file: PathBuf,
    /// Its server.
    pub server: String,
    /// Its token and where it came from.
    pub token: ContextToken,
    /// Its space, when it sets one.
    pub space: Option<String>,
}

/// The contexts file's path: `$XDG_CONFIG_HOME/switchyard/contexts.toml` (an absolute
/// `XDG_CONFIG_HOME` only), else `$HOME/.config/switchyard/contexts.toml`.
pub fn contexts_path(env: &Env) -> Option<PathBuf> {
    let base = match &env.xdg_config_home {
        Some(xdg) if xdg.is_absolute() => xdg.clone(),
        _ => env.home.as_ref()?.join(".config"),
    };
    Some(base.join("switchyard").join(CONTEXTS_FILE))
}

/// The context selected by `--context`/`SWITCHYARD_CONTEXT`, else the file's current one.
pub fn active(named: Option<&str>, env: &Env) -> Result<Option<ActiveContext>, ContextError> {
    let named = named.map(str::trim).filter(|n| !n.is_empty());
    let Some(path) = contexts_path(env) else {
        return match named {
            Some(name) => Err(not_found(name, Path::new("(no HOME or XDG_CONFIG_HOME)"), &ContextsFile::default())),
            None => Ok(None),
        };
    };
    let file = load(&path)?;
    let Some(name) = named.map(str::to_string).or_else(|| file.current.clone()) else {
        return Ok(None);
    };
    let Some(stored) = file.contexts.get(&name) else {
        return Err(not_found(&name, &path, &file));
    };
    let token = match (&stored.token, &stored.token_file) {
        (Some(token), _) => ContextToken::Stored(token.trim().to_string()),
        (None, Some(token_file)) => ContextToken::File(read_token_file(&name, token_file)?, token_file.clone()),
        (None, None) => ContextToken::None,
    };
    Ok(Some(ActiveContext { name, file: path, server: stored.server.clone(), token, space: stored.space.clone() }))
}

fn not_found(name: &str, path: &Path, file: &ContextsFile) -> ContextError {
    let known = if file.contexts.is_empty() {
        " (there are none: `switchyard context add NAME --server URL --token TOKEN` saves one)".to_string()
    } else {
        format!(" (there are: {})", file.contexts.keys().cloned().collect::<Vec<_>>().join(", "))
    };
    ContextError::NotFound { name: name.to_string(), file: path.display().to_string(), known }
}

fn read_token_file(name: &str, path: &Path) -> Result<String, ContextError> {
    let token = std::fs::read_to_string(path).map_err(|e| {
        ContextError::Invalid(format!("context \"{name}\": cannot read its token file {}: {e}", path.display()))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(ContextError::Invalid(format!("context \"{name}\": its token file {} is empty", path.display())));
    }
    Ok(token.to_string())
}

/// Reads the contexts file; a missing one holds no contexts.
fn load(path: &Path) -> Result<ContextsFile, ContextError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ContextsFile::default()),
        Err(e) => return Err(ContextError::Invalid(format!("cannot read {}: {e}", path.display()))),
    };
    toml::from_str(&text)
        .map_err(|e| ContextError::Invalid(format!("contexts file {}: {}", path.display(), e.to_string().trim_end())))
}

/// Writes the contexts file atomically (a temporary file renamed over it), readable by its
/// owner only, in a directory only its owner can enter.
fn save(path: &Path, file: &ContextsFile) -> Result<(), ContextError> {
    let failed = |source: std::io::Error| ContextError::Write { path: path.display().to_string(), source };
    let text = toml::to_string(file).map_err(|e| ContextError::Invalid(format!("cannot encode the contexts: {e}")))?;
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(failed)?;
    }
    let temp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    Ok(())
}

/// `switchyard context …`
#[derive(Debug, clap::Subcommand)]
pub enum ContextCommand {
    /// Saves a context (replacing one of the same name).
    ///
    /// Its settings are `--server URL` (required), `--token TOKEN` or `--token-file FILE`, and
    /// `--space SPACE`, taken from the command line only (never from SWITCHYARD_* variables).
    #[command(name = "add", visible_alias = "create")]
    Add {
        /// The context's name (letters, digits, '.', '_', '-').
        name: String,
        /// A file holding the token, read on every use (e.g. a server's admin.token).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Makes a context the one used when none is named.
    Use {
        /// The context's name.
        name: String,
    },
    /// Lists the contexts (tokens are never shown).
    #[command(visible_alias = "ls")]
    List,
    /// Shows a context [default: the one in use].
    #[command(visible_alias = "show")]
    Get {
        /// The context's name.
        name: Option<String>,
    },
    /// Deletes a context (and stops using it, if it was in use).
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The context's name.
        name: String,
    },
}

/// A context as shown: never its token.
fn view(name: &str, stored: &StoredContext, current: bool) -> serde_json::Value {
    let token = match (&stored.token, &stored.token_file) {
        (Some(_), _) => "stored",
        (None, Some(_)) => "file",
        (None, None) => "none",
    };
    let mut value = json!({
        "name": name,
        "server": stored.server,
        "space": stored.space,
        "token": token,
        "current": current,
    });
    if let (Some(file), Some(map)) = (&stored.token_file, value.as_object_mut()) {
        map.insert("token_file".into(), json!(file));
    }
    value
}

fn token_cell(v: &serde_json::Value) -> String {
    match (v["token"].as_str(), v["token_file"].as_str()) {
        (Some("file"), Some(file)) => format!("file {file}"),
        (Some(kind), _) => kind.to_string(),
        _ => String::new(),
    }
}

fn validate_name(name: &str) -> Result<(), ContextError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ContextError::Invalid(format!(
            "context name \"{name}\": use 1-{MAX_NAME} letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

/// The global options `context add` saves, as given on its command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddSettings {
    /// `--server`.
    pub server: Option<String>,
    /// `--token`.
    pub token: Option<String>,
    /// `--space`.
    pub space: Option<String>,
}

/// Help of the global options `context add` saves, shown in its own help.
pub const ADD_OPTION_HELP: &[(&str, &str)] = &[
    ("server", "The context's server, URL or host:port (required)"),
    ("token", "The context's token, stored in the contexts file (or --token-file)"),
    ("space", "The context's space [default: the config file's, else default]"),
];

/// Runs a `context` command; it reads and writes the contexts file and talks to no server.
pub fn run(
    command: ContextCommand,
    selected: Option<&str>,
    given: &AddSettings,
    out: OutputFormat,
    env: &Env,
) -> anyhow::Result<()> {
    let path = contexts_path(env).ok_or_else(|| {
        ContextError::Invalid("cannot tell where to keep contexts: set HOME or XDG_CONFIG_HOME".into())
    })?;
    let mut file = load(&path)?;
    match command {
        ContextCommand::Add { name, token_file } => {
            validate_name(&name)?;
            let Some(server) = given.server.clone() else {
                return Err(ContextError::Invalid(format!("context add {name}: --server URL is required")).into());
            };
            switchyard_client::server_url(&server)
                .map_err(|e| ContextError::Invalid(format!("context \"{name}\": --server: {e}")))?;
            let token = given.token.as_ref().map(|t| t.trim().to_string());
            match (&token, &token_file) {
                (Some(t), _) if t.is_empty() => {
                    return Err(ContextError::Invalid(format!("context \"{name}\": --token is empty")).into());
                }
                (Some(_), Some(_)) => {
                    return Err(ContextError::Invalid(format!(
                        "context \"{name}\": give --token or --token-file, not both"
                    ))
                    .into());
                }
                _ => {}
            }
            // Kept absolute: the CLI reads it from whatever directory it is run in.
            let token_file = match token_file {
                Some(f) if f.is_absolute() => Some(f),
                Some(f) => Some(env.cwd.as_ref().map_or(f.clone(), |cwd| cwd.join(&f))),
                None => None,
            };
            if let Some(f) = &token_file {
                read_token_file(&name, f)?;
            }
            let space = given.space.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            let stored = StoredContext { server, token, token_file, space };
            let replaced = file.contexts.insert(name.clone(), stored.clone()).is_some();
            save(&path, &file)?;
            let current = file.current.as_deref() == Some(name.as_str());
            output::print(out, &view(&name, &stored, current), |v| {
                let verb = if replaced { "replaced" } else { "saved" };
                let mut text = format!("context {name} {verb} in {}\n", path.display());
                text.push_str(&fields(&[
                    ("server", stored.server.clone()),
                    ("space", stored.space.clone().unwrap_or_else(|| "-".into())),
                    ("token", token_cell(v)),
                ]));
                if !current {
                    text.push_str(&format!("use it with `switchyard context use {name}` or `--context {name}`\n"));
                }
                text
            })
        }
        ContextCommand::Use { name } => {
            let Some(stored) = file.contexts.get(&name).cloned() else {
                return Err(not_found(&name, &path, &file).into());
            };
            file.current = Some(name.clone());
            save(&path, &file)?;
            output::print(out, &view(&name, &stored, true), |_| {
                format!("using context {name} (server {})\n", stored.server)
            })
        }
        ContextCommand::List => {
            let contexts: Vec<serde_json::Value> = file
                .contexts
                .iter()
                .map(|(name, stored)| view(name, stored, file.current.as_deref() == Some(name.as_str())))
                .collect();
            output::print(out, &json!({ "contexts": contexts }), |_| {
                let rows: Vec<Vec<String>> = contexts
                    .iter()
                    .map(|v| {
                        vec![
                            if v["current"] == true { "*".into() } else { String::new() },
                            v["name"].as_str().unwrap_or_default().to_string(),
                            v["server"].as_str().unwrap_or_default().to_string(),
                            v["space"].as_str().unwrap_or("-").to_string(),
                            token_cell(v),
                        ]
                    })
                    .collect();
                table(&["CURRENT", "NAME", "SERVER", "SPACE", "TOKEN"], &rows)
            })
        }
        ContextCommand::Get { name } => {
            let named = name.or_else(|| selected.map(str::to_string)).filter(|n| !n.trim().is_empty());
            let Some(name) = named.or_else(|| file.current.clone()) else {
                return Err(ContextError::NoneInUse.into());
            };
            let Some(stored) = file.contexts.get(&name) else {
                return Err(not_found(&name, &path, &file).into());
            };
            let current = file.current.as_deref() == Some(name.as_str());
            output::print(out, &view(&name, stored, current), |v| {
                fields(&[
                    ("name", name.clone()),
                    ("server", stored.server.clone()),
                    ("space", stored.space.clone().unwrap_or_else(|| "-".into())),
                    ("token", token_cell(v)),
                    ("current", if current { "yes" } else { "no" }.into()),
                ])
            })
        }
        ContextCommand::Delete { name } => {
            if file.contexts.remove(&name).is_none() {
                return Err(not_found(&name, &path, &file).into());
            }
            let was_current = file.current.as_deref() == Some(name.as_str());
            if was_current {
                file.current = None;
            }
            save(&path, &file)?;
            output::print(out, &json!({ "deleted": name, "was_current": was_current }), |_| {
                let note = if was_current { " (it was in use; now none is)" } else { "" };
                format!("deleted context {name}{note}\n")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_in(dir: &Path) -> Env {
        Env { xdg_config_home: Some(dir.to_path_buf()), home: None, data_dir: None, ..Env::default() }
    }

    #[test]
    fn names_are_checked() {
        for good in ["prod", "a", "local-7400", "x.y_z", &"a".repeat(MAX_NAME)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "a:b", &"a".repeat(MAX_NAME + 1)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard").join(CONTEXTS_FILE);
        let mut file = ContextsFile { current: Some("p".into()), ..ContextsFile::default() };
        file.contexts.insert(
            "p".into(),
            StoredContext { server: "h:1".into(), token: Some("t".into()), token_file: None, space: Some("s".into()) },
        );
        save(&path, &file).unwrap();
        assert_eq!(load(&path).unwrap(), file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn active_prefers_the_named_context_then_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_in(dir.path());
        let path = contexts_path(&env).unwrap();
        assert_eq!(active(None, &env).unwrap(), None, "no file, no context");
        let token_file = dir.path().join("tok");
        std::fs::write(&token_file, "from-file\n").unwrap();
        let mut file = ContextsFile { current: Some("a".into()), ..ContextsFile::default() };
        file.contexts.insert(
            "a".into(),
            StoredContext { server: "h:1".into(), token: Some("ta".into()), token_file: None, space: None },
        );
        file.contexts.insert(
            "b".into(),
            StoredContext { server: "h:2".into(), token: None, token_file: Some(token_file.clone()), space: None },
        );
        save(&path, &file).unwrap();
        let a = active(None, &env).unwrap().unwrap();
        assert_eq!((a.name.as_str(), a.server.as_str()), ("a", "h:1"));
        assert_eq!(a.token, ContextToken::Stored("ta".into()));
        let b = active(Some("b"), &env).unwrap().unwrap();
        assert_eq!(b.token, ContextToken::File("from-file".into(), token_file));
        let err = active(Some("nope"), &env).unwrap_err();
        assert_eq!(err.code(), "context_not_found");
        assert!(err.to_string().contains("there are: a, b"), "{err}");
    }

    #[test]
    fn malformed_file_is_a_usage_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_in(dir.path());
        let path = contexts_path(&env).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[contexts.a]\nsever = \"x\"\n").unwrap();
        let err = active(None, &env).unwrap_err();
        assert_eq!(err.code(), "usage");
        assert!(err.to_string().contains("contexts.toml") && err.to_string().contains("sever"), "{err}");
    }
}
