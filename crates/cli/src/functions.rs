//! `switchyard fn …`: deploy, inspect and invoke functions, and read their invocation logs.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use switchyard_client::{Client, FunctionInfo, FunctionSettings, InvokeOptions};

use crate::UsageError;
use crate::config::Settings;
use crate::output::{self, OutputFormat, fields, table};

/// Function commands (functions live in --space).
#[derive(Debug, clap::Subcommand)]
pub enum FnCommand {
    /// Deploys a WebAssembly component as a new version of a function (creates the function on
    /// first use).
    #[command(visible_alias = "create")]
    Deploy {
        /// The function's name.
        name: String,
        /// The component (`cargo build --target wasm32-wasip2 --release` makes one).
        file: std::path::PathBuf,
        /// A host outgoing HTTP may reach, `host` or `host:port` (repeatable).
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        /// A KV bucket of the space the function may use (repeatable).
        #[arg(long = "kv", value_name = "BUCKET")]
        kv_buckets: Vec<String>,
        /// Wall-time limit per invocation, e.g. 5s [default: 10s].
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        /// Memory limit per invocation, e.g. 32MiB [default: 64MiB].
        #[arg(long, value_parser = crate::serve::parse_bytes)]
        memory: Option<u64>,
        /// Fuel limit per invocation (roughly, WebAssembly instructions) [default: none].
        #[arg(long)]
        fuel: Option<u64>,
        /// A configuration value, KEY=VALUE (repeatable).
        // Its own id: the global --config (the CLI's config file) has the id `config`.
        #[arg(long = "config", id = "function_config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// A secret, KEY=VALUE (repeatable; never shown back).
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secrets: Vec<String>,
        /// How failed asynchronous invocations are retried, a retry policy as JSON, e.g.
        /// '{"max_attempts":3,"initial":"1s"}' [default: 5 attempts from 1s, doubling].
        #[arg(long, value_name = "JSON")]
        retry: Option<String>,
        /// A grant its host calls act with, ROLE=PATTERN within the space (repeatable), e.g.
        /// space-writer=acme:machines:order:* [default: sending events and publishing anywhere
        /// in the space].
        #[arg(long = "grant", value_name = "ROLE=PATTERN", value_parser = crate::access::parse_grant)]
        grants: Vec<(String, String)>,
    },
    /// Lists the space's functions (latest versions).
    #[command(visible_alias = "ls")]
    List,
    /// Shows a function's latest version (or --version).
    #[command(visible_alias = "show")]
    Get {
        /// The function's name.
        name: String,
        /// A specific version.
        #[arg(long)]
        version: Option<u64>,
    },
    /// Lists a function's versions.
    Versions {
        /// The function's name.
        name: String,
    },
    /// Invokes a function and prints its output.
    Invoke {
        /// The function's name.
        name: String,
        /// The input; `-` reads it from stdin [default: empty].
        input: Option<String>,
        /// The input's content type.
        #[arg(long, default_value = "application/json")]
        content_type: String,
        /// A specific version.
        #[arg(long)]
        version: Option<u64>,
        /// Passed to the function; for --async, a repeat returns the first invocation.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Return at once with the invocation's id; fetch the result with `fn invocation`.
        #[arg(long = "async")]
        is_async: bool,
    },
    /// Shows one invocation record.
    Invocation {
        /// The invocation's id.
        id: String,
    },
    /// Prints a function's recent invocations and their log lines.
    Logs {
        /// The function's name.
        name: String,
        /// How many recent invocations.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Keep printing new invocations as they are recorded.
        #[arg(long, short)]
        follow: bool,
    },
}

fn key_values(what: &str, pairs: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(UsageError(format!("--{what} {p:?}: expected KEY=VALUE")).into()),
        })
        .collect()
}

