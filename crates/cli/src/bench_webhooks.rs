//! `switchyard bench webhooks`: signed webhooks (Standard Webhooks `v1`, a fresh delivery id
//! each) to one trigger that starts a 1-node flow, from `--clients` senders each keeping one
//! request in flight. Reports accepted webhooks per second and the accept latency (sent until
//! `202`, which the server answers once the execution is committed), then how long the server
//! took to fire every accepted one, and its CPU per webhook.
//!
//! With `--schedules N`, instead puts N interval triggers firing every second (each publishing
//! a message), lets them fire for `--seconds`, and reports the fire lag: how long after its fire
//! time each execution started, from the server's scheduling-lag histogram.
//!
//! With `--deliveries N`, measures the way out instead: starts a receiver on loopback, puts
//! `--endpoints` endpoints aimed at it, publishes N messages from `--clients` publishers, and
//! reports deliveries per second (every message to every endpoint, each signed) and the delivery
//! latency (publish acknowledged until the receiver has it). The server must run with
//! `--jobs-allow-private-networks` to reach the receiver.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_client::ClientBuilder;

use crate::bench::fmt_us;
use crate::bench_flow::send;
use crate::bench_jobs::{lag_buckets, lag_quantile, outstanding};
use crate::bench_workflow::{counter, histogram};

/// Arguments of `switchyard bench webhooks`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhooksBenchArgs {
    /// Concurrent senders (each keeps one webhook in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Webhooks to send.
    #[arg(long, default_value_t = 50_000)]
    pub requests: usize,
    /// Instead of webhooks, put this many interval triggers (every second) and report how late
    /// they fire.
    #[arg(long, value_name = "N")]
    pub schedules: Option<usize>,
    /// With --schedules: how long to let them fire, in seconds.
    #[arg(long, default_value_t = 30, requires = "schedules")]
    pub seconds: u64,
    /// Instead of webhooks in, publish this many messages and measure their delivery out to
    /// --endpoints endpoints on a local receiver (the server needs
    /// --jobs-allow-private-networks).
    #[arg(long, value_name = "N", conflicts_with_all = ["schedules", "requests"])]
    pub deliveries: Option<usize>,
    /// With --deliveries: endpoints every message fans out to.
    #[arg(long, default_value_t = 1, requires = "deliveries")]
    pub endpoints: usize,
    /// Space the benchmark writes into.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

/// The secret the benchmark's trigger verifies with (a `whsec_` of 24 fixed bytes).
const SECRET: &str = "whsec_YmVuY2gtd2ViaG9va3Mtc2VjcmV0LWtleQ==";

