//! `switchyard quota` and `switchyard usage`: a space's limits, what it holds and did.

use std::time::Duration;

use serde_json::{Map, Value, json};
use switchyard_client::Client;

use crate::UsageError;
use crate::config::Settings;
use crate::output::{self, fields};
use crate::serve::parse_bytes;

/// The limits a quota may set, as the API names them.
const LIMITS: &[&str] = &[
    "stored_bytes",
    "instances",
    "requests_per_second",
    "events_per_second",
    "concurrent_jobs",
    "function_timeout_ms",
    "function_memory_bytes",
];

/// `quota` commands.
#[derive(Debug, clap::Subcommand)]
pub enum QuotaCommand {
    /// Prints a space's quota.
    Get {
        /// The space.
        #[arg(value_name = "SPACE")]
        name: String,
    },
    /// Sets limits of a space's quota, keeping the limits not named; applies on every node at
    /// once. Needs quotas:write (sys-admin).
    Set(SetArgs),
    /// Removes every limit of a space.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The space.
        #[arg(value_name = "SPACE")]
        name: String,
    },
}

/// `quota set`'s limits.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The space.
    #[arg(value_name = "SPACE")]
    pub name: String,
    /// Bytes the space may hold: log, instances, KV, functions, invocation records (e.g. 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub stored_bytes: Option<u64>,
    /// Instances (not deleted) the space may hold.
    #[arg(long, value_name = "N")]
    pub instances: Option<u64>,
    /// API requests a second naming the space, shared by the live nodes.
    #[arg(long, value_name = "N")]
    pub requests_per_second: Option<u32>,
    /// Instances created, events applied and messages published a second by callers.
    #[arg(long, value_name = "N")]
    pub events_per_second: Option<u32>,
    /// Jobs of the space running at once.
    #[arg(long, value_name = "N")]
    pub concurrent_jobs: Option<u32>,
    /// The longest an invocation may run (e.g. 500ms, 10s); a function's own timeout above it is
    /// lowered to it.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub function_timeout: Option<Duration>,
    /// The most memory an invocation may use (e.g. 64MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub function_memory: Option<u64>,
    /// Removes one limit (repeatable): stored_bytes, instances, requests_per_second,
    /// events_per_second, concurrent_jobs, function_timeout_ms, function_memory_bytes.
    #[arg(long, value_name = "LIMIT")]
    pub unset: Vec<String>,
}

/// `usage`'s arguments.
#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// The space.
    #[arg(value_name = "SPACE")]
    pub name: String,
}

/// Runs a `quota` command.
pub async fn quota(cmd: QuotaCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        QuotaCommand::Get { name: space } => {
            let answer = client.get_quota(&space).await?;
            output::print(out, &answer, |a| quota_text(&a["quota"]))
        }
        QuotaCommand::Set(args) => {
            for name in &args.unset {
                if !LIMITS.contains(&name.as_str()) {
                    return Err(
                        UsageError(format!("--unset {name}: no such limit (one of {})", LIMITS.join(", "))).into()
                    );
                }
            }
            let current = client.get_quota(&args.name).await?;
            let mut quota: Map<String, Value> = current["quota"].as_object().cloned().unwrap_or_default();
            let function_timeout_ms = args.function_timeout.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let given = [
                ("stored_bytes", args.stored_bytes.map(Value::from)),
                ("instances", args.instances.map(Value::from)),
                ("requests_per_second", args.requests_per_second.map(Value::from)),
                ("events_per_second", args.events_per_second.map(Value::from)),
                ("concurrent_jobs", args.concurrent_jobs.map(Value::from)),
                ("function_timeout_ms", function_timeout_ms.map(Value::from)),
                ("function_memory_bytes", args.function_memory.map(Value::from)),
            ];
            if given.iter().all(|(_, v)| v.is_none()) && args.unset.is_empty() {
                return Err(UsageError("name a limit to set (e.g. --requests-per-second 100) or --unset".into()).into());
            }
            for (name, value) in given {
                if let Some(value) = value {
                    quota.insert(name.into(), value);
                }
            }
            for name in &args.unset {
                quota.remove(name);
            }
            let answer = client.set_quota(&args.name, &Value::Object(quota)).await?;
            output::print(out, &answer, |a| {
                let changed = if a["changed"].as_bool() == Some(true) { "set" } else { "unchanged" };
                format!("quota of {} {changed}\n{}", args.name, quota_text(&a["quota"]))
            })
        }
        QuotaCommand::Delete { name: space } => {
            client.delete_quota(&space).await?;
            output::print(out, &json!({ "deleted": space }), |_| format!("removed the quota of {space}\n"))
        }
    }
}

/// Runs `usage`.
pub async fn usage(args: UsageArgs, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let usage = client.space_usage(&args.name).await?;
    output::print(settings.output, &usage, |u| {
        let limit = |name: &str| u["quota"].get(name).and_then(Value::as_u64);
        let of = |used: u64, name: &str| match limit(name) {
            Some(limit) => format!("{used} of {limit}"),
            None => used.to_string(),
        };
        let stored = &u["stored_bytes"];
        let n = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let meters = &u["meters"];
        fields(&[
            ("space", u["space"].as_str().unwrap_or_default().to_string()),
            ("stored bytes", of(n(stored, "total"), "stored_bytes")),
            (
                "  by kind",
                format!(
                    "log {}, instances {}, kv {}, functions {}, invocations {}",
                    n(stored, "log"),
                    n(stored, "instances"),
                    n(stored, "kv"),
                    n(stored, "functions"),
                    n(stored, "invocations")
                ),
            ),
            ("instances", of(n(u, "instances"), "instances")),
            ("running jobs", of(n(u, "running_jobs"), "concurrent_jobs")),
            ("requests", n(meters, "requests").to_string()),
            ("events", n(meters, "events").to_string()),
            ("refused", n(meters, "refused").to_string()),
            ("invocations", n(meters, "invocations").to_string()),
            ("function ms", n(meters, "function_ms").to_string()),
        ])
    })
}

fn quota_text(quota: &Value) -> String {
    let pairs: Vec<(&str, String)> = LIMITS
        .iter()
        .filter_map(|name| quota.get(*name).and_then(Value::as_u64).map(|v| (*name, v.to_string())))
        .collect();
    if pairs.is_empty() { "no limits\n".to_string() } else { fields(&pairs) }
}
