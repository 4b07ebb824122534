//! The shim itself, through a real process (`faultfs-probe`) running under `LD_PRELOAD`: what a
//! simulated power loss keeps and drops, which entry points it journals, how injected faults
//! answer, and that an unjournaled write path aborts instead of slipping through. If the shim
//! stopped intercepting a call, these fail: the unsynced change would survive the restore.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use switchyard_faultfs::{Entry, Errno, Fault, FaultFs, FaultOp};

struct Setup {
    _root: tempfile::TempDir,
    tracked: PathBuf,
    outside: PathBuf,
    faultfs: FaultFs,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().expect("temp dir");
    let tracked = root.path().join("data");
    let scratch = root.path().join("scratch");
    std::fs::create_dir(&tracked).expect("mkdir");
    std::fs::create_dir(&scratch).expect("mkdir");
    let faultfs = FaultFs::new(&tracked, &scratch);
    Setup { outside: root.path().join("outside"), tracked, faultfs, _root: root }
}

fn probe(setup: &Setup, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faultfs-probe"));
    command.args(args);
    for (name, value) in setup.faultfs.env() {
        command.env(name, value);
    }
    command.output().expect("run the probe")
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("utf-8")
}

#[test]
fn power_loss_keeps_synced_changes_and_drops_the_rest() {
    let setup = setup();
    let (dir, outside) = (setup.tracked.to_str().expect("utf-8"), setup.outside.to_str().expect("utf-8"));
    let output = probe(&setup, &["power", dir, outside]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(libc::SIGKILL),
        "the probe ends by SIGKILL: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let t = |name: &str| setup.tracked.join(name);
    // Before the restore, the page cache holds every change, synced or not.
    assert_eq!(read(&t("a")), "synced\nnot synced\n");
    assert_eq!(read(&t("g")), "durable lost");

    let journal = setup.faultfs.journal();
    let restored = setup.faultfs.power_loss();

    assert_eq!(read(&t("a")), "synced\n", "write(2) after fsync is dropped");
    assert_eq!(read(&t("b")), "0123456789", "overwrite, shrink and extension after fdatasync are undone");
    assert_eq!(read(&t("c")), "", "a file never synced is left empty");
    assert_eq!(read(&t("d")), "renamed", "a synced file keeps its contents under its new name");
    assert!(!t("d.new").exists() && !t("e").exists(), "removals and renames stand");
    assert_eq!(read(&t("f")), "abc", "pwrite and ftruncate after fsync are undone");
    assert_eq!(read(&t("g")), "durable", "a write through a dup'ed descriptor is tracked");
    assert_eq!(read(&t("h")), "old contents", "O_TRUNC of a synced file is undone");
    assert_eq!(read(&t("x-shm")), "untracked", "-shm files are not tracked");
    assert_eq!(read(&setup.outside), "untracked", "files outside the directory are not tracked");
    assert_eq!(restored.undone_in("a"), 1);
    assert_eq!(restored.undone_in("b"), 3);
    assert!(!restored.torn_tail);

    // Every entry point the probe used was journaled through the libc name it called.
    for (file, entry, count) in [
        ("a", Entry::OpenTrunc, 1),
        ("a", Entry::Write, 2),
        ("a", Entry::Fsync, 1),
        ("b", Entry::Pwrite64, 3),
        ("b", Entry::Fdatasync, 1),
        ("b", Entry::Ftruncate64, 1),
        ("d.new", Entry::Rename, 1),
        ("d", Entry::Write, 1),
        ("e", Entry::Unlink, 1),
        ("f", Entry::Pwrite, 2),
        ("f", Entry::Fsync, 1),
        ("f", Entry::Ftruncate, 1),
        ("g", Entry::Write, 2),
        ("g", Entry::Fdatasync, 1),
        ("h", Entry::OpenTrunc, 2),
        ("x-shm", Entry::Write, 0),
    ] {
        assert_eq!(journal.count(file, entry), count, "{entry} on {file}: {:?}", journal.entry_points());
    }
}

#[test]
fn armed_faults_fail_only_the_operations_and_files_they_name() {
    let setup = setup();
    let (dir, outside) = (setup.tracked.to_str().expect("utf-8"), setup.outside.to_str().expect("utf-8"));
    setup
        .faultfs
        .inject(&[Fault::new(FaultOp::Fsync, Errno::Eio).on("a"), Fault::new(FaultOp::Write, Errno::Enospc).on("b")]);
    let output = probe(&setup, &["fault", dir, outside]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "a write ok\na fsync EIO\na size 4\n\
         b write ENOSPC\nb fsync ok\nb size 0\n\
         outside write ok\noutside fsync ok\noutside size 4\n"
    );
    // A failed fsync is no sync: the power loss drops what it was meant to make durable, and a
    // refused write left nothing to undo.
    let restored = setup.faultfs.power_loss();
    assert_eq!(read(&setup.tracked.join("a")), "");
    assert_eq!(restored.undone_in("a"), 1);
    assert_eq!(restored.undone_in("b"), 0);

    // Cleared, the same calls succeed.
    setup.faultfs.inject(&[]);
    let output = probe(&setup, &["fault", dir, outside]);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("a write ok\na fsync ok\na size 4\nb write ok\n"));
}

#[test]
fn a_write_path_the_journal_does_not_cover_aborts_the_process() {
    let setup = setup();
    let output = probe(&setup, &["writev", setup.tracked.to_str().expect("utf-8")]);
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&output.status), Some(libc::SIGABRT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = setup.tracked.canonicalize().expect("canonical").join("v");
    let expected =
        format!("switchyard-faultfs: writev on the tracked file {} is not journaled; aborting", file.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing ran past the refused call");
}