/// Runs `bench webhooks`.
pub async fn webhooks(args: WebhooksBenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    if args.clients == 0
        || args.requests == 0
        || args.schedules == Some(0)
        || args.seconds == 0
        || args.deliveries == Some(0)
        || args.endpoints == 0
    {
        bail!("--clients, --requests, --schedules, --seconds, --deliveries and --endpoints must be at least 1");
    }
    let client = target.build()?;
    let http = target.reqwest_builder().build()?;
    let base = client.server().as_str().trim_end_matches('/').to_string();
    let space = args.space.clone();
    if let Some(count) = args.schedules {
        return schedules(&http, &client, &base, &space, count, args.seconds, token).await;
    }
    if let Some(count) = args.deliveries {
        return deliveries(&http, &client, &base, &space, count, args.endpoints, args.clients, token).await;
    }

    let put = |path: String, body: Value| {
        http.put(format!("{base}/v1/spaces/{space}/{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    send(put("secrets/bench_hook".into(), json!({ "value": SECRET })), token).await?;
    let flow = json!({ "nodes": [{ "id": "take", "kind": "transform", "value": "input" }] });
    send(put("flows/bench-hook".into(), flow), token).await?;
    let trigger = json!({
        "source": { "webhook": { "scheme": "standard-webhooks", "secrets": ["{{secrets.bench_hook}}"] } },
        "target": { "flow": "bench-hook", "input": "body" },
    });
    send(put("triggers/bench-hook".into(), trigger), token).await?;
    let key = switchyard_webhooks::decode_whsec(SECRET).map_err(|e| anyhow::anyhow!("{e}"))?;

    let before = client.metrics().await?;
    let url = format!("{base}/hooks/{space}/bench-hook");
    let run = format!("{:x}", std::process::id());
    let total = args.requests;
    eprintln!("sending {total} signed webhooks from {} senders…", args.clients);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let (http, url, key, run, clients) = (http.clone(), url.clone(), key.clone(), run.clone(), args.clients);
        tasks.spawn(async move {
            let mut latencies = histogram();
            let mut k = c;
            while k < total {
                let id = format!("msg_{run}_{k}");
                let body = format!(r#"{{"type":"order.paid","data":{{"order":{k}}}}}"#);
                let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
                let signature = switchyard_webhooks::sign_v1(&key, &id, ts, body.as_bytes());
                let t = Instant::now();
                let request = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signature)
                    .body(body);
                let answer = send(request, None).await?;
                if answer["replayed"] != false {
                    bail!("webhook {id} was not accepted as new: {answer}");
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
    let accepted_in = started.elapsed();
    // Every accepted webhook fired: the space's trigger executions all ran.
    loop {
        let text = client.metrics().await?;
        if outstanding(&text, &space) == 0.0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the executions did not all run within an hour");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fired_in = started.elapsed();
    let after = client.metrics().await?;
    let cpu = counter(&after, "switchyard_process_cpu_seconds") - counter(&before, "switchyard_process_cpu_seconds");
    crate::output::outln!(
        "bench webhooks: {total} signed webhooks (standard-webhooks v1) to a trigger starting a 1-node flow, {} senders: \
         {:.0} accepted/s ({accepted_in:.2?}); accept latency p50 {}  p99 {}; all fired after {fired_in:.2?} \
         ({:.0} runs/s); server CPU {:.0} µs per webhook (accept and run)",
        args.clients,
        total as f64 / accepted_in.as_secs_f64(),
        fmt_us(latencies.value_at_quantile(0.50)),
        fmt_us(latencies.value_at_quantile(0.99)),
        total as f64 / fired_in.as_secs_f64(),
        cpu * 1e6 / total as f64,
    )?;
    Ok(())
}

/// `--schedules N`: N triggers firing every second for `seconds`; the fire lag.
async fn schedules(
    http: &reqwest::Client,
    client: &switchyard_client::Client,
    base: &str,
    space: &str,
    count: usize,
    seconds: u64,
    token: Option<&str>,
) -> anyhow::Result<()> {
    eprintln!("putting {count} interval triggers (every 1s)…");
    let trigger = json!({ "source": { "interval": { "every": "1s" } }, "target": { "topic": "bench-ticks" } });
    let mut puts = tokio::task::JoinSet::new();
    let per = count.div_ceil(16);
    for p in 0..16 {
        let (http, base, space, trigger, token) =
            (http.clone(), base.to_owned(), space.to_owned(), trigger.to_string(), token.map(str::to_owned));
        puts.spawn(async move {
            for i in (p * per)..((p + 1) * per).min(count) {
                let url = format!("{base}/v1/spaces/{space}/triggers/bench-tick-{i}");
                send(http.put(url).header("content-type", "application/json").body(trigger.clone()), token.as_deref())
                    .await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = puts.join_next().await {
        done??;
    }
    // Let the first fire times pass before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = client.metrics().await?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = client.metrics().await?;
    let elapsed = started.elapsed();
    let (b, a) = (lag_buckets(&before), lag_buckets(&after));
    let fired = a.last().map(|x| x.1).unwrap_or(0.0) - b.last().map(|x| x.1).unwrap_or(0.0);
    let cpu = counter(&after, "switchyard_process_cpu_seconds") - counter(&before, "switchyard_process_cpu_seconds");
    let show = |q: f64| match lag_quantile(&b, &a, q) {
        Some(s) if s.is_finite() => format!("≤ {:.0} ms", s * 1000.0),
        Some(_) => "> 30 s".to_string(),
        None => "-".to_string(),
    };
    crate::output::outln!(
        "bench webhooks --schedules: {count} interval triggers every 1s for {elapsed:.0?}: {:.0} executions/s \
         (of {count}/s due); fire lag p50 {}  p99 {}; server CPU {:.0}% of one core",
        fired / elapsed.as_secs_f64(),
        show(0.50),
        show(0.99),
        cpu * 100.0 / elapsed.as_secs_f64(),
    )?;
    // Stop them (a benchmark space is the reader's to delete).
    for i in 0..count {
        let url = format!("{base}/v1/spaces/{space}/triggers/bench-tick-{i}/pause");
        let _ = send(http.post(url), token).await.context("pausing the bench triggers");
    }
    Ok(())
}

/// What the receiver of `--deliveries` saw: when each (endpoint, seq) first arrived, and how
/// many requests in all.
#[derive(Default)]
struct Received {
    first: std::collections::HashMap<(String, u64), Instant>,
    requests: u64,
}

/// `--deliveries N`: N messages out to `endpoints` endpoints on a local receiver.
#[allow(clippy::too_many_arguments)]
async fn deliveries(
    http: &reqwest::Client,
    client: &switchyard_client::Client,
    base: &str,
    space: &str,
    count: usize,
    endpoints: usize,
    clients: usize,
    token: Option<&str>,
) -> anyhow::Result<()> {
    use std::sync::{Arc, Mutex};
    let received = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the receiver")?;
    let addr = listener.local_addr()?;
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/{endpoint}",
        axum::routing::post(
            move |axum::extract::Path(endpoint): axum::extract::Path<String>, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let at = Instant::now();
                    let seq = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["data"]["seq"].as_u64());
                    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                    seen.requests += 1;
                    if let Some(seq) = seq {
                        seen.first.entry((endpoint, seq)).or_insert(at);
                    }
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await });

    let put = |path: String, body: Value| {
        http.put(format!("{base}/v1/spaces/{space}/{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    send(put("secrets/bench_out".into(), json!({ "value": SECRET })), token).await?;
    for e in 0..endpoints {
        let endpoint = json!({
            "url": format!("http://{addr}/out-{e}"),
            "secret": "{{secrets.bench_out}}",
            "kinds": ["topic.message"],
            "filter": "record.address.endsWith(':bench-out')",
        });
        send(put(format!("endpoints/bench-out-{e}"), endpoint), token).await?;
    }
    let before = client.metrics().await?;
    let total = count * endpoints;
    eprintln!("publishing {count} messages to {endpoints} endpoint(s) on {addr} ({total} deliveries)…");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (client, space) = (client.clone(), space.to_owned());
        tasks.spawn(async move {
            let mut acked = Vec::new();
            let mut k = c;
            while k < count {
                let message = switchyard_client::Publish {
                    payload: json!({ "n": k }),
                    key: None,
                    headers: Default::default(),
                    idempotency_key: None,
                };
                let published = client.publish(&space, "bench-out", &message).await?;
                acked.push((published.seq, Instant::now()));
                k += clients;
            }
            Ok::<_, anyhow::Error>(acked)
        });
    }
    let mut acked = std::collections::HashMap::new();
    while let Some(result) = tasks.join_next().await {
        acked.extend(result??);
    }
    let published_in = started.elapsed();
    let mut last_progress = (0usize, Instant::now());
    let delete_endpoints = || async {
        for e in 0..endpoints {
            let _ = send(http.delete(format!("{base}/v1/spaces/{space}/endpoints/bench-out-{e}")), token).await;
        }
    };
    loop {
        // Only this run's messages count (a pending delivery of an earlier run may arrive too).
        let done = received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first
            .keys()
            .filter(|(_, seq)| acked.contains_key(seq))
            .count();
        if done >= total {
            break;
        }
        if done > last_progress.0 {
            last_progress = (done, Instant::now());
        } else if last_progress.1.elapsed() > Duration::from_secs(30) {
            receiver.abort();
            delete_endpoints().await;
            bail!(
                "{done} of {total} deliveries arrived and none for 30 s; does the server run with \
                 --jobs-allow-private-networks (see `switchyard endpoint deliveries bench-out-0`)?"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered_in = started.elapsed();
    let after = client.metrics().await?;
    let (requests, latencies) = {
        let seen = received.lock().unwrap_or_else(|p| p.into_inner());
        let mut latencies = histogram();
        for ((_, seq), at) in &seen.first {
            if let Some(sent) = acked.get(seq) {
                let _ = latencies.record(at.saturating_duration_since(*sent).as_micros().max(1) as u64);
            }
        }
        (seen.requests, latencies)
    };
    receiver.abort();
    let cpu = counter(&after, "switchyard_process_cpu_seconds") - counter(&before, "switchyard_process_cpu_seconds");
    crate::output::outln!(
        "bench webhooks --deliveries: {count} messages to {endpoints} endpoint(s), {total} signed deliveries \
         (standard-webhooks v1), {clients} publishers: published in {published_in:.2?}, all delivered after \
         {delivered_in:.2?}: {:.0} deliveries/s; delivery latency (publish acknowledged to received) p50 {}  p99 {}; \
         {requests} requests for {total} deliveries; server CPU {:.0} µs per delivery",
        total as f64 / delivered_in.as_secs_f64(),
        fmt_us(latencies.value_at_quantile(0.50)),
        fmt_us(latencies.value_at_quantile(0.99)),
        cpu * 1e6 / total as f64,
    )?;
    delete_endpoints().await;
    Ok(())
}
