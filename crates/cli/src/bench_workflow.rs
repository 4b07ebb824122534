//! `switchyard bench workflow`: runs of a machine whose states do the work. A run is an
//! instance of a machine of `--steps` action states in sequence, each invoking the deployed
//! component; it starts when the instance is created (its first state is an action) and
//! completes when it reaches its final state. `--clients` starters each keep one run in flight:
//! create, then wait for the run's completion on one shared watch stream. Reports completed runs
//! per second, start-to-completion latency and the server's CPU per run.
//!
//! With `--timers N` it creates N instances of a machine whose first state has a 1 s `after`
//! timer, and reports how late each timer fired: the spread between its due time (the instance's
//! creation plus 1 s) and the transition it caused, both as the server recorded them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use switchyard_client::{ClientBuilder, FunctionSettings};

use crate::bench::fmt_us;

/// Arguments of `switchyard bench workflow`.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkflowBenchArgs {
    /// The component each step invokes (the `hello` example:
    /// examples/functions/target/wasm32-wasip2/release/hello.wasm); not needed with --timers.
    #[arg(long, value_name = "FILE", required_unless_present = "timers")]
    pub component: Option<std::path::PathBuf>,
    /// Concurrent starters (each keeps one run in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Runs to complete.
    #[arg(long, default_value_t = 20_000)]
    pub runs: usize,
    /// Action states per run.
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Instead of runs, create this many instances with a 1 s timer and report how late the
    /// timers fired.
    #[arg(long)]
    pub timers: Option<usize>,
    /// Space the benchmark writes into.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

/// The machine of `steps` action states in sequence, each invoking `function`.
fn workflow_machine(steps: usize, function: &str) -> Value {
    let mut states = serde_json::Map::new();
    for step in 1..=steps {
        let next = if step == steps { "done".to_string() } else { format!("step{}", step + 1) };
        states.insert(
            format!("step{step}"),
            json!({
                "invoke": { "function": function, "input": "{'name': instance.id}" },
                "on_done": { "to": next },
            }),
        );
    }
    states.insert("done".into(), json!({ "final": true }));
    json!({ "name": "bench-workflow", "initial": "step1", "states": states })
}

