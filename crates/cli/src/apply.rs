//! `switchyard apply` and `switchyard export`: a space as code.
//!
//! A configuration is YAML (or JSON) documents, one resource each, with a `kind` (`machine`,
//! `flow`, `function`, `trigger`, `endpoint`, `bucket`) and a `name`; the rest is the resource
//! as its own `apply -f` takes it (a function: its settings and `component`, the path of its
//! `.wasm` relative to the file; a bucket: `history`). `apply` checks every document before it
//! puts any, then puts them in dependency order (buckets, functions, machines, flows, endpoints,
//! triggers); each put is idempotent, so applying the same configuration twice changes nothing.
//! `--dry-run` asks the server what each put would change (`?dry_run=true`) and prints the diff
//! of the stored forms. `export` writes a space back out in the same form (components beside
//! it), so that `apply` of an export is a no-op.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use switchyard_client::Client;

use crate::UsageError;
use crate::config::Settings;

/// The kinds a document may have, in the order `apply` puts them.
const KINDS: &[&str] = &["bucket", "function", "machine", "flow", "endpoint", "trigger"];

/// Arguments of `switchyard apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A YAML/JSON file of documents (`---` between them), or a directory of such files
    /// (`.yaml`, `.yml`, `.json`, read recursively in name order).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub path: PathBuf,
    /// Print what would change (a diff per resource) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `switchyard export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write the space into this directory (`space.yaml`, and `functions/NAME.wasm` for each
    /// function's component) instead of printing the documents. Needed when the space has
    /// functions.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// One document of a configuration.
#[derive(Debug, Clone)]
struct Document {
    kind: &'static str,
    name: String,
    /// The resource without `kind` (a function's without `component` too).
    body: Map<String, Value>,
    /// A function's component file.
    component: Option<PathBuf>,
    /// Where it came from, for messages.
    origin: String,
}

fn collection(kind: &str) -> &'static str {
    match kind {
        "machine" => "machines",
        "flow" => "flows",
        "trigger" => "triggers",
        "endpoint" => "endpoints",
        "function" => "functions",
        _ => "kv",
    }
}

/// The files of `path`: itself, or a directory's YAML/JSON files (recursively, by name).
fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            out.extend(files(&entry)?);
        } else if entry.extension().and_then(|e| e.to_str()).is_some_and(|e| ["yaml", "yml", "json"].contains(&e)) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Reads and checks every document under `path`: a kind, a name, no resource twice.
fn read_documents(path: &Path) -> anyhow::Result<Vec<Document>> {
    let mut docs = Vec::new();
    let mut seen = BTreeSet::new();
    for file in files(path)? {
        let text =
            std::fs::read_to_string(&file).map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for (i, document) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let origin = format!("{} (document {})", file.display(), i + 1);
            let value: Value = serde::Deserialize::deserialize(document)
                .map_err(|e| UsageError(format!("{origin}: not YAML or JSON: {e}")))?;
            if value.is_null() {
                continue; // an empty document (a trailing `---`)
            }
            let Value::Object(mut body) = value else {
                return Err(UsageError(format!("{origin}: a document is a map with `kind` and `name`")).into());
            };
            let kind = body.remove("kind").and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
            let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
                return Err(UsageError(format!("{origin}: `kind` must be one of {}", KINDS.join(", "))).into());
            };
            let Some(name) = body.get("name").and_then(Value::as_str).map(str::to_owned) else {
                return Err(UsageError(format!("{origin}: `name` is required")).into());
            };
            if !seen.insert((kind, name.clone())) {
                return Err(UsageError(format!("{origin}: {kind} {name} is defined twice")).into());
            }
            let mut component = None;
            if kind == "function" {
                body.remove("name");
                let Some(path) = body.remove("component").and_then(|c| c.as_str().map(str::to_owned)) else {
                    return Err(UsageError(format!(
                        "{origin}: a function needs `component`, the path of its .wasm (relative to the file)"
                    ))
                    .into());
                };
                let unset: Vec<&String> = body
                    .get("secrets")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| v.as_str().is_none_or(str::is_empty))
                    .map(|(k, _)| k)
                    .collect();
                if !unset.is_empty() {
                    return Err(UsageError(format!(
                        "{origin}: fill in the value of secret {} (an export leaves function secrets empty: the server never shows them)",
                        unset.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                    .into());
                }
                let path = dir.join(path);
                if !path.is_file() {
                    return Err(UsageError(format!("{origin}: component {} is not a file", path.display())).into());
                }
                component = Some(path);
            }
            if kind == "bucket" {
                body.remove("name");
                if body.keys().any(|k| k != "history") {
                    return Err(UsageError(format!("{origin}: a bucket has `name` and `history` only")).into());
                }
                if let Some(history) = body.get("history")
                    && history.as_u64().and_then(|h| u32::try_from(h).ok()).is_none_or(|h| h == 0)
                {
                    return Err(
                        UsageError(format!("{origin}: a bucket's `history` is a whole number of at least 1")).into()
                    );
                }
            }
            docs.push(Document { kind, name, body, component, origin });
        }
    }
    if docs.is_empty() {
        return Err(UsageError(format!("{} holds no documents", path.display())).into());
    }
    docs.sort_by_key(|d| KINDS.iter().position(|k| *k == d.kind));
    Ok(docs)
}

