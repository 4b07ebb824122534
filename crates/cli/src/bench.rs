//! `switchyard bench`: drives a running server over HTTP and reports throughput and latency.
//!
//! Every figure is end to end: a request is timed from before it is sent until its answer is
//! decoded. Each client keeps exactly one request in flight, so throughput is bounded by
//! latency × clients, as it is for real callers.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use switchyard_client::{Client, ClientBuilder, CreateInstance, SendEvent};

/// Arguments of `switchyard bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    #[command(subcommand)]
    pub kind: BenchKind,
}

/// The benchmarks.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchKind {
    /// Apply events to instances of a 5-state cycle machine, one request in flight per client.
    Events(EventsArgs),
    /// Apply events at a fixed rate while many SSE watchers follow them; report delivery
    /// latency and server CPU.
    Watch(crate::bench_streams::WatchBenchArgs),
    /// Durable KV puts, then gets, one request in flight per client.
    Kv(crate::bench_streams::KvBenchArgs),
    /// Deploy a function, then invoke it synchronously, one request in flight per client;
    /// report deploy-to-first-answer, throughput, latency and instantiation time.
    Invoke(crate::bench_functions::InvokeBenchArgs),
    /// Enqueue no-op jobs from many producers while the server runs them; report jobs enqueued
    /// and completed per second end to end, and the scheduling lag. With --timers, enqueue
    /// timers due in a day and report the server's memory.
    Jobs(crate::bench_jobs::JobsBenchArgs),
    /// Run a machine of action states (each invoking a function) from many starters; report
    /// completed runs per second and start-to-completion latency. With --timers, report how
    /// late 1 s timers fire.
    Workflow(crate::bench_workflow::WorkflowBenchArgs),
    /// Run a three-node flow (function → transform → function) from many starters; report
    /// completed runs per second and start-to-completion latency. With --foreach N, time one run
    /// of a foreach over N items.
    Flow(crate::bench_flow::FlowBenchArgs),
    /// Send signed webhooks to a trigger that starts a 1-node flow, from many senders; report
    /// accepted webhooks per second, accept latency and the time to fire them all. With
    /// --schedules N, report how late N every-second schedules fire.
    Webhooks(crate::bench_webhooks::WebhooksBenchArgs),
    /// Create a user, then sign it in many times from a few clients; report sign-ins per second
    /// and their latency (argon2id with the server's parameters). Needs a token that may create
    /// users (a grant on `*`).
    SignIn(SignInArgs),
    /// Seed a space with 100,000 instances and 10,000 runs (once), then fetch each console
    /// page many times with a session cookie; report each page's p50 and p99 and the size of
    /// the console's assets. Needs --token.
    Console(crate::bench_console::ConsoleBenchArgs),
    /// Apply events as a quiet tenant, alone and then while a noisy tenant floods the server
    /// past its quota (which the benchmark sets, then removes); report the quiet tenant's
    /// latency in both phases and the noisy one's admitted and refused requests. Needs a
    /// token that may set quotas (sys-admin).
    Tenants(crate::bench_tenants::TenantsBenchArgs),
}

/// Arguments of `switchyard bench events`.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// Concurrent clients. Over HTTP each keeps one request in flight; over gRPC each is one
    /// connection with one `ApplyEvents` stream keeping --in-flight events in flight.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// How events are sent: `http` (HTTP/1.1 JSON, one request per event) or `grpc` (HTTP/2,
    /// `Events.ApplyEvents` streams).
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    pub transport: Transport,
    /// Events each gRPC stream keeps in flight (only with --transport grpc).
    #[arg(long, value_name = "N")]
    pub in_flight: Option<usize>,
    /// Instances the events are spread over.
    #[arg(long, default_value_t = 1000)]
    pub instances: usize,
    /// Events to apply in total.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Space the benchmark writes into.
    // Its own id: with the global --space's (`space`), that one's value (or SWITCHYARD_SPACE)
    // would replace this one's.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
    /// Another node of the same cluster; clients are spread round-robin over --server and
    /// every --extra-server (repeatable).
    #[arg(long = "extra-server", value_name = "URL")]
    pub extra_servers: Vec<String>,
    /// Use a machine whose every transition has a CEL guard and an assignment
    /// (`ctx.n >= 0 && event.size() >= 0`, `n: ctx.n + 1`); run with and without it against the
    /// same server to see what expressions cost.
    #[arg(long)]
    pub expressions: bool,
    /// Also apply the events as a service account holding this many grants (the one that
    /// allows them last, after N-1 on other spaces' patterns), right after the run with the
    /// given token, and print both runs and their ratio: what authorising through grants costs.
    #[arg(long, value_name = "N")]
    pub grants: Option<usize>,
}

