//! `switchyard flow …` and `switchyard run …`: store, read, draw and start flows; list, read,
//! follow, answer, cancel, retry and rerun their runs (all in --space).

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};
use switchyard_client::{
    BulkRuns, Client, Flow, FlowList, ListRuns, PutFlow, Run, RunError, RunEvent, RunFilter, RunNode, RunPage, StartRun,
};

use crate::UsageError;
use crate::config::Settings;
use crate::output::{self, OutputFormat, compact, fields, table};

/// How often `run watch` (and a `flow run --wait` longer than the server waits) reads the run.
const POLL: Duration = Duration::from_millis(250);
/// The longest wait the server takes on a run's start; the CLI polls for the rest.
const SERVER_WAIT: Duration = Duration::from_secs(60);
/// The run statuses, as the server names them.
const RUN_STATUSES: [&str; 5] = ["running", "waiting", "succeeded", "failed", "cancelled"];

/// `switchyard flow …`
#[derive(Debug, clap::Subcommand)]
pub enum FlowCommand {
    /// Stores a flow file (YAML or JSON) as the flow's next version.
    ///
    /// Creates the flow on first use; a file equal to the latest version changes nothing.
    /// Prints `flow NAME version N (created|unchanged)`.
    #[command(visible_alias = "create", alias = "put")]
    Apply {
        /// The flow file: .yaml/.yml is sent as YAML, .json as JSON, anything else as JSON when
        /// it starts with `{`, else as YAML.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// The flow's name [default: the file's `name` field, else the file stem].
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Lists the space's flows (latest version of each).
    #[command(visible_alias = "ls")]
    List,
    /// Prints a flow's definition as JSON (or, with --compiled, its machine).
    ///
    /// With `-o json`, prints the whole reply instead: name, version, definition, created_at
    /// and, with --compiled, compiled.
    #[command(visible_alias = "show")]
    Get {
        /// The flow's name.
        #[arg(value_name = "NAME")]
        name: String,
        /// Which version [default: the latest].
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        /// Print the machine the flow compiled to instead of the definition.
        #[arg(long)]
        compiled: bool,
    },
    /// Prints a flow's graph as text or as a Mermaid flowchart.
    ///
    /// Text: one line per node, `id (kind)`, each followed by the edges leaving it,
    /// `  -> to [when: …] [branch: …]`. Mermaid: a `flowchart TD` with the same edges.
    Graph {
        /// The flow's name.
        #[arg(value_name = "NAME")]
        name: String,
        /// Which version to draw [default: the latest].
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        /// `text` (one line per node, then its edges) or `mermaid` (a `flowchart TD`).
        #[arg(long, value_enum, default_value_t = FlowGraphFormat::Text)]
        format: FlowGraphFormat,
    },
    /// Starts a run of a flow's latest version.
    ///
    /// Prints the run's id and status, and its output once it succeeded. Exits 1 when the run
    /// failed or was cancelled, with its error (code, message, node) on stderr.
    Run {
        /// The flow's name.
        #[arg(value_name = "NAME")]
        name: String,
        /// The run's input, any JSON; `-` reads it from stdin [default: null].
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// Wait up to DURATION for the run to end (`--wait` alone: 30s), e.g. 10s, 2m.
        #[arg(
            long,
            value_name = "DURATION",
            num_args = 0..=1,
            default_missing_value = "30s",
            value_parser = humantime::parse_duration
        )]
        wait: Option<Duration>,
        /// Makes a repeat with the same key return the first run instead of starting another.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
    },
}

/// How `flow graph` writes the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlowGraphFormat {
    /// One line per node, `id (kind)`, each followed by its edges, `  -> to`.
    Text,
    /// A Mermaid `flowchart TD`.
    Mermaid,
}

/// Which runs `run list`, `run cancel-all` and `run retry-all` select.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunFilterArgs {
    /// Only runs of this flow.
    #[arg(long, value_name = "FLOW")]
    flow: Option<String>,
    /// Only runs with this status.
    #[arg(long, value_name = "STATUS", value_parser = RUN_STATUSES)]
    status: Option<String>,
    /// Only runs started at or after this time: RFC 3339 (2026-12-04T10:00:00Z), or a duration
    /// ago such as 1h.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<String>,
    /// Only runs started before this time: RFC 3339, or a duration ago such as 30m.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<String>,
}

impl From<RunFilterArgs> for RunFilter {
    fn from(args: RunFilterArgs) -> RunFilter {
        RunFilter { flow: args.flow, status: args.status, since: args.since, until: args.until }
    }
}

