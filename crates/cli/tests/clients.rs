//! The Python client (`clients/python`) runs the README tour against the real binary: its
//! pytest suite starts this build's `switchyard` (`SWITCHYARD_BIN`), puts a machine, applies
//! events with an idempotency key, reads history, watches across a server restart, uses KV with
//! compare-and-set, a topic and a durable subscription, the `hello` function, and typed errors,
//! synchronously and with asyncio.
//!
//! The Python must have the package's dependencies and pytest (`pip install httpx attrs
//! python-dateutil pytest`); `.ci/run` makes a venv with them and names it in
//! `SWITCHYARD_TEST_PYTHON` (default `python3`). Without them the test fails saying so: it is
//! never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchyard_testkit::example_function;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("SWITCHYARD_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[test]
fn the_python_client_runs_the_tour() {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import httpx, attrs, dateutil, pytest"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        other => panic!(
            "{python} cannot import httpx, attrs, dateutil and pytest ({other:?}): `pip install httpx attrs \
             python-dateutil pytest`, or set SWITCHYARD_TEST_PYTHON to a Python that has them (.ci/run makes one)"
        ),
    }
    let package = repo().join("clients/python");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&package)
        .env("PYTHONPATH", package.join("src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SWITCHYARD_BIN", env!("CARGO_BIN_EXE_switchyard"))
        .env("SWITCHYARD_TEST_HELLO_WASM", example_function("hello"))
        .output()
        .expect("run pytest");
    assert!(
        out.status.success(),
        "the Python client's tests failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
