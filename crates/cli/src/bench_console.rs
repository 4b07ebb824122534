//! `switchyard bench console`: the time the console takes to answer its pages on a space holding
//! many instances and runs. It seeds the space once (100,000 instances of an order machine in
//! several states, 10,000 runs of a two-node flow of which one in ten fails; a space already
//! seeded is reused), then GETs every main page `--requests` times, one at a time, with the
//! session cookie a browser would send, and reports each page's p50, p99 and largest time to
//! the last byte as the client saw it (the server's time plus a loopback round trip), its size,
//! and the bytes of the console's assets in the binary.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_client::ClientBuilder;

use crate::bench::fmt_us;
use crate::bench_flow::send;
use crate::bench_workflow::histogram;

/// Arguments of `switchyard bench console`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleBenchArgs {
    /// Instances of the order machine to seed.
    #[arg(long, default_value_t = 100_000)]
    pub instances: usize,
    /// Flow runs to seed (one in ten fails).
    #[arg(long, default_value_t = 10_000)]
    pub runs: usize,
    /// Times each page is fetched.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Concurrent requests while seeding.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Space the benchmark writes into.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench-console")]
    pub space: String,
}

const ORDER: &str = r#"{
  "initial": "pending",
  "states": { "pending": {}, "paid": {}, "shipped": { "final": true }, "cancelled": { "final": true } },
  "transitions": [
    { "from": "pending", "event": "pay", "to": "paid" },
    { "from": "paid", "event": "ship", "to": "shipped" },
    { "from": ["pending", "paid"], "event": "cancel", "to": "cancelled" }
  ]
}"#;

/// Two transforms; the second fails the run for one input in ten.
fn checkout() -> Value {
    json!({
        "name": "checkout",
        "nodes": [
            { "id": "price", "kind": "transform", "value": "input.n * 3" },
            { "id": "check", "kind": "condition", "if": "input.n % 10 == 0" },
            { "id": "reject", "kind": "fail", "code": "rejected", "message": "'order ' + string(input.n) + ' is rejected'" },
            { "id": "accept", "kind": "transform", "value": "{'total': nodes.price.output}" },
        ],
        "edges": [
            { "from": "price", "to": "check" },
            { "from": "check", "to": "reject", "branch": true },
            { "from": "check", "to": "accept", "branch": false },
        ],
    })
}

/// Runs `bench console`.
pub async fn console(args: ConsoleBenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    // The pages of one instance and one failed run need one of each (run 0 is one that fails).
    if args.instances == 0 || args.runs == 0 || args.requests == 0 || args.clients == 0 {
        bail!("--instances, --runs, --requests and --clients must be at least 1");
    }
    let token = token.context("bench console signs in with a token: pass --token or set SWITCHYARD_TOKEN")?;
    let client = target.build()?;
    let http = target.reqwest_builder().build()?;
    let base = client.server().as_str().trim_end_matches('/').to_string();
    let space = args.space.clone();
    seed(&http, &base, &space, token, &args).await?;

    // A failed run, an instance and a cursor into the instances, for the pages that show one.
    let failed = send(http.get(format!("{base}/v1/spaces/{space}/runs?status=failed&limit=1")), Some(token)).await?;
    let run = failed["runs"][0]["id"].as_str().context("a failed run")?.to_owned();
    let listed =
        send(http.get(format!("{base}/v1/spaces/{space}/machines/order/instances?limit=1000")), Some(token)).await?;
    let listed_instances = listed["instances"].as_array().map_or(&[][..], Vec::as_slice);
    let middle = listed_instances.get(listed_instances.len() / 2);
    let instance = middle.and_then(|i| i["id"].as_str()).context("an instance of order")?.to_owned();
    let cursor = listed["next_cursor"].as_str().unwrap_or("").to_owned();
    let s = format!("/console/s/{space}");
    let pages = [
        ("overview", s.clone()),
        ("runs", format!("{s}/runs")),
        ("runs, failed", format!("{s}/runs?status=failed")),
        ("runs, one flow", format!("{s}/runs?flow=checkout")),
        ("run, failed node open", format!("{s}/runs/{run}?node=reject")),
        ("flows", format!("{s}/flows")),
        ("flow editor", format!("{s}/flows/checkout")),
        ("machines", format!("{s}/machines")),
        ("machine diagram", format!("{s}/machines/order")),
        ("instances", format!("{s}/machines/order/instances")),
        ("instances, later page", format!("{s}/machines/order/instances?cursor={cursor}")),
        ("instances, one state", format!("{s}/machines/order/instances?state=shipped")),
        ("instance", format!("{s}/machines/order/instances/{instance}")),
        ("jobs", format!("{s}/jobs")),
        ("jobs, dead", format!("{s}/jobs?status=dead")),
        ("live log", format!("{s}/live")),
        ("functions", format!("{s}/functions")),
        ("triggers", format!("{s}/triggers")),
        ("endpoints", format!("{s}/endpoints")),
        ("subscriptions", format!("{s}/subscriptions")),
        ("kv", format!("{s}/kv")),
    ];
    let cookie = format!("switchyard_console={token}");
    crate::output::outln!(
        "bench console: {} instances and {} runs in {space}; each page fetched {} times, one at a time",
        args.instances,
        args.runs,
        args.requests
    )?;
    crate::output::outln!("{:<24} {:>9} {:>9} {:>9} {:>9}", "page", "p50", "p99", "max", "bytes")?;
    let mut worst = 0;
    for (name, path) in &pages {
        let mut times = histogram();
        let mut bytes = 0;
        for _ in 0..args.requests {
            let started = Instant::now();
            let response = http.get(format!("{base}{path}")).header("cookie", &cookie).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            let elapsed = started.elapsed().as_micros().max(1) as u64;
            if !status.is_success() {
                bail!("{path} answered {status}: {}", String::from_utf8_lossy(&body[..body.len().min(500)]));
            }
            bytes = body.len();
            let _ = times.record(elapsed);
        }
        worst = worst.max(times.value_at_quantile(0.99));
        crate::output::outln!(
            "{name:<24} {:>9} {:>9} {:>9} {bytes:>9}",
            fmt_us(times.value_at_quantile(0.50)),
            fmt_us(times.value_at_quantile(0.99)),
            fmt_us(times.max()),
        )?;
    }
    crate::output::outln!(
        "slowest page p99: {}; console assets in the binary: {} bytes (stylesheet and script)",
        fmt_us(worst),
        switchyard_console::ASSETS_BYTES
    )?;
    Ok(())
}