/// How `bench events` sends events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// HTTP/1.1 JSON, one request in flight per client.
    Http,
    /// gRPC `ApplyEvents` streams, --in-flight events in flight per client.
    Grpc,
}

/// Events a gRPC stream keeps in flight without --in-flight.
const DEFAULT_IN_FLIGHT: usize = 128;

const CYCLE: &str = r#"{
  "name": "bench-cycle",
  "initial": "s0",
  "states": ["s0", "s1", "s2", "s3", "s4"],
  "transitions": [
    {"from": "s0", "event": "next", "to": "s1"},
    {"from": "s1", "event": "next", "to": "s2"},
    {"from": "s2", "event": "next", "to": "s3"},
    {"from": "s3", "event": "next", "to": "s4"},
    {"from": "s4", "event": "next", "to": "s0"}
  ]
}"#;

/// The bench machine with a guard and an assignment on every transition.
const CYCLE_CEL: &str = r#"{
  "name": "bench-cycle-cel",
  "initial": "s0",
  "states": ["s0", "s1", "s2", "s3", "s4"],
  "transitions": [
    {"from": "s0", "event": "next", "to": "s1", "guard": "ctx.n >= 0 && event.size() >= 0", "assign": {"n": "ctx.n + 1"}},
    {"from": "s1", "event": "next", "to": "s2", "guard": "ctx.n >= 0 && event.size() >= 0", "assign": {"n": "ctx.n + 1"}},
    {"from": "s2", "event": "next", "to": "s3", "guard": "ctx.n >= 0 && event.size() >= 0", "assign": {"n": "ctx.n + 1"}},
    {"from": "s3", "event": "next", "to": "s4", "guard": "ctx.n >= 0 && event.size() >= 0", "assign": {"n": "ctx.n + 1"}},
    {"from": "s4", "event": "next", "to": "s0", "guard": "ctx.n >= 0 && event.size() >= 0", "assign": {"n": "ctx.n + 1"}}
  ]
}"#;

/// Which bench machine to drive.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BenchMachine {
    /// Transitions without expressions.
    Plain,
    /// Every transition with a guard and an assignment.
    WithExpressions,
}

impl BenchMachine {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BenchMachine::Plain => "bench-cycle",
            BenchMachine::WithExpressions => "bench-cycle-cel",
        }
    }

    fn definition(self) -> &'static str {
        match self {
            BenchMachine::Plain => CYCLE,
            BenchMachine::WithExpressions => CYCLE_CEL,
        }
    }
}

/// Runs a benchmark against the server `target` is set to (with its token and CA); `token` is
/// the same token, for the raw requests some benchmarks make.
pub async fn run(args: BenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    match args.kind {
        BenchKind::Events(a) => events(a, target).await,
        BenchKind::Watch(a) => crate::bench_streams::watch(a, target, token).await,
        BenchKind::Kv(a) => crate::bench_streams::kv(a, target).await,
        BenchKind::Invoke(a) => crate::bench_functions::invoke(a, target).await,
        BenchKind::Jobs(a) => crate::bench_jobs::jobs(a, target, token).await,
        BenchKind::Workflow(a) => crate::bench_workflow::workflow(a, target, token).await,
        BenchKind::Flow(a) => crate::bench_flow::flow(a, target, token).await,
        BenchKind::Webhooks(a) => crate::bench_webhooks::webhooks(a, target, token).await,
        BenchKind::Console(a) => crate::bench_console::console(a, target, token).await,
        BenchKind::SignIn(a) => sign_in(a, target).await,
        BenchKind::Tenants(a) => crate::bench_tenants::tenants(a, target).await,
    }
}

