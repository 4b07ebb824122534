//! `switchyard bench flow`: runs of a three-node flow (function → transform → function), each
//! function node invoking the deployed component. `--clients` starters each keep one run in
//! flight: start it (`POST …/flows/bench-flow/runs`), then wait for its end on one shared watch
//! stream. Reports completed runs per second, start-to-completion latency and the server's CPU
//! per run; compare with `bench workflow --steps 2` (the same two function calls as a plain
//! machine) for the flow's per-node overhead.
//!
//! With `--foreach N` it runs one flow whose foreach node transforms N items, each as a run of
//! its own, and reports the wall time from start to the run's end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_client::{ClientBuilder, FunctionSettings};

use crate::bench::fmt_us;
use crate::bench_workflow::{Waiting, counter, follow, histogram};

/// Arguments of `switchyard bench flow`.
#[derive(Debug, Clone, clap::Args)]
pub struct FlowBenchArgs {
    /// The component the function nodes invoke (the `hello` example:
    /// examples/functions/target/wasm32-wasip2/release/hello.wasm); not needed with --foreach.
    #[arg(long, value_name = "FILE", required_unless_present = "foreach")]
    pub component: Option<std::path::PathBuf>,
    /// Concurrent starters (each keeps one run in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Runs to complete.
    #[arg(long, default_value_t = 20_000)]
    pub runs: usize,
    /// Instead of many runs, time one run of a foreach over this many items.
    #[arg(long)]
    pub foreach: Option<usize>,
    /// The foreach's concurrency (with --foreach).
    #[arg(long, default_value_t = 10, requires = "foreach")]
    pub concurrency: u32,
    /// Space the benchmark writes into.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

/// The three-node flow: function → transform → function.
fn three_nodes(function: &str) -> Value {
    json!({
        "name": "bench-flow",
        "nodes": [
            { "id": "first", "kind": "function", "function": function, "input": "{'name': 'a'}" },
            { "id": "shape", "kind": "transform", "value": "{'name': 'b', 'after': nodes.first.output}" },
            { "id": "second", "kind": "function", "function": function, "input": "nodes.shape.output" },
        ],
        "edges": [{ "from": "first", "to": "shape" }, { "from": "shape", "to": "second" }],
    })
}

/// A flow whose foreach transforms every item of its input.
fn foreach_flow(concurrency: u32) -> Value {
    json!({
        "name": "bench-foreach",
        "nodes": [
            { "id": "each", "kind": "foreach", "items": "input.items", "do": "double", "concurrency": concurrency },
            { "id": "double", "kind": "transform", "value": "item * 2" },
        ],
    })
}

/// Sends a request (with the token, when given) and decodes its JSON answer; a refusal is an
/// error carrying the answer.
pub(crate) async fn send(request: reqwest::RequestBuilder, token: Option<&str>) -> anyhow::Result<Value> {
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("the server answered {status}: {body}");
    }
    Ok(body)
}

