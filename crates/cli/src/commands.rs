//! The client commands: `machine`, `instance`, `event`, `space` and `token`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use switchyard_client::{
    Client, CreateInstance, CreateToken, CreatedToken, History, HistoryEvent, Instance, InstanceList, JsonObject,
    ListInstances, Machine, MachineList, Publish, PutMachine, Role, SendEvent, SpaceDeleted, SpaceList, TokenList,
    Transition, WatchQuery,
};

use crate::UsageError;
use crate::address::{InstanceRef, MachineRef, parse_instance, parse_machine};
use crate::config::Settings;
use crate::output::{self, compact, fields, table};

/// `switchyard machine …`
#[derive(Debug, clap::Subcommand)]
pub enum MachineCommand {
    /// Stores a definition file (YAML or JSON) as the machine's next version (creates the
    /// machine on first use).
    #[command(visible_alias = "create", alias = "put")]
    Apply {
        /// The definition file; .yaml/.yml is sent as YAML, anything else as JSON.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// Machine name, or SPACE:NAME [default: the definition's name, else the file stem].
        #[arg(value_parser = parse_machine, value_name = "NAME")]
        name: Option<MachineRef>,
    },
    /// Shows a machine's definition (the latest version unless --version).
    #[command(visible_alias = "show")]
    Get {
        /// Machine name, or SPACE:NAME.
        #[arg(value_parser = parse_machine, value_name = "NAME")]
        name: MachineRef,
        /// Which version to show.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },
    /// Lists the machines in the space (latest version of each).
    #[command(visible_alias = "ls")]
    List,
    /// Prints a machine's state diagram (events, action outcomes, timers) as Mermaid or
    /// Graphviz DOT, for docs and diagrams.
    Graph {
        /// Machine name, or SPACE:NAME.
        #[arg(value_parser = parse_machine, value_name = "NAME")]
        name: MachineRef,
        /// Which version to draw [default: the latest].
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        /// `mermaid` (a `stateDiagram-v2`) or `dot`.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
}

/// How `machine graph` writes the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Mermaid `stateDiagram-v2`.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// `switchyard instance …`
#[derive(Debug, clap::Subcommand)]
pub enum InstanceCommand {
    /// Creates an instance of a machine.
    #[command(visible_alias = "add")]
    Create {
        /// Machine name, or SPACE:MACHINE.
        #[arg(value_parser = parse_machine, value_name = "MACHINE")]
        machine: MachineRef,
        /// The instance id [default: assigned by the server].
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// Initial context, a JSON object [default: {}].
        #[arg(long, value_parser = parse_object, value_name = "JSON")]
        ctx: Option<JsonObject>,
        /// Makes a retry return the original instance instead of failing.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
    },
    /// Shows an instance.
    #[command(visible_alias = "show")]
    Get {
        /// Instance as MACHINE:ID or SPACE:MACHINE:ID.
        #[arg(value_parser = parse_instance, value_name = "INSTANCE")]
        instance: InstanceRef,
    },
    /// Lists a machine's instances, ordered by id.
    #[command(visible_alias = "ls")]
    List {
        /// Machine name, or SPACE:MACHINE.
        #[arg(value_parser = parse_machine, value_name = "MACHINE")]
        machine: MachineRef,
        /// Only instances in this state.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// Page size, 1–1000 [default: 100].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000), value_name = "N")]
        limit: Option<u32>,
        /// Continue after a previous page (its next cursor).
        #[arg(long, value_name = "CURSOR")]
        cursor: Option<String>,
    },
    /// Cancels an instance: its pending work (jobs, timers) is cancelled and it accepts no more
    /// events.
    Cancel {
        /// Instance as MACHINE:ID or SPACE:MACHINE:ID.
        #[arg(value_parser = parse_instance, value_name = "INSTANCE")]
        instance: InstanceRef,
        /// Why (kept with the instance and in its history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Moves an instance to another version of its machine (its current state must be defined
    /// alike there, since its pending work carries over).
    Migrate {
        /// Instance as MACHINE:ID or SPACE:MACHINE:ID.
        #[arg(value_parser = parse_instance, value_name = "INSTANCE")]
        instance: InstanceRef,
        /// The version to move to.
        #[arg(long, value_name = "N")]
        version: u64,
    },
    /// Deletes an instance; its history stays and its id is not reused.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// Instance as MACHINE:ID or SPACE:MACHINE:ID.
        #[arg(value_parser = parse_instance, value_name = "INSTANCE")]
        instance: InstanceRef,
    },
    /// Shows an instance's history from the event log.
    History {
        /// Instance as MACHINE:ID or SPACE:MACHINE:ID.
        #[arg(value_parser = parse_instance, value_name = "INSTANCE")]
        instance: InstanceRef,
        /// Only records with a sequence number above SEQ.
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
        /// Page size.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
}

/// `switchyard event …`
#[derive(Debug, clap::Subcommand)]
pub enum EventCommand {
    /// Sends an event to an instance.
    Send {
        /// Instance as MACHINE:ID or SPACE:MACHINE:ID.
        #[arg(value_parser = parse_instance, value_name = "INSTANCE")]
        instance: InstanceRef,
        /// The event's name.
        #[arg(value_name = "EVENT")]
        event: String,
        /// The event's payload, a JSON object [default: {}].
        #[arg(long, value_parser = parse_object, value_name = "JSON")]
        payload: Option<JsonObject>,
        /// Makes a retry return the original result instead of applying twice.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        /// Refuse unless the instance is in this state.
        #[arg(long, value_name = "STATE")]
        expected_state: Option<String>,
        /// Refuse unless the instance is at this revision.
        #[arg(long, value_name = "N")]
        expected_revision: Option<u64>,
    },
}

/// `switchyard space …`
#[derive(Debug, clap::Subcommand)]
pub enum SpaceCommand {
    /// Lists the spaces the token may see.
    #[command(visible_alias = "ls")]
    List,
    /// Deletes a space and everything in it (needs an admin token granted the space).
    ///
    /// Machines, instances, KV buckets and keys, subscriptions, functions, invocation records
    /// and the space's event log all go, at once and for good; tokens stay.
    Delete {
        /// The space.
        #[arg(value_name = "NAME")]
        name: String,
        /// Confirms the deletion; without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
}

/// A token's role, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Reads.
    Reader,
    /// Also writes machines, instances and events.
    Writer,
    /// Also manages tokens.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Reader => Role::Reader,
            RoleArg::Writer => Role::Writer,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// `switchyard token …`
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints its secret (shown only once).
    #[command(visible_alias = "add")]
    Create {
        /// A name for people.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A space to grant, repeatable; '*' for all [default: the current --space].
        #[arg(long = "grant", value_name = "SPACE")]
        grants: Vec<String>,
        /// The user or service account it belongs to: it then acts with that principal's
        /// grants, narrowed to --role on the spaces granted.
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
    },
    /// Lists tokens (without secrets).
    #[command(visible_alias = "ls")]
    List,
    /// Revokes a token by id; it stays in the list with the time it was revoked.
    #[command(visible_aliases = ["revoke", "rm", "del"])]
    Delete {
        /// The token's id.
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// Parses a JSON object argument (`--ctx`, `--payload`).
fn parse_object(text: &str) -> Result<JsonObject, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("expected a JSON object, got {}", json_kind(&other))),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs a `machine` command.
pub async fn machine(cmd: MachineCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        MachineCommand::Apply { file, name } => {
            let body = std::fs::read(&file).map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
            let content_type = content_type(&file);
            let (space, name) = match name {
                Some(r) => (r.space_or(&settings.space).to_string(), r.machine),
                None => (settings.space.clone(), default_machine_name(&file, &body, content_type)?),
            };
            let put = client.put_machine(&space, &name, body, content_type).await?;
            output::print(out, &put, |p: &PutMachine| {
                let what = if p.created { "stored as" } else { "unchanged at" };
                format!("machine {space}:{} {what} version {}\n", p.name, p.version)
            })
        }
        MachineCommand::Graph { name, version, format } => {
            let machine = client.get_machine(name.space_or(&settings.space), &name.machine, version).await?;
            let compiled = switchyard_model::CompiledMachine::from_canonical_json(&machine.definition)
                .map_err(|e| anyhow::anyhow!("the stored definition does not compile here: {e}"))?;
            let text = match format {
                GraphFormat::Mermaid => compiled.to_mermaid(),
                GraphFormat::Dot => compiled.to_dot(),
            };
            // The diagram is the output in every format: JSON output carries it as a string.
            output::print(out, &json!({ "format": format!("{format:?}").to_lowercase(), "graph": text }), |_| {
                text.clone()
            })
        }
        MachineCommand::Get { name, version } => {
            let machine = client.get_machine(name.space_or(&settings.space), &name.machine, version).await?;
            output::print(out, &machine, |m: &Machine| {
                let mut text = fields(&[
                    ("name", m.name.clone()),
                    ("version", m.version.to_string()),
                    ("created", m.created_at.clone()),
                ]);
                text.push_str("definition:\n");
                text.push_str(&output::pretty(&m.definition));
                text
            })
        }
        MachineCommand::List => {
            let list = client.list_machines(&settings.space).await?;
            output::print(out, &list, |l: &MachineList| {
                let rows: Vec<Vec<String>> = l
                    .machines
                    .iter()
                    .map(|m| vec![m.name.clone(), m.version.to_string(), m.created_at.clone()])
                    .collect();
                table(&["NAME", "VERSION", "CREATED"], &rows)
            })
        }
    }
}

/// `application/yaml` for `.yaml`/`.yml` files, else `application/json`.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("yaml" | "yml") => "application/yaml",
        _ => "application/json",
    }
}

/// The definition's `name` field, else the file stem. A definition that does not parse falls
/// back to the stem too: the server reports the syntax error with its position.
fn default_machine_name(file: &Path, body: &[u8], content_type: &str) -> anyhow::Result<String> {
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
        .ok_or_else(|| UsageError(format!("cannot tell the machine name from {}; give NAME", file.display())).into())
}

/// Runs an `instance` command.
pub async fn instance(cmd: InstanceCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        InstanceCommand::Create { machine, id, ctx, idempotency_key } => {
            let space = machine.space_or(&settings.space);
            let body = CreateInstance { id, ctx, idempotency_key };
            let instance = client.create_instance(space, &machine.machine, &body).await?;
            output::print(out, &instance, |i: &Instance| instance_fields(space, i))
        }
        InstanceCommand::Get { instance } => {
            let space = instance.space_or(&settings.space);
            let found = client.get_instance(space, &instance.machine, &instance.id).await?;
            output::print(out, &found, |i: &Instance| instance_fields(space, i))
        }
        InstanceCommand::List { machine, state, limit, cursor } => {
            let query = ListInstances { state, limit, cursor };
            let list = client.list_instances(machine.space_or(&settings.space), &machine.machine, &query).await?;
            output::print(out, &list, |l: &InstanceList| {
                let rows: Vec<Vec<String>> = l
                    .instances
                    .iter()
                    .map(|i| {
                        let status = i.status.clone().unwrap_or_else(|| "-".into());
                        vec![i.id.clone(), i.state.clone(), status, i.revision.to_string(), i.updated_at.clone()]
                    })
                    .collect();
                let mut text = table(&["ID", "STATE", "STATUS", "REVISION", "UPDATED"], &rows);
                if let Some(next) = &l.next_cursor {
                    text.push_str(&format!("(more: --cursor {next})\n"));
                }
                text
            })
        }
        InstanceCommand::Cancel { instance, reason } => {
            let space = instance.space_or(&settings.space);
            let body = switchyard_client::CancelInstance { reason };
            let cancelled = client.cancel_instance(space, &instance.machine, &instance.id, &body).await?;
            output::print(out, &cancelled, |i: &Instance| instance_fields(space, i))
        }
        InstanceCommand::Migrate { instance, version } => {
            let space = instance.space_or(&settings.space);
            let moved = client.migrate_instance(space, &instance.machine, &instance.id, version).await?;
            output::print(out, &moved, |i: &Instance| instance_fields(space, i))
        }
        InstanceCommand::Delete { instance } => {
            let space = instance.space_or(&settings.space);
            client.delete_instance(space, &instance.machine, &instance.id).await?;
            output::print(out, &json!({ "deleted": true }), |_| {
                format!("deleted {space}:{}:{}\n", instance.machine, instance.id)
            })
        }
        InstanceCommand::History { instance, after, limit } => {
            let space = instance.space_or(&settings.space);
            let history = client.history(space, &instance.machine, &instance.id, after, limit).await?;
            output::print(out, &history, |h: &History| {
                let rows: Vec<Vec<String>> =
                    h.events.iter().map(|e| vec![e.seq.to_string(), e.kind.clone(), history_detail(e)]).collect();
                let mut text = table(&["SEQ", "KIND", "DETAIL"], &rows);
                if let Some(next) = &h.next_cursor {
                    text.push_str(&format!("(more: --after {next})\n"));
                }
                text
            })
        }
    }
}

