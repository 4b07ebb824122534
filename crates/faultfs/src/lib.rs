//! Simulated power loss and injected I/O faults for the files of one directory, for tests that
//! drive a real, unmodified process (the `switchyard` binary).
//!
//! The process runs with the shim `switchyard-faultfs-preload` in `LD_PRELOAD` (see
//! [`FaultFs::env`]). The shim interposes the libc calls that change files — `open` family with
//! `O_TRUNC`, `write`, `pwrite`, `pwrite64`, `ftruncate`, `ftruncate64`, `fsync`, `fdatasync`,
//! `unlink`, `rename` and their `*at` forms — and for every file directly inside the tracked
//! directory it appends to an undo journal, *before* each change, what that change destroys; after
//! each successful `fsync`/`fdatasync` it appends a sync mark. After the test SIGKILLs the process,
//! [`FaultFs::power_loss`] undoes, newest first, every change no sync made durable: the files are
//! left as a power loss would leave them if the kernel had written back nothing it was not made to
//! (what LazyFS does for Jepsen). While a fault is armed ([`FaultFs::inject`]), the chosen
//! operations on tracked files fail with `EIO` or `ENOSPC` instead.
//!
//! Invariants:
//! - Files whose names end in `-shm` are never tracked: SQLite's wal-index is rebuilt from the WAL
//!   by the first connection after every process that had the database open has gone (it takes
//!   the exclusive DMS lock, truncates the `-shm` file and runs WAL recovery), so its contents after
//!   a crash cannot matter. It is also written through `mmap`, which a journal of calls cannot see.
//! - Write paths the shim does not journal (`writev`, `pwritev*`, `fallocate`, `posix_fallocate`,
//!   `copy_file_range`) abort the process with a message when used on a tracked file, as does a
//!   failed journal append: a change the journal missed would survive the simulated power loss
//!   and make the test pass for the wrong reason. Nothing else of the host process is changed.
//! - Only the contents and sizes of files are simulated. Creating, removing and renaming files
//!   count as durable at once, and a file descriptor made with `dup`/`fcntl(F_DUPFD)` from a
//!   tracked one is tracked too.

pub mod fault;
pub mod journal;
pub mod restore;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use fault::{Errno, Fault, FaultOp};
pub use journal::{Entry, Journal, Record};
pub use restore::Restored;

/// The directory whose files the shim tracks (it must exist when the process starts).
pub const ENV_DIR: &str = "SWITCHYARD_FAULTFS_DIR";
/// The journal the shim appends to (outside the tracked directory).
pub const ENV_JOURNAL: &str = "SWITCHYARD_FAULTFS_JOURNAL";
/// The fault file the shim reads at every tracked operation (see [`fault`]).
pub const ENV_FAULTS: &str = "SWITCHYARD_FAULTFS_FAULTS";
/// Tracked-directory files whose names end so are left alone.
pub const UNTRACKED_SUFFIX: &str = "-shm";

/// One tracked directory, with its journal and fault file.
#[derive(Debug, Clone)]
pub struct FaultFs {
    dir: PathBuf,
    journal: PathBuf,
    faults: PathBuf,
}

impl FaultFs {
    /// Tracks `dir`; the journal and fault file live in `scratch`, which must be elsewhere.
    pub fn new(dir: &Path, scratch: &Path) -> FaultFs {
        assert!(!scratch.starts_with(dir), "the journal must live outside the tracked directory");
        FaultFs {
            dir: dir.to_path_buf(),
            journal: scratch.join("faultfs.journal"),
            faults: scratch.join("faultfs.faults"),
        }
    }

    /// The tracked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment a process needs to run under the shim (the shim is built on first use).
    pub fn env(&self) -> Vec<(String, OsString)> {
        vec![
            ("LD_PRELOAD".into(), preload_library().into()),
            (ENV_DIR.into(), self.dir.clone().into()),
            (ENV_JOURNAL.into(), self.journal.clone().into()),
            (ENV_FAULTS.into(), self.faults.clone().into()),
        ]
    }

    /// Arms `faults` (replacing any armed before); an empty slice clears them. The file is
    /// replaced by a rename, so the shim never reads half of it.
    pub fn inject(&self, faults: &[Fault]) {
        let text: String = faults.iter().map(|f| format!("{f}\n")).collect();
        let pending = self.faults.with_extension("new");
        std::fs::write(&pending, text).unwrap_or_else(|e| panic!("writing {}: {e}", pending.display()));
        std::fs::rename(&pending, &self.faults).unwrap_or_else(|e| panic!("renaming {}: {e}", pending.display()));
    }

    /// The journal as it stands.
    pub fn journal(&self) -> Journal {
        Journal::read(&self.journal).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Rewinds every tracked file to its state at its last successful sync, then deletes the
    /// journal so the next process starts a new one. Call it only once every process that ran
    /// under the shim has exited.
    pub fn power_loss(&self) -> Restored {
        let restored = restore::undo_unsynced(&self.journal()).unwrap_or_else(|e| panic!("power-loss restore: {e}"));
        match std::fs::remove_file(&self.journal) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", self.journal.display()),
        }
        restored
    }
}

/// The shim, built once per process with the cargo that runs the tests, into
/// `<target>/faultfs-preload` (beside the outer build, whose lock a running `cargo test` holds).
/// A failed build panics with cargo's output: a test that needs the shim cannot run without it.
pub fn preload_library() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_preload) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

fn build_preload() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    // Test binaries live in <target>/<profile>/deps.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or_else(|| format!("cannot find the target directory above {}", exe.display()))?
        .join("faultfs-preload");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // RUSTFLAGS are the outer build's (coverage, sanitizers): a preloaded object carrying a
    // sanitizer runtime would not load into an uninstrumented binary.
    let output = Command::new(cargo)
        .args(["build", "--locked", "-p", "switchyard-faultfs-preload", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building the faultfs shim failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    let library = target.join("debug/libswitchyard_faultfs_preload.so");
    if !library.is_file() {
        return Err(format!("cargo built the faultfs shim but {} is missing", library.display()));
    }
    Ok(library)
}
