//! The `switchyard` binary: the server, the client commands and the benchmark.
//!
//! Exit codes: 0 success; 1 the server refused or could not be reached (or the server command
//! failed); 2 the command was called wrongly (arguments, JSON arguments, addresses, config).

mod address;
mod bench;
mod bench_functions;
mod bench_streams;
mod commands;
mod config;
mod functions;
mod http_server;
mod output;
mod serve;
mod streams;

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_client::{Client, ClientError};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::commands::{EventCommand, InstanceCommand, MachineCommand, SpaceCommand, TokenCommand};
use crate::config::{Env, GlobalArgs, LogFormat, Settings, TokenSource};
use crate::output::{describe_details, eprint_line};

/// Exit code when the server refused or could not be reached.
const EXIT_FAILURE: u8 = 1;
/// Exit code when the command was called wrongly.
const EXIT_USAGE: u8 = 2;

/// Switchyard: durable state machines over HTTP.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Client(ClientCommand),
    /// Benchmarks a running server over HTTP.
    Bench(bench::BenchArgs),
}

/// The commands that talk to a server through the client library.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Stores and reads machine definitions.
    #[command(subcommand)]
    Machine(MachineCommand),
    /// Creates, reads, lists and deletes instances.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Sends events to instances.
    #[command(subcommand)]
    Event(EventCommand),
    /// Lists and deletes spaces.
    #[command(subcommand)]
    Space(SpaceCommand),
    /// Creates, lists and revokes access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Follows the event log as it is written (with --from, replays first).
    Watch(commands::WatchArgs),
    /// Publishes a message to a topic.
    Publish(commands::PublishArgs),
    /// Reads and writes KV buckets.
    #[command(subcommand)]
    Kv(streams::KvCommand),
    /// Manages and consumes durable subscriptions.
    #[command(subcommand)]
    Sub(streams::SubCommand),
    /// Deploys, inspects and invokes functions (WebAssembly components).
    #[command(subcommand, name = "fn")]
    Fn(functions::FnCommand),
}

/// A mistake in how the command was called; exits with code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::try_parse().unwrap_or_else(|e| e.exit());
    // The server and the benchmark use both cores; a client command needs one thread.
    let mut builder = match cli.command {
        Command::Serve(_) | Command::Bench(_) => tokio::runtime::Builder::new_multi_thread(),
        Command::Client(_) => tokio::runtime::Builder::new_current_thread(),
    };
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            eprint_line(&format!("error: cannot start the async runtime: {e}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let Cli { global, command } = cli;
    match command {
        Command::Serve(args) => {
            init_logging(global.log_format);
            report(serve::run(args).await, None)
        }
        Command::Bench(args) => {
            let settings = match Settings::resolve(&global, &Env::from_process()) {
                Ok(settings) => settings,
                Err(e) => return report(Err(e.into()), None),
            };
            init_logging(global.log_format);
            let result = match switchyard_client::server_url(&settings.server) {
                Ok(url) => bench::run(args, url.as_str().trim_end_matches('/'), settings.token.as_deref()).await,
                Err(e) => Err(e.into()),
            };
            report(result, Some(&settings))
        }
        Command::Client(command) => {
            let settings = match Settings::resolve(&global, &Env::from_process()) {
                Ok(settings) => settings,
                Err(e) => return report(Err(e.into()), None),
            };
            report(client_command(command, &settings).await, Some(&settings))
        }
    }
}

async fn client_command(command: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let client = Client::new(&settings.server, settings.token.clone())?;
    let result = run_client_command(command, &client, settings).await;
    // A space comes into being with its first write: say so, since a mistyped --space would
    // otherwise create a space nobody meant, silently.
    for space in client.take_spaces_created() {
        eprint_line(&format!(
            "note: space \"{space}\" did not exist and was created; if that was a typo: switchyard space delete {space} --yes"
        ));
    }
    result
}

async fn run_client_command(command: ClientCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ClientCommand::Machine(cmd) => commands::machine(cmd, client, settings).await,
        ClientCommand::Instance(cmd) => commands::instance(cmd, client, settings).await,
        ClientCommand::Event(cmd) => commands::event(cmd, client, settings).await,
        ClientCommand::Space(cmd) => commands::space(cmd, client, settings).await,
        ClientCommand::Token(cmd) => commands::token(cmd, client, settings).await,
        ClientCommand::Watch(args) => commands::watch(args, client, settings).await,
        ClientCommand::Publish(args) => commands::publish(args, client, settings).await,
        ClientCommand::Kv(cmd) => streams::kv(cmd, client, settings).await,
        ClientCommand::Sub(cmd) => streams::sub(cmd, client, settings).await,
        ClientCommand::Fn(cmd) => functions::function(cmd, client, settings).await,
    }
}

/// Prints an error to stderr and chooses the exit code.
fn report(result: anyhow::Result<()>, settings: Option<&Settings>) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    if let Some(usage) = err.downcast_ref::<UsageError>() {
        eprint_line(&format!("error: {usage}"));
        return ExitCode::from(EXIT_USAGE);
    }
    let Some(client_err) = err.downcast_ref::<ClientError>() else {
        eprint_line(&format!("error: {err:#}"));
        return ExitCode::from(EXIT_FAILURE);
    };
    match client_err {
        ClientError::Api { code, message, details, .. } => {
            eprint_line(&format!("error: {code}: {message}"));
            for line in describe_details(details) {
                eprint_line(&line);
            }
            if code == "unauthorized" {
                match settings.map(|s| &s.token_source) {
                    Some(TokenSource::None) => {
                        eprint_line("hint: no token was given; use --token, SWITCHYARD_TOKEN or the config file")
                    }
                    Some(TokenSource::AdminTokenFile(path)) => {
                        eprint_line(&format!("hint: the token was read from {}", path.display()))
                    }
                    _ => {}
                }
            }
            ExitCode::from(EXIT_FAILURE)
        }
        ClientError::Transport(message) => {
            let server = settings.map_or("the server", |s| s.server.as_str());
            eprint_line(&format!("error: could not reach the server at {server}: {message}"));
            ExitCode::from(EXIT_FAILURE)
        }
        ClientError::InvalidServer(_) | ClientError::InvalidArgument(_) => {
            eprint_line(&format!("error: {client_err}"));
            ExitCode::from(EXIT_USAGE)
        }
        ClientError::Decode(_) => {
            eprint_line(&format!("error: {err:#}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).from_env_lossy();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn malformed_instance_argument_is_a_clap_usage_error() {
        let err = Cli::try_parse_from(["switchyard", "instance", "get", "no-colon"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("expected MACHINE:ID or SPACE:MACHINE:ID"), "{err}");
    }

    #[test]
    fn bad_payload_json_is_a_clap_usage_error() {
        let err =
            Cli::try_parse_from(["switchyard", "event", "send", "orders:o-1", "pay", "--payload", "{"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn global_options_are_accepted_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["switchyard", "machine", "list", "--space", "acme", "--output", "json"]).unwrap();
        assert_eq!(cli.global.space.as_deref(), Some("acme"));
        assert_eq!(cli.global.output, Some(output::OutputFormat::Json));
    }
}
