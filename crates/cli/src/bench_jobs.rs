//! `switchyard bench jobs`: many producers enqueue no-op jobs over HTTP while the server's
//! scheduler runs them; reports jobs enqueued and completed per second, end to end, and the
//! scheduling lag (now − due time when an attempt started) from the server's histogram.

use std::time::{Duration, Instant};

use anyhow::bail;
use switchyard_client::ClientBuilder;

use crate::bench::fmt_us;

/// Arguments of `switchyard bench jobs`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobsBenchArgs {
    /// Concurrent producers (each keeps one enqueue in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Jobs to enqueue and run.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    /// Instead of running jobs, enqueue this many timers due in a day, and report what holding
    /// them costs the server (its resident memory before and after, from /proc when the server
    /// runs on this machine and --server-pid is given).
    #[arg(long, default_value_t = 0)]
    pub timers: usize,
    /// Enqueue at this many jobs per second in all (spread over the producers), to measure the
    /// scheduling lag of a load the server keeps up with; 0 enqueues as fast as it answers.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// The server's process id, to read its resident memory (Linux, same machine).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Space the benchmark writes into.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

/// A counter's value in Prometheus text (the sum over its series), 0 when absent.
fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let bare = series.split('{').next()?;
            (bare == name).then(|| value.trim().parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// Jobs of `space` still pending or running, from the per-space gauge (read from the store, so
/// the same through any node: jobs run by other nodes sharing it count too).
pub(crate) fn outstanding(text: &str, space: &str) -> f64 {
    let space = format!("space=\"{space}\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("switchyard_jobs{")?;
            let (labels, value) = rest.split_once("} ")?;
            let counted = labels.split(',').any(|l| l == space)
                && labels.split(',').any(|l| l == "status=\"pending\"" || l == "status=\"running\"");
            counted.then(|| value.trim().parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// The scheduling-lag histogram's cumulative buckets: (upper bound in seconds, count).
pub(crate) fn lag_buckets(text: &str) -> Vec<(f64, f64)> {
    let prefix = "switchyard_job_scheduling_lag_seconds_bucket{le=\"";
    let mut out: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(prefix)?;
            let (le, rest) = rest.split_once("\"}")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, rest.trim().parse().ok()?))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The bucket bound under which `q` of the lags between two scrapes fell.
pub(crate) fn lag_quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let deltas: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| (*le, n - before.iter().find(|(b, _)| b == le).map(|(_, m)| *m).unwrap_or(0.0)))
        .collect();
    let total = deltas.last()?.1;
    if total <= 0.0 {
        return None;
    }
    deltas.iter().find(|(_, n)| *n >= total * q).map(|(le, _)| *le)
}

fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `bench jobs`.
pub async fn jobs(args: JobsBenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    if args.clients == 0 || (args.jobs == 0 && args.timers == 0) {
        bail!("--clients, and --jobs or --timers, must be at least 1");
    }
    let client = target.build()?;
    let http = target.reqwest_builder().build()?;
    let url = format!("{}/v1/spaces/{}/jobs", client.server().as_str().trim_end_matches('/'), args.space);
    let (total, body) = if args.timers > 0 {
        (args.timers, serde_json::json!({ "kind": "noop", "delay_ms": 86_400_000u64 }))
    } else {
        (args.jobs, serde_json::json!({ "kind": "noop" }))
    };
    let body = serde_json::to_vec(&body)?;
    let rss_before = args.server_pid.and_then(resident_bytes);
    let before = client.metrics().await?;
    let lag_before = lag_buckets(&before);
    let succeeded_before = counter(&before, "switchyard_job_successes_total");

    eprintln!(
        "enqueueing {total} {} with {} producers…",
        if args.timers > 0 { "timers" } else { "jobs" },
        args.clients
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let (http, url, body, token) = (http.clone(), url.clone(), body.clone(), token.map(str::to_string));
        let (clients, rate) = (args.clients, args.rate);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut k = c;
            while k < total {
                if rate > 0 {
                    // Job k is due k / rate seconds after the start, whichever producer sends it.
                    let due = started + Duration::from_secs_f64(k as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let t = Instant::now();
                let mut request = http.post(&url).header("content-type", "application/json").body(body.clone());
                if let Some(t) = &token {
                    request = request.bearer_auth(t);
                }
                match request.send().await.map(|r| r.status().is_success()) {
                    Ok(true) => latencies.push(t.elapsed().as_micros() as u64),
                    _ => errors += 1,
                }
                k += clients;
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r?;
        latencies.extend(l);
        errors += e;
    }
    let enqueued_in = started.elapsed();
    latencies.sort_unstable();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    crate::output::outln!(
        "bench jobs: enqueued {:.0}/s ({} ok, {errors} errors in {:.2?}); enqueue latency p50 {}  p99 {}",
        latencies.len() as f64 / enqueued_in.as_secs_f64(),
        latencies.len(),
        enqueued_in,
        fmt_us(pct(0.50)),
        fmt_us(pct(0.99)),
    )?;
    if errors > 0 {
        bail!("{errors} enqueues failed");
    }
    if args.timers > 0 {
        if let (Some(before), Some(after)) = (rss_before, args.server_pid.and_then(resident_bytes)) {
            crate::output::outln!(
                "  {total} pending timers: server resident memory {:.1} MiB → {:.1} MiB ({:+.1} MiB)",
                before as f64 / 1048576.0,
                after as f64 / 1048576.0,
                (after as f64 - before as f64) / 1048576.0
            )?;
        }
        return Ok(());
    }
    // End to end: from the first enqueue until every job succeeded: by this node's scheduler,
    // or, with several nodes sharing a store, until none of the space's jobs is left.
    let deadline = Instant::now() + Duration::from_secs(600);
    let after = loop {
        let text = client.metrics().await?;
        let here = counter(&text, "switchyard_job_successes_total") - succeeded_before;
        if here >= total as f64 || outstanding(&text, &args.space) == 0.0 {
            break text;
        }
        if Instant::now() > deadline {
            bail!("the jobs did not all succeed within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let completed_in = started.elapsed();
    let lag_after = lag_buckets(&after);
    let quantile = |q| {
        lag_quantile(&lag_before, &lag_after, q)
            .map(|s| if s.is_finite() { format!("≤ {}", fmt_us((s * 1e6) as u64)) } else { "> 30 s".into() })
            .unwrap_or_else(|| "n/a".into())
    };
    let cpu = counter(&after, "switchyard_process_cpu_seconds") - counter(&before, "switchyard_process_cpu_seconds");
    crate::output::outln!(
        "  completed {:.0} jobs/s end to end ({total} in {:.2?}, {:.0} of them on this node); this node's \
         scheduling lag p50 {}  p99 {}, CPU {:.0} µs per job it ran",
        total as f64 / completed_in.as_secs_f64(),
        completed_in,
        counter(&after, "switchyard_job_successes_total") - succeeded_before,
        quantile(0.50),
        quantile(0.99),
        cpu * 1e6 / (counter(&after, "switchyard_job_successes_total") - succeeded_before).max(1.0),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_their_series_and_quantiles_read_bucket_bounds() {
        let text = "# TYPE x counter\nswitchyard_job_successes_total 7\nswitchyard_jobs{space=\"a\",status=\"dead\"} 2\nswitchyard_jobs{space=\"b\",status=\"dead\"} 3\n";
        assert_eq!(counter(text, "switchyard_job_successes_total"), 7.0);
        assert_eq!(counter(text, "switchyard_jobs"), 5.0);
        let before = vec![(0.001, 0.0), (0.01, 0.0), (f64::INFINITY, 0.0)];
        let after = vec![(0.001, 90.0), (0.01, 99.0), (f64::INFINITY, 100.0)];
        assert_eq!(lag_quantile(&before, &after, 0.5), Some(0.001));
        assert_eq!(lag_quantile(&before, &after, 0.99), Some(0.01));
        assert_eq!(lag_quantile(&before, &after, 1.0), Some(f64::INFINITY));
        let text = "switchyard_job_scheduling_lag_seconds_bucket{le=\"0.005\"} 4\nswitchyard_job_scheduling_lag_seconds_bucket{le=\"+Inf\"} 5\n";
        assert_eq!(lag_buckets(text), vec![(0.005, 4.0), (f64::INFINITY, 5.0)]);
        let gauges = "switchyard_jobs{space=\"bench\",status=\"pending\"} 4\nswitchyard_jobs{space=\"bench\",status=\"running\"} 2\nswitchyard_jobs{space=\"bench\",status=\"dead\"} 9\nswitchyard_jobs{space=\"other\",status=\"pending\"} 5\n";
        assert_eq!(outstanding(gauges, "bench"), 6.0, "pending and running of the space only");
        assert_eq!(outstanding(gauges, "none"), 0.0);
    }
}
