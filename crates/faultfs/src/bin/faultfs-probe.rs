//! Scripted file operations for the shim's own tests (`tests/shim.rs`), run under the shim.
//!
//! `faultfs-probe power TRACKED OUTSIDE`: changes files through every entry point the shim
//! journals, syncing some changes and not others, then SIGKILLs itself; the test restores and
//! checks that exactly the synced state is left. `faultfs-probe fault TRACKED OUTSIDE`: writes
//! and syncs `a`, `b` and a file outside, printing each call's outcome, for a test that armed
//! faults first. `faultfs-probe writev TRACKED`: writes a tracked file with `writev`, which the
//! shim does not journal and must refuse.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("power") => power(Path::new(&args[2]), Path::new(&args[3])),
        Some("fault") => fault(Path::new(&args[2]), Path::new(&args[3])),
        Some("writev") => writev(Path::new(&args[2])),
        _ => {
            eprintln!("usage: faultfs-probe power|fault TRACKED OUTSIDE | writev TRACKED");
            std::process::exit(2);
        }
    }
}

fn ok<T>(what: &str, result: std::io::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in a path")
}

/// Checks a libc call's return value.
fn check(what: &str, result: isize) {
    assert!(result >= 0, "{what}: {}", std::io::Error::last_os_error());
}

fn power(dir: &Path, outside: &Path) {
    // a: std's File::create (open64 with O_TRUNC), write, fsync; then an unsynced append.
    let mut a = ok("create a", File::create(dir.join("a")));
    ok("write a", a.write_all(b"synced\n"));
    ok("fsync a", a.sync_all());
    ok("write a", a.write_all(b"not synced\n"));

    // b: pwrite64 (write_at), fdatasync; then an overwrite, a shrink and an extension past the end.
    let b = ok("open b", OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join("b")));
    ok("write b", b.write_all_at(b"0123456789", 0));
    ok("fdatasync b", b.sync_data());
    ok("overwrite b", b.write_all_at(b"XY", 3));
    ok("shrink b", b.set_len(5));
    ok("extend b", b.write_all_at(b"Z", 20));

    // c: created and written, never synced.
    ok("write c", std::fs::write(dir.join("c"), b"never synced"));

    // d: written and synced under a temporary name, renamed into place, then appended to.
    let mut d = ok("create d.new", File::create(dir.join("d.new")));
    ok("write d.new", d.write_all(b"renamed"));
    ok("fsync d.new", d.sync_all());
    ok("rename d.new", std::fs::rename(dir.join("d.new"), dir.join("d")));
    let mut d = ok("open d", OpenOptions::new().append(true).open(dir.join("d")));
    ok("append d", d.write_all(b" and appended"));

    // e: written, then removed.
    ok("write e", std::fs::write(dir.join("e"), b"removed"));
    ok("remove e", std::fs::remove_file(dir.join("e")));

    // x-shm: ignored by the shim.
    ok("write x-shm", std::fs::write(dir.join("x-shm"), b"untracked"));

    // Outside the tracked directory: untouched.
    ok("write outside", std::fs::write(outside, b"untracked"));

    // f: libc's open, pwrite and ftruncate (not their 64-bit names), fsync; then unsynced changes.
    let f = c_path(&dir.join("f"));
    // SAFETY: a NUL-terminated path, valid flags and a mode for O_CREAT.
    let fd = unsafe { libc::open(f.as_ptr(), libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC, 0o644) };
    check("open f", fd as isize);
    // SAFETY: the buffers are readable for the lengths given.
    unsafe {
        check("pwrite f", libc::pwrite(fd, b"abc".as_ptr().cast(), 3, 0));
        check("fsync f", libc::fsync(fd) as isize);
        check("pwrite f", libc::pwrite(fd, b"ZZZZ".as_ptr().cast(), 4, 0));
        check("ftruncate f", libc::ftruncate(fd, 1) as isize);
    }

    // g: openat and write(2), fdatasync, then a write through a dup of the descriptor.
    let dir_c = c_path(dir);
    // SAFETY: NUL-terminated paths and valid flags; the buffers are readable for their lengths.
    unsafe {
        let dirfd = libc::open(dir_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC);
        check("open dir", dirfd as isize);
        let fd = libc::openat(dirfd, c"g".as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644);
        check("openat g", fd as isize);
        check("write g", libc::write(fd, b"durable".as_ptr().cast(), 7));
        check("fdatasync g", libc::fdatasync(fd) as isize);
        let copy = libc::dup(fd);
        check("dup g", copy as isize);
        check("write g", libc::write(copy, b" lost".as_ptr().cast(), 5));
    }

    // h: File::create over a synced file truncates it (O_TRUNC); the new contents are unsynced.
    let mut h = ok("create h", File::create(dir.join("h")));
    ok("write h", h.write_all(b"old contents"));
    ok("fsync h", h.sync_all());
    let mut h =
        ok("recreate h", OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(dir.join("h")));
    ok("write h", h.write_all(b"new"));

    // The crash: nothing gets to run after this, not even destructors.
    // SAFETY: signalling our own process.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL does not return");
}

fn outcome<T>(result: std::io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => match e.raw_os_error() {
            Some(libc::EIO) => "EIO".into(),
            Some(libc::ENOSPC) => "ENOSPC".into(),
            _ => e.to_string(),
        },
    }
}

fn fault(dir: &Path, outside: &Path) {
    for (name, path) in [("a", dir.join("a")), ("b", dir.join("b")), ("outside", outside.to_path_buf())] {
        let file = ok("open", OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path));
        println!("{name} write {}", outcome(file.write_all_at(b"data", 0)));
        println!("{name} fsync {}", outcome(file.sync_all()));
        println!("{name} size {}", ok("stat", file.metadata()).len());
    }
}

fn writev(dir: &Path) {
    let mut file = ok("create v", File::create(dir.join("v")));
    let bufs = [std::io::IoSlice::new(b"one"), std::io::IoSlice::new(b"two")];
    let _ = file.write_vectored(&bufs);
    println!("writev returned");
}
