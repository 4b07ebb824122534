//! `switchyard job …`: durable jobs — enqueue, inspect, re-drive dead letters, cancel, delete.

use serde_json::{Value, json};
use switchyard_client::{Client, JobQuery};

use crate::UsageError;
use crate::config::Settings;
use crate::output::{self, fields, table};

/// Job commands (jobs of --space).
#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Enqueues a job; prints it.
    #[command(visible_alias = "add")]
    Enqueue {
        /// http, function, event, publish or noop.
        #[arg(long)]
        kind: String,
        /// What the kind needs, as JSON (see docs/http-api.md, "Jobs").
        #[arg(long, value_name = "JSON")]
        payload: Option<String>,
        /// Due after this long, e.g. 30s, 10m (default: now).
        #[arg(long, conflicts_with = "at")]
        delay: Option<String>,
        /// Due at this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Higher runs first among the space's due jobs.
        #[arg(long, allow_negative_numbers = true)]
        priority: Option<i32>,
        /// An idempotency key: enqueueing again with it returns the first job.
        #[arg(long)]
        key: Option<String>,
        /// The fairness lane inside the space.
        #[arg(long)]
        concurrency_key: Option<String>,
        /// The retry policy as JSON, e.g. '{"max_attempts":3,"initial":"1s"}'.
        #[arg(long, value_name = "JSON")]
        retry: Option<String>,
    },
    /// Lists jobs, oldest first.
    #[command(visible_alias = "ls")]
    List {
        /// Only jobs with this status (pending, running, succeeded, dead, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only jobs of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only jobs after this id (the previous page's last).
        #[arg(long)]
        after: Option<String>,
    },
    /// Shows a job with its attempts.
    #[command(visible_alias = "show")]
    Get {
        /// The job id.
        id: String,
    },
    /// Re-drives a dead or cancelled job (or, with --all, the space's dead jobs).
    Retry {
        /// The job id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Re-drive every dead job of the space (of --kind).
        #[arg(long)]
        all: bool,
        /// With --all: only dead jobs of this kind.
        #[arg(long, requires = "all")]
        kind: Option<String>,
        /// With --all: at most this many.
        #[arg(long, requires = "all")]
        limit: Option<u32>,
        /// Run it with this payload (JSON) instead.
        #[arg(long, value_name = "JSON", conflicts_with = "all")]
        payload: Option<String>,
    },
    /// Cancels a job that has not finished.
    Cancel {
        /// The job id.
        id: String,
    },
    /// Deletes a job that is not running.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The job id.
        id: String,
    },
}

fn parse_json(flag: &str, text: &str) -> Result<Value, UsageError> {
    serde_json::from_str(text).map_err(|e| UsageError(format!("{flag} is not JSON: {e}")))
}

/// A duration such as `30s` in milliseconds.
fn delay_ms(text: &str) -> Result<u64, UsageError> {
    let d = humantime::parse_duration(text).map_err(|e| UsageError(format!("--delay {text:?}: {e}")))?;
    u64::try_from(d.as_millis()).map_err(|_| UsageError(format!("--delay {text:?} is too long")))
}

/// Runs `switchyard job …`.
pub async fn job(command: JobCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    match command {
        JobCommand::Enqueue { kind, payload, delay, at, priority, key, concurrency_key, retry } => {
            let mut body = json!({ "kind": kind });
            if let Some(payload) = payload {
                body["payload"] = parse_json("--payload", &payload)?;
            }
            if let Some(delay) = delay {
                body["delay_ms"] = json!(delay_ms(&delay)?);
            }
            if let Some(at) = at {
                body["run_at"] = json!(at);
            }
            if let Some(priority) = priority {
                body["priority"] = json!(priority);
            }
            if let Some(key) = key {
                body["idempotency_key"] = json!(key);
            }
            if let Some(lane) = concurrency_key {
                body["concurrency_key"] = json!(lane);
            }
            if let Some(retry) = retry {
                body["retry"] = parse_json("--retry", &retry)?;
            }
            let enqueued = client.enqueue_job(space, &body).await?;
            output::print(settings.output, &enqueued.job, describe)
        }
        JobCommand::List { status, kind, limit, after } => {
            let page = client.list_jobs(space, &JobQuery { status, kind, after, limit: Some(limit) }).await?;
            output::print(settings.output, &page, |p| {
                let rows: Vec<Vec<String>> = p["jobs"]
                    .as_array()
                    .map(|jobs| {
                        jobs.iter()
                            .map(|j| {
                                vec![
                                    text(&j["id"]),
                                    text(&j["kind"]),
                                    text(&j["status"]),
                                    text(&j["attempt"]),
                                    text(&j["run_at"]),
                                    text(&j["target"]),
                                    text(&j["last_error"]["code"]),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut out = table(&["ID", "KIND", "STATUS", "ATTEMPT", "RUN AT", "TARGET", "LAST ERROR"], &rows);
                if let Some(next) = p["next_after"].as_str() {
                    out.push_str(&format!("\nmore: --after {next}\n"));
                }
                out
            })
        }
        JobCommand::Get { id } => {
            let job = client.get_job(space, &id).await?;
            output::print(settings.output, &job, describe)
        }
        JobCommand::Retry { all: true, kind, limit, .. } => {
            let n = client.redrive_jobs(space, kind.as_deref(), limit).await?;
            output::print(settings.output, &json!({ "redriven": n }), |_| fields(&[("redriven", n.to_string())]))
        }
        JobCommand::Retry { id, payload, .. } => {
            let id = id.ok_or_else(|| UsageError("give a job id, or --all".into()))?;
            let payload = payload.map(|p| parse_json("--payload", &p)).transpose()?;
            let job = client.retry_job(space, &id, payload.as_ref()).await?;
            output::print(settings.output, &job, describe)
        }
        JobCommand::Cancel { id } => {
            let job = client.cancel_job(space, &id).await?;
            output::print(settings.output, &job, describe)
        }
        JobCommand::Delete { id } => {
            client.delete_job(space, &id).await?;
            output::print(settings.output, &json!({ "deleted": id }), |_| fields(&[("deleted", id.clone())]))
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn describe(j: &Value) -> String {
    let mut out = fields(&[
        ("id", text(&j["id"])),
        ("kind", text(&j["kind"])),
        ("target", text(&j["target"])),
        ("status", text(&j["status"])),
        ("attempt", text(&j["attempt"])),
        ("run at", text(&j["run_at"])),
        ("effect key", text(&j["effect_key"])),
        (
            "last error",
            j["last_error"]
                .as_object()
                .map(|_| format!("{}: {}", text(&j["last_error"]["code"]), text(&j["last_error"]["message"])))
                .unwrap_or_default(),
        ),
        ("result", text(&j["result"])),
    ]);
    let attempts: Vec<Vec<String>> = j["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    vec![
                        text(&a["attempt"]),
                        text(&a["started_at"]),
                        text(&a["ended_at"]),
                        text(&a["error"]["code"]),
                        text(&a["owner"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if !attempts.is_empty() {
        out.push('\n');
        out.push_str(&table(&["ATTEMPT", "STARTED", "ENDED", "ERROR", "NODE"], &attempts));
    }
    out
}