/// `switchyard run …`
#[derive(Debug, clap::Subcommand)]
pub enum RunCommand {
    /// Lists runs, newest first.
    #[command(visible_alias = "ls")]
    List {
        #[command(flatten)]
        filter: RunFilterArgs,
        /// Page size, 1–1000 [default: 100].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000), value_name = "N")]
        limit: Option<u32>,
        /// Continue after a previous page (its next cursor).
        #[arg(long, value_name = "CURSOR")]
        cursor: Option<String>,
    },
    /// Shows a run, a table of its nodes, and its output or error.
    #[command(visible_alias = "show")]
    Get {
        /// The run's id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Follows a run's nodes until it ends; exits 0 when it succeeded, 1 otherwise.
    ///
    /// On a terminal, a view of the flow's nodes redrawn as they change. Otherwise one line per
    /// change, `TIME node ID STATUS` or `TIME run ID STATUS` (the last line is the run's end);
    /// with `-o json` or `-o jsonl`, one JSON object per change.
    Watch {
        /// The run's id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Cancels a run, with its running node's work and its subflows; prints the run.
    Cancel {
        /// The run's id.
        #[arg(value_name = "ID")]
        id: String,
        /// Why (kept with the run).
        #[arg(long, value_name = "REASON")]
        reason: Option<String>,
    },
    /// Retries a failed or cancelled run; prints the new run.
    ///
    /// The new run resumes at the node the old one stopped at: nodes that completed do not run
    /// again.
    Retry {
        /// The run's id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Starts a new run of the same flow (its latest version) with the same input; prints it.
    Rerun {
        /// The run's id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Sends an event to a run waiting at a `wait` node; prints the run.
    ///
    /// An approval waits for `approve` or `reject`; another wait node for its own event.
    Event {
        /// The run's id.
        #[arg(value_name = "ID")]
        id: String,
        /// The event's name.
        #[arg(value_name = "EVENT")]
        event: String,
        /// The event's payload, any JSON (the node's output; `reason` of a reject is the error
        /// message).
        #[arg(long, value_name = "JSON", value_parser = parse_any_json)]
        payload: Option<Value>,
        /// Makes a repeat with the same key return the first result instead of applying twice.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
    },
    /// Cancels every run the filters select that has not ended (at most 1000 runs).
    CancelAll {
        #[command(flatten)]
        filter: RunFilterArgs,
    },
    /// Retries every failed or cancelled run the filters select (at most 1000 runs).
    ///
    /// Prints the new runs, and the selected runs that were skipped (those that had not failed
    /// or been cancelled) with why.
    RetryAll {
        #[command(flatten)]
        filter: RunFilterArgs,
    },
}

/// Parses a JSON argument.
fn parse_any_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}

/// An RFC 3339 time in UTC (the server reads only `Z` times: one with an offset is converted),
/// or a duration ago (`1h`) as an RFC 3339 time.
fn parse_time(text: &str) -> Result<String, String> {
    if humantime::parse_rfc3339_weak(text).is_ok() {
        return Ok(text.to_string());
    }
    if let Some(at) = parse_with_offset(text) {
        return Ok(humantime::format_rfc3339_millis(at).to_string());
    }
    let ago = humantime::parse_duration(text).map_err(|_| {
        format!("expected an RFC 3339 time such as 2026-12-04T10:00:00Z, or a duration ago such as 1h, got \"{text}\"")
    })?;
    let at = SystemTime::now().checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(humantime::format_rfc3339_millis(at).to_string())
}

/// An RFC 3339 time with a `±HH:MM` offset.
fn parse_with_offset(text: &str) -> Option<SystemTime> {
    let split = text.len().checked_sub(6).filter(|at| text.is_char_boundary(*at))?;
    let (local, offset) = text.split_at(split);
    let bytes = offset.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u64> {
        bytes[range].iter().try_fold(0, |n, b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
    };
    let (hours, minutes) = (digits(1..3)?, digits(4..6)?);
    if bytes[3] != b':' || hours > 23 || minutes > 59 {
        return None;
    }
    let at = humantime::parse_rfc3339_weak(local).ok()?;
    let offset = Duration::from_secs(hours * 3600 + minutes * 60);
    match bytes[0] {
        b'+' => at.checked_sub(offset),
        b'-' => at.checked_add(offset),
        _ => None,
    }
}

/// `application/yaml` for `.yaml`/`.yml`, `application/json` for `.json`; otherwise JSON when
/// the content opens with `{`, else YAML.
pub(crate) fn content_type(file: &Path, body: &[u8]) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("yaml" | "yml") => "application/yaml",
        Some("json") => "application/json",
        _ if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => "application/json",
        _ => "application/yaml",
    }
}

/// The definition's `name` field, else the file stem (of a flow, trigger…: `what`). A file that
/// does not parse falls back to the stem too: the server reports the syntax error with its
/// position.
pub(crate) fn default_name(file: &Path, body: &[u8], content_type: &str, what: &str) -> Result<String, UsageError> {
    let parsed: Option<Value> = if content_type == "application/yaml" {
        serde_norway::from_slice(body).ok()
    } else {
        serde_json::from_slice(body).ok()
    };
    if let Some(name) = parsed.as_ref().and_then(|d| d.get("name")).and_then(Value::as_str) {
        return Ok(name.to_string());
    }
    file.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| UsageError(format!("cannot tell the {what}'s name from {}; give --name", file.display())))
}

/// Prints a list reply: under `jsonl`, one line per item (without the paging fields), else as
/// [`output::print`] does.
pub(crate) fn print_list<T: Serialize, I: Serialize>(
    format: OutputFormat,
    value: &T,
    items: &[I],
    table: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if format == OutputFormat::Jsonl {
        let text: String = items.iter().map(|item| format!("{}\n", compact(item))).collect();
        return output::emit(&text);
    }
    output::print(format, value, table)
}

/// Runs a `flow` command.
pub async fn flow(command: FlowCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    let out = settings.output;
    match command {
        FlowCommand::Apply { file, name } => {
            let body = std::fs::read(&file).map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
            let content_type = content_type(&file, &body);
            let name = match name {
                Some(name) => name,
                None => default_name(&file, &body, content_type, "flow")?,
            };
            let put = client.put_flow(space, &name, body, content_type).await?;
            output::print(out, &put, |p: &PutFlow| {
                let what = if p.created { "created" } else { "unchanged" };
                format!("flow {} version {} ({what})\n", p.name, p.version)
            })
        }
        FlowCommand::List => {
            let list = client.list_flows(space).await?;
            print_list(out, &list, &list.flows, |l: &FlowList| {
                let rows: Vec<Vec<String>> = l
                    .flows
                    .iter()
                    .map(|f| {
                        vec![
                            f.name.clone(),
                            f.version.to_string(),
                            f.nodes.to_string(),
                            f.created_at.clone(),
                            f.description.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(&["NAME", "VERSION", "NODES", "CREATED", "DESCRIPTION"], &rows)
            })
        }
        FlowCommand::Get { name, version, compiled } => {
            let flow = client.get_flow(space, &name, version, compiled).await?;
            if out != OutputFormat::Table {
                return output::print_json(out, &flow);
            }
            let shown = if compiled {
                flow.compiled.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("the server did not send the compiled machine of flow {}", flow.name)
                })?
            } else {
                &flow.definition
            };
            output::emit(&output::pretty(shown))
        }
        FlowCommand::Graph { name, version, format } => {
            let flow = client.get_flow(space, &name, version, false).await?;
            let (graph, format_name) = match format {
                FlowGraphFormat::Text => (graph_text(&flow), "text"),
                FlowGraphFormat::Mermaid => (graph_mermaid(&flow), "mermaid"),
            };
            // The graph is the output in every format: JSON output carries it as a string.
            output::print(out, &json!({ "format": format_name, "graph": graph }), |_| graph.clone())
        }
        FlowCommand::Run { name, input, wait, idempotency_key } => {
            let input = match input.as_deref() {
                Some("-") => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).context("reading the input from stdin")?;
                    Some(serde_json::from_str(&text).map_err(|e| UsageError(format!("the input on stdin: {e}")))?)
                }
                Some(text) => Some(serde_json::from_str(text).map_err(|e| UsageError(format!("--input: {e}")))?),
                None => None,
            };
            let body = StartRun { input, idempotency_key };
            let spinner = match wait {
                Some(_) => crate::progress::spinner(format!("running flow {name}")),
                None => ProgressBar::hidden(),
            };
            let run = start_and_wait(client, space, &name, &body, wait).await;
            spinner.finish_and_clear();
            let run = run?;
            output::print(out, &run, |r: &Run| run_fields(r, false))?;
            if let Some(wait) = wait
                && !run.is_finished()
            {
                output::eprint_line(&format!(
                    "note: run {} is still {} after {}; follow it with: switchyard run watch {}",
                    run.id,
                    run.status,
                    humantime::format_duration(wait),
                    run.id
                ));
            }
            outcome(&run)
        }
    }
}