const TIMER_MACHINE: &str = r#"{"name": "bench-timer", "initial": "waiting",
  "states": {"waiting": {"after": {"1s": "fired"}}, "fired": {"final": true}}}"#;

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn millis(rfc3339: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339(rfc3339).ok()?;
    i64::try_from(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()
}

/// A counter's value in Prometheus text (the sum over its series), 0 when absent.
pub(crate) fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            (series.split('{').next()? == name).then(|| value.trim().parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// What the watcher hands the starters: per instance id, who waits for it to finish.
pub(crate) type Waiting = Arc<Mutex<HashMap<String, tokio::sync::oneshot::Sender<Value>>>>;

/// Follows `instance.transitioned` records of `machine` into `to`, handing each record to the
/// starter waiting for its instance (or keeping it when nobody waits yet).
pub(crate) async fn follow(
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    to: &'static str,
    waiting: Waiting,
    early: Arc<Mutex<HashMap<String, Value>>>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let mut request = http.get(&url);
    if let Some(t) = &token {
        request = request.bearer_auth(t);
    }
    let mut response = request.send().await?.error_for_status()?;
    let _ = ready.send(());
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Some(chunk) = response.chunk().await? {
        buffer.extend_from_slice(&chunk);
        let mut consumed = 0;
        while let Some(end) = buffer[consumed..].windows(2).position(|w| w == b"\n\n") {
            let frame = &buffer[consumed..consumed + end];
            consumed += end + 2;
            let Some(data) = frame.split(|b| *b == b'\n').find_map(|l| l.strip_prefix(b"data:")) else { continue };
            let Ok(record) = serde_json::from_slice::<Value>(data) else { continue };
            if record["payload"]["to"] != to {
                continue;
            }
            let id = record["address"].as_str().and_then(|a| a.rsplit(':').next()).unwrap_or_default().to_string();
            let sender = waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            match sender {
                Some(sender) => {
                    let _ = sender.send(record);
                }
                None => {
                    early.lock().unwrap_or_else(|p| p.into_inner()).insert(id, record);
                }
            }
        }
        buffer.drain(..consumed);
    }
    bail!("the watch stream ended")
}

/// Runs `bench workflow`.
pub async fn workflow(args: WorkflowBenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    if args.clients == 0 || args.runs == 0 || args.steps == 0 || args.timers == Some(0) {
        bail!("--clients, --runs, --steps and --timers must be at least 1");
    }
    let client = target.build()?;
    let http = target.reqwest_builder().build()?;
    let base = client.server().as_str().trim_end_matches('/').to_string();
    let space = args.space.clone();
    let (machine, definition, to, total) = match args.timers {
        Some(n) => ("bench-timer", serde_json::from_str::<Value>(TIMER_MACHINE)?, "fired", n),
        None => {
            let path = args.component.as_ref().context("--component is required")?;
            let component = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            client.deploy_function(&space, "bench-hello", &component, &FunctionSettings::default()).await?;
            ("bench-workflow", workflow_machine(args.steps, "bench-hello"), "done", args.runs)
        }
    };
    let mut put = http
        .put(format!("{base}/v1/spaces/{space}/machines/{machine}"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&definition)?);
    if let Some(t) = token {
        put = put.bearer_auth(t);
    }
    let response = put.send().await?;
    if !response.status().is_success() {
        bail!("putting the machine failed: {}", response.text().await.unwrap_or_default());
    }

    let waiting: Waiting = Arc::new(Mutex::new(HashMap::new()));
    let early = Arc::new(Mutex::new(HashMap::new()));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let watch_url =
        format!("{base}/v1/spaces/{space}/watch?kind=instance.transitioned&address={space}:{machine}:*&from=now");
    let watcher = tokio::spawn(follow(
        http.clone(),
        watch_url,
        token.map(str::to_string),
        to,
        waiting.clone(),
        early.clone(),
        ready_tx,
    ));
    tokio::time::timeout(Duration::from_secs(30), ready_rx).await.context("the watch did not open")??;

    let before = client.metrics().await?;
    let prefix = format!("r{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    let create_url = format!("{base}/v1/spaces/{space}/machines/{machine}/instances");
    let timers = args.timers.is_some();
    eprintln!(
        "{} {total} {} with {} starters…",
        if timers { "creating" } else { "running" },
        if timers { "timer instances" } else { "runs" },
        args.clients
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let (http, url, token) = (http.clone(), create_url.clone(), token.map(str::to_string));
        let (waiting, early, prefix, clients) = (waiting.clone(), early.clone(), prefix.clone(), args.clients);
        tasks.spawn(async move {
            let mut latencies = histogram();
            let mut lateness: Vec<(i64, tokio::sync::oneshot::Receiver<Value>)> = Vec::new();
            let mut k = c;
            while k < total {
                let id = format!("{prefix}-{k}");
                let (tx, rx) = tokio::sync::oneshot::channel();
                waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), tx);
                let t = Instant::now();
                let mut request =
                    http.post(&url).header("content-type", "application/json").body(json!({ "id": id }).to_string());
                if let Some(t) = &token {
                    request = request.bearer_auth(t);
                }
                let created: Value = request.send().await?.error_for_status()?.json().await?;
                // The record may have come before the waiter was looked for.
                let record = early.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                if let Some(record) = record {
                    waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    let _ = latencies.record(t.elapsed().as_micros().max(1) as u64);
                    drop(record);
                } else if timers {
                    let due = created["created_at"].as_str().and_then(millis).context("created_at")? + 1000;
                    lateness.push((due, rx));
                } else {
                    tokio::time::timeout(Duration::from_secs(120), rx)
                        .await
                        .with_context(|| format!("run {id} did not complete within 120 s"))??;
                    let _ = latencies.record(t.elapsed().as_micros().max(1) as u64);
                }
                k += clients;
            }
            // Timers: how late each fired, by the server's own times.
            let mut late = histogram();
            for (due, rx) in lateness {
                let record =
                    tokio::time::timeout(Duration::from_secs(300), rx).await.context("a timer did not fire")??;
                let fired = record["created_at"].as_str().and_then(millis).context("created_at")?;
                let _ = late.record(((fired - due).max(0) as u64 * 1000).max(1));
            }
            Ok::<_, anyhow::Error>((latencies, late))
        });
    }
    let (mut latencies, mut late) = (histogram(), histogram());
    while let Some(result) = tasks.join_next().await {
        let (l, t) = result??;
        latencies.add(&l)?;
        late.add(&t)?;
    }
    let elapsed = started.elapsed();
    watcher.abort();
    let after = client.metrics().await?;
    let cpu = counter(&after, "switchyard_process_cpu_seconds") - counter(&before, "switchyard_process_cpu_seconds");
    if timers {
        crate::output::outln!(
            "bench workflow --timers: {total} instances with a 1 s timer, all fired in {elapsed:.2?}; lateness \
             (fired − due) p50 {}  p99 {}  max {}; server CPU {:.0} µs per timer",
            fmt_us(late.value_at_quantile(0.50)),
            fmt_us(late.value_at_quantile(0.99)),
            fmt_us(late.max()),
            cpu * 1e6 / total as f64,
        )?;
    } else {
        crate::output::outln!(
            "bench workflow: {total} runs of {} action states, {} starters: {:.0} runs/s completed ({elapsed:.2?}); \
             start to completion p50 {}  p99 {}; server CPU {:.0} µs per run",
            args.steps,
            args.clients,
            total as f64 / elapsed.as_secs_f64(),
            fmt_us(latencies.value_at_quantile(0.50)),
            fmt_us(latencies.value_at_quantile(0.99)),
            cpu * 1e6 / total as f64,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_machine_chains_its_steps_into_done() {
        let machine = workflow_machine(3, "f");
        let text = serde_json::to_vec(&machine).expect("json");
        let def = switchyard_model::parse_definition(&text, switchyard_model::DefinitionFormat::Json).expect("parses");
        let compiled = switchyard_model::CompiledMachine::compile(def).expect("compiles");
        assert_eq!(compiled.initial_state(), "step1");
        assert!(compiled.is_final("done"));
        let timer =
            switchyard_model::parse_definition(TIMER_MACHINE.as_bytes(), switchyard_model::DefinitionFormat::Json)
                .and_then(switchyard_model::CompiledMachine::compile)
                .expect("timer machine compiles");
        assert!(timer.is_final("fired"));
    }
}