fn instance_fields(space: &str, i: &Instance) -> String {
    let mut rows = vec![
        ("instance", format!("{space}:{}:{}", i.machine, i.id)),
        ("machine", format!("{} (version {})", i.machine, i.machine_version)),
        ("state", i.state.clone()),
    ];
    if let Some(status) = &i.status {
        rows.push(("status", status.clone()));
    }
    rows.extend([
        ("revision", i.revision.to_string()),
        ("created", i.created_at.clone()),
        ("updated", i.updated_at.clone()),
        ("ctx", compact(&i.ctx)),
    ]);
    for work in i.pending.iter().flatten() {
        let what = match &work.timer {
            Some(timer) => format!("timer {timer}"),
            None => work.kind.clone(),
        };
        let mut line =
            format!("{what} {} (job {}, attempt {}, due {})", work.status, work.job, work.attempt, work.run_at);
        if let Some(error) = &work.last_error {
            line.push_str(&format!(", last error {}", error_text(error)));
        }
        rows.push(("pending", line));
    }
    if let Some(child) = &i.child {
        rows.push(("child", format!("{} in state {} ({})", child.instance, child.state, child.status)));
    }
    if let Some(parent) = &i.parent {
        rows.push(("parent", format!("{} (started from its state {})", parent.instance, parent.state)));
    }
    if let Some(error) = &i.error {
        rows.push(("error", error_text(error)));
    }
    fields(&rows)
}