/// Runs `bench flow`.
pub async fn flow(args: FlowBenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    if args.clients == 0 || args.runs == 0 || args.foreach == Some(0) || args.concurrency == 0 {
        bail!("--clients, --runs, --foreach and --concurrency must be at least 1");
    }
    let client = target.build()?;
    let http = target.reqwest_builder().build()?;
    let base = client.server().as_str().trim_end_matches('/').to_string();
    let space = args.space.clone();
    let json_body = |value: &Value| serde_json::to_vec(value).unwrap_or_default();

    if let Some(items) = args.foreach {
        let definition = foreach_flow(args.concurrency);
        let put = http.put(format!("{base}/v1/spaces/{space}/flows/bench-foreach"));
        send(put.header("content-type", "application/json").body(json_body(&definition)), token).await?;
        let list: Vec<usize> = (0..items).collect();
        eprintln!("running one foreach over {items} items, {} at a time…", args.concurrency);
        let started = Instant::now();
        let start = http.post(format!("{base}/v1/spaces/{space}/flows/bench-foreach/runs?wait=60s"));
        let mut run = send(
            start.header("content-type", "application/json").body(json_body(&json!({ "input": { "items": list } }))),
            token,
        )
        .await?;
        let id = run["id"].as_str().context("the run's id")?.to_owned();
        while !matches!(run["status"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            run = send(http.get(format!("{base}/v1/spaces/{space}/runs/{id}")), token).await?;
        }
        let elapsed = started.elapsed();
        if run["status"] != "succeeded" {
            bail!("the run {} : {}", run["status"], run["error"]);
        }
        crate::output::outln!(
            "bench flow --foreach: {items} items, concurrency {}: the run took {elapsed:.2?} ({:.0} items/s)",
            args.concurrency,
            items as f64 / elapsed.as_secs_f64()
        )?;
        return Ok(());
    }

    let path = args.component.as_ref().context("--component is required")?;
    let component = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    client.deploy_function(&space, "bench-hello", &component, &FunctionSettings::default()).await?;
    let put = http.put(format!("{base}/v1/spaces/{space}/flows/bench-flow"));
    send(put.header("content-type", "application/json").body(json_body(&three_nodes("bench-hello"))), token).await?;

    let waiting: Waiting = Arc::new(Mutex::new(HashMap::new()));
    let early = Arc::new(Mutex::new(HashMap::new()));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let watch_url =
        format!("{base}/v1/spaces/{space}/watch?kind=instance.transitioned&address={space}:bench-flow:*&from=now");
    let watcher = tokio::spawn(follow(
        http.clone(),
        watch_url,
        token.map(str::to_string),
        switchyard_model::flow::SUCCEEDED_STATE,
        waiting.clone(),
        early.clone(),
        ready_tx,
    ));
    tokio::time::timeout(Duration::from_secs(30), ready_rx).await.context("the watch did not open")??;

    let before = client.metrics().await?;
    let start_url = format!("{base}/v1/spaces/{space}/flows/bench-flow/runs");
    let total = args.runs;
    eprintln!("running {total} runs with {} starters…", args.clients);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let (http, url, token) = (http.clone(), start_url.clone(), token.map(str::to_string));
        let (waiting, early, clients) = (waiting.clone(), early.clone(), args.clients);
        tasks.spawn(async move {
            let mut latencies = histogram();
            let mut k = c;
            while k < total {
                let t = Instant::now();
                let request = http.post(&url).header("content-type", "application/json").body(r#"{"input": {}}"#);
                let run = send(request, token.as_deref()).await?;
                let id = run["id"].as_str().context("the run's id")?.to_owned();
                // The end may have been seen before the run's id was known.
                let (tx, rx) = tokio::sync::oneshot::channel();
                let seen = {
                    let mut early = early.lock().unwrap_or_else(|p| p.into_inner());
                    let seen = early.remove(&id);
                    if seen.is_none() {
                        waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), tx);
                    }
                    seen
                };
                if seen.is_none() {
                    tokio::time::timeout(Duration::from_secs(120), rx)
                        .await
                        .with_context(|| format!("run {id} did not end within 120 s"))??;
                }
                let _ = latencies.record(t.elapsed().as_micros().max(1) as u64);
                k += clients;
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latencies = histogram();
    while let Some(result) = tasks.join_next().await {
        latencies.add(&result??)?;
    }
    let elapsed = started.elapsed();
    watcher.abort();
    let after = client.metrics().await?;
    let cpu = counter(&after, "switchyard_process_cpu_seconds") - counter(&before, "switchyard_process_cpu_seconds");
    crate::output::outln!(
        "bench flow: {total} runs of a 3-node flow (function → transform → function), {} starters: {:.0} runs/s \
         completed ({elapsed:.2?}); start to completion p50 {}  p99 {}; server CPU {:.0} µs per run",
        args.clients,
        total as f64 / elapsed.as_secs_f64(),
        fmt_us(latencies.value_at_quantile(0.50)),
        fmt_us(latencies.value_at_quantile(0.99)),
        cpu * 1e6 / total as f64,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_flows_compile() {
        for (flow, name) in [(three_nodes("f"), "bench-flow"), (foreach_flow(10), "bench-foreach")] {
            let text = serde_json::to_vec(&flow).expect("json");
            let parsed =
                switchyard_model::flow::parse_flow(&text, switchyard_model::DefinitionFormat::Json).expect("parses");
            switchyard_model::flow::compile_flow(parsed, name).expect("compiles");
        }
    }
}