/// Starts a run and, with `wait`, waits up to that long for it to end: the server waits up to
/// [`SERVER_WAIT`], the rest is polled.
async fn start_and_wait(
    client: &Client,
    space: &str,
    flow: &str,
    body: &StartRun,
    wait: Option<Duration>,
) -> anyhow::Result<Run> {
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let mut run = client.start_run(space, flow, body, wait.map(|w| w.min(SERVER_WAIT))).await?;
    if let Some(deadline) = deadline {
        while !run.is_finished() {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
            run = client.get_run(space, &run.id).await?;
        }
    }
    Ok(run)
}

/// Runs a `run` command.
pub async fn run(command: RunCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    let out = settings.output;
    match command {
        RunCommand::List { filter, limit, cursor } => {
            let query = ListRuns { filter: filter.into(), limit, cursor };
            let page = client.list_runs(space, &query).await?;
            print_list(out, &page, &page.runs, |p: &RunPage| {
                let rows: Vec<Vec<String>> = p
                    .runs
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.clone(),
                            r.flow.clone(),
                            r.flow_version.to_string(),
                            r.status.clone(),
                            r.created_at.clone(),
                            r.error.as_ref().map(|e| e.code.clone()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                let mut text = table(&["ID", "FLOW", "VERSION", "STATUS", "CREATED", "ERROR"], &rows);
                if let Some(next) = &p.next_cursor {
                    text.push_str(&format!("(more: --cursor {next})\n"));
                }
                text
            })
        }
        RunCommand::Get { id } => {
            let run = client.get_run(space, &id).await?;
            output::print(out, &run, |r: &Run| run_fields(r, true))
        }
        RunCommand::Watch { id } => {
            let run = if out == OutputFormat::Table && std::io::stdout().is_terminal() {
                watch_live(client, space, &id).await?
            } else {
                watch_lines(client, space, &id, out).await?
            };
            outcome(&run)
        }
        RunCommand::Cancel { id, reason } => {
            let run = client.cancel_run(space, &id, reason.as_deref()).await?;
            output::print(out, &run, |r: &Run| run_fields(r, false))
        }
        RunCommand::Retry { id } => {
            let run = client.retry_run(space, &id).await?;
            output::print(out, &run, |r: &Run| run_fields(r, false))
        }
        RunCommand::Rerun { id } => {
            let run = client.rerun_run(space, &id).await?;
            output::print(out, &run, |r: &Run| run_fields(r, false))
        }
        RunCommand::Event { id, event, payload, idempotency_key } => {
            let body = RunEvent { event, payload, idempotency_key };
            let run = client.send_run_event(space, &id, &body).await?;
            output::print(out, &run, |r: &Run| run_fields(r, false))
        }
        RunCommand::CancelAll { filter } => {
            let bulk = client.cancel_runs(space, &filter.into()).await?;
            output::print(out, &bulk, |b| bulk_text(b, "cancelled", b.cancelled.as_deref()))
        }
        RunCommand::RetryAll { filter } => {
            let bulk = client.retry_runs(space, &filter.into()).await?;
            output::print(out, &bulk, |b| bulk_text(b, "started", b.started.as_deref()))
        }
    }
}

/// Exits 1 (through an error) when the run failed or was cancelled.
fn outcome(run: &Run) -> anyhow::Result<()> {
    match run.status.as_str() {
        "failed" => {
            Err(anyhow::anyhow!("run {} failed{}", run.id, run.error.as_ref().map(error_suffix).unwrap_or_default()))
        }
        "cancelled" => Err(anyhow::anyhow!(
            "run {} was cancelled{}",
            run.id,
            run.error.as_ref().map(error_suffix).unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// ` at node N: code: message` of a run's error.
fn error_suffix(error: &RunError) -> String {
    let node = error.node.as_ref().map(|n| format!(" at node {n}")).unwrap_or_default();
    format!("{node}: {}", error_text(error))
}

/// `code: message` of a run's error.
fn error_text(error: &RunError) -> String {
    match (error.code.is_empty(), error.message.is_empty()) {
        (false, false) => format!("{}: {}", error.code, error.message),
        (false, true) => error.code.clone(),
        (true, _) => error.message.clone(),
    }
}

/// `code: message` of a node's error (its compact JSON when it has neither).
fn node_error_text(error: &Value) -> String {
    match (error.get("code").and_then(Value::as_str), error.get("message").and_then(Value::as_str)) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => compact(error),
    }
}

/// A JSON value as a field: compact when short, else pretty on the lines below.
fn json_field(out: &mut String, label: &str, value: &Value, width: usize) {
    let text = compact(value);
    if text.chars().count() <= 100 {
        out.push_str(&format!("{label:width$}  {text}\n"));
    } else {
        out.push_str(&format!("{label}:\n{}", output::pretty(value)));
    }
}

/// A run for people: who it is, then (with `nodes`) its nodes' table, then its output or error.
fn run_fields(run: &Run, nodes: bool) -> String {
    let mut pairs = vec![
        ("run", run.id.clone()),
        ("flow", format!("{} (version {})", run.flow, run.flow_version)),
        ("status", run.status.clone()),
    ];
    if let Some(attempt) = run.attempt {
        pairs.push(("attempt", attempt.to_string()));
    }
    if let Some(sub) = &run.subflow {
        pairs.push(("subflow", format!("run {} of {} ({})", sub.run, sub.flow, sub.status)));
    }
    if let Some(of) = &run.retry_of {
        pairs.push(("retry of", of.clone()));
    }
    if let Some(of) = &run.rerun_of {
        pairs.push(("rerun of", of.clone()));
    }
    pairs.push(("created", run.created_at.clone()));
    pairs.push(("updated", run.updated_at.clone()));
    if let Some(error) = &run.error {
        pairs.push(("error", error_text(error)));
        if let Some(node) = &error.node {
            pairs.push(("node", node.clone()));
        }
    }
    let width = pairs.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut text = fields(&pairs);
    if run.status == "succeeded" {
        json_field(&mut text, "output", &run.output, width);
    }
    if nodes {
        text.push('\n');
        text.push_str(&nodes_table(&run.nodes));
        // Failed nodes' errors, which the table has no room for.
        for node in run.nodes.iter().filter(|n| n.error.is_some()) {
            if let Some(error) = &node.error {
                text.push_str(&format!("node {} error: {}\n", node.id, node_error_text(error)));
            }
        }
    }
    text
}

/// The nodes of a run as a table.
fn nodes_table(nodes: &[RunNode]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                n.id.clone(),
                n.kind.clone().unwrap_or_else(|| "-".into()),
                n.status.clone(),
                n.runs.to_string(),
                n.attempts.map_or_else(|| "-".into(), |a| a.to_string()),
                node_duration(n).map_or_else(|| "-".into(), short_duration),
            ]
        })
        .collect();
    table(&["NODE", "KIND", "STATUS", "RUNS", "ATTEMPTS", "DURATION"], &rows)
}

/// An RFC 3339 time the server wrote.
fn parse_at(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text).ok()
}

