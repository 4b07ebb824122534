//! `switchyard trigger …`: triggers of a space — webhooks, schedules and event patterns that
//! start flows and machines, invoke functions or publish messages.

use std::path::PathBuf;

use serde_json::{Value, json};
use switchyard_client::{Client, Execution, ExecutionPage, Trigger};

use crate::UsageError;
use crate::config::Settings;
use crate::flows::{content_type, default_name, print_list};
use crate::output::{self, fields, table};

/// `trigger` commands (triggers of --space).
#[derive(Debug, clap::Subcommand)]
pub enum TriggerCommand {
    /// Puts a trigger file (YAML or JSON): a new version unless it equals the current one.
    #[command(visible_alias = "put")]
    Apply {
        /// The trigger file: .yaml/.yml is sent as YAML, .json as JSON, anything else as JSON when
        /// it starts with `{`, else as YAML.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// The trigger's name [default: the file's `name` field, else the file stem].
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Lists the space's triggers.
    #[command(visible_alias = "ls")]
    List,
    /// Shows a trigger: its definition, next fire times, webhook path and health.
    #[command(visible_alias = "show")]
    Get {
        /// The trigger's name.
        name: String,
    },
    /// Pauses a trigger: a schedule stops firing, a webhook answers 503.
    Pause {
        /// The trigger's name.
        name: String,
    },
    /// Resumes a paused trigger (a schedule fires from its next fire time after now).
    Resume {
        /// The trigger's name.
        name: String,
    },
    /// Fires a trigger now; prints the execution.
    Fire {
        /// The trigger's name.
        name: String,
        /// JSON: a webhook trigger's `body`, an event trigger's `record` (default `{}`).
        #[arg(long, value_name = "JSON")]
        body: Option<String>,
    },
    /// Enqueues an execution for each of a schedule's fire times in [--from, --to] (at most
    /// 1000); a time backfilled before is not enqueued again.
    Backfill {
        /// The trigger's name.
        name: String,
        /// The range's start (RFC 3339).
        #[arg(long, value_name = "TIME")]
        from: String,
        /// The range's end (RFC 3339), included.
        #[arg(long, value_name = "TIME")]
        to: String,
    },
    /// Lists a trigger's executions, newest first.
    Executions {
        /// The trigger's name.
        name: String,
        /// Only executions older than this one (the previous page's `next_before`).
        #[arg(long, value_name = "ID")]
        before: Option<String>,
        /// At most this many (1-1000) [default: 100].
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Deletes a trigger (its executions stay until purged).
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The trigger's name.
        name: String,
    },
}

fn source_kind(t: &Trigger) -> String {
    t.definition.get("source").and_then(Value::as_object).and_then(|s| s.keys().next().cloned()).unwrap_or_default()
}

fn describe(t: &Trigger) -> String {
    let mut pairs = vec![
        ("name", t.name.clone()),
        ("version", t.version.to_string()),
        ("source", source_kind(t)),
        ("paused", t.paused.to_string()),
    ];
    if let Some(url) = &t.webhook_url {
        pairs.push(("webhook", url.clone()));
    }
    if !t.next_fire_times.is_empty() {
        pairs.push(("next", t.next_fire_times.join(", ")));
    }
    let last = t.health.get("last_execution").filter(|v| !v.is_null());
    pairs.push((
        "last execution",
        last.map_or("none".into(), |e| {
            format!(
                "{} {} {}",
                e.get("accepted_at").and_then(Value::as_str).unwrap_or(""),
                e.get("status").and_then(Value::as_str).unwrap_or(""),
                e.get("outcome").and_then(Value::as_str).unwrap_or("")
            )
        }),
    ));
    if let Some(r) = t.health.get("last_rejection").filter(|v| !v.is_null()) {
        let rejected = t.health.get("rejected").and_then(Value::as_u64).unwrap_or(0);
        pairs.push((
            "rejected",
            format!("{rejected} (last {}: {})", r["at"].as_str().unwrap_or(""), r["reason"].as_str().unwrap_or("")),
        ));
    }
    fields(&pairs)
}

fn execution_row(e: &Execution) -> Vec<String> {
    let started = e.started.as_ref().map_or(String::new(), |s| {
        ["run", "instance", "invocation", "topic"]
            .iter()
            .find_map(|k| s.get(*k).and_then(Value::as_str).map(|v| format!("{k} {v}")))
            .unwrap_or_else(|| s.to_string())
    });
    let error = e.error.as_ref().and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("");
    vec![
        e.id.clone(),
        e.source.clone().unwrap_or_default(),
        e.status.clone(),
        e.outcome.clone().unwrap_or_default(),
        e.fire_time
            .clone()
            .or_else(|| e.delivery_id.clone())
            .or_else(|| e.seq.map(|seq| format!("seq {seq}")))
            .unwrap_or_default(),
        if error.is_empty() { started } else { error.to_string() },
    ]
}

/// Runs `switchyard trigger …`.
pub async fn trigger(command: TriggerCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    let out = settings.output;
    match command {
        TriggerCommand::Apply { file, name } => {
            let body = std::fs::read(&file).map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
            let content_type = content_type(&file, &body);
            let name = match name {
                Some(name) => name,
                None => default_name(&file, &body, content_type, "trigger")?,
            };
            let put = client.put_trigger(space, &name, body, content_type).await?;
            output::print(out, &put, |t| {
                let what = match (t.created, t.changed) {
                    (Some(true), _) => "created",
                    (_, Some(true)) => "updated",
                    _ => "unchanged",
                };
                format!("trigger {} version {} ({what})\n", t.name, t.version)
            })
        }
        TriggerCommand::List => {
            let triggers = client.list_triggers(space).await?;
            print_list(out, &json!({ "triggers": triggers }), &triggers, |_| {
                let rows: Vec<Vec<String>> = triggers
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.version.to_string(),
                            source_kind(t),
                            if t.paused { "paused".into() } else { "active".into() },
                            t.next_fire_times.first().cloned().or_else(|| t.webhook_url.clone()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(&["NAME", "VERSION", "SOURCE", "STATE", "NEXT / WEBHOOK"], &rows)
            })
        }
        TriggerCommand::Get { name } => {
            let t = client.get_trigger(space, &name).await?;
            output::print(out, &t, describe)
        }
        TriggerCommand::Pause { name } => {
            let t = client.pause_trigger(space, &name, true).await?;
            output::print(out, &t, describe)
        }
        TriggerCommand::Resume { name } => {
            let t = client.pause_trigger(space, &name, false).await?;
            output::print(out, &t, describe)
        }
        TriggerCommand::Fire { name, body } => {
            let body = body
                .map(|b| serde_json::from_str::<Value>(&b).map_err(|e| UsageError(format!("--body is not JSON: {e}"))))
                .transpose()?;
            let e = client.fire_trigger(space, &name, body).await?;
            output::print(out, &e, |e| fields(&[("execution", e.id.clone()), ("status", e.status.clone())]))
        }
        TriggerCommand::Backfill { name, from, to } => {
            let b = client.backfill_trigger(space, &name, &from, &to).await?;
            output::print(out, &b, |b| {
                format!(
                    "{} fire times in range, {} enqueued ({} backfilled before)\n",
                    b.count,
                    b.enqueued,
                    b.count.saturating_sub(b.enqueued)
                )
            })
        }
        TriggerCommand::Executions { name, before, limit } => {
            if limit.is_some_and(|l| l == 0 || l > 1000) {
                return Err(UsageError("--limit must be 1 to 1000".into()).into());
            }
            let page = client.trigger_executions(space, &name, before.as_deref(), limit).await?;
            print_list(out, &page, &page.executions, |p: &ExecutionPage| {
                let rows: Vec<Vec<String>> = p.executions.iter().map(execution_row).collect();
                let mut text = table(
                    &["ID", "SOURCE", "STATUS", "OUTCOME", "FIRE TIME / DELIVERY / SEQ", "STARTED / ERROR"],
                    &rows,
                );
                if let Some(next) = &p.next_before {
                    text.push_str(&format!("more: --before {next}\n"));
                }
                text
            })
        }
        TriggerCommand::Delete { name } => {
            client.delete_trigger(space, &name).await?;
            output::print(out, &json!({ "deleted": name }), |_| fields(&[("deleted", name.clone())]))
        }
    }
}
