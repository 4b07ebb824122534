//! `switchyard bench watch` and `switchyard bench kv`.
//!
//! `watch` opens many SSE watchers, then applies events at a fixed rate; each event carries the
//! wall-clock time it was sent, so every watcher measures delivery latency (from the writer
//! sending the event to the watcher reading it) and counts what it got. It reports whether
//! every watcher received every event, the latency distribution and the server's CPU time.
//! `kv` measures durable puts, then gets, with one request in flight per client.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use switchyard_client::{ClientBuilder, KvCondition, KvPutOptions, SendEvent};

/// Arguments of `switchyard bench watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchBenchArgs {
    /// Concurrent SSE watchers, each following every event.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Events applied per second, in total.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// How long events are applied, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Concurrent writers sharing the rate.
    #[arg(long, default_value_t = 32)]
    pub writers: usize,
    /// Instances the events are spread over.
    #[arg(long, default_value_t = 1000)]
    pub instances: usize,
    /// Space the benchmark writes into.
    // Its own id: with the global --space's (`space`), that one's value (or SWITCHYARD_SPACE)
    // would replace this one's.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

/// Arguments of `switchyard bench kv`.
#[derive(Debug, Clone, clap::Args)]
pub struct KvBenchArgs {
    /// Concurrent clients (each keeps one request in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Puts in total.
    #[arg(long, default_value_t = 200_000)]
    pub puts: usize,
    /// Gets in total.
    #[arg(long, default_value_t = 500_000)]
    pub gets: usize,
    /// Distinct keys written and read.
    #[arg(long, default_value_t = 10_000)]
    pub keys: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 128)]
    pub value_size: usize,
    /// Space the benchmark writes into.
    // Its own id: with the global --space's (`space`), that one's value (or SWITCHYARD_SPACE)
    // would replace this one's.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Runs `bench watch`.