/// Arguments of `switchyard bench sign-in`.
#[derive(Debug, Clone, clap::Args)]
pub struct SignInArgs {
    /// Concurrent clients, each with one sign-in in flight.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Sign-ins in total.
    #[arg(long, default_value_t = 200)]
    pub sign_ins: usize,
}

/// A suffix no earlier run used: the time in nanoseconds.
fn unique_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Runs `switchyard bench sign-in`.
async fn sign_in(args: SignInArgs, target: &ClientBuilder) -> anyhow::Result<()> {
    if args.clients == 0 || args.sign_ins == 0 {
        bail!("--clients and --sign-ins must both be at least 1");
    }
    const PASSWORD: &str = "bench password, long enough";
    let client = target.build()?;
    let name = format!("bench-user-{}", unique_suffix());
    let created = client.create_principal("user", &name, Some(PASSWORD), &[]).await?;
    let id = created["id"].as_str().context("the user's id")?.to_string();
    let anonymous = target.clone().token(None).build()?;
    eprintln!("signing in {} times with {} clients…", args.sign_ins, args.clients);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let (client, name, clients, total) = (anonymous.clone(), name.clone(), args.clients, args.sign_ins);
        workers.spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
            let mut sessions = Vec::new();
            let mut k = c;
            while k < total {
                let t = Instant::now();
                let session = client.sign_in(&name, PASSWORD).await?;
                let _ = hist.record(t.elapsed().as_micros() as u64);
                sessions.push(session["token"].as_str().unwrap_or_default().to_string());
                k += clients;
            }
            anyhow::Ok((hist, sessions))
        });
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    while let Some(r) = workers.join_next().await {
        let (h, _) = r??;
        hist.add(h)?;
    }
    let elapsed = started.elapsed();
    // The user and its sessions go: a benchmark leaves no way in behind.
    client.delete_principal(&id).await?;
    crate::output::outln!(
        "bench sign-in: {} sign-ins, {} clients, argon2id m=19456 KiB t=2 p=1",
        args.sign_ins,
        args.clients
    )?;
    crate::output::outln!("  throughput  {:.1} sign-ins/s", hist.len() as f64 / elapsed.as_secs_f64())?;
    crate::output::outln!(
        "  latency     p50 {}  p99 {}  max {}",
        fmt_us(hist.value_at_quantile(0.50)),
        fmt_us(hist.value_at_quantile(0.99)),
        fmt_us(hist.max()),
    )?;
    Ok(())
}