/// Seeds the space unless it already holds what the arguments ask for.
async fn seed(
    http: &reqwest::Client,
    base: &str,
    space: &str,
    token: &str,
    args: &ConsoleBenchArgs,
) -> anyhow::Result<()> {
    let stats = send(http.get(format!("{base}/v1/spaces/{space}/stats")), Some(token)).await?;
    let count = |machine: &str| -> u64 {
        stats["instances"]
            .as_array()
            .map(|list| list.iter().filter(|c| c["machine"] == machine).map(|c| c["roots"].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    };
    let json_body = |value: &Value| serde_json::to_vec(value).unwrap_or_default();
    let have_orders = count("order") as usize;
    if have_orders < args.instances {
        let put = http.put(format!("{base}/v1/spaces/{space}/machines/order"));
        send(put.header("content-type", "application/json").body(ORDER), Some(token)).await?;
        eprintln!("seeding {} order instances…", args.instances - have_orders);
        let started = Instant::now();
        let batches: Vec<(usize, usize)> =
            (have_orders..args.instances).step_by(500).map(|from| (from, (from + 500).min(args.instances))).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in batches.chunks(batches.len().div_ceil(args.clients).max(1)) {
            let (http, url, token, space, chunk) =
                (http.clone(), format!("{base}/v1/batch"), token.to_owned(), space.to_owned(), chunk.to_vec());
            tasks.spawn(async move {
                for (from, to) in chunk {
                    let mut operations = Vec::new();
                    for n in from..to {
                        let id = format!("o-{n:06}");
                        operations.push(json!({ "op": "create_instance", "space": space, "machine": "order", "id": id }));
                        // A third paid, a sixth of those shipped, a tenth cancelled: several states.
                        let events: &[&str] = match n % 30 {
                            0..=6 => &["pay"],
                            7..=9 => &["pay", "ship"],
                            10..=12 => &["cancel"],
                            _ => &[],
                        };
                        for event in events {
                            operations.push(json!({ "op": "apply_event", "space": space, "machine": "order", "instance": id, "event": event }));
                        }
                    }
                    let body = serde_json::to_vec(&json!({ "operations": operations })).unwrap_or_default();
                    send(http.post(&url).header("content-type", "application/json").body(body), Some(&token)).await?;
                }
                Ok::<_, anyhow::Error>(())
            });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        eprintln!("  done in {:.1?}", started.elapsed());
    }
    let have_runs = count("checkout") as usize;
    if have_runs < args.runs {
        let put = http.put(format!("{base}/v1/spaces/{space}/flows/checkout"));
        send(put.header("content-type", "application/json").body(json_body(&checkout())), Some(token)).await?;
        eprintln!("seeding {} runs…", args.runs - have_runs);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..args.clients {
            let (http, url, token) =
                (http.clone(), format!("{base}/v1/spaces/{space}/flows/checkout/runs"), token.to_owned());
            let (clients, total) = (args.clients, args.runs);
            tasks.spawn(async move {
                let mut n = have_runs + c;
                while n < total {
                    let body = serde_json::to_vec(&json!({ "input": { "n": n } })).unwrap_or_default();
                    send(http.post(&url).header("content-type", "application/json").body(body), Some(&token)).await?;
                    n += clients;
                }
                Ok::<_, anyhow::Error>(())
            });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        eprintln!("  done in {:.1?}", started.elapsed());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_definitions_compile() {
        let flow = serde_json::to_vec(&checkout()).expect("json");
        let parsed =
            switchyard_model::flow::parse_flow(&flow, switchyard_model::DefinitionFormat::Json).expect("parses");
        switchyard_model::flow::compile_flow(parsed, "checkout").expect("compiles");
        let machine = switchyard_model::parse_definition(ORDER.as_bytes(), switchyard_model::DefinitionFormat::Json)
            .expect("parses");
        switchyard_model::CompiledMachine::compile(machine).expect("compiles");
    }
}
