//! `switchyard bench tenants`: a quiet tenant's latency alone, then while a noisy tenant floods
//! the server past its quota — what one tenant over its rate costs another.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use hdrhistogram::Histogram;
use serde_json::json;
use switchyard_client::{Client, ClientBuilder, SendEvent};

use crate::bench::{BenchMachine, create_instances, fmt_us};

/// Arguments of `switchyard bench tenants`.
#[derive(Debug, Clone, clap::Args)]
pub struct TenantsBenchArgs {
    /// The quiet tenant's clients, each with one event in flight.
    #[arg(long, default_value_t = 4)]
    pub quiet_clients: usize,
    /// The noisy tenant's clients, each with one event in flight, as fast as answers come.
    #[arg(long, default_value_t = 32)]
    pub noisy_clients: usize,
    /// The noisy tenant's quota, in requests (and events) a second.
    #[arg(long, default_value_t = 200)]
    pub noisy_rate: u32,
    /// Requests a second the noisy tenant sends in all, spread over its clients; 0 sends as
    /// fast as answers come (a flood, which also spends this machine's CPU on the sending).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub noisy_offered: u32,
    /// How long each phase lasts (quiet alone, then quiet beside the noisy tenant).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
}

/// What a phase's clients saw.
struct Phase {
    latency: Histogram<u64>,
    elapsed: Duration,
}

/// Runs `switchyard bench tenants`.
pub async fn tenants(args: TenantsBenchArgs, target: &ClientBuilder) -> anyhow::Result<()> {
    if args.quiet_clients == 0 || args.noisy_clients == 0 || args.noisy_rate == 0 || args.duration.is_zero() {
        bail!("--quiet-clients, --noisy-clients, --noisy-rate and --duration must all be above zero");
    }
    let client = target.build()?;
    let suffix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let (quiet, noisy) = (format!("bench-quiet-{suffix}"), format!("bench-noisy-{suffix}"));
    let machine = BenchMachine::Plain;
    let quiet_ids = Arc::new(create_instances(&client, &quiet, machine, args.quiet_clients, args.quiet_clients).await?);
    let noisy_ids = Arc::new(create_instances(&client, &noisy, machine, args.noisy_clients, args.noisy_clients).await?);
    let rate = args.noisy_rate;
    client.set_quota(&noisy, &json!({ "requests_per_second": rate, "events_per_second": rate })).await?;

    eprintln!("phase 1: {} quiet clients alone for {:?}…", args.quiet_clients, args.duration);
    let alone = quiet_phase(&client, &quiet, machine, &quiet_ids, args.duration).await?;

    eprintln!("phase 2: the same beside {} noisy clients over a quota of {rate}/s…", args.noisy_clients);
    let stop = Arc::new(AtomicBool::new(false));
    let (admitted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut noise = tokio::task::JoinSet::new();
    // Each client's share of the offered rate, as the time between its requests.
    let period = (args.noisy_offered > 0)
        .then(|| Duration::from_secs_f64(args.noisy_clients as f64 / f64::from(args.noisy_offered)));
    for c in 0..args.noisy_clients {
        let (client, space, ids) = (client.clone(), noisy.clone(), noisy_ids.clone());
        let (stop, admitted, refused) = (stop.clone(), admitted.clone(), refused.clone());
        noise.spawn(async move {
            let mut tick = period.map(|p| {
                let mut tick = tokio::time::interval(p);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick
            });
            while !stop.load(Ordering::Relaxed) {
                if let Some(tick) = tick.as_mut() {
                    tick.tick().await;
                }
                let req = SendEvent { event: "next".into(), ..Default::default() };
                match client.send_event(&space, machine.name(), &ids[c], &req).await {
                    Ok(_) => admitted.fetch_add(1, Ordering::Relaxed),
                    Err(e) if e.code() == Some("rate_limited") => refused.fetch_add(1, Ordering::Relaxed),
                    Err(e) => return Err(anyhow::Error::from(e)),
                };
            }
            anyhow::Ok(())
        });
    }
    let beside = quiet_phase(&client, &quiet, machine, &quiet_ids, args.duration).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = noise.join_next().await {
        r??;
    }
    let beside = beside?;
    // The quota and both spaces go: a benchmark leaves nothing behind.
    client.delete_quota(&noisy).await?;
    for space in [&quiet, &noisy] {
        client.delete_space(space).await?;
    }

    let secs = beside.elapsed.as_secs_f64();
    let offered = match args.noisy_offered {
        0 => "as fast as answers come".to_string(),
        n => format!("offering {n}/s"),
    };
    crate::output::outln!(
        "bench tenants: {} quiet clients; {} noisy clients {offered} over a quota of {rate}/s",
        args.quiet_clients,
        args.noisy_clients
    )?;
    for (name, phase) in [("alone ", &alone), ("beside", &beside)] {
        crate::output::outln!(
            "  quiet {name}  {:.1} events/s  p50 {}  p99 {}  max {}",
            phase.latency.len() as f64 / phase.elapsed.as_secs_f64(),
            fmt_us(phase.latency.value_at_quantile(0.50)),
            fmt_us(phase.latency.value_at_quantile(0.99)),
            fmt_us(phase.latency.max()),
        )?;
    }
    crate::output::outln!(
        "  noisy         {:.1} admitted/s, {:.1} refused/s (429 rate_limited)",
        admitted.load(Ordering::Relaxed) as f64 / secs,
        refused.load(Ordering::Relaxed) as f64 / secs,
    )?;
    let ratio = |q: f64| beside.latency.value_at_quantile(q) as f64 / alone.latency.value_at_quantile(q).max(1) as f64;
    crate::output::outln!("  quiet latency beside / alone: p50 ×{:.2}, p99 ×{:.2}", ratio(0.50), ratio(0.99))?;
    Ok(())
}

/// The quiet tenant's clients apply events for `duration`, one in flight each.
async fn quiet_phase(
    client: &Client,
    space: &str,
    machine: BenchMachine,
    ids: &Arc<Vec<String>>,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for c in 0..ids.len() {
        let (client, space, ids) = (client.clone(), space.to_owned(), ids.clone());
        workers.spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
            while started.elapsed() < duration {
                let req = SendEvent { event: "next".into(), ..Default::default() };
                let t = Instant::now();
                client.send_event(&space, machine.name(), &ids[c], &req).await?;
                let _ = hist.record(t.elapsed().as_micros() as u64);
            }
            anyhow::Ok(hist)
        });
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    while let Some(r) = workers.join_next().await {
        latency.add(r??)?;
    }
    Ok(Phase { latency, elapsed: started.elapsed() })
}
