//! The `switchyard` binary: the server, the client commands and the benchmark.
//!
//! Exit codes: 0 success; 1 the server refused or could not be reached (or the server command
//! failed); 2 the command was called wrongly (arguments, JSON arguments, addresses, config).
//! Errors go to stderr as text, or under `--output json|jsonl` as one JSON object (`report`).

mod access;
mod address;
mod apply;
mod bench;
mod bench_console;
mod bench_flow;
mod bench_functions;
mod bench_jobs;
mod bench_streams;
mod bench_tenants;
mod bench_webhooks;
mod bench_workflow;
mod commands;
mod config;
mod context;
mod endpoints;
mod env;
mod flows;
mod functions;
mod http_server;
mod jobs;
mod output;
mod progress;
mod quotas;
mod report;
mod serve;
mod serve_config;
mod streams;
mod tls;
mod triggers;
mod watch_pattern;

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use switchyard_client::{Client, ClientBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::commands::{EventCommand, InstanceCommand, MachineCommand, SpaceCommand, TokenCommand};
use crate::config::{Env, GlobalArgs, LogFormat, LogLevel, Settings};
use crate::output::{OutputFormat, eprint_line};
use crate::report::{EXIT_FAILURE, Failure};

/// The server allocates and frees many small values per request (JSON values, rows, headers)
/// from every thread; glibc's allocator spent about a fifth of the webhook path's CPU in
/// `malloc`/`free` and their consolidation (perf, `bench webhooks`), mimalloc's thread-local
/// pages a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchyard: durable state machines over HTTP.
///
/// Every resource takes the same verbs: list (ls), get (show), create (add), delete (rm, del).
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
    Serve(Box<serve::ServeArgs>),
    #[command(flatten)]
    Client(ClientCommand),
    /// Benchmarks a running server over HTTP.
    Bench(bench::BenchArgs),
    /// Saves servers, tokens and spaces under names, to use from any directory.
    #[command(subcommand)]
    Context(context::ContextCommand),
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The commands that talk to a server through the client library.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Stores and reads machine definitions.
    #[command(subcommand)]
    Machine(MachineCommand),
    /// Creates, reads, lists, cancels, migrates and deletes instances.
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
    /// Signs in and out, shows who the token stands for, changes the password.
    #[command(subcommand)]
    Auth(access::AuthCommand),
    /// Creates, lists and deletes users and service accounts; resets passwords.
    #[command(subcommand)]
    User(access::UserCommand),
    /// Creates, lists and deletes orgs; manages an org's members.
    #[command(subcommand)]
    Org(access::OrgCommand),
    /// Grants roles on address patterns; lists and deletes grants.
    #[command(subcommand)]
    Grant(access::GrantCommand),
    /// Lists roles; stores and deletes custom ones.
    #[command(subcommand)]
    Role(access::RoleCommand),
    /// Prints the audit records: sign-ins, tokens, principals, grants and roles, with who acted.
    Audit(access::AuditArgs),
    /// Prints, sets and removes a space's quota: the limits on what it holds and does.
    #[command(subcommand)]
    Quota(quotas::QuotaCommand),
    /// Prints what a space may hold and do, what it holds, and what it did.
    Usage(quotas::UsageArgs),
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
    /// Enqueues and inspects durable jobs; re-drives dead ones.
    #[command(subcommand)]
    Job(jobs::JobCommand),
    /// Stores, reads, draws and starts flows (workflows of nodes and edges).
    #[command(subcommand)]
    Flow(flows::FlowCommand),
    /// Lists, reads and follows flow runs; answers, cancels, retries and reruns them.
    #[command(subcommand)]
    Run(flows::RunCommand),
    /// Sets, reads and deletes the space's env values (read by expressions as env.NAME).
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// Sets, lists and deletes the space's secrets (never shown back).
    #[command(subcommand)]
    Secret(env::SecretCommand),
    /// Puts, inspects, pauses, fires and backfills triggers (webhooks, schedules, event patterns).
    #[command(subcommand)]
    Trigger(triggers::TriggerCommand),
    /// Puts and inspects outbound webhook endpoints; lists and re-drives their deliveries.
    #[command(subcommand)]
    Endpoint(endpoints::EndpointCommand),
    /// Creates or updates a space's resources from YAML documents (each with a `kind`:
    /// machine, flow, function, trigger, endpoint or bucket), idempotently; --dry-run prints
    /// the diff.
    Apply(apply::ApplyArgs),
    /// Writes a space's resources out as the documents `apply` takes.
    Export(apply::ExportArgs),
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

/// The command tree as parsed and as its help shows it: the global options are described once,
/// in `switchyard --help`; every subcommand accepts them (hidden copies that share their ids, so
/// clap hands their values to [`GlobalArgs`]) and its help ends with a line naming them.
/// `context add` shows the three it saves with help of their own.
fn cli_command() -> clap::Command {
    let root = Cli::command();
    let globals: Vec<clap::Arg> = root.get_arguments().filter(|a| a.is_global_set()).cloned().collect();
    let names: Vec<String> = globals.iter().filter_map(|a| a.get_long()).map(|l| format!("--{l}")).collect();
    let note = format!("Global options ({}) work here too; `switchyard --help` describes them.", names.join(", "));
    let add_options: Vec<clap::Arg> = context::ADD_OPTION_HELP
        .iter()
        .filter_map(|(id, help)| {
            let arg = globals.iter().find(|a| a.get_id() == *id)?;
            Some(arg.clone().global(false).hide(false).env(None).help(*help).help_heading(None))
        })
        .collect();
    let config_file = globals.iter().find(|a| a.get_id() == "config").cloned();
    root.mut_subcommands(|sub| {
        let sub = sub.args(globals.iter().map(|a| a.clone().hide(true)));
        with_note(sub, &note)
    })
    .mut_subcommand("context", |context| context.mut_subcommand("add", |add| add.args(add_options)))
    .mut_subcommand("fn", |function| own_config_on_deploy(function, config_file))
}

/// `fn deploy --config KEY=VALUE` is the function's configuration, not the global `--config
/// FILE`: the global must not be handed down to `deploy` (it would have two `--config`s), and
/// `deploy`'s values must not be taken for the global's (clap hands a subcommand's value of a
/// global's id up to it; they share no id). The other `fn` verbs keep the global, as a hidden
/// copy of their own.
fn own_config_on_deploy(function: clap::Command, config_file: Option<clap::Arg>) -> clap::Command {
    let Some(config_file) = config_file else { return function };
    let config_file = config_file.global(false).hide(true);
    // `cli_command` gave `fn` a hidden copy already; the bare derive (completions) did not.
    let function = if function.get_arguments().any(|a| a.get_id() == "config") {
        function.mut_arg("config", |arg| arg.global(false))
    } else {
        function.arg(config_file.clone())
    };
    function.mut_subcommands(|verb| if verb.get_name() == "deploy" { verb } else { verb.arg(config_file.clone()) })
}

/// The derived command tree with `fn deploy`'s own `--config` (see [`own_config_on_deploy`]):
/// what completions are generated from.
fn derived_command() -> clap::Command {
    let root = Cli::command();
    let config_file = root.get_arguments().find(|a| a.get_id() == "config").cloned();
    root.mut_subcommand("fn", |function| own_config_on_deploy(function, config_file))
}

/// Ends the help of `cmd` and every command below it with `note`.
fn with_note(cmd: clap::Command, note: &str) -> clap::Command {
    cmd.after_help(note.to_string()).mut_subcommands(|sub| with_note(sub, note))
}

/// Parses the command line; also returns the global options `context add` saves, when they
/// were given on the command line itself (a context never captures SWITCHYARD_* variables).
fn parse(args: &[OsString]) -> Result<(Cli, context::AddSettings), clap::Error> {
    let matches = cli_command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let typed = |id: &str| {
        (matches.value_source(id) == Some(ValueSource::CommandLine))
            .then(|| matches.get_one::<String>(id).cloned())
            .flatten()
    };
    let given = context::AddSettings { server: typed("server"), token: typed("token"), space: typed("space") };
    Ok((cli, given))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (cli, given) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(err) => {
            let env_output = std::env::var("SWITCHYARD_OUTPUT").ok();
            return ExitCode::from(report::clap_error(err, report::requested_output(&args, env_output.as_deref())));
        }
    };
    // Before any TLS (the server's, the client's): reqwest has no crypto provider of its own.
    switchyard_client::install_crypto_provider();
    // These two touch no server and need no runtime.
    match cli.command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error such as a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut derived_command(), "switchyard", &mut script);
            let result = output::emit(&String::from_utf8_lossy(&script));
            return report(result, None, cli.global.output.unwrap_or_default());
        }
        Command::Context(command) => {
            let env = Env::from_process();
            let output = config::output_format(&cli.global, &env);
            let result = context::run(command, cli.global.context.as_deref(), &given, output, &env);
            return report(result, None, output);
        }
        _ => {}
    }
    // The server and the benchmark use both cores; a client command needs one thread.
    let mut builder = match cli.command {
        Command::Client(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
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
    let requested = global.output.unwrap_or_default();
    match command {
        Command::Serve(_) => {
            // Parsed again, with the config file's values as defaults.
            let (args, effective) = match serve_config::resolve(cli_command(), std::env::args_os().collect()) {
                Ok(resolved) => resolved,
                Err(e) => return report(Err(e), None, requested),
            };
            if args.config.print_config {
                let text = effective.to_toml(rust_log().as_deref());
                let printed = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
                return report(printed.map_err(anyhow::Error::from), None, requested);
            }
            init_logging(global.log_format, args.log_level);
            tracing::debug!(settings = %effective.summary(), "configuration");
            report(serve::run(args).await, None, requested)
        }
        Command::Bench(args) => {
            let settings = match Settings::resolve(&global, &Env::from_process()) {
                Ok(settings) => settings,
                Err(e) => return report(Err(e), None, requested),
            };
            // The benchmark logs nothing of its own: a level flag would change nothing, so it
            // has none (RUST_LOG still filters what its libraries log).
            init_logging(global.log_format, LogLevel::default());
            let result = match client_builder(&settings) {
                Ok(builder) => bench::run(args, &builder, settings.token.as_deref()).await,
                Err(e) => Err(e),
            };
            report(result, Some(&settings), settings.output)
        }
        Command::Client(command) => {
            let settings = match Settings::resolve(&global, &Env::from_process()) {
                Ok(settings) => settings,
                Err(e) => return report(Err(e), None, requested),
            };
            report(client_command(command, &settings).await, Some(&settings), settings.output)
        }
        // Handled in main, before a runtime is built.
        Command::Context(_) | Command::Completions { .. } => ExitCode::SUCCESS,
    }
}

/// A client builder with the settings' server, token and CA.
fn client_builder(settings: &Settings) -> anyhow::Result<ClientBuilder> {
    let builder = Client::builder(&settings.server).token(settings.token.clone());
    let builder = match &settings.ca_cert {
        Some(path) => builder.ca_cert_file(path)?,
        None => builder,
    };
    Ok(match &settings.client_identity {
        Some((cert, key)) => builder.client_identity_files(cert, key)?,
        None => builder,
    })
}

async fn client_command(command: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let client = client_builder(settings)?.build()?;
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
        ClientCommand::Auth(cmd) => access::auth(cmd, client, settings).await,
        ClientCommand::User(cmd) => access::user(cmd, client, settings).await,
        ClientCommand::Org(cmd) => access::org(cmd, client, settings).await,
        ClientCommand::Grant(cmd) => access::grant(cmd, client, settings).await,
        ClientCommand::Role(cmd) => access::role(cmd, client, settings).await,
        ClientCommand::Audit(args) => access::audit(args, client, settings).await,
        ClientCommand::Quota(cmd) => quotas::quota(cmd, client, settings).await,
        ClientCommand::Usage(args) => quotas::usage(args, client, settings).await,
        ClientCommand::Watch(args) => commands::watch(args, client, settings).await,
        ClientCommand::Publish(args) => commands::publish(args, client, settings).await,
        ClientCommand::Kv(cmd) => streams::kv(cmd, client, settings).await,
        ClientCommand::Sub(cmd) => streams::sub(cmd, client, settings).await,
        ClientCommand::Fn(cmd) => functions::function(cmd, client, settings).await,
        ClientCommand::Job(cmd) => jobs::job(cmd, client, settings).await,
        ClientCommand::Flow(cmd) => flows::flow(cmd, client, settings).await,
        ClientCommand::Run(cmd) => flows::run(cmd, client, settings).await,
        ClientCommand::Env(cmd) => env::env(cmd, client, settings).await,
        ClientCommand::Secret(cmd) => env::secret(cmd, client, settings).await,
        ClientCommand::Trigger(cmd) => triggers::trigger(cmd, client, settings).await,
        ClientCommand::Endpoint(cmd) => endpoints::endpoint(cmd, client, settings).await,
        ClientCommand::Apply(args) => apply::apply(args, client, settings).await,
        ClientCommand::Export(args) => apply::export(args, client, settings).await,
    }
}