/// What applying one document did (or would do).
enum Outcome {
    Created(Option<u64>),
    Updated(Option<u64>),
    Unchanged,
}

/// Runs `switchyard apply`.
pub async fn apply(args: ApplyArgs, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    let docs = read_documents(&args.path)?;
    if !args.dry_run {
        // Every document is checked by the server before any is put: one it would refuse stops
        // the apply with nothing changed.
        for doc in &docs {
            if let Err(e) = preview(client, space, doc).await {
                eprintln!("{}: {} {} would fail; nothing was applied", doc.origin, doc.kind, doc.name);
                return Err(e);
            }
        }
    }
    let mut results = Vec::new();
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for doc in &docs {
        let what = format!("{} {}", doc.kind, doc.name);
        let outcome = if args.dry_run { preview(client, space, doc).await } else { put(client, space, doc).await };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                // The error is printed by the caller as the server gave it; say where it is.
                let done = if args.dry_run { "" } else { "; the documents before it were applied" };
                eprintln!("{}: {what} failed{done}", doc.origin);
                return Err(e);
            }
        };
        let (verb, version) = match &outcome {
            (Outcome::Created(v), _) => {
                created += 1;
                (if args.dry_run { "would create" } else { "created" }, *v)
            }
            (Outcome::Updated(v), _) => {
                updated += 1;
                (if args.dry_run { "would update" } else { "updated" }, *v)
            }
            (Outcome::Unchanged, _) => {
                unchanged += 1;
                ("unchanged", None)
            }
        };
        if settings.output == crate::output::OutputFormat::Table {
            let version = version.map(|v| format!(" (version {v})")).unwrap_or_default();
            crate::output::outln!("{verb} {what}{version}")?;
            if let (_, Some(diff)) = &outcome {
                crate::output::out!("{diff}")?;
            }
        }
        results.push(json!({ "kind": doc.kind, "name": doc.name, "result": verb, "version": version }));
    }
    if settings.output == crate::output::OutputFormat::Table {
        let mode = if args.dry_run { " (dry run: nothing changed)" } else { "" };
        crate::output::outln!("{created} created, {updated} updated, {unchanged} unchanged{mode}")?;
    } else {
        crate::output::print(settings.output, &json!({ "dry_run": args.dry_run, "resources": results }), |_| {
            String::new()
        })?;
    }
    Ok(())
}

