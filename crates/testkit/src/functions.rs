//! The example functions (`examples/functions`), built for `wasm32-wasip2` once per process.
//!
//! The build goes to `<target dir>/wasm-examples`, beside the outer build (whose lock a running
//! `cargo test` holds). When the `wasm32-wasip2` target is missing it is added with rustup
//! first. A failed build panics with cargo's output: the tests that need a function cannot run
//! without one, and are never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the built `.wasm` components.
fn build_examples() -> Result<PathBuf, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = repo.join("examples/functions/Cargo.toml");
    // Test binaries live in <target>/<profile>/deps.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or_else(|| format!("cannot find the target directory above {}", exe.display()))?
        .join("wasm-examples");
    ensure_wasm_target()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building the example functions failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(target.join("wasm32-wasip2/release"))
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") => Ok(()),
        Ok(_) => {
            let status = Command::new("rustup")
                .args(["target", "add", "wasm32-wasip2"])
                .status()
                .map_err(|e| format!("rustup target add wasm32-wasip2: {e}"))?;
            if status.success() { Ok(()) } else { Err("rustup target add wasm32-wasip2 failed".into()) }
        }
        // Without rustup the toolchain may still have the target; let cargo say if not.
        Err(_) => Ok(()),
    }
}

/// The built component of an example function (`hello`, `kv-counter`, `kv-put`, `http-fetch`,
/// `charge-card`, `misbehave`), building them all on first use.
pub fn example_function(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_examples) {
        Ok(dir) => dir.join(format!("{}.wasm", name.replace('-', "_"))),
        Err(e) => panic!("{e}"),
    }
}

/// The bytes of an example function's component.
pub fn example_function_bytes(name: &str) -> Vec<u8> {
    let path = example_function(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
