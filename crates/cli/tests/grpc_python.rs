//! The gRPC schema is usable outside Rust: Python stubs generated from `proto/` with
//! grpcio-tools drive `examples/grpc/python/apply_events.py` against the real server.
//!
//! The Python must have `grpcio-tools` (`pip install grpcio-tools`); `.ci/run` makes a venv with
//! it and names it in `SWITCHYARD_TEST_PYTHON` (default `python3`). Without it the test fails
//! saying so: it is never skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::TestServer;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("SWITCHYARD_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_stubs_generated_from_the_schema_apply_events() {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import grpc, grpc_tools"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        other => panic!(
            "{python} cannot import grpc and grpc_tools ({other:?}): install grpcio-tools (`pip install grpcio-tools`) \
             or set SWITCHYARD_TEST_PYTHON to a Python that has it (.ci/run makes one)"
        ),
    }
    let generated = tempfile::tempdir().expect("temp dir");
    let proto = repo().join("proto");
    let out = Command::new(&python)
        .arg("-m")
        .arg("grpc_tools.protoc")
        .arg(format!("-I{}", proto.display()))
        .arg(format!("--python_out={}", generated.path().display()))
        .arg(format!("--grpc_python_out={}", generated.path().display()))
        .arg(proto.join("switchyard/v1/switchyard.proto"))
        .output()
        .expect("run grpc_tools.protoc");
    assert!(out.status.success(), "protoc failed: {}", String::from_utf8_lossy(&out.stderr));

    let server = TestServer::start();
    let address = server.url.trim_start_matches("http://").to_owned();
    let out = Command::new(&python)
        .arg(repo().join("examples/grpc/python/apply_events.py"))
        .args(["--server", &address, "--token", &server.admin_token, "--instances", "10", "--events", "20"])
        .env("PYTHONPATH", generated.path())
        .output()
        .expect("run the script");
    assert!(
        out.status.success(),
        "the script failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(
        summary,
        json!({
            "answered": 200,
            "last_revision": 22,
            "count": 21,
            "refused": { "status": "FAILED_PRECONDITION", "code": "guard_rejected" },
        })
    );
    // What the script applied is what the HTTP API reads.
    let instance = server.client().get_instance("python", "py-counter", "p9").await.expect("instance");
    assert_eq!((instance.revision, instance.ctx["count"].clone()), (21, json!(20)));
}