fn function_row(f: &FunctionInfo) -> Vec<String> {
    let setting = |k: &str| f.settings.get(k).map(|v| v.to_string()).unwrap_or_default();
    vec![f.name.clone(), f.version.to_string(), f.size.to_string(), setting("timeout_ms"), f.created_at.clone()]
}

const FUNCTION_HEADERS: &[&str] = &["NAME", "VERSION", "BYTES", "TIMEOUT_MS", "DEPLOYED"];

fn function_fields(f: &FunctionInfo) -> String {
    let list = |k: &str| f.settings.get(k).map(output::compact).unwrap_or_default();
    let mut pairs = vec![
        ("address", f.address.clone()),
        ("version", f.version.to_string()),
        ("digest", f.digest.clone()),
        ("size", f.size.to_string()),
        ("deployed", f.created_at.clone()),
        ("timeout_ms", list("timeout_ms")),
        ("memory_bytes", list("memory_bytes")),
        ("fuel", list("fuel")),
        ("allowed_hosts", list("allowed_hosts")),
        ("kv_buckets", list("kv_buckets")),
        ("config", list("config")),
        ("secrets", list("secrets")),
        ("retry", list("retry")),
    ];
    if let Some(grants) = f.grants.as_ref().and_then(Value::as_array) {
        let shown: Vec<String> = grants
            .iter()
            .map(|g| {
                let text = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
                format!("{}={}", text("role"), text("pattern"))
            })
            .collect();
        pairs.push(("grants", if shown.is_empty() { "-".to_string() } else { shown.join(" ") }));
    }
    if let Some(created) = f.created {
        pairs.push(("created", created.to_string()));
    }
    fields(&pairs)
}

/// Prints one invocation: a header line, then its log lines.
fn invocation_lines(record: &Value) -> String {
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut out = format!(
        "{} {} v{} {} {}µs",
        text("created_at"),
        text("id"),
        record.get("version").and_then(Value::as_u64).unwrap_or(0),
        text("status"),
        record.get("duration_us").and_then(Value::as_u64).unwrap_or(0),
    );
    if let Some(error) = record.get("error").filter(|e| !e.is_null()) {
        let code = error.get("code").and_then(Value::as_str).unwrap_or_default();
        let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
        out.push_str(&format!(" {code}: {message}"));
    }
    out.push('\n');
    for line in record.get("logs").and_then(Value::as_array).into_iter().flatten() {
        let level = line.get("level").and_then(Value::as_str).unwrap_or("info");
        let message = line.get("message").and_then(Value::as_str).unwrap_or_default();
        let extra = line
            .get("fields")
            .and_then(Value::as_object)
            .filter(|f| !f.is_empty())
            .map(|f| format!(" {}", output::compact(f)))
            .unwrap_or_default();
        out.push_str(&format!("    {level:5} {message}{extra}\n"));
    }
    out
}