fn yaml(value: &Value) -> String {
    serde_norway::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The lines that differ between two stored forms, as YAML (`-` the current, `+` the new; all
/// `+` for a resource that does not exist yet).
fn diff(current: Option<&Value>, new: &Value) -> String {
    let (old, new) = (current.map(yaml).unwrap_or_default(), yaml(new));
    let text = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    for change in text.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => continue,
        };
        out.push_str(&format!("    {sign} {}", change.value()));
        if !change.value().ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Puts a document; what it did.
async fn put(client: &Client, space: &str, doc: &Document) -> anyhow::Result<(Outcome, Option<String>)> {
    match doc.kind {
        "bucket" => {
            // Checked by `read_documents`; absent, the server's default.
            let history = doc.body.get("history").and_then(Value::as_u64).and_then(|h| u32::try_from(h).ok());
            let before = client.get_resource(space, "kv", &doc.name).await?;
            let bucket = client.put_bucket(space, &doc.name, history).await?;
            Ok((
                match before {
                    None => Outcome::Created(None),
                    Some(b) if b["history"].as_u64() != Some(u64::from(bucket.history)) => Outcome::Updated(None),
                    Some(_) => Outcome::Unchanged,
                },
                None,
            ))
        }
        "function" => {
            let body = function_body(doc)?;
            let answer = client.put_resource(space, "functions", &doc.name, body, "application/json", false).await?;
            let version = answer["version"].as_u64();
            Ok((
                match answer["created"].as_bool() {
                    Some(true) if version == Some(1) => Outcome::Created(version),
                    Some(true) => Outcome::Updated(version),
                    _ => Outcome::Unchanged,
                },
                None,
            ))
        }
        kind => {
            let body = Value::Object(doc.body.clone()).to_string().into_bytes();
            let answer =
                client.put_resource(space, collection(kind), &doc.name, body, "application/json", false).await?;
            let version = answer["version"].as_u64();
            let outcome = match kind {
                // Machines and flows answer `created` for a new version, the first or a later one.
                "machine" | "flow" => match answer["created"].as_bool() {
                    Some(true) if version == Some(1) => Outcome::Created(version),
                    Some(true) => Outcome::Updated(version),
                    _ => Outcome::Unchanged,
                },
                _ => match (answer["created"].as_bool(), answer["changed"].as_bool()) {
                    (Some(true), _) => Outcome::Created(version),
                    (_, Some(true)) => Outcome::Updated(version),
                    _ => Outcome::Unchanged,
                },
            };
            Ok((outcome, None))
        }
    }
}

/// Asks what putting a document would do, with the diff.
async fn preview(client: &Client, space: &str, doc: &Document) -> anyhow::Result<(Outcome, Option<String>)> {
    match doc.kind {
        "bucket" => {
            // A put without `history` sets the default.
            let history = doc
                .body
                .get("history")
                .and_then(Value::as_u64)
                .unwrap_or(u64::from(switchyard_model::DEFAULT_KV_HISTORY));
            match client.get_resource(space, "kv", &doc.name).await? {
                None => Ok((Outcome::Created(None), Some(diff(None, &json!({ "history": history }))))),
                Some(b) if b["history"].as_u64() != Some(history) => Ok((
                    Outcome::Updated(None),
                    Some(diff(Some(&json!({ "history": b["history"] })), &json!({ "history": history }))),
                )),
                Some(_) => Ok((Outcome::Unchanged, None)),
            }
        }
        "function" => {
            let body = function_body(doc)?;
            let answer = client.put_resource(space, "functions", &doc.name, body, "application/json", true).await?;
            Ok(preview_outcome(&answer))
        }
        kind => {
            let body = Value::Object(doc.body.clone()).to_string().into_bytes();
            let answer =
                client.put_resource(space, collection(kind), &doc.name, body, "application/json", true).await?;
            Ok(preview_outcome(&answer))
        }
    }
}

/// A dry run's answer as an outcome and its diff.
fn preview_outcome(answer: &Value) -> (Outcome, Option<String>) {
    let (created, changed) = (answer["created"] == true, answer["changed"] == true);
    if created {
        (Outcome::Created(Some(1)), Some(diff(None, &answer["definition"])))
    } else if changed {
        let diff = diff(Some(&answer["current"]), &answer["definition"]);
        // A change the stored forms do not show: a secret's value, how a flow compiles.
        let diff = if diff.is_empty() {
            "    (a change the stored form does not show: a secret's value, or how it compiles)\n".to_owned()
        } else {
            diff
        };
        (Outcome::Updated(None), Some(diff))
    } else {
        (Outcome::Unchanged, None)
    }
}

/// A function document as the deploy route takes it: its settings and its component.
fn function_body(doc: &Document) -> anyhow::Result<Vec<u8>> {
    let path = doc.component.as_ref().context("a function's component")?;
    let bytes = std::fs::read(path).map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
    let mut body = doc.body.clone();
    body.insert("component_base64".into(), json!(base64::engine::general_purpose::STANDARD.encode(&bytes)));
    Ok(Value::Object(body).to_string().into_bytes())
}

/// Runs `switchyard export`.
pub async fn export(args: ExportArgs, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let space = &settings.space;
    let mut docs: Vec<Value> = Vec::new();
    let names = |list: &Value, field: &str| -> Vec<String> {
        list[field].as_array().into_iter().flatten().filter_map(|x| x["name"].as_str().map(str::to_owned)).collect()
    };
    let with_kind = |kind: &str, mut definition: Value, name: &str| -> Value {
        let mut doc = Map::new();
        doc.insert("kind".into(), json!(kind));
        doc.insert("name".into(), json!(name));
        if let Value::Object(fields) = &mut definition {
            fields.remove("name");
            doc.extend(std::mem::take(fields));
        }
        Value::Object(doc)
    };
    for name in names(&client.list_resources(space, "kv").await?, "buckets") {
        let bucket = client.get_resource(space, "kv", &name).await?.unwrap_or_default();
        docs.push(json!({ "kind": "bucket", "name": name, "history": bucket["history"] }));
    }
    let functions = names(&client.list_resources(space, "functions").await?, "functions");
    if !functions.is_empty() && args.dir.is_none() {
        return Err(UsageError(format!(
            "space {space} has functions ({}): their components are files; export with --dir DIR",
            functions.join(", ")
        ))
        .into());
    }
    let mut components = Vec::new();
    for name in &functions {
        let info = client.get_resource(space, "functions", name).await?.unwrap_or_default();
        let mut doc = Map::new();
        doc.insert("kind".into(), json!("function"));
        doc.insert("name".into(), json!(name));
        doc.insert("component".into(), json!(format!("functions/{name}.wasm")));
        if let Value::Object(settings) = &info["settings"] {
            doc.extend(settings.iter().filter(|(k, _)| k.as_str() != "secrets").map(|(k, v)| (k.clone(), v.clone())));
            // Secret values are never shown back: their names, to be filled in before applying.
            let secrets: Map<String, Value> = settings["secrets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(|n| (n.to_owned(), json!(""))))
                .collect();
            if !secrets.is_empty() {
                eprintln!(
                    "function {name} has secrets ({}): their values are not exported; fill them in before applying",
                    secrets.keys().cloned().collect::<Vec<_>>().join(", ")
                );
                doc.insert("secrets".into(), Value::Object(secrets));
            }
        }
        docs.push(Value::Object(doc));
        components.push((name.clone(), client.function_component(space, name).await?));
    }
    let flows = client.list_resources(space, "flows").await?;
    let flow_names: BTreeSet<String> = names(&flows, "flows").into_iter().collect();
    for name in names(&client.list_resources(space, "machines").await?, "machines") {
        if flow_names.contains(&name) {
            continue;
        }
        let machine = client.get_resource(space, "machines", &name).await?.unwrap_or_default();
        docs.push(with_kind("machine", machine["definition"].clone(), &name));
    }
    for name in &flow_names {
        let flow = client.get_resource(space, "flows", name).await?.unwrap_or_default();
        docs.push(with_kind("flow", flow["definition"].clone(), name));
    }
    for name in names(&client.list_resources(space, "endpoints").await?, "endpoints") {
        let endpoint = client.get_resource(space, "endpoints", &name).await?.unwrap_or_default();
        docs.push(with_kind("endpoint", endpoint["definition"].clone(), &name));
    }
    for name in names(&client.list_resources(space, "triggers").await?, "triggers") {
        let trigger = client.get_resource(space, "triggers", &name).await?.unwrap_or_default();
        docs.push(with_kind("trigger", trigger["definition"].clone(), &name));
    }
    let mut text = format!("# space {space}, exported by switchyard export\n");
    for doc in &docs {
        // `kind` and `name` first, the rest as the server stores it.
        let mut rest = doc.as_object().cloned().unwrap_or_default();
        let (kind, name) = (rest.remove("kind").unwrap_or_default(), rest.remove("name").unwrap_or_default());
        text.push_str("---\n");
        text.push_str(&yaml(&json!({ "kind": kind })));
        text.push_str(&yaml(&json!({ "name": name })));
        if !rest.is_empty() {
            text.push_str(&yaml(&Value::Object(rest)));
        }
    }
    match args.dir {
        None => crate::output::out!("{text}")?,
        Some(dir) => {
            std::fs::create_dir_all(dir.join("functions"))
                .map_err(|e| UsageError(format!("cannot create {}: {e}", dir.display())))?;
            std::fs::write(dir.join("space.yaml"), &text)
                .map_err(|e| UsageError(format!("cannot write {}: {e}", dir.display())))?;
            for (name, bytes) in components {
                std::fs::write(dir.join("functions").join(format!("{name}.wasm")), bytes)
                    .map_err(|e| UsageError(format!("cannot write a component into {}: {e}", dir.display())))?;
            }
            eprintln!("exported {} resources of space {space} to {}", docs.len(), dir.display());
        }
    }
    Ok(())
}