/// `code: message` of an error object (its compact JSON when it has neither).
fn error_text(error: &Value) -> String {
    match (error.get("code").and_then(Value::as_str), error.get("message").and_then(Value::as_str)) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => compact(error),
    }
}

/// One line describing a history record's payload.
fn history_detail(e: &HistoryEvent) -> String {
    let p = &e.payload;
    let text = |key: &str| p.get(key).and_then(Value::as_str);
    match e.kind.as_str() {
        "instance.created" => match (text("state"), p.get("machine_version"), p.get("ctx")) {
            (Some(state), Some(version), Some(ctx)) => {
                let parent = p.get("parent").and_then(|p| p.get("instance")).and_then(Value::as_str);
                let parent = parent.map(|p| format!(", child of {p}")).unwrap_or_default();
                format!("in {state} on machine version {version}, ctx {}{parent}", compact(ctx))
            }
            _ => compact(p),
        },
        "instance.child_started" => match (text("child"), text("state")) {
            (Some(child), Some(state)) => format!("{state} started child {child}"),
            _ => compact(p),
        },
        "instance.transitioned" => match (text("event"), text("from"), text("to"), p.get("revision")) {
            (Some(event), Some(from), Some(to), Some(revision)) => {
                let payload = p.get("payload").filter(|v| v.as_object().is_some_and(|o| !o.is_empty()));
                let payload = payload.map(|v| format!(", payload {}", compact(v))).unwrap_or_default();
                format!("{event}: {from} -> {to} (revision {revision}){payload}")
            }
            _ => compact(p),
        },
        "instance.attempt_failed" => match (p.get("attempt"), p.get("error"), text("retry_at")) {
            (Some(attempt), Some(error), Some(at)) => {
                format!("attempt {attempt} failed: {}; retry at {at}", error_text(error))
            }
            _ => compact(p),
        },
        "instance.migrated" => match (p.get("from_version"), p.get("to_version")) {
            (Some(from), Some(to)) => format!("machine version {from} -> {to}"),
            _ => compact(p),
        },
        "instance.cancelled" => match (text("state"), text("reason")) {
            (Some(state), Some(reason)) => format!("in {state}: {reason}"),
            _ => compact(p),
        },
        "instance.failed" => match (text("state"), p.get("error")) {
            (Some(state), Some(error)) => format!("in {state}: {}", error_text(error)),
            _ => compact(p),
        },
        "instance.result_ignored" => match (text("job").or(text("child")), text("state")) {
            (Some(job), Some(state)) if p.get("child").is_some() => {
                format!("child {job} ended after the instance moved on (now in {state})")
            }
            (Some(job), Some(state)) => format!("job {job} ended after the instance moved on (now in {state})"),
            _ => compact(p),
        },
        _ if p.is_null() || p.as_object().is_some_and(|o| o.is_empty()) => String::new(),
        _ => compact(p),
    }
}