/// Runs a `fn` command.
pub async fn function(command: FnCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    match command {
        FnCommand::Deploy {
            name,
            file,
            allow_hosts,
            kv_buckets,
            timeout,
            memory,
            fuel,
            config,
            secrets,
            retry,
            grants,
        } => {
            let component = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let deploy = FunctionSettings {
                timeout_ms: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                memory_bytes: memory,
                fuel,
                allowed_hosts: allow_hosts,
                kv_buckets,
                config: key_values("config", &config)?,
                secrets: key_values("secret", &secrets)?,
                retry: retry
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|e| crate::UsageError(format!("--retry is not JSON: {e}")))?,
                grants: (!grants.is_empty()).then_some(grants),
            };
            // One request carries the component and the server compiles it before answering: the
            // spinner shows that the command is alive, not a byte count.
            let spinner = crate::progress::spinner(format!(
                "deploying {name} ({}): uploading and compiling",
                indicatif::HumanBytes(component.len() as u64)
            ));
            let info = client.deploy_function(space, &name, &component, &deploy).await;
            spinner.finish_and_clear();
            output::print(settings.output, &info?, function_fields)
        }
        FnCommand::List => {
            let functions = client.list_functions(space).await?;
            output::print(settings.output, &functions, |fs| {
                table(FUNCTION_HEADERS, &fs.iter().map(function_row).collect::<Vec<_>>())
            })
        }
        FnCommand::Get { name, version } => {
            let info = client.get_function(space, &name, version).await?;
            output::print(settings.output, &info, function_fields)
        }
        FnCommand::Versions { name } => {
            let versions = client.function_versions(space, &name).await?;
            output::print(settings.output, &versions, |fs| {
                table(FUNCTION_HEADERS, &fs.iter().map(function_row).collect::<Vec<_>>())
            })
        }
        FnCommand::Invoke { name, input, content_type, version, idempotency_key, is_async } => {
            let input = match input.as_deref() {
                Some("-") => {
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf).context("reading the input from stdin")?;
                    buf
                }
                Some(text) => text.as_bytes().to_vec(),
                None => Vec::new(),
            };
            let options = InvokeOptions { content_type: Some(content_type), version, idempotency_key };
            if is_async {
                let record = client.invoke_async(space, &name, input, &options).await?;
                return output::print(settings.output, &record, |r| {
                    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    fields(&[("invocation", text("id")), ("status", text("status"))])
                });
            }
            let out = client.invoke(space, &name, input, &options).await?;
            match settings.output {
                OutputFormat::Json | OutputFormat::Jsonl => {
                    let output = if out.content_type.contains("json") {
                        serde_json::from_slice(&out.body).unwrap_or(Value::Null)
                    } else {
                        Value::String(String::from_utf8_lossy(&out.body).into_owned())
                    };
                    let body = serde_json::json!({
                        "invocation_id": out.invocation_id,
                        "version": out.version,
                        "content_type": out.content_type,
                        "output": output,
                    });
                    output::print_json(settings.output, &body)
                }
                OutputFormat::Table => {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(&out.body).context("writing the output")?;
                    if !out.body.ends_with(b"\n") {
                        stdout.write_all(b"\n").context("writing the output")?;
                    }
                    stdout.flush().context("writing the output")
                }
            }
        }
        FnCommand::Invocation { id } => {
            let record = client.get_invocation(space, &id).await?;
            output::print(settings.output, &record, invocation_lines)
        }
        FnCommand::Logs { name, limit, follow } => {
            let page = client.list_invocations(space, &name, None, Some(limit)).await?;
            if !follow {
                return print_invocations(settings.output, &page.invocations);
            }
            // Following prints each invocation once, when it has finished: a pending
            // (asynchronous) one holds the cursor back until it finishes.
            let mut printed = std::collections::HashSet::new();
            let mut after = page.invocations.first().map(|r| seq_of(r).saturating_sub(1)).or(page.next_after);
            loop {
                let page = client.list_invocations(space, &name, after, Some(500)).await?;
                let mut hold: Option<u64> = None;
                for record in &page.invocations {
                    let seq = seq_of(record);
                    if record.get("status").and_then(Value::as_str) == Some("pending") {
                        hold.get_or_insert(seq.saturating_sub(1));
                        continue;
                    }
                    if printed.insert(seq) {
                        print_invocations(settings.output, std::slice::from_ref(record))?;
                    }
                }
                after = hold.or(page.next_after).or(after);
                if let Some(cursor) = after {
                    printed.retain(|seq| *seq > cursor);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn seq_of(record: &Value) -> u64 {
    record.get("seq").and_then(Value::as_u64).unwrap_or(0)
}

fn print_invocations(format: OutputFormat, records: &[Value]) -> anyhow::Result<()> {
    for record in records {
        match format {
            OutputFormat::Json | OutputFormat::Jsonl => output::emit(&format!("{}\n", output::compact(record)))?,
            OutputFormat::Table => output::emit(&invocation_lines(record))?,
        }
    }
    Ok(())
}
