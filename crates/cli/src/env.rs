//! `switchyard env …` and `switchyard secret …`: a space's configuration values, which machine
//! and flow expressions read as `env.<name>`, and its secrets, which HTTP requests name in
//! `secret_headers` and which are never shown back.

use std::io::{IsTerminal, Read};

use serde_json::{Value, json};
use switchyard_client::Client;

use crate::UsageError;
use crate::config::Settings;
use crate::output::{self, fields, table};

/// `env` commands (values of --space).
#[derive(Debug, clap::Subcommand)]
pub enum EnvCommand {
    /// Sets a value; prints it.
    Set {
        /// The name (expressions read it as env.NAME).
        name: String,
        /// The value: JSON (`42`, `true`, `{"a":1}`, `"text"`); anything that is not JSON is
        /// taken as a string (`eu-west-1`).
        value: String,
        /// Take VALUE as a string even when it reads as JSON (`--string 42` sets "42").
        #[arg(long)]
        string: bool,
    },
    /// Shows one value.
    #[command(visible_alias = "show")]
    Get {
        /// The name.
        name: String,
    },
    /// Lists the values, by name.
    #[command(visible_alias = "ls")]
    List,
    /// Deletes a value.
    #[command(visible_aliases = ["rm", "del", "unset"])]
    Delete {
        /// The name.
        name: String,
    },
}

/// `secret` commands (secrets of --space).
#[derive(Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// Sets a secret, read from standard input (a prompt-free pipe: `printf %s "$TOKEN" | switchyard
    /// secret set api_token`) or from --from-file; one trailing newline is dropped.
    Set {
        /// The name (a request names it as {{secrets.NAME}}).
        name: String,
        /// Read the secret from this file instead of standard input.
        #[arg(long, value_name = "FILE")]
        from_file: Option<std::path::PathBuf>,
    },
    /// Shows whether a secret is set, and when (never its value).
    #[command(visible_alias = "show")]
    Get {
        /// The name.
        name: String,
    },
    /// Lists the secrets' names.
    #[command(visible_alias = "ls")]
    List,
    /// Deletes a secret.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The name.
        name: String,
    },
}

/// Runs `switchyard env …`.
pub async fn env(command: EnvCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    match command {
        EnvCommand::Set { name, value, string } => {
            let value = if string { Value::String(value) } else { parse_value(&value) };
            let set = client.set_env(space, &name, &value).await?;
            output::print(settings.output, &set, |v| describe(&v.name, &v.value, &v.updated_at))
        }
        EnvCommand::Get { name } => {
            let v = client.get_env(space, &name).await?;
            output::print(settings.output, &v, |v| describe(&v.name, &v.value, &v.updated_at))
        }
        EnvCommand::List => {
            let values = client.list_env(space).await?;
            output::print(settings.output, &json!({ "env": values }), |_| {
                let rows: Vec<Vec<String>> =
                    values.iter().map(|v| vec![v.name.clone(), v.value.to_string(), v.updated_at.clone()]).collect();
                table(&["NAME", "VALUE", "UPDATED"], &rows)
            })
        }
        EnvCommand::Delete { name } => {
            client.delete_env(space, &name).await?;
            output::print(settings.output, &json!({ "deleted": name }), |_| fields(&[("deleted", name.clone())]))
        }
    }
}

/// Runs `switchyard secret …`.
pub async fn secret(command: SecretCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    match command {
        SecretCommand::Set { name, from_file } => {
            let value = read_secret(from_file.as_deref())?;
            let set = client.set_secret(space, &name, &value).await?;
            output::print(settings.output, &set, |s| {
                fields(&[("name", s.name.clone()), ("updated", s.updated_at.clone())])
            })
        }
        SecretCommand::Get { name } => {
            let s = client.get_secret(space, &name).await?;
            output::print(settings.output, &s, |s| {
                fields(&[("name", s.name.clone()), ("updated", s.updated_at.clone())])
            })
        }
        SecretCommand::List => {
            let secrets = client.list_secrets(space).await?;
            output::print(settings.output, &json!({ "secrets": secrets }), |_| {
                let rows: Vec<Vec<String>> =
                    secrets.iter().map(|s| vec![s.name.clone(), s.updated_at.clone()]).collect();
                table(&["NAME", "UPDATED"], &rows)
            })
        }
        SecretCommand::Delete { name } => {
            client.delete_secret(space, &name).await?;
            output::print(settings.output, &json!({ "deleted": name }), |_| fields(&[("deleted", name.clone())]))
        }
    }
}

/// JSON when it parses as JSON, a string otherwise.
fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The secret from a file or standard input (never a command-line argument, which shell history
/// and `ps` would show), without one trailing newline.
fn read_secret(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let mut text = match file {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| UsageError(format!("--from-file {}: {e}", path.display())))?
        }
        None => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(UsageError(
                    "pipe the secret on standard input (printf %s \"$TOKEN\" | switchyard secret set NAME) or give --from-file"
                        .into(),
                )
                .into());
            }
            let mut text = String::new();
            stdin.read_to_string(&mut text).map_err(|e| UsageError(format!("reading standard input: {e}")))?;
            text
        }
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(UsageError("the secret is empty".into()).into());
    }
    Ok(text)
}

fn describe(name: &str, value: &Value, updated_at: &str) -> String {
    fields(&[("name", name.to_owned()), ("value", value.to_string()), ("updated", updated_at.to_owned())])
}