/// Runs an `event` command.
pub async fn event(cmd: EventCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let EventCommand::Send { instance, event, payload, idempotency_key, expected_state, expected_revision } = cmd;
    let space = instance.space_or(&settings.space);
    let body = SendEvent { event, payload, idempotency_key, expected_state, expected_revision };
    let transition = client.send_event(space, &instance.machine, &instance.id, &body).await?;
    output::print(settings.output, &transition, |t: &Transition| {
        fields(&[
            ("instance", format!("{space}:{}:{}", instance.machine, instance.id)),
            ("transition", format!("{} -> {}", t.from, t.to)),
            ("revision", t.revision.to_string()),
            ("seq", t.seq.to_string()),
            ("ctx", compact(&t.ctx)),
        ])
    })
}

/// Runs a `space` command.
pub async fn space(cmd: SpaceCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        SpaceCommand::List => {
            let list = client.list_spaces().await?;
            output::print(settings.output, &list, |l: &SpaceList| {
                let rows: Vec<Vec<String>> =
                    l.spaces.iter().map(|s| vec![s.name.clone(), s.created_at.clone()]).collect();
                table(&["NAME", "CREATED"], &rows)
            })
        }
        SpaceCommand::Delete { name, yes: false } => Err(UsageError(format!(
            "this would delete space \"{name}\" and everything in it — its machines and instances, KV buckets and \
             keys, subscriptions, functions and their invocation records, and its event log — for good; pass --yes \
             to delete it"
        ))
        .into()),
        SpaceCommand::Delete { name, yes: true } => {
            let deleted = client.delete_space(&name).await?;
            output::print(settings.output, &deleted, |d: &SpaceDeleted| {
                let c = &d.deleted;
                fields(&[
                    ("deleted space", d.space.clone()),
                    ("machines", c.machines.to_string()),
                    ("instances", c.instances.to_string()),
                    ("kv buckets", c.kv_buckets.to_string()),
                    ("kv keys", c.kv_keys.to_string()),
                    ("subscriptions", c.subscriptions.to_string()),
                    ("functions", c.functions.to_string()),
                    ("invocations", c.invocations.to_string()),
                    ("log records", c.log_records.to_string()),
                    ("idempotency keys", c.idempotency_keys.to_string()),
                ])
            })
        }
    }
}

