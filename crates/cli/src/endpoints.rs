//! `switchyard endpoint …`: outbound webhook endpoints of a space — URLs that receive log
//! records as signed Standard Webhooks requests, retried until they land.

use std::path::PathBuf;

use serde_json::{Value, json};
use switchyard_client::{Client, Delivery, DeliveryPage, Endpoint};

use crate::UsageError;
use crate::config::Settings;
use crate::flows::{content_type, default_name, print_list};
use crate::output::{self, fields, table};

/// `endpoint` commands (endpoints of --space).
#[derive(Debug, clap::Subcommand)]
pub enum EndpointCommand {
    /// Puts an endpoint file (YAML or JSON): a new version unless it equals the current one.
    #[command(visible_alias = "put")]
    Apply {
        /// The endpoint file: .yaml/.yml is sent as YAML, .json as JSON, anything else as JSON
        /// when it starts with `{`, else as YAML.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// The endpoint's name [default: the file's `name` field, else the file stem].
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Lists the space's endpoints.
    #[command(visible_alias = "ls")]
    List,
    /// Shows an endpoint: its definition, state, last delivery and breaker.
    #[command(visible_alias = "show")]
    Get {
        /// The endpoint's name.
        name: String,
    },
    /// Lists an endpoint's deliveries, newest first.
    Deliveries {
        /// The endpoint's name.
        name: String,
        /// Only deliveries older than this one (the previous page's `next_before`).
        #[arg(long, value_name = "ID")]
        before: Option<String>,
        /// At most this many (1-1000) [default: 100].
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Re-drives dead deliveries: one (--delivery) or all created in [--from, --to] (each
    /// optional; neither: every dead delivery of the endpoint).
    Redrive {
        /// The endpoint's name.
        name: String,
        /// The delivery to re-drive.
        #[arg(long, value_name = "ID", conflicts_with_all = ["from", "to"])]
        delivery: Option<String>,
        /// Only deliveries created at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only deliveries created at or before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
    },
    /// Disables an endpoint: it reads nothing and its pending deliveries end.
    Disable {
        /// The endpoint's name.
        name: String,
        /// Why (shown by `endpoint get`).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Enables a disabled endpoint: it reads on from where it stopped.
    Enable {
        /// The endpoint's name.
        name: String,
    },
    /// Deletes an endpoint (its deliveries stay until purged).
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The endpoint's name.
        name: String,
    },
}

fn state(e: &Endpoint) -> String {
    match &e.disabled_reason {
        Some(reason) if !e.enabled => format!("disabled ({reason})"),
        _ => "enabled".into(),
    }
}

fn describe(e: &Endpoint) -> String {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut pairs = vec![
        ("name", e.name.clone()),
        ("version", e.version.to_string()),
        ("url", text(&e.definition, "url")),
        ("state", state(e)),
        ("breaker", text(&e.health, "breaker")),
    ];
    let last = e.health.get("last_delivery").filter(|v| !v.is_null());
    pairs.push((
        "last delivery",
        last.map_or("none".into(), |d| {
            format!("{} {} attempt {}", text(d, "created_at"), text(d, "status"), d["attempt"])
        }),
    ));
    if let Some(f) = e.health.get("last_failure").filter(|v| !v.is_null()) {
        let message = f.pointer("/error/message").and_then(Value::as_str).unwrap_or("");
        pairs.push(("last failure", format!("{} {}: {message}", text(f, "id"), text(f, "status"))));
    }
    fields(&pairs)
}

fn delivery_row(d: &Delivery) -> Vec<String> {
    let error = d.error.as_ref().and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("");
    vec![
        d.id.clone(),
        d.seq.map(|s| s.to_string()).unwrap_or_default(),
        d.kind.clone().unwrap_or_default(),
        d.status.clone(),
        format!("{}/{}", d.attempt, d.max_attempts),
        d.response_status.map(|s| s.to_string()).unwrap_or_default(),
        d.latency_ms.map(|l| format!("{l} ms")).unwrap_or_default(),
        error.to_string(),
    ]
}

/// Runs `switchyard endpoint …`.
pub async fn endpoint(command: EndpointCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    let out = settings.output;
    match command {
        EndpointCommand::Apply { file, name } => {
            let body = std::fs::read(&file).map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
            let content_type = content_type(&file, &body);
            let name = match name {
                Some(name) => name,
                None => default_name(&file, &body, content_type, "endpoint")?,
            };
            let put = client.put_endpoint(space, &name, body, content_type).await?;
            output::print(out, &put, |e| {
                let what = match (e.created, e.changed) {
                    (Some(true), _) => "created",
                    (_, Some(true)) => "updated",
                    _ => "unchanged",
                };
                format!("endpoint {} version {} ({what})\n", e.name, e.version)
            })
        }
        EndpointCommand::List => {
            let endpoints = client.list_endpoints(space).await?;
            print_list(out, &json!({ "endpoints": endpoints }), &endpoints, |_| {
                let rows: Vec<Vec<String>> = endpoints
                    .iter()
                    .map(|e| {
                        vec![
                            e.name.clone(),
                            e.version.to_string(),
                            state(e),
                            e.definition.get("url").and_then(Value::as_str).unwrap_or("").to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "VERSION", "STATE", "URL"], &rows)
            })
        }
        EndpointCommand::Get { name } => {
            let e = client.get_endpoint(space, &name).await?;
            output::print(out, &e, describe)
        }
        EndpointCommand::Deliveries { name, before, limit } => {
            if limit.is_some_and(|l| l == 0 || l > 1000) {
                return Err(UsageError("--limit must be 1 to 1000".into()).into());
            }
            let page = client.endpoint_deliveries(space, &name, before.as_deref(), limit).await?;
            print_list(out, &page, &page.deliveries, |p: &DeliveryPage| {
                let rows: Vec<Vec<String>> = p.deliveries.iter().map(delivery_row).collect();
                let mut text = table(&["ID", "SEQ", "TYPE", "STATUS", "ATTEMPT", "ANSWER", "LATENCY", "ERROR"], &rows);
                if let Some(next) = &p.next_before {
                    text.push_str(&format!("more: --before {next}\n"));
                }
                text
            })
        }
        EndpointCommand::Redrive { name, delivery, from, to } => match delivery {
            Some(id) => {
                let d = client.redrive_delivery(space, &name, &id).await?;
                output::print(out, &d, |d| fields(&[("delivery", d.id.clone()), ("status", d.status.clone())]))
            }
            None => {
                let count = client.redrive_deliveries(space, &name, from.as_deref(), to.as_deref()).await?;
                let noun = if count == 1 { "delivery" } else { "deliveries" };
                output::print(out, &json!({ "redriven": count }), |_| format!("{count} dead {noun} re-driven\n"))
            }
        },
        EndpointCommand::Disable { name, reason } => {
            let reason = reason.unwrap_or_else(|| "disabled by a person".into());
            let e = client.set_endpoint_disabled(space, &name, Some(&reason)).await?;
            output::print(out, &e, describe)
        }
        EndpointCommand::Enable { name } => {
            let e = client.set_endpoint_disabled(space, &name, None).await?;
            output::print(out, &e, describe)
        }
        EndpointCommand::Delete { name } => {
            client.delete_endpoint(space, &name).await?;
            output::print(out, &json!({ "deleted": name }), |_| fields(&[("deleted", name.clone())]))
        }
    }
}