async fn events(args: EventsArgs, target: &ClientBuilder) -> anyhow::Result<()> {
    if args.clients == 0 || args.instances == 0 || args.events == 0 {
        bail!("--clients, --instances and --events must all be at least 1");
    }
    if args.grants == Some(0) {
        bail!("--grants must be at least 1");
    }
    let in_flight = match (args.transport, args.in_flight) {
        (Transport::Http, Some(_)) => {
            bail!("--in-flight applies to --transport grpc only (an HTTP client keeps one request in flight)")
        }
        (Transport::Http, None) => 1,
        (Transport::Grpc, Some(0)) => bail!("--in-flight must be at least 1"),
        (Transport::Grpc, n) => n.unwrap_or(DEFAULT_IN_FLIGHT),
    };
    let client = target.build()?;
    let machine = if args.expressions { BenchMachine::WithExpressions } else { BenchMachine::Plain };
    let ids = std::sync::Arc::new(create_instances(&client, &args.space, machine, args.instances, args.clients).await?);

    let mut runs = vec![(String::new(), target.clone())];
    let mut account = None;
    if let Some(n) = args.grants {
        let (id, token) = grants_token(&client, &args.space, n).await?;
        account = Some(id);
        runs.push((format!(" as a service account with {n} grants"), target.clone().token(Some(token))));
    }
    let mut throughputs = Vec::with_capacity(runs.len());
    for (who, target) in &runs {
        let throughput = events_phase(&args, target, machine, ids.clone(), in_flight, who).await;
        if let (Err(_), Some(id)) = (&throughput, &account) {
            let _ = client.delete_principal(id).await;
        }
        throughputs.push(throughput?);
    }
    // The service account and its token go: a benchmark leaves no way in behind.
    if let Some(id) = &account {
        client.delete_principal(id).await?;
    }
    if let [plain, granted] = throughputs[..] {
        crate::output::outln!(
            "bench events: as a service account with {} grants, {:.1}% of the given token's throughput",
            args.grants.unwrap_or(0),
            granted * 100.0 / plain.max(f64::MIN_POSITIVE)
        )?;
    }
    Ok(())
}

/// A service account with `n` grants of `space-writer`: n-1 on patterns of other spaces, then
/// the one on `space` (an authorisation looks at every grant before the one that allows it);
/// its id and a token of it.
async fn grants_token(client: &Client, space: &str, n: usize) -> anyhow::Result<(String, String)> {
    let mut grants: Vec<(String, String)> =
        (1..n).map(|i| ("space-writer".to_string(), format!("bench-other-{i}:orders:*"))).collect();
    grants.push(("space-writer".to_string(), format!("{space}:*")));
    let name = format!("bench-grants-{}", unique_suffix());
    let created = client.create_principal("service", &name, None, &grants).await?;
    let id = created["id"].as_str().context("the principal's id")?.to_string();
    let body = switchyard_client::CreateToken {
        name: name.clone(),
        role: switchyard_client::Role::Admin,
        spaces: vec!["*".into()],
        principal: Some(id.clone()),
    };
    Ok((id, client.create_token(&body).await?.token))
}