pub async fn watch(args: WatchBenchArgs, target: &ClientBuilder, token: Option<&str>) -> anyhow::Result<()> {
    if args.watchers == 0 || args.rate == 0 || args.writers == 0 || args.instances == 0 {
        bail!("--watchers, --rate, --writers and --instances must all be at least 1");
    }
    let client = target.build()?;
    let ids = crate::bench::create_instances(
        &client,
        &args.space,
        crate::bench::BenchMachine::Plain,
        args.instances,
        args.writers,
    )
    .await?;

    eprintln!("opening {} watchers…", args.watchers);
    let http = target.reqwest_builder().pool_max_idle_per_host(0).build()?;
    let url = format!(
        "{}/v1/spaces/{}/watch?kind=instance.transitioned&address={}:bench-cycle:*",
        client.server().as_str().trim_end_matches('/'),
        args.space,
        args.space
    );
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(args.watchers);
    let (expected_tx, expected_rx) = tokio::sync::watch::channel(u64::MAX);
    let mut watchers = tokio::task::JoinSet::new();
    for _ in 0..args.watchers {
        let mut request = http.get(&url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let (ready, mut expected) = (ready_tx.clone(), expected_rx.clone());
        watchers.spawn(async move {
            let mut response = request.send().await?.error_for_status()?;
            let _ = ready.send(()).await;
            let mut hist = histogram();
            // Counted by seq: a duplicate or a step back is an error, not an extra delivery.
            let (mut got, mut last_seq, mut out_of_order) = (0u64, 0u64, 0u64);
            let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
            loop {
                if got >= *expected.borrow() {
                    break;
                }
                let chunk = tokio::select! {
                    chunk = response.chunk() => chunk?,
                    _ = expected.changed() => continue,
                };
                let Some(chunk) = chunk else { break };
                let received = now_us();
                buffer.extend_from_slice(&chunk);
                // Each record's data line carries `"sent_us":N` from the event payload.
                let mut consumed = 0;
                while let Some(end) = find(&buffer[consumed..], b"\n\n") {
                    let frame = &buffer[consumed..consumed + end];
                    if let (Some(sent), Some(seq)) = (sent_us(frame), frame_id(frame)) {
                        if seq > last_seq {
                            last_seq = seq;
                            got += 1;
                            let _ = hist.record(received.saturating_sub(sent).max(1));
                        } else {
                            out_of_order += 1;
                        }
                    }
                    consumed += end + 2;
                }
                buffer.drain(..consumed);
            }
            Ok::<_, anyhow::Error>((got, out_of_order, hist))
        });
    }
    drop(ready_tx);
    let open_deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..args.watchers {
        let left = open_deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, ready_rx.recv()).await.context("watchers did not open within 60 s")?;
    }

    let cpu_before = crate::bench::metric(&client, "switchyard_process_cpu_seconds").await;
    eprintln!(
        "applying {} events/s for {:.1?} with {} writers while {} watchers follow…",
        args.rate, args.duration, args.writers, args.watchers
    );
    // The bar counts events against what the rate promises over the duration.
    let target = (args.rate as f64 * args.duration.as_secs_f64()) as u64;
    let bar = crate::progress::bar(target.max(1), "events");
    let started = Instant::now();
    let per_writer = args.rate as f64 / args.writers as f64;
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..args.writers {
        let (client, space, ids, duration, bar) =
            (client.clone(), args.space.clone(), ids.clone(), args.duration, bar.clone());
        writers.spawn(async move {
            let (mut sent, mut errors, mut k) = (0u64, 0u64, w);
            let interval = Duration::from_secs_f64(1.0 / per_writer);
            let mut next = Instant::now();
            while started.elapsed() < duration {
                let req = SendEvent {
                    event: "next".into(),
                    payload: json!({ "sent_us": now_us() }).as_object().cloned(),
                    ..Default::default()
                };
                match client.send_event(&space, "bench-cycle", &ids[k % ids.len()], &req).await {
                    Ok(_) => sent += 1,
                    Err(_) => errors += 1,
                }
                bar.inc(1);
                k += 7;
                next += interval;
                let now = Instant::now();
                if next > now {
                    tokio::time::sleep(next - now).await;
                }
            }
            (sent, errors)
        });
    }
    let (mut sent, mut errors) = (0, 0);
    while let Some(r) = writers.join_next().await {
        let (s, e) = r?;
        sent += s;
        errors += e;
    }
    let write_elapsed = started.elapsed();
    bar.finish_and_clear();
    let _ = expected_tx.send(sent);
    let mut hist = histogram();
    let (mut complete, mut least, mut total, mut repeats) = (0usize, u64::MAX, 0u64, 0u64);
    let drain = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(r) = watchers.join_next().await {
            let (got, out_of_order, h) = r??;
            hist.add(h)?;
            repeats += out_of_order;
            total += got;
            least = least.min(got);
            if got == sent {
                complete += 1;
            }
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
    let all_elapsed = started.elapsed();
    let cpu_after = crate::bench::metric(&client, "switchyard_process_cpu_seconds").await;

    crate::output::outln!(
        "bench watch: {} watchers, {} events/s target, {:.1?}",
        args.watchers,
        args.rate,
        args.duration
    )?;
    crate::output::outln!(
        "  events applied {sent} ({:.0}/s), errors {errors}",
        sent as f64 / write_elapsed.as_secs_f64()
    )?;
    crate::output::outln!(
        "  watchers with every event: {complete} of {}; fewest received {}; deliveries {total} ({:.0}/s); \
         duplicates or out of order {repeats}",
        args.watchers,
        if least == u64::MAX { 0 } else { least },
        total as f64 / all_elapsed.as_secs_f64()
    )?;
    crate::output::outln!(
        "  delivery latency (sent → read)  p50 {}  p99 {}  p999 {}  max {}",
        crate::bench::fmt_us(hist.value_at_quantile(0.50)),
        crate::bench::fmt_us(hist.value_at_quantile(0.99)),
        crate::bench::fmt_us(hist.value_at_quantile(0.999)),
        crate::bench::fmt_us(hist.max()),
    )?;
    match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => crate::output::outln!(
            "  server CPU: {:.1} s over {:.1} s ({:.0}% of one core)",
            b - a,
            all_elapsed.as_secs_f64(),
            100.0 * (b - a) / all_elapsed.as_secs_f64()
        )?,
        _ => crate::output::outln!("  server CPU: not measured (no access to /metrics)")?,
    }
    if drain.is_err() {
        bail!("watchers were still missing events 60 s after the writers stopped");
    }
    if errors > 0 || complete < args.watchers || repeats > 0 {
        bail!(
            "{errors} writes failed; {} watchers missed events; {repeats} records arrived twice or out of order",
            args.watchers - complete
        );
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `id:` (the record's seq) of an SSE frame.
fn frame_id(frame: &[u8]) -> Option<u64> {
    let line = frame.split(|b| *b == b'\n').find_map(|line| line.strip_prefix(b"id:"))?;
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

/// The `sent_us` number in an SSE frame, without parsing the JSON around it.
fn sent_us(frame: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"sent_us\":";
    let at = find(frame, KEY)? + KEY.len();
    let digits = frame[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&frame[at..at + digits]).ok()?.parse().ok()
}

/// Runs `bench kv`.
pub async fn kv(args: KvBenchArgs, target: &ClientBuilder) -> anyhow::Result<()> {
    if args.clients == 0 || args.keys == 0 || (args.puts == 0 && args.gets == 0) {
        bail!("--clients and --keys must be at least 1, and --puts or --gets too");
    }
    let client = target.build()?;
    let bucket = format!("b{:x}", now_us());
    let value = vec![b'x'; args.value_size];

    // Every key is written once before gets start, so gets always find a value.
    let puts = args.puts.max(args.keys);
    eprintln!(
        "putting {puts} values of {} bytes over {} keys with {} clients…",
        args.value_size, args.keys, args.clients
    );
    let keys = args.keys;
    let (c, space, b) = (client.clone(), args.space.clone(), bucket.clone());
    let (put_hist, put_errors, put_elapsed) =
        drive(args.clients, puts, "puts", move |k| {
            let (client, space, bucket, value) = (c.clone(), space.clone(), b.clone(), value.clone());
            let key = format!("k{}", k % keys);
            async move {
                client.kv_put(&space, &bucket, &key, value, &KvPutOptions::when(KvCondition::Always)).await.map(drop)
            }
        })
        .await?;
    eprintln!("getting {} values with {} clients…", args.gets, args.clients);
    let (c, space) = (client.clone(), args.space.clone());
    let (get_hist, get_errors, get_elapsed) = drive(args.clients, args.gets, "gets", move |k| {
        let (client, space, bucket) = (c.clone(), space.clone(), bucket.clone());
        let key = format!("k{}", (k * 7919) % keys);
        async move { client.kv_get(&space, &bucket, &key).await.map(drop) }
    })
    .await?;

    crate::output::outln!("bench kv: {} clients, {} keys, {}-byte values", args.clients, args.keys, args.value_size)?;
    for (what, n, hist, errors, elapsed) in
        [("puts", puts, &put_hist, put_errors, put_elapsed), ("gets", args.gets, &get_hist, get_errors, get_elapsed)]
    {
        if n == 0 {
            continue;
        }
        crate::output::outln!(
            "  {what}: {:.0}/s ({} ok, {errors} errors in {:.2?}); latency p50 {}  p99 {}  max {}",
            hist.len() as f64 / elapsed.as_secs_f64(),
            hist.len(),
            elapsed,
            crate::bench::fmt_us(hist.value_at_quantile(0.50)),
            crate::bench::fmt_us(hist.value_at_quantile(0.99)),
            crate::bench::fmt_us(hist.max()),
        )?;
    }
    if put_errors + get_errors > 0 {
        bail!("{} requests failed", put_errors + get_errors);
    }
    Ok(())
}

/// Runs `total` requests made by `request(k)` on `clients` concurrent tasks (one in flight
/// each), counting them as `what` on a progress bar; returns the latency histogram, the error
/// count and the elapsed time.
pub(crate) async fn drive<F, Fut>(
    clients: usize,
    total: usize,
    what: &str,
    request: F,
) -> anyhow::Result<(Histogram<u64>, u64, Duration)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), switchyard_client::ClientError>> + Send,
{
    let bar = crate::progress::bar(total as u64, what);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (request, bar) = (request.clone(), bar.clone());
        tasks.spawn(async move {
            let mut hist = histogram();
            let mut errors = 0u64;
            let mut k = c;
            while k < total {
                let t = Instant::now();
                match request(k).await {
                    Ok(()) => {
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
                bar.inc(1);
                k += clients;
            }
            (hist, errors)
        });
    }
    let mut hist = histogram();
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (h, e) = r?;
        hist.add(h)?;
        errors += e;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok((hist, errors, elapsed))
}