/// Prints an error to stderr in `format` and chooses the exit code.
fn report(result: anyhow::Result<()>, settings: Option<&Settings>, format: OutputFormat) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    let failure = Failure::of(&err, settings);
    failure.print(format);
    ExitCode::from(failure.exit)
}

/// Logs to stderr at `level`; `RUST_LOG`, when set, replaces it with its filter directives.
fn init_logging(format: LogFormat, level: LogLevel) {
    use std::io::IsTerminal;
    let filter = match rust_log() {
        Some(directives) => {
            EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(directives)
        }
        None => log_level_filter(level),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `RUST_LOG`, unless unset or blank.
fn rust_log() -> Option<String> {
    std::env::var("RUST_LOG").ok().filter(|directives| !directives.trim().is_empty())
}

/// The filter of `--log-level`: debug and trace for Switchyard's own modules (every target
/// starting with `switchyard`) only, so that its dependencies' per-packet detail stays out.
fn log_level_filter(level: LogLevel) -> EnvFilter {
    let directives = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "info,switchyard=debug",
        LogLevel::Trace => "info,switchyard=trace",
    };
    EnvFilter::new(directives)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_from(args: &[&str]) -> Result<Cli, clap::Error> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&args).map(|(cli, _)| cli)
    }

    #[test]
    fn command_tree_is_well_formed() {
        derived_command().debug_assert();
        cli_command().debug_assert();
    }

    #[test]
    fn malformed_instance_argument_is_a_clap_usage_error() {
        let err = parse_from(&["switchyard", "instance", "get", "no-colon"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("expected MACHINE:ID or SPACE:MACHINE:ID"), "{err}");
    }

    #[test]
    fn bad_payload_json_is_a_clap_usage_error() {
        let err = parse_from(&["switchyard", "event", "send", "orders:o-1", "pay", "--payload", "{"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn global_options_are_accepted_after_the_subcommand() {
        let cli = parse_from(&["switchyard", "machine", "list", "--space", "acme", "--output", "json"]).unwrap();
        assert_eq!(cli.global.space.as_deref(), Some("acme"));
        assert_eq!(cli.global.output, Some(output::OutputFormat::Json));
        let cli = parse_from(&["switchyard", "kv", "ls", "b", "--context", "prod", "-o", "jsonl"]).unwrap();
        assert_eq!(cli.global.context.as_deref(), Some("prod"));
        assert_eq!(cli.global.output, Some(output::OutputFormat::Jsonl));
    }

    #[test]
    fn subcommand_help_names_the_global_options_once_instead_of_listing_them() {
        let mut cmd = cli_command();
        let help = cmd.find_subcommand_mut("instance").unwrap().find_subcommand_mut("get").unwrap().render_help();
        let help = help.to_string();
        assert!(!help.contains("Global options:"), "{help}");
        assert!(!help.contains("Server URL or host:port"), "{help}");
        assert!(help.contains("`switchyard --help` describes them"), "{help}");
        let top = cli_command().render_help().to_string();
        assert!(top.contains("Global options:") && top.contains("--server <URL>"), "{top}");
    }

    /// A subcommand's own argument with a global option's id would be handed the global's value
    /// (`bench --bench-space` took --space's), or hand its own up as the global's (`fn deploy
    /// --config K=V` panicked: the global --config is a path).
    #[test]
    fn no_subcommand_argument_shares_an_id_with_a_global_option() {
        let root = Cli::command();
        let globals: Vec<String> =
            root.get_arguments().filter(|a| a.is_global_set()).map(|a| a.get_id().to_string()).collect();
        fn walk(cmd: &clap::Command, path: &str, globals: &[String], clashes: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                for arg in sub.get_arguments().filter(|a| !a.is_global_set()) {
                    if globals.iter().any(|g| g == arg.get_id().as_str()) {
                        clashes.push(format!("{path}: {}", arg.get_id()));
                    }
                }
                walk(sub, &path, globals, clashes);
            }
        }
        let mut clashes = Vec::new();
        walk(&root, "switchyard", &globals, &mut clashes);
        assert!(clashes.is_empty(), "arguments with a global option's id: {clashes:?}");
    }

    #[test]
    fn fn_deploy_config_is_the_functions_and_the_global_config_is_the_cli_file() {
        let table: &[(&[&str], Option<&str>, &[&str])] = &[
            (&["fn", "deploy", "h", "h.wasm", "--config", "a=b", "--config", "c=d"], None, &["a=b", "c=d"]),
            (&["--config", "cli.toml", "fn", "deploy", "h", "h.wasm", "--config", "a=b"], Some("cli.toml"), &["a=b"]),
            (&["fn", "--config", "cli.toml", "deploy", "h", "h.wasm"], Some("cli.toml"), &[]),
            (&["fn", "list", "--config", "cli.toml"], Some("cli.toml"), &[]),
            (&["kv", "ls", "b", "--config", "cli.toml"], Some("cli.toml"), &[]),
        ];
        for (args, file, values) in table {
            let argv: Vec<&str> = std::iter::once("switchyard").chain(args.iter().copied()).collect();
            let cli = parse_from(&argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.global.config.as_deref(), file.map(std::path::Path::new), "{args:?}");
            if let Command::Client(ClientCommand::Fn(functions::FnCommand::Deploy { config, .. })) = &cli.command {
                assert_eq!(config, values, "{args:?}");
            }
        }
    }

    #[test]
    fn context_add_takes_server_token_and_space_from_its_command_line_only() {
        let args: Vec<OsString> =
            ["switchyard", "context", "add", "prod", "--server", "h:1", "--space", "acme"].map(OsString::from).into();
        let (_, given) = parse(&args).unwrap();
        assert_eq!(given.server.as_deref(), Some("h:1"));
        assert_eq!(given.space.as_deref(), Some("acme"));
        assert_eq!(given.token, None);
        let mut cmd = cli_command();
        let help = cmd.find_subcommand_mut("context").unwrap().find_subcommand_mut("add").unwrap().render_help();
        assert!(help.to_string().contains("The context's server"), "{help}");
    }
}
