//! `switchyard kv …` and `switchyard sub …`: KV buckets and durable subscriptions.

use std::io::{Read, Write};

use anyhow::Context;
use serde_json::{Value, json};
use switchyard_client::{Client, KvCondition, KvPutOptions, PullOptions, WatchQuery};

use crate::config::Settings;
use crate::output::{self, OutputFormat, compact, fields, table};

/// KV commands (keys live in buckets of --space).
#[derive(Debug, clap::Subcommand)]
pub enum KvCommand {
    /// Prints a key's value (raw bytes; with --output json, an object with its revision).
    #[command(visible_alias = "show")]
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Writes a key.
    Put {
        /// The bucket (created with the default history on first use).
        bucket: String,
        /// The key.
        key: String,
        /// The value; `-` reads it from stdin.
        value: String,
        /// The value's content type.
        #[arg(long, default_value = "text/plain; charset=utf-8")]
        content_type: String,
        /// The value expires after this long, e.g. 30s, 10m.
        #[arg(long)]
        ttl: Option<String>,
        /// Only if the key is at this revision (compare-and-set).
        #[arg(long, value_name = "REVISION", conflicts_with = "create")]
        if_revision: Option<u64>,
        /// Only if the key does not exist.
        #[arg(long)]
        create: bool,
    },
    /// Deletes a key.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Only if the key is at this revision.
        #[arg(long, value_name = "REVISION")]
        if_revision: Option<u64>,
    },
    /// Lists a bucket's keys.
    #[command(visible_alias = "ls")]
    List {
        /// The bucket.
        bucket: String,
        /// Only keys starting with this.
        prefix: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only keys after this one (the previous page's last key).
        #[arg(long)]
        after: Option<String>,
    },
    /// Shows a key's kept revisions, newest first.
    History {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Follows changes to a bucket's keys (all, or those starting with PREFIX).
    Watch {
        /// The bucket.
        bucket: String,
        /// Only keys starting with this.
        prefix: Option<String>,
        /// Replay from this seq (inclusive) first.
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
    },
    /// Creates a bucket, or changes how many revisions it keeps per key.
    Bucket {
        /// The bucket.
        bucket: String,
        /// Revisions kept per key (1-64).
        #[arg(long)]
        history: Option<u32>,
    },
}

/// Runs `switchyard kv …`.
pub async fn kv(command: KvCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    match command {
        KvCommand::Get { bucket, key } => {
            let got = client.kv_get(space, &bucket, &key).await?;
            match settings.output {
                OutputFormat::Json | OutputFormat::Jsonl => {
                    let value = match std::str::from_utf8(&got.value) {
                        Ok(text) => json!({ "value": text }),
                        Err(_) => {
                            use base64::Engine as _;
                            json!({ "value_base64": base64::engine::general_purpose::STANDARD.encode(&got.value) })
                        }
                    };
                    let mut object = json!({ "key": key, "revision": got.revision, "content_type": got.content_type });
                    if let (Some(o), Some(v)) = (object.as_object_mut(), value.as_object()) {
                        o.extend(v.clone());
                    }
                    output::print_json(settings.output, &object)
                }
                OutputFormat::Table => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&got.value).and_then(|()| out.flush()).context("writing the value to stdout")
                }
            }
        }
        KvCommand::Put { bucket, key, value, content_type, ttl, if_revision, create } => {
            let bytes = if value == "-" {
                let mut buf = Vec::new();
                std::io::stdin().read_to_end(&mut buf).context("reading the value from stdin")?;
                buf
            } else {
                value.into_bytes()
            };
            let condition = match (if_revision, create) {
                (Some(r), _) => KvCondition::Revision(r),
                (None, true) => KvCondition::Absent,
                (None, false) => KvCondition::Always,
            };
            let written = client
                .kv_put(space, &bucket, &key, bytes, &KvPutOptions { content_type: Some(content_type), ttl, condition })
                .await?;
            output::print(settings.output, &written, |w| {
                fields(&[("key", key.clone()), ("revision", w.revision.to_string()), ("seq", w.seq.to_string())])
            })
        }
        KvCommand::Delete { bucket, key, if_revision } => {
            let condition = if_revision.map_or(KvCondition::Always, KvCondition::Revision);
            let written = client.kv_delete(space, &bucket, &key, condition).await?;
            output::print(settings.output, &written, |w| {
                fields(&[("deleted", key.clone()), ("revision", w.revision.to_string()), ("seq", w.seq.to_string())])
            })
        }
        KvCommand::List { bucket, prefix, limit, after } => {
            let page = client.kv_list(space, &bucket, prefix.as_deref(), after.as_deref(), Some(limit)).await?;
            output::print(settings.output, &page, |p| {
                let rows: Vec<Vec<String>> = p
                    .keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.key.clone(),
                            k.revision.to_string(),
                            k.size.to_string(),
                            k.content_type.clone(),
                            k.updated_at.clone(),
                            k.expires_at.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                let mut text = table(&["KEY", "REVISION", "SIZE", "CONTENT-TYPE", "UPDATED", "EXPIRES"], &rows);
                if let Some(next) = &p.next_cursor {
                    text.push_str(&format!("\nmore: --after {next}\n"));
                }
                text
            })
        }
        KvCommand::History { bucket, key } => {
            let history = client.kv_history(space, &bucket, &key).await?;
            output::print(settings.output, &history, |h| {
                let rows: Vec<Vec<String>> = h["history"]
                    .as_array()
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|e| {
                                let value = e.get("value").map(|v| v.as_str().unwrap_or("").to_string());
                                let value = value.or_else(|| e.get("value_base64").map(|_| "(binary)".to_string()));
                                vec![
                                    e["revision"].to_string(),
                                    e["operation"].as_str().unwrap_or("").to_string(),
                                    e["updated_at"].as_str().unwrap_or("").to_string(),
                                    value.unwrap_or_default(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(&["REVISION", "OPERATION", "AT", "VALUE"], &rows)
            })
        }
        KvCommand::Watch { bucket, prefix, from } => {
            let query = WatchQuery {
                from: from.map(|s| s.to_string()),
                address: Some(format!("{space}:{bucket}:{}*", prefix.unwrap_or_default())),
                kind: Some("kv.put,kv.deleted".to_string()),
                state: None,
                event: None,
            };
            let mut stream = client.watch(space, &query).await?;
            while let Some(record) = stream.next().await? {
                let line = match settings.output {
                    OutputFormat::Json | OutputFormat::Jsonl => compact(&record),
                    OutputFormat::Table => {
                        let p = &record.payload;
                        let value = p
                            .get("value")
                            .map(|v| v.as_str().unwrap_or("").to_string())
                            .or_else(|| p.get("value_base64").map(|_| "(binary)".to_string()))
                            .unwrap_or_default();
                        let op = if record.kind == "kv.put" { "PUT" } else { "DEL" };
                        format!(
                            "{:>8}  {op}  {}  rev {}  {value}",
                            record.seq,
                            p["key"].as_str().unwrap_or(""),
                            p["revision"]
                        )
                    }
                };
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        }
        KvCommand::Bucket { bucket, history } => {
            let bucket = client.put_bucket(space, &bucket, history).await?;
            output::print(settings.output, &bucket, |b| {
                fields(&[("bucket", b.name.clone()), ("history", b.history.to_string())])
            })
        }
    }
}

/// Durable subscription commands (in --space).
#[derive(Debug, clap::Subcommand)]
pub enum SubCommand {
    /// Creates a subscription (or updates its settings; the filter cannot change).
    #[command(visible_alias = "add")]
    Create {
        /// The subscription's name.
        name: String,
        /// An address or a prefix pattern such as `acme:orders:*`; default: everything.
        pattern: Option<String>,
        /// Only records of this kind (repeatable).
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only records of instances entering this state.
        #[arg(long)]
        state: Option<String>,
        /// Only transitions caused by this event.
        #[arg(long)]
        event: Option<String>,
        /// Where it starts: now, earliest, or a seq.
        #[arg(long, default_value = "now")]
        from: String,
        /// Deliveries before a record becomes a dead letter.
        #[arg(long)]
        max_deliveries: Option<u32>,
        /// The default lease of a pull, e.g. 30s.
        #[arg(long)]
        ack_wait: Option<String>,
        /// Let retention trim records this subscription has not acked.
        #[arg(long)]
        allow_loss: bool,
    },
    /// Shows a subscription with its lag.
    #[command(visible_alias = "show")]
    Get {
        /// The subscription.
        name: String,
    },
    /// Lists subscriptions.
    #[command(visible_alias = "ls")]
    List,
    /// Deletes a subscription.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The subscription.
        name: String,
    },
    /// Leases records (prints one JSON object per record).
    Pull {
        /// The subscription.
        name: String,
        /// At most this many.
        #[arg(long, default_value_t = 10)]
        max: u32,
        /// The lease, e.g. 30s.
        #[arg(long)]
        lease: Option<String>,
        /// Wait this long for records when none is ready, e.g. 5s.
        #[arg(long)]
        wait: Option<String>,
        /// Acknowledge what was printed right away.
        #[arg(long)]
        ack: bool,
    },
    /// Acknowledges records by seq; exits 1 naming any that were not pending (never delivered,
    /// already acked, or dead letters).
    Ack {
        /// The subscription.
        name: String,
        /// The seqs.
        #[arg(required = true)]
        seqs: Vec<u64>,
    },
    /// Lists a subscription's dead letters.
    Dead {
        /// The subscription.
        name: String,
    },
    /// Makes dead letters deliverable again (all, or these seqs).
    Redrive {
        /// The subscription.
        name: String,
        /// The seqs (default: every dead letter).
        seqs: Vec<u64>,
    },
}

/// Runs `switchyard sub …`.
pub async fn sub(command: SubCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    match command {
        SubCommand::Create { name, pattern, kinds, state, event, from, max_deliveries, ack_wait, allow_loss } => {
            let from: Value = match from.parse::<u64>() {
                Ok(seq) => json!(seq),
                Err(_) => json!(from),
            };
            let mut body = json!({ "from": from, "allow_loss": allow_loss });
            let extra = [
                ("address", pattern.map(Value::from)),
                ("kind", (!kinds.is_empty()).then(|| json!(kinds))),
                ("state", state.map(Value::from)),
                ("event", event.map(Value::from)),
                ("max_deliveries", max_deliveries.map(Value::from)),
                ("ack_wait", ack_wait.map(Value::from)),
            ];
            if let Some(object) = body.as_object_mut() {
                for (k, v) in extra {
                    if let Some(v) = v {
                        object.insert(k.to_string(), v);
                    }
                }
            }
            let sub = client.put_subscription(space, &name, &body).await?;
            output::print(settings.output, &sub, describe)
        }
        SubCommand::Get { name } => {
            let sub = client.get_subscription(space, &name).await?;
            output::print(settings.output, &sub, describe)
        }
        SubCommand::List => {
            let subs = client.list_subscriptions(space).await?;
            output::print(settings.output, &subs, |s| {
                let rows: Vec<Vec<String>> = s["subscriptions"]
                    .as_array()
                    .map(|subs| {
                        subs.iter()
                            .map(|s| {
                                vec![
                                    s["name"].as_str().unwrap_or("").to_string(),
                                    s["address"].as_str().unwrap_or("").to_string(),
                                    s["lag"].to_string(),
                                    s["pending"].to_string(),
                                    s["dead_letters"].to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(&["NAME", "ADDRESS", "LAG", "PENDING", "DEAD"], &rows)
            })
        }
        SubCommand::Delete { name } => {
            client.delete_subscription(space, &name).await?;
            output::print(settings.output, &json!({ "deleted": name }), |_| fields(&[("deleted", name.clone())]))
        }
        SubCommand::Pull { name, max, lease, wait, ack } => {
            let pulled = client.pull(space, &name, &PullOptions { max: Some(max), lease, wait }).await?;
            let mut out = String::new();
            for record in &pulled.records {
                out.push_str(&compact(record));
                out.push('\n');
            }
            output::emit(&out)?;
            if ack && !pulled.records.is_empty() {
                let seqs: Vec<u64> = pulled.records.iter().map(|r| r.record.seq).collect();
                client.ack(space, &name, &seqs).await?;
            }
            Ok(())
        }
        SubCommand::Ack { name, seqs } => {
            let acked = client.ack(space, &name, &seqs).await?;
            let list = |seqs: &[u64]| seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            output::print(settings.output, &acked, |a| {
                let mut rows = vec![("acked", a.acked.to_string())];
                if !a.not_pending.is_empty() {
                    rows.push(("not pending", list(&a.not_pending)));
                }
                fields(&rows)
            })?;
            if acked.not_pending.is_empty() {
                return Ok(());
            }
            // Nothing went wrong on the server, but what was asked for did not happen to these.
            anyhow::bail!(
                "{} of the seqs given {} not pending on subscription \"{space}:{name}\" (never delivered, already acked, \
                 or dead letters), so nothing was done to {}: {}",
                acked.not_pending.len(),
                if acked.not_pending.len() == 1 { "was" } else { "were" },
                if acked.not_pending.len() == 1 { "it" } else { "them" },
                list(&acked.not_pending)
            )
        }
        SubCommand::Dead { name } => {
            let letters = client.dead_letters(space, &name).await?;
            output::print(settings.output, &letters, |l| {
                let rows: Vec<Vec<String>> = l["dead_letters"]
                    .as_array()
                    .map(|ls| {
                        ls.iter()
                            .map(|d| {
                                vec![
                                    d["seq"].to_string(),
                                    d["deliveries"].to_string(),
                                    d["dead_at"].as_str().unwrap_or("").to_string(),
                                    d["record"]["address"].as_str().unwrap_or("(trimmed)").to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(&["SEQ", "DELIVERIES", "DEAD AT", "ADDRESS"], &rows)
            })
        }
        SubCommand::Redrive { name, seqs } => {
            let seqs = (!seqs.is_empty()).then_some(seqs);
            let n = client.redrive(space, &name, seqs.as_deref()).await?;
            output::print(settings.output, &json!({ "redriven": n }), |_| fields(&[("redriven", n.to_string())]))
        }
    }
}

fn describe(s: &Value) -> String {
    let text = |k: &str| match &s[k] {
        Value::String(v) => v.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    fields(&[
        ("name", text("name")),
        ("address", text("address")),
        ("cursor", text("cursor")),
        ("lag", text("lag")),
        ("pending", text("pending")),
        ("leased", text("leased")),
        ("dead letters", text("dead_letters")),
        ("max deliveries", text("max_deliveries")),
        ("ack wait", text("ack_wait")),
    ])
}
