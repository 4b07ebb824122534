//! `switchyard bench invoke`: synchronous invocations of a function over HTTP.

use std::time::Instant;

use anyhow::{Context, bail};
use switchyard_client::{ClientBuilder, FunctionSettings, InvokeOptions};

use crate::bench::fmt_us;
use crate::bench_streams::drive;

/// Arguments of `switchyard bench invoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct InvokeBenchArgs {
    /// The component to deploy and invoke (the `hello` example:
    /// examples/functions/target/wasm32-wasip2/release/hello.wasm).
    #[arg(long, value_name = "FILE")]
    pub component: std::path::PathBuf,
    /// The input of every invocation.
    #[arg(long, default_value = r#"{"name":"bench"}"#)]
    pub input: String,
    /// Concurrent clients (each keeps one request in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Invocations to make.
    #[arg(long, default_value_t = 100_000)]
    pub invocations: usize,
    /// Space the benchmark writes into.
    // Not --space, as in the other benchmarks: sharing the global --space's id, that one's value
    // (or SWITCHYARD_SPACE) replaced this one's.
    #[arg(long = "bench-space", id = "bench_space", default_value = "bench")]
    pub space: String,
}

/// A gauge's value in Prometheus text, 0 when absent.
fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Runs `bench invoke`.
pub async fn invoke(args: InvokeBenchArgs, target: &ClientBuilder) -> anyhow::Result<()> {
    if args.clients == 0 || args.invocations == 0 {
        bail!("--clients and --invocations must be at least 1");
    }
    let component =
        std::fs::read(&args.component).with_context(|| format!("cannot read {}", args.component.display()))?;
    let client = target.build()?;
    // A fresh name, so the deploy compiles (unless this component was compiled before: then the
    // figure shows the cached path).
    let name = format!("bench-{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros());
    let input = args.input.clone().into_bytes();

    let deploy_started = Instant::now();
    client.deploy_function(&args.space, &name, &component, &FunctionSettings::default()).await?;
    let deployed = deploy_started.elapsed();
    let first = Instant::now();
    client.invoke(&args.space, &name, input.clone(), &InvokeOptions::default()).await?;
    let first_answer = first.elapsed();
    crate::output::outln!(
        "bench invoke: deploy {} ({} bytes), first answer {} after the deploy returned ({} from the deploy request)",
        fmt_us(deployed.as_micros() as u64),
        component.len(),
        fmt_us(first_answer.as_micros() as u64),
        fmt_us((deployed + first_answer).as_micros() as u64),
    )?;

    eprintln!("invoking {} {} times with {} clients…", name, args.invocations, args.clients);
    let before = client.metrics().await?;
    let (c, space, n, i) = (client.clone(), args.space.clone(), name.clone(), input.clone());
    let (hist, errors, elapsed) = drive(args.clients, args.invocations, "invocations", move |_| {
        let (client, space, name, input) = (c.clone(), space.clone(), n.clone(), i.clone());
        async move { client.invoke(&space, &name, input, &InvokeOptions::default()).await.map(drop) }
    })
    .await?;
    let after = client.metrics().await?;

    let invocations =
        gauge(&after, "switchyard_function_invocations") - gauge(&before, "switchyard_function_invocations");
    let instantiation = gauge(&after, "switchyard_function_instantiation_seconds")
        - gauge(&before, "switchyard_function_instantiation_seconds");
    let cpu = gauge(&after, "switchyard_process_cpu_seconds") - gauge(&before, "switchyard_process_cpu_seconds");
    crate::output::outln!(
        "  invocations: {:.0}/s ({} ok, {errors} errors in {:.2?}); latency p50 {}  p99 {}  max {}",
        hist.len() as f64 / elapsed.as_secs_f64(),
        hist.len(),
        elapsed,
        fmt_us(hist.value_at_quantile(0.50)),
        fmt_us(hist.value_at_quantile(0.99)),
        fmt_us(hist.max()),
    )?;
    if invocations > 0.0 {
        crate::output::outln!(
            "  instantiation: {:.1} µs per invocation (server side); server CPU {:.0} µs per invocation, {:.0}% of a core",
            instantiation * 1e6 / invocations,
            cpu * 1e6 / invocations,
            cpu * 100.0 / elapsed.as_secs_f64().max(f64::EPSILON),
        )?;
    }
    if errors > 0 {
        bail!("{errors} invocations failed");
    }
    Ok(())
}