/// How long a node's last run took, once it ended.
fn node_duration(node: &RunNode) -> Option<Duration> {
    let started = parse_at(node.started_at.as_deref()?)?;
    let ended = parse_at(node.ended_at.as_deref()?)?;
    Some(ended.duration_since(started).unwrap_or_default())
}

/// `12ms`, `1.5s`, `2m 3s`.
fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    }
}

/// A bulk reply for people: the runs it applied to, then those it skipped and why.
fn bulk_text(bulk: &BulkRuns, verb: &str, done: Option<&[String]>) -> String {
    let done = done.unwrap_or_default();
    let plural = |n: usize| if n == 1 { "run" } else { "runs" };
    let mut text = format!("{verb} {} {}\n", done.len(), plural(done.len()));
    for id in done {
        text.push_str(&format!("  {id}\n"));
    }
    if !bulk.skipped.is_empty() {
        text.push_str(&format!("skipped {} {}\n", bulk.skipped.len(), plural(bulk.skipped.len())));
        for skipped in &bulk.skipped {
            text.push_str(&format!("  {}  {}\n", skipped.run, skipped.reason));
        }
    }
    text
}

/// The nodes of a flow definition as `(id, kind)`, in order.
fn flow_nodes(definition: &Value) -> Vec<(String, String)> {
    definition
        .get("nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| {
                    let text = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    (text("id"), text("kind"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An edge of a flow definition.
struct Edge {
    from: String,
    to: String,
    when: Option<String>,
    branch: Option<String>,
    /// For the links a node's own fields make: `on error`, `each item`, `branch N`.
    implied: Option<String>,
}

impl Edge {
    /// `when: …` and `branch: …`, as present.
    fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self.implied.iter().cloned().collect();
        if let Some(when) = &self.when {
            labels.push(format!("when: {when}"));
        }
        if let Some(branch) = &self.branch {
            labels.push(format!("branch: {branch}"));
        }
        labels
    }
}

/// The edges of a flow definition, in order.
fn flow_edges(definition: &Value) -> Vec<Edge> {
    let text = |e: &Value, k: &str| match e.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let mut edges: Vec<Edge> = definition
        .get("edges")
        .and_then(Value::as_array)
        .map(|edges| {
            edges
                .iter()
                .map(|e| Edge {
                    from: text(e, "from").unwrap_or_default(),
                    to: text(e, "to").unwrap_or_default(),
                    when: text(e, "when"),
                    branch: text(e, "branch"),
                    implied: None,
                })
                .collect()
        })
        .unwrap_or_default();
    // The links a node's fields make: an `on_error` node, a foreach's body, a parallel's branches.
    for node in definition.get("nodes").and_then(Value::as_array).into_iter().flatten() {
        let from = text(node, "id").unwrap_or_default();
        let link =
            |to: String, label: String| Edge { from: from.clone(), to, when: None, branch: None, implied: Some(label) };
        if let Some(target) = text(node, "on_error").filter(|t| t != "fail" && t != "continue") {
            edges.push(link(target, "on error".to_owned()));
        }
        if let Some(body) = text(node, "do") {
            edges.push(link(body, "each item".to_owned()));
        }
        for (i, branch) in node.get("branches").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(branch) = branch.as_str() {
                edges.push(link(branch.to_owned(), format!("branch {}", i + 1)));
            }
        }
    }
    edges
}

/// One line per node, `id (kind)`, each followed by the edges leaving it.
fn graph_text(flow: &Flow) -> String {
    let edges = flow_edges(&flow.definition);
    let mut text = String::new();
    for (id, kind) in flow_nodes(&flow.definition) {
        text.push_str(&format!("{id} ({kind})\n"));
        for edge in edges.iter().filter(|e| e.from == id) {
            text.push_str(&format!("  -> {}", edge.to));
            for label in edge.labels() {
                text.push_str(&format!(" [{label}]"));
            }
            text.push('\n');
        }
    }
    text
}

/// A Mermaid `flowchart TD` of the flow. Node ids get a prefix (`n_`), since Mermaid takes some
/// words (`end`) as keywords; their labels are `id (kind)`.
fn graph_mermaid(flow: &Flow) -> String {
    fn escape(text: &str) -> String {
        text.replace('#', "#35;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
    }
    let mut text = String::from("flowchart TD\n");
    for (id, kind) in flow_nodes(&flow.definition) {
        text.push_str(&format!("    n_{id}[\"{}\"]\n", escape(&format!("{id} ({kind})"))));
    }
    for edge in flow_edges(&flow.definition) {
        let labels = edge.labels();
        if labels.is_empty() {
            text.push_str(&format!("    n_{} --> n_{}\n", edge.from, edge.to));
        } else {
            text.push_str(&format!("    n_{} -->|\"{}\"| n_{}\n", edge.from, escape(&labels.join(", ")), edge.to));
        }
    }
    text
}

/// One change `run watch` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Change {
    /// When it happened (the server's time), RFC 3339.
    time: String,
    /// The node that changed, for a node's change.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    /// The run, for the run's change.
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<String>,
    /// The new status.
    status: String,
    /// How many times the node has run, for a node's change.
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<u64>,
    /// The run's output, once it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<Value>,
    /// The run's or node's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

impl Change {
    fn line(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Json | OutputFormat::Jsonl => format!("{}\n", compact(self)),
            OutputFormat::Table => {
                let (what, id) = match (&self.node, &self.run) {
                    (Some(node), _) => ("node", node.as_str()),
                    (None, Some(run)) => ("run", run.as_str()),
                    (None, None) => ("run", ""),
                };
                // The error goes to stderr with the command's failure; the line stays parseable.
                format!("{} {what} {id} {}\n", self.time, self.status)
            }
        }
    }
}

/// The time of a node's current status: when it ended, else when it started, else now.
fn node_time(node: &RunNode) -> String {
    let at = if node.status == "running" { node.started_at.as_deref() } else { node.ended_at.as_deref() };
    at.or(node.started_at.as_deref()).map_or_else(now_text, str::to_string)
}

fn now_text() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// The node changes since `seen` (updated), ordered by when they happened.
fn node_changes(run: &Run, seen: &mut HashMap<String, (String, u64)>) -> Vec<Change> {
    let mut changes: Vec<(Option<SystemTime>, Change)> = Vec::new();
    for node in &run.nodes {
        let key = (node.status.clone(), node.runs);
        if seen.get(&node.id) == Some(&key) {
            continue;
        }
        seen.insert(node.id.clone(), key);
        let time = node_time(node);
        changes.push((
            parse_at(&time),
            Change {
                time,
                node: Some(node.id.clone()),
                run: None,
                status: node.status.clone(),
                runs: Some(node.runs),
                output: None,
                error: node.error.clone(),
            },
        ));
    }
    // Stable: changes at the same time (or without one) keep the flow's order.
    changes.sort_by_key(|(at, _)| *at);
    changes.into_iter().map(|(_, change)| change).collect()
}

/// The run's own change to its current status.
fn run_change(run: &Run) -> Change {
    let error = run.error.as_ref().and_then(|e| serde_json::to_value(e).ok());
    Change {
        time: run.updated_at.clone(),
        node: None,
        run: Some(run.id.clone()),
        status: run.status.clone(),
        runs: None,
        output: (run.status == "succeeded").then(|| run.output.clone()),
        error,
    }
}

/// `run watch` without a terminal: one line per change until the run ends.
async fn watch_lines(client: &Client, space: &str, id: &str, format: OutputFormat) -> anyhow::Result<Run> {
    let mut seen = HashMap::new();
    let mut status: Option<String> = None;
    loop {
        let run = client.get_run(space, id).await?;
        let mut text: String = node_changes(&run, &mut seen).iter().map(|c| c.line(format)).collect();
        if run.is_finished() || status.as_deref() != Some(run.status.as_str()) {
            text.push_str(&run_change(&run).line(format));
            status = Some(run.status.clone());
        }
        // A closed pipe (`| head`) ends the watch: nobody reads what comes next.
        if !write_stdout(&text)? || run.is_finished() {
            return Ok(run);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Writes `text` to stdout; `false` when stdout is a closed pipe.
fn write_stdout(text: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

/// The symbol of a status in the live view.
fn symbol(status: &str) -> &'static str {
    match status {
        "succeeded" => "✓",
        "failed" => "✗",
        "cancelled" => "⊘",
        "running" => "▶",
        "waiting" => "⏸",
        _ => "·",
    }
}

/// `run watch` on a terminal: a header line and one line per node of the flow, redrawn as the
/// run moves, until it ends.
async fn watch_live(client: &Client, space: &str, id: &str) -> anyhow::Result<Run> {
    let mut run = client.get_run(space, id).await?;
    // Every node of the flow, so that those still to run show as pending; a flow that cannot be
    // read shows the nodes as they run.
    let mut order: Vec<(String, String)> = match client.get_flow(space, &run.flow, Some(run.flow_version), false).await
    {
        Ok(flow) => flow_nodes(&flow.definition),
        Err(_) => Vec::new(),
    };
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
    let header_style =
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    let line_style = ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    let header = multi.add(ProgressBar::new_spinner().with_style(header_style).with_message(live_header(&run)));
    header.enable_steady_tick(Duration::from_millis(120));
    let mut lines: Vec<ProgressBar> = Vec::new();
    loop {
        for node in &run.nodes {
            if !order.iter().any(|(id, _)| *id == node.id) {
                order.push((node.id.clone(), node.kind.clone().unwrap_or_default()));
            }
        }
        while lines.len() < order.len() {
            lines.push(multi.add(ProgressBar::new_spinner().with_style(line_style.clone())));
        }
        let id_width = order.iter().map(|(id, _)| id.chars().count()).max().unwrap_or(0);
        let kind_width = order.iter().map(|(_, kind)| kind.chars().count()).max().unwrap_or(0);
        for ((node_id, kind), line) in order.iter().zip(&lines) {
            let node = run.nodes.iter().find(|n| n.id == *node_id);
            line.set_message(live_line(node_id, kind, node, run.is_finished(), id_width, kind_width));
        }
        header.set_message(live_header(&run));
        if run.is_finished() {
            break;
        }
        tokio::time::sleep(POLL).await;
        run = client.get_run(space, id).await?;
    }
    header.set_style(ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    header.finish();
    for line in &lines {
        line.finish();
    }
    drop(multi);
    let mut text = String::new();
    match (&run.error, run.status.as_str()) {
        (_, "succeeded") => json_field(&mut text, "output", &run.output, 6),
        (Some(error), _) => text.push_str(&format!("error   {}\n", error_text(error))),
        (None, _) => {}
    }
    output::emit(&text)?;
    Ok(run)
}

/// The live view's first line: the run and its status.
fn live_header(run: &Run) -> String {
    format!("{} run {} ({} version {}) {}", symbol(&run.status), run.id, run.flow, run.flow_version, run.status)
}

/// One node's line in the live view; a node that has not run is `pending` while the run goes
/// on, and `not run` once it has ended.
fn live_line(id: &str, kind: &str, node: Option<&RunNode>, ended: bool, id_width: usize, kind_width: usize) -> String {
    let Some(node) = node else {
        let status = if ended { "not run" } else { "pending" };
        return format!("  {} {id:id_width$}  {kind:kind_width$}  {status}", symbol("pending"));
    };
    let mut line = format!("  {} {id:id_width$}  {kind:kind_width$}  {:9}", symbol(&node.status), node.status);
    if node.runs > 1 {
        line.push_str(&format!("  runs {}", node.runs));
    }
    if let Some(attempts) = node.attempts.filter(|a| *a > 1) {
        line.push_str(&format!("  attempts {attempts}"));
    }
    let took = match node_duration(node) {
        Some(took) => Some(took),
        // Still running: since it started, by this machine's clock.
        None => node
            .started_at
            .as_deref()
            .and_then(parse_at)
            .and_then(|started| SystemTime::now().duration_since(started).ok()),
    };
    if let Some(took) = took {
        line.push_str(&format!("  {}", short_duration(took)));
    }
    if let Some(error) = &node.error {
        line.push_str(&format!("  {}", node_error_text(error)));
    }
    line.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(definition: Value) -> Flow {
        Flow { name: "f".into(), version: 1, definition, compiled: None, created_at: String::new() }
    }

    #[test]
    fn content_type_follows_the_extension_then_the_content() {
        let table: &[(&str, &str, &str)] = &[
            ("f.yaml", "{}", "application/yaml"),
            ("f.YML", "a: 1", "application/yaml"),
            ("f.json", "a: 1", "application/json"),
            ("f", "  {\"nodes\": []}", "application/json"),
            ("f.flow", "nodes: []", "application/yaml"),
        ];
        for (file, body, want) in table {
            assert_eq!(content_type(Path::new(file), body.as_bytes()), *want, "{file}");
        }
    }

    #[test]
    fn flow_name_defaults_to_the_definition_then_the_stem() {
        let table: &[(&str, &str, &str)] = &[
            ("dir/stem.yaml", "name: double\nnodes: []\n", "double"),
            ("dir/stem.yaml", "nodes: []\n", "stem"),
            ("dir/stem.yaml", "name: [unclosed\n", "stem"),
            ("dir/stem.json", r#"{"name": "double"}"#, "double"),
            ("dir/stem.json", "{", "stem"),
        ];
        for (file, body, want) in table {
            let path = Path::new(file);
            let got = default_name(path, body.as_bytes(), content_type(path, body.as_bytes()), "flow").unwrap();
            assert_eq!(&got, want, "{body}");
        }
    }

    #[test]
    fn graphs_show_every_node_and_edge_with_their_labels() {
        let f = flow(json!({
            "nodes": [{"id": "check", "kind": "condition"}, {"id": "end", "kind": "succeed"}, {"id": "no", "kind": "fail"}],
            "edges": [
                {"from": "check", "to": "end", "branch": "true"},
                {"from": "check", "to": "no", "when": "input.x > \"a\""},
            ],
        }));
        assert_eq!(
            graph_text(&f),
            "check (condition)\n  -> end [branch: true]\n  -> no [when: input.x > \"a\"]\nend (succeed)\nno (fail)\n"
        );
        assert_eq!(
            graph_mermaid(&f),
            "flowchart TD\n    n_check[\"check (condition)\"]\n    n_end[\"end (succeed)\"]\n    n_no[\"no (fail)\"]\n    \
             n_check -->|\"branch: true\"| n_end\n    n_check -->|\"when: input.x #gt; #quot;a#quot;\"| n_no\n"
        );
    }

    #[test]
    fn times_are_rfc3339_or_a_duration_ago() {
        assert_eq!(parse_time("2026-12-04T10:00:00Z").unwrap(), "2026-12-04T10:00:00Z");
        assert_eq!(parse_time("2026-12-04T10:00:00+02:00").unwrap(), "2026-12-04T08:00:00.000Z");
        assert_eq!(parse_time("2026-12-04T10:00:00.5-01:30").unwrap(), "2026-12-04T11:30:00.500Z");
        assert!(parse_time("2026-12-04T10:00:00+25:00").is_err());
        let ago = parse_time("1h").unwrap();
        let at = humantime::parse_rfc3339(&ago).unwrap();
        let elapsed = SystemTime::now().duration_since(at).unwrap();
        assert!(elapsed >= Duration::from_secs(3599) && elapsed < Duration::from_secs(3700), "{ago}");
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_millis(12)), "12ms");
        assert_eq!(short_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(short_duration(Duration::from_secs(123)), "2m 3s");
    }

    #[test]
    fn node_changes_are_reported_once_each_in_time_order() {
        let node = |id: &str, status: &str, runs: u64, started: &str, ended: Option<&str>| RunNode {
            id: id.into(),
            kind: None,
            status: status.into(),
            input: Value::Null,
            output: None,
            error: None,
            runs,
            attempts: None,
            started_at: Some(started.into()),
            ended_at: ended.map(str::to_string),
        };
        let mut run: Run = serde_json::from_value(json!({
            "id": "r", "flow": "f", "flow_version": 1, "status": "running",
            "created_at": "T", "updated_at": "T",
        }))
        .unwrap();
        run.nodes = vec![
            node("b", "succeeded", 1, "2026-01-01T00:00:02Z", Some("2026-01-01T00:00:02.5Z")),
            node("a", "succeeded", 1, "2026-01-01T00:00:01Z", Some("2026-01-01T00:00:01Z")),
        ];
        let mut seen = HashMap::new();
        let lines: Vec<String> = node_changes(&run, &mut seen).iter().map(|c| c.line(OutputFormat::Table)).collect();
        assert_eq!(lines, ["2026-01-01T00:00:01Z node a succeeded\n", "2026-01-01T00:00:02.5Z node b succeeded\n"]);
        assert!(node_changes(&run, &mut seen).is_empty(), "nothing changed");
        run.nodes[1].runs = 2;
        assert_eq!(node_changes(&run, &mut seen).len(), 1, "a node that ran again");
    }
}