/// Applies the events once with `target`'s token; prints the run and answers its events/s.
async fn events_phase(
    args: &EventsArgs,
    target: &ClientBuilder,
    machine: BenchMachine,
    ids: std::sync::Arc<Vec<String>>,
    in_flight: usize,
    who: &str,
) -> anyhow::Result<f64> {
    let client = target.build()?;
    let mut nodes = vec![client.clone()];
    for server in &args.extra_servers {
        nodes.push(target.clone().server(server).build()?);
    }
    let before = server_stats(&nodes).await;
    eprintln!("applying {} events with {} clients over {} node(s)…", args.events, args.clients, nodes.len());
    let bar = crate::progress::bar(args.events as u64, "events");
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    let servers: Vec<&str> =
        std::iter::once(target.server_address()).chain(args.extra_servers.iter().map(String::as_str)).collect();
    for c in 0..args.clients {
        // Client c sends events c, c + clients, c + 2·clients, …; event k goes to instance k mod I.
        let (client, space, ids) = (nodes[c % nodes.len()].clone(), args.space.clone(), ids.clone());
        let (clients, total, bar) = (args.clients, args.events, bar.clone());
        if args.transport == Transport::Grpc {
            let grpc = target.clone().server(servers[c % servers.len()]).build_grpc()?;
            let plan = StreamPlan { first: c, step: clients, total, in_flight };
            workers.spawn(async move { grpc_events(grpc, space, machine, ids, plan, bar).await });
            continue;
        }
        workers.spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
            let mut errors = 0u64;
            let mut k = c;
            while k < total {
                let id = &ids[k % ids.len()];
                let req = SendEvent { event: "next".into(), ..Default::default() };
                let t = Instant::now();
                match client.send_event(&space, machine.name(), id, &req).await {
                    Ok(_) => {
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
                bar.inc(1);
                k += clients;
            }
            Ok((hist, errors))
        });
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    while let Some(r) = workers.join_next().await {
        let (h, e) = r??;
        hist.add(h)?;
        errors += e;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let after = server_stats(&nodes).await;

    let ok = hist.len();
    let transport = match args.transport {
        Transport::Http => "HTTP/1.1".to_owned(),
        Transport::Grpc => format!("gRPC, {in_flight} in flight per stream"),
    };
    crate::output::outln!(
        "bench events{who}: {} clients ({transport}), {} instances, {} events, {} node(s), machine {}",
        args.clients,
        args.instances,
        args.events,
        nodes.len(),
        machine.name()
    )?;
    crate::output::outln!("  ok {ok}, errors {errors}, in {:.2?}", elapsed)?;
    crate::output::outln!("  throughput  {:.0} events/s", ok as f64 / elapsed.as_secs_f64())?;
    crate::output::outln!(
        "  latency     p50 {}  p99 {}  p999 {}  max {}",
        fmt_us(hist.value_at_quantile(0.50)),
        fmt_us(hist.value_at_quantile(0.99)),
        fmt_us(hist.value_at_quantile(0.999)),
        fmt_us(hist.max()),
    )?;
    match (before, after) {
        (Some(b), Some(a)) if a.commits > b.commits => {
            crate::output::outln!(
                "  group commit: {:.1} operations per commit on average ({} commits)",
                (a.batched_ops - b.batched_ops) / (a.commits - b.commits),
                a.commits - b.commits
            )?;
            // The switchyard processes only: a PostgreSQL server's own CPU is not in it.
            let cpu = a.cpu_seconds - b.cpu_seconds;
            crate::output::outln!(
                "  server CPU: {:.0} µs per event ({:.0}% of one core, switchyard processes)",
                cpu * 1e6 / ok.max(1) as f64,
                cpu * 100.0 / elapsed.as_secs_f64(),
            )?;
        }
        _ => crate::output::outln!("  group commit and server CPU: not measured (no access to /metrics)")?,
    }
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(ok as f64 / elapsed.as_secs_f64())
}

/// Which events one gRPC stream sends: `first`, `first + step`, … below `total`, with at most
/// `in_flight` unanswered.
struct StreamPlan {
    first: usize,
    step: usize,
    total: usize,
    in_flight: usize,
}

/// Sends one client's events on one `ApplyEvents` stream, keeping `plan.in_flight` unanswered;
/// each is timed from when it was handed to the stream until its answer arrived.
async fn grpc_events(
    client: switchyard_client::grpc::GrpcClient,
    space: String,
    machine: BenchMachine,
    ids: std::sync::Arc<Vec<String>>,
    plan: StreamPlan,
    bar: indicatif::ProgressBar,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use switchyard_client::grpc::v1;

    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0u64;
    let permits = Arc::new(tokio::sync::Semaphore::new(plan.in_flight));
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::ApplyEventsRequest>(plan.in_flight);
    let sender = {
        let (permits, sent_at) = (permits.clone(), sent_at.clone());
        tokio::spawn(async move {
            let mut k = plan.first;
            while k < plan.total {
                let Ok(permit) = permits.acquire().await else { return };
                permit.forget();
                let event = v1::ApplyEventRequest {
                    space: space.clone(),
                    machine: machine.name().to_owned(),
                    instance: ids[k % ids.len()].clone(),
                    event: "next".to_owned(),
                    ..Default::default()
                };
                sent_at.lock().unwrap_or_else(|p| p.into_inner()).insert(k as u64, Instant::now());
                if tx.send(v1::ApplyEventsRequest { correlation_id: k as u64, event: Some(event) }).await.is_err() {
                    return;
                }
                k += plan.step;
            }
        })
    };
    let events = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    let mut answers = client.apply_events(events).await?;
    while let Some(answer) = answers.message().await.map_err(switchyard_client::grpc::status_error)? {
        let sent = sent_at.lock().unwrap_or_else(|p| p.into_inner()).remove(&answer.correlation_id);
        match answer.result {
            Some(v1::apply_events_response::Result::Applied(_)) => {
                if let Some(t) = sent {
                    let _ = hist.record(t.elapsed().as_micros() as u64);
                }
            }
            _ => errors += 1,
        }
        permits.add_permits(1);
        bar.inc(1);
    }
    sender.abort();
    Ok((hist, errors))
}

/// Puts the bench machine and creates `count` new instances of it with `clients` concurrent
/// requests; returns their ids.
pub(crate) async fn create_instances(
    client: &Client,
    space: &str,
    machine: BenchMachine,
    count: usize,
    clients: usize,
) -> anyhow::Result<Vec<String>> {
    client
        .put_machine(space, machine.name(), machine.definition().as_bytes().to_vec(), "application/json")
        .await
        .context("putting the bench machine")?;
    let run_id = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    let ids: Vec<String> = (0..count).map(|i| format!("b{run_id}-{i}")).collect();
    eprintln!("creating {} instances…", ids.len());
    let bar = crate::progress::bar(ids.len() as u64, "instances");
    let create_started = Instant::now();
    let mut creators = tokio::task::JoinSet::new();
    for chunk in ids.chunks(ids.len().div_ceil(clients.clamp(1, ids.len().max(1)))) {
        let (client, space, chunk, bar) = (client.clone(), space.to_string(), chunk.to_vec(), bar.clone());
        creators.spawn(async move {
            for id in chunk {
                let ctx = match machine {
                    BenchMachine::Plain => None,
                    BenchMachine::WithExpressions => {
                        Some(serde_json::Map::from_iter([("n".to_owned(), serde_json::Value::from(0))]))
                    }
                };
                let req = CreateInstance { id: Some(id), ctx, ..Default::default() };
                client.create_instance(&space, machine.name(), &req).await?;
                bar.inc(1);
            }
            Ok::<_, switchyard_client::ClientError>(())
        });
    }
    while let Some(r) = creators.join_next().await {
        r?.context("creating bench instances")?;
    }
    bar.finish_and_clear();
    eprintln!("created in {:.2?}", create_started.elapsed());
    Ok(ids)
}

/// One unlabelled value from a server's `/metrics`.
pub(crate) async fn metric(client: &Client, name: &str) -> Option<f64> {
    let text = metrics_text(client).await?;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

/// A server's `/metrics`; `None` when it cannot be read (within 10 s).
async fn metrics_text(client: &Client) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), client.metrics()).await.ok()?.ok()
}

