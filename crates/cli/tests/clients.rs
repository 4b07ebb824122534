//! The Python (`clients/python`) and TypeScript (`clients/typescript`) clients run the README
//! tour against the real binary: each suite starts this build's `switchyard`
//! (`SWITCHYARD_BIN`), puts a machine, applies events with an idempotency key, reads history,
//! watches across a server restart, uses KV with compare-and-set, a topic and a durable
//! subscription, the `hello` function, and typed errors (Python synchronously and with asyncio).
//!
//! The Python must have the package's dependencies and pytest (`pip install httpx attrs
//! python-dateutil pytest`); `.ci/run` makes a venv with them and names it in
//! `SWITCHYARD_TEST_PYTHON` (default `python3`). The TypeScript package needs Node 20 or later
//! and its dependencies (`npm ci` in `clients/typescript`, which `.ci/run` does). Without them
//! the tests fail saying so: they are never skipped.

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

#[test]
fn the_typescript_client_runs_the_tour() {
    let package = repo().join("clients/typescript");
    let node = Command::new("node").arg("--version").output();
    let major = match &node {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0),
        _ => 0,
    };
    assert!(major >= 20, "Node 20 or later is needed for the TypeScript client ({node:?}): install it (.ci/run does)");
    let tsc = package.join("node_modules/.bin/tsc");
    assert!(tsc.exists(), "clients/typescript has no dependencies installed: run `npm ci` there (.ci/run does)");
    let built = Command::new(&tsc).args(["-p", "tsconfig.json"]).current_dir(&package).output().expect("run tsc");
    assert!(
        built.status.success(),
        "the TypeScript client does not compile:\n{}\n{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new("node")
        .args(["--test", "test/tour.test.js"])
        .current_dir(&package)
        .env("SWITCHYARD_BIN", env!("CARGO_BIN_EXE_switchyard"))
        .env("SWITCHYARD_TEST_HELLO_WASM", example_function("hello"))
        .output()
        .expect("run node --test");
    assert!(
        out.status.success(),
        "the TypeScript client's tests failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