/// Runs a `token` command.
pub async fn token(cmd: TokenCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        TokenCommand::Create { name, role, grants, principal } => {
            let spaces = if grants.is_empty() { vec![settings.space.clone()] } else { grants };
            let created = client.create_token(&CreateToken { name, role: role.into(), spaces, principal }).await?;
            output::print(out, &created, |t: &CreatedToken| {
                let mut rows = vec![
                    ("token", t.token.clone()),
                    ("id", t.id.clone()),
                    ("name", t.name.clone()),
                    ("role", t.role.to_string()),
                    ("spaces", t.spaces.join(",")),
                    ("created", t.created_at.clone()),
                ];
                if let Some(principal) = &t.principal {
                    rows.push(("principal", principal.clone()));
                }
                let mut text = fields(&rows);
                text.push_str("\nThe token is shown only this once: store it now.\n");
                text
            })
        }
        TokenCommand::List => {
            let list = client.list_tokens().await?;
            output::print(out, &list, |l: &TokenList| {
                let rows: Vec<Vec<String>> = l
                    .tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.name.clone(),
                            t.role.to_string(),
                            t.spaces.join(","),
                            t.revoked_at.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                table(&["ID", "NAME", "ROLE", "SPACES", "REVOKED"], &rows)
            })
        }
        TokenCommand::Delete { id } => {
            client.revoke_token(&id).await?;
            output::print(out, &json!({ "revoked": true }), |_| format!("revoked token {id}\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_arguments_parse_or_explain() {
        let table: &[(&str, Result<Value, &str>)] = &[
            (r#"{"amount": 100}"#, Ok(json!({"amount": 100}))),
            ("{}", Ok(json!({}))),
            ("{", Err("not valid JSON")),
            ("[1]", Err("expected a JSON object, got an array")),
            ("100", Err("expected a JSON object, got a number")),
            ("null", Err("expected a JSON object, got null")),
        ];
        for (input, expected) in table {
            match (parse_object(input), expected) {
                (Ok(got), Ok(want)) => assert_eq!(&Value::Object(got), want, "{input}"),
                (Err(err), Err(want)) => assert!(err.contains(want), "{input}: {err}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn content_type_follows_the_extension() {
        for (file, want) in [
            ("order.yaml", "application/yaml"),
            ("order.YML", "application/yaml"),
            ("order.json", "application/json"),
            ("order", "application/json"),
        ] {
            assert_eq!(content_type(Path::new(file)), want, "{file}");
        }
    }

    #[test]
    fn machine_name_defaults_to_the_definition_then_the_stem() {
        let yaml = Path::new("dir/file-stem.yaml");
        let json_file = Path::new("dir/file-stem.json");
        let table: &[(&Path, &str, &str)] = &[
            (yaml, "name: order\ninitial: a\n", "order"),
            (yaml, "initial: a\n", "file-stem"),
            (yaml, "name: [unclosed\n", "file-stem"),
            (json_file, r#"{"name": "order"}"#, "order"),
            (json_file, r#"{"name": 3}"#, "file-stem"),
            (json_file, "{", "file-stem"),
        ];
        for (file, body, want) in table {
            let got = default_machine_name(file, body.as_bytes(), content_type(file)).unwrap();
            assert_eq!(&got, want, "{body}");
        }
    }

    #[test]
    fn history_details_describe_each_kind() {
        let record = |kind: &str, payload: Value| HistoryEvent {
            seq: 1,
            kind: kind.into(),
            address: "a:m:i".into(),
            payload,
            idempotency_key: None,
            created_at: String::new(),
        };
        let table: &[(HistoryEvent, &str)] = &[
            (
                record("instance.created", json!({"machine_version": 1, "state": "pending", "ctx": {"amount": 100}})),
                r#"in pending on machine version 1, ctx {"amount":100}"#,
            ),
            (
                record(
                    "instance.transitioned",
                    json!({"event": "pay", "payload": {"amount": 100}, "from": "pending", "to": "paid", "revision": 2}),
                ),
                r#"pay: pending -> paid (revision 2), payload {"amount":100}"#,
            ),
            (
                record(
                    "instance.transitioned",
                    json!({"event": "go", "payload": {}, "from": "a", "to": "b", "revision": 3}),
                ),
                "go: a -> b (revision 3)",
            ),
            (record("instance.deleted", json!({})), ""),
            (
                record(
                    "instance.attempt_failed",
                    json!({"job": "j", "attempt": 1, "error": {"code": "x", "message": "down"}, "retry_at": "T"}),
                ),
                "attempt 1 failed: x: down; retry at T",
            ),
            (record("instance.cancelled", json!({"state": "a", "reason": "gone"})), "in a: gone"),
            (record("instance.failed", json!({"state": "a", "error": {"code": "c", "message": "m"}})), "in a: c: m"),
            (
                record("instance.child_started", json!({"child": "a:ship:o.1.2", "state": "shipping"})),
                "shipping started child a:ship:o.1.2",
            ),
            (
                record(
                    "instance.created",
                    json!({"machine_version": 1, "state": "s", "ctx": {}, "parent": {"instance": "a:o:1"}}),
                ),
                "in s on machine version 1, ctx {}, child of a:o:1",
            ),
            (
                record(
                    "instance.result_ignored",
                    json!({"child": "a:ship:o.1.2", "status": "completed", "state": "b"}),
                ),
                "child a:ship:o.1.2 ended after the instance moved on (now in b)",
            ),
            (
                record("instance.result_ignored", json!({"job": "j", "state": "b"})),
                "job j ended after the instance moved on (now in b)",
            ),
            (record("something.new", json!({"x": 1})), r#"{"x":1}"#),
        ];
        for (event, want) in table {
            assert_eq!(history_detail(event), *want, "{}", event.kind);
        }
    }
}

/// Arguments of `switchyard watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// An address or a prefix pattern such as `acme:orders:*` (its first segment is the space
    /// watched), or one within --space such as `orders:*` when no space has that first name;
    /// without one (or `*`), everything in --space. A pattern that can match nothing yet is
    /// reported on stderr.
    pub pattern: Option<String>,
    /// Replay from this seq (inclusive) before following live; default: only what comes next.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// Only records of this kind (repeatable), e.g. instance.transitioned, topic.message.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only records of instances entering this state.
    #[arg(long)]
    pub state: Option<String>,
    /// Only transitions caused by this event.
    #[arg(long)]
    pub event: Option<String>,
}

/// Runs `switchyard watch`: prints records until interrupted or the server ends the stream.
pub async fn watch(args: WatchArgs, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    // Listing spaces may be refused (a token without access to them): then the pattern is
    // taken as written.
    let existing = client.list_spaces().await.ok().map(|l| l.spaces.into_iter().map(|s| s.name).collect::<Vec<_>>());
    let resolved = crate::watch_pattern::resolve(args.pattern.as_deref(), &settings.space, existing.as_deref());
    if let Some(note) = &resolved.note {
        output::eprint_line(&format!("note: {note}"));
    }
    let space = resolved.space;
    let query = WatchQuery {
        from: args.from.map(|s| s.to_string()),
        address: resolved.address,
        kind: (!args.kinds.is_empty()).then(|| args.kinds.join(",")),
        state: args.state,
        event: args.event,
    };
    let mut stream = client.watch(&space, &query).await?;
    while let Some(record) = stream.next().await? {
        let line = match settings.output {
            // One JSON object per line, for piping into other tools.
            output::OutputFormat::Json | output::OutputFormat::Jsonl => compact(&record),
            output::OutputFormat::Table => {
                format!("{:>8}  {:<22}  {}  {}", record.seq, record.kind, record.address, compact(&record.payload))
            }
        };
        // A closed pipe (`| head`) ends the watch; nothing else would.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Arguments of `switchyard publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The topic (in --space).
    pub topic: String,
    /// The message, any JSON value.
    #[arg(long, value_name = "JSON", value_parser = parse_any_json)]
    pub payload: Value,
    /// An optional key.
    #[arg(long)]
    pub key: Option<String>,
    /// A header as NAME=VALUE (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Makes a retry return the original seq instead of publishing twice.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

fn parse_any_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got \"{text}\"")),
    }
}

/// Runs `switchyard publish`.
pub async fn publish(args: PublishArgs, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let message = Publish {
        payload: args.payload,
        key: args.key,
        headers: args.headers.into_iter().collect(),
        idempotency_key: args.idempotency_key,
    };
    let published = client.publish(&settings.space, &args.topic, &message).await?;
    output::print(settings.output, &published, |p| {
        fields(&[("topic", format!("{}:{}", settings.space, args.topic)), ("seq", p.seq.to_string())])
    })
}