pub(crate) fn fmt_us(us: u64) -> String {
    if us >= 1000 { format!("{:.2}ms", us as f64 / 1000.0) } else { format!("{us}µs") }
}

/// The commit batch-size histograms and CPU time of every server, from `/metrics`, summed.
async fn server_stats(nodes: &[Client]) -> Option<ServerStats> {
    let mut total = ServerStats::default();
    for node in nodes {
        let node = node_stats(node).await?;
        total.batched_ops += node.batched_ops;
        total.commits += node.commits;
        total.cpu_seconds += node.cpu_seconds;
    }
    Some(total)
}

/// Counters read from the servers' `/metrics`, summed over the nodes.
#[derive(Debug, Default, Clone, Copy)]
struct ServerStats {
    /// Sum of the commit batch-size histogram: operations committed.
    batched_ops: f64,
    /// Count of the commit batch-size histogram: commits.
    commits: f64,
    /// CPU time the processes have used.
    cpu_seconds: f64,
}

/// One server's commit batch-size histogram and CPU time.
async fn node_stats(node: &Client) -> Option<ServerStats> {
    let text = metrics_text(node).await?;
    let value =
        |name: &str| text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse::<f64>().ok()));
    Some(ServerStats {
        batched_ops: value("switchyard_store_commit_batch_size_sum")?,
        commits: value("switchyard_store_commit_batch_size_count")?,
        cpu_seconds: value("switchyard_process_cpu_seconds")?,
    })
}
