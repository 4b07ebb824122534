//! The `LD_PRELOAD` shim of `switchyard-faultfs` (see that crate for what it is for).
//!
//! Loaded into a process with `SWITCHYARD_FAULTFS_DIR` set, it interposes the libc functions that
//! change files. For a file directly inside that directory (a *tracked* file) it appends an undo
//! record to the journal before each change and a sync mark after each successful sync, and fails
//! the operations an armed fault names. Every other file, socket and pipe goes straight to the
//! kernel. Without the variable it only forwards.
//!
//! Invariants:
//! - The change of a tracked file and its journal record happen under one lock, record first,
//!   so the journal's order is the order the changes were made in, and a sync that starts after
//!   a record was appended starts after its change was made.
//! - The real operations are made with raw system calls (or, for the few forwarded untouched,
//!   the next definition found by `dlsym(RTLD_NEXT)`), never through the symbols this library
//!   defines, so the shim never re-enters itself; the journal and fault file are reached the
//!   same way.
//! - The shim never makes up an answer except an armed fault's. When it cannot do its job — the
//!   journal cannot be written, old bytes cannot be read, a tracked file is changed through a
//!   call it does not journal — it aborts the process with a message on stderr: a change missing
//!   from the journal would survive the simulated power loss and let a test pass for the wrong
//!   reason, which is worse than a loud failure.
//! - Variadic libc functions (`open`, `openat`, `fcntl`) are defined with their optional
//!   argument as an ordinary one. On the Linux ABIs this runs on (x86-64, AArch64) a variadic
//!   integer argument travels exactly where a fixed one would, and it is only read when the
//!   flags say the caller passed it.
// The exported functions are libc's: their safety contracts are libc's, documented there.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{CStr, CString, c_char, c_int, c_long, c_uint, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use libc::{loff_t, mode_t, off_t, off64_t, size_t, ssize_t};
use switchyard_faultfs::{ENV_DIR, ENV_FAULTS, ENV_JOURNAL, Entry, Fault, FaultOp, Record, UNTRACKED_SUFFIX};

/// File descriptors at or above this are never tracked (the shim aborts if one would be).
const MAX_FDS: usize = 1 << 16;

/// Per file descriptor: 0 when untracked, else the tracked file's index in `Inner::files` + 1.
static FDS: [AtomicU32; MAX_FDS] = [const { AtomicU32::new(0) }; MAX_FDS];

static SHIM: OnceLock<Option<Shim>> = OnceLock::new();

/// Reads the configuration when the library is loaded, before the program's `main`, so no
/// interposed call (from a signal handler, say) ever has to.
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

extern "C" fn init() {
    let _ = shim();
}

fn shim() -> Option<&'static Shim> {
    SHIM.get_or_init(Shim::from_env).as_ref()
}

struct Shim {
    /// The tracked directory, canonical, without a trailing slash.
    dir: Vec<u8>,
    journal: c_int,
    faults: Option<CString>,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Tracked files by index: the path each has now, or `None` once removed or moved away.
    files: Vec<Option<Vec<u8>>>,
}

impl Shim {
    fn from_env() -> Option<Shim> {
        let dir = env(ENV_DIR)?;
        let journal = env(ENV_JOURNAL).unwrap_or_else(|| die(&format!("{ENV_DIR} is set but {ENV_JOURNAL} is not")));
        let dir = canonical_dir(libc::AT_FDCWD, &dir)
            .unwrap_or_else(|| die(&format!("cannot resolve the tracked directory {}", dir.to_string_lossy())));
        // SAFETY: a NUL-terminated path and valid flags.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                journal.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                0o600 as mode_t,
            )
        } as c_int;
        if fd < 0 {
            die(&format!("cannot open the journal {}: {}", journal.to_string_lossy(), errno_text()));
        }
        let shim = Shim { dir, journal: fd, faults: env(ENV_FAULTS), inner: Mutex::new(Inner { files: Vec::new() }) };
        if file_size(fd) == 0 {
            shim.append_bytes(switchyard_faultfs::journal::MAGIC);
        }
        Some(shim)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The canonical path `path` (relative to `dirfd`) names, if it is a tracked file.
    ///
    /// # Safety
    /// `path` is null or a NUL-terminated string.
    unsafe fn tracked_path(&self, dirfd: c_int, path: *const c_char) -> Option<Vec<u8>> {
        // SAFETY: as the caller promised.
        let resolved = unsafe { resolve(dirfd, path) }?;
        self.is_tracked(&resolved).then_some(resolved)
    }

    fn is_tracked(&self, path: &[u8]) -> bool {
        let Some(slash) = path.iter().rposition(|b| *b == b'/') else { return false };
        let (parent, name) = (&path[..slash], &path[slash + 1..]);
        parent == self.dir.as_slice() && !name.ends_with(UNTRACKED_SUFFIX.as_bytes())
    }

    /// Marks `fd` as an open descriptor of the tracked file `path`; returns the file's index.
    fn register(&self, fd: c_int, path: Vec<u8>) -> u32 {
        let slot = usize::try_from(fd).ok().filter(|fd| *fd < MAX_FDS);
        let Some(slot) = slot else {
            die(&format!("file descriptor {fd} of a tracked file is beyond the shim's table ({MAX_FDS})"))
        };
        let mut inner = self.lock();
        let index = match inner.files.iter().position(|p| p.as_deref() == Some(path.as_slice())) {
            Some(index) => index,
            None => {
                inner.files.push(Some(path));
                inner.files.len() - 1
            }
        };
        let index = u32::try_from(index).expect("fewer than 4 billion tracked files");
        FDS[slot].store(index + 1, Ordering::SeqCst);
        index
    }

    /// The faults armed now.
    fn faults(&self) -> Vec<Fault> {
        let Some(path) = &self.faults else { return Vec::new() };
        // SAFETY: a NUL-terminated path and valid flags.
        let fd =
            unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }
                as c_int;
        if fd < 0 {
            if errno() == libc::ENOENT {
                return Vec::new();
            }
            die(&format!("cannot read the fault file: {}", errno_text()));
        }
        let mut text = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) };
            match n {
                0 => break,
                n if n > 0 => text.extend_from_slice(&buf[..n as usize]),
                _ if errno() == libc::EINTR => {}
                _ => die(&format!("cannot read the fault file: {}", errno_text())),
            }
        }
        raw_close(fd);
        Fault::parse_all(&String::from_utf8_lossy(&text)).unwrap_or_else(|e| die(&format!("fault file: {e}")))
    }

    /// The errno an armed fault gives `op` on the file at `path` (writing `data`), if one does.
    fn fault(&self, op: FaultOp, path: &[u8], data: Option<&[u8]>) -> Option<c_int> {
        let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
        Fault::find(&self.faults(), op, name, data)
    }

    fn append(&self, record: &Record) {
        self.append_bytes(&record.encode());
    }

    fn append_bytes(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is readable for its length.
            let n = unsafe { libc::syscall(libc::SYS_write, self.journal, bytes.as_ptr(), bytes.len()) };
            if n < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                die(&format!("cannot append to the journal: {}", errno_text()));
            }
            bytes = &bytes[n as usize..];
        }
    }
}

/// The tracked file `fd` is open on, with the shim, if it is one.
fn tracked(fd: c_int) -> Option<(&'static Shim, u32)> {
    let slot = usize::try_from(fd).ok().filter(|fd| *fd < MAX_FDS)?;
    let index = FDS[slot].load(Ordering::SeqCst).checked_sub(1)?;
    Some((shim()?, index))
}

fn env(name: &str) -> Option<CString> {
    let name = CString::new(name).expect("no NUL in a variable name");
    // SAFETY: a NUL-terminated name; the value is copied before anything can change it.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: getenv returned a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(value) }.to_owned())
}

/// Writes `message` to stderr and aborts the process.
fn die(message: &str) -> ! {
    let line = format!("switchyard-faultfs: {message}; aborting\n");
    // SAFETY: `line` is readable for its length.
    unsafe { libc::syscall(libc::SYS_write, 2, line.as_ptr(), line.len()) };
    std::process::abort()
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_text() -> String {
    std::io::Error::last_os_error().to_string()
}

fn set_errno(value: c_int) {
    // SAFETY: errno is this thread's own.
    unsafe { *libc::__errno_location() = value }
}

fn raw_close(fd: c_int) -> c_int {
    // SAFETY: closing a descriptor has no memory-safety preconditions.
    unsafe { libc::syscall(libc::SYS_close, fd) as c_int }
}

fn file_size(fd: c_int) -> u64 {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable.
    if unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st) } != 0 {
        die(&format!("cannot stat descriptor {fd}: {}", errno_text()));
    }
    st.st_size as u64
}

/// The canonical path of the directory `path` names (relative to `dirfd`).
fn canonical_dir(dirfd: c_int, path: &CStr) -> Option<Vec<u8>> {
    // SAFETY: a NUL-terminated path and valid flags.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat, dirfd, path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
    } as c_int;
    if fd < 0 {
        return None;
    }
    let link = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for its length; readlink does not NUL-terminate, `n` says how much.
    let n = unsafe { libc::readlink(link.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    raw_close(fd);
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

/// The canonical path of `path` (relative to `dirfd`): its directory resolved, its name kept.
///
/// # Safety
/// `path` is null or a NUL-terminated string.
unsafe fn resolve(dirfd: c_int, path: *const c_char) -> Option<Vec<u8>> {
    if path.is_null() {
        return None;
    }
    // SAFETY: as the caller promised.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    let (parent, name): (&[u8], &[u8]) = match bytes.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/", &bytes[1..]),
        Some(slash) => (&bytes[..slash], &bytes[slash + 1..]),
        None => (b".", bytes),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    let mut resolved = canonical_dir(dirfd, &CString::new(parent).ok()?)?;
    if resolved != b"/" {
        resolved.push(b'/');
    }
    resolved.extend_from_slice(name);
    Some(resolved)
}

/// Reads `len` bytes at `offset` of the file `fd` is open on (through a fresh read-only
/// descriptor when `fd` was opened write-only).
fn read_at(fd: c_int, offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut reader = fd;
    let mut reopened = false;
    let mut done = 0;
    while done < len {
        // SAFETY: `out[done..]` is writable for `len - done` bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_pread64,
                reader,
                out[done..].as_mut_ptr(),
                len - done,
                (offset + done as u64) as i64,
            )
        };
        match n {
            0 => die(&format!("descriptor {fd}: the file ended while its old bytes were read")),
            n if n > 0 => done += n as usize,
            _ if errno() == libc::EINTR => {}
            _ if errno() == libc::EBADF && !reopened => {
                let link = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
                // SAFETY: a NUL-terminated path and valid flags.
                reader = unsafe {
                    libc::syscall(libc::SYS_openat, libc::AT_FDCWD, link.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC)
                } as c_int;
                if reader < 0 {
                    die(&format!("cannot reopen descriptor {fd} to read its old bytes: {}", errno_text()));
                }
                reopened = true;
            }
            _ => die(&format!("cannot read the old bytes of descriptor {fd}: {}", errno_text())),
        }
    }
    if reopened {
        raw_close(reader);
    }
    out
}

/// Where a write on `fd` lands: at `offset` for a `pwrite`, at the file position for a
/// `write(2)`, and at the end either way when `fd` is `O_APPEND` (Linux appends a `pwrite` too).
fn write_position(fd: c_int, size: u64, offset: Option<u64>) -> u64 {
    // SAFETY: F_GETFL takes no argument.
    let flags = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    if flags < 0 {
        die(&format!("cannot read the flags of descriptor {fd}: {}", errno_text()));
    }
    if flags as c_int & libc::O_APPEND != 0 {
        return size;
    }
    if let Some(offset) = offset {
        return offset;
    }
    // SAFETY: lseek has no memory-safety preconditions.
    let at = unsafe { libc::syscall(libc::SYS_lseek, fd, 0 as off_t, libc::SEEK_CUR) };
    if at < 0 {
        die(&format!("cannot find the position of descriptor {fd}: {}", errno_text()));
    }
    at as u64
}

// ---- opening --------------------------------------------------------------------------------

/// # Safety
/// As `openat(2)`.
unsafe fn open_impl(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    let raw = |flags: c_int| {
        // SAFETY: the caller's arguments, forwarded.
        unsafe { libc::syscall(libc::SYS_openat, dirfd, path, flags, mode) as c_int }
    };
    let Some(shim) = shim() else { return raw(flags) };
    if flags & (libc::O_DIRECTORY | libc::O_PATH) != 0 {
        return raw(flags);
    }
    // SAFETY: as the caller promised.
    let Some(target) = (unsafe { shim.tracked_path(dirfd, path) }) else { return raw(flags) };
    let truncate = flags & libc::O_TRUNC != 0;
    if truncate && flags & libc::O_ACCMODE == libc::O_RDONLY {
        die(&format!("O_TRUNC with O_RDONLY on the tracked file {}", String::from_utf8_lossy(&target)));
    }
    if truncate && let Some(errno) = shim.fault(FaultOp::Write, &target, None) {
        set_errno(errno);
        return -1;
    }
    let fd = raw(flags & !libc::O_TRUNC);
    if fd < 0 {
        return fd;
    }
    let index = shim.register(fd, target);
    if truncate {
        truncate_tracked(shim, fd, index, 0, Entry::OpenTrunc);
    }
    fd
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { open_impl(libc::AT_FDCWD, path, flags, mode) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { open_impl(libc::AT_FDCWD, path, flags, mode) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { open_impl(dirfd, path, flags, mode) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { open_impl(dirfd, path, flags, mode) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { open_impl(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, mode) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { open_impl(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, mode) }
}

// The fortified forms a C program built with _FORTIFY_SOURCE calls when it passes no mode.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, forwarded; no mode without O_CREAT.
    unsafe { open_impl(libc::AT_FDCWD, path, flags, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, forwarded; no mode without O_CREAT.
    unsafe { open_impl(libc::AT_FDCWD, path, flags, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, forwarded; no mode without O_CREAT.
    unsafe { open_impl(dirfd, path, flags, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, forwarded; no mode without O_CREAT.
    unsafe { open_impl(dirfd, path, flags, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    // Forgotten before the close: once closed, the number may be reused by another thread.
    if let Some(slot) = usize::try_from(fd).ok().filter(|fd| *fd < MAX_FDS) {
        FDS[slot].store(0, Ordering::SeqCst);
    }
    raw_close(fd)
}

// ---- writing --------------------------------------------------------------------------------

/// # Safety
/// `buf` is readable for `count` bytes.
unsafe fn write_impl(fd: c_int, buf: *const c_void, count: size_t, offset: Option<off64_t>, entry: Entry) -> ssize_t {
    let raw = || {
        // SAFETY: the caller's arguments, forwarded.
        unsafe {
            match offset {
                Some(offset) => libc::syscall(libc::SYS_pwrite64, fd, buf, count, offset) as ssize_t,
                None => libc::syscall(libc::SYS_write, fd, buf, count) as ssize_t,
            }
        }
    };
    let Some((shim, index)) = tracked(fd) else { return raw() };
    if count == 0 {
        return raw();
    }
    let inner = shim.lock();
    let Some(path) = inner.files[index as usize].clone() else { return raw() };
    // SAFETY: the caller promised `buf` is readable for `count` bytes.
    let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), count) };
    if let Some(errno) = shim.fault(FaultOp::Write, &path, Some(data)) {
        set_errno(errno);
        return -1;
    }
    let old_size = file_size(fd);
    let at = match offset.map(u64::try_from) {
        // The kernel refuses a negative offset: nothing changes, nothing to journal.
        Some(Err(_)) => return raw(),
        Some(Ok(offset)) => write_position(fd, old_size, Some(offset)),
        None => write_position(fd, old_size, None),
    };
    let keep = old_size.saturating_sub(at).min(count as u64) as usize;
    let old = if keep > 0 { read_at(fd, at, keep) } else { Vec::new() };
    shim.append(&Record::Write {
        entry,
        path: PathBuf::from(std::ffi::OsStr::from_bytes(&path)),
        offset: at,
        len: count as u64,
        old_size,
        old,
    });
    let written = raw();
    drop(inner);
    written
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { write_impl(fd, buf, count, None, Entry::Write) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite(fd: c_int, buf: *const c_void, count: size_t, offset: off_t) -> ssize_t {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { write_impl(fd, buf, count, Some(offset), Entry::Pwrite) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite64(fd: c_int, buf: *const c_void, count: size_t, offset: off64_t) -> ssize_t {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { write_impl(fd, buf, count, Some(offset), Entry::Pwrite64) }
}

/// Journals and makes a size change of a tracked file; answers like `ftruncate`.
fn truncate_tracked(shim: &Shim, fd: c_int, index: u32, len: off64_t, entry: Entry) -> c_int {
    // SAFETY: ftruncate has no memory-safety preconditions.
    let raw = || unsafe { libc::syscall(libc::SYS_ftruncate, fd, len) as c_int };
    let inner = shim.lock();
    let Some(path) = inner.files[index as usize].clone() else { return raw() };
    let Ok(new_len) = u64::try_from(len) else { return raw() };
    if entry != Entry::OpenTrunc
        && let Some(errno) = shim.fault(FaultOp::Write, &path, None)
    {
        set_errno(errno);
        return -1;
    }
    let old_size = file_size(fd);
    let old = if new_len < old_size { read_at(fd, new_len, (old_size - new_len) as usize) } else { Vec::new() };
    shim.append(&Record::Truncate {
        entry,
        path: PathBuf::from(std::ffi::OsStr::from_bytes(&path)),
        new_len,
        old_size,
        old,
    });
    let result = raw();
    if result != 0 && entry == Entry::OpenTrunc {
        die(&format!("O_TRUNC of {} failed: {}", String::from_utf8_lossy(&path), errno_text()));
    }
    drop(inner);
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftruncate(fd: c_int, len: off_t) -> c_int {
    match tracked(fd) {
        Some((shim, index)) => truncate_tracked(shim, fd, index, len, Entry::Ftruncate),
        // SAFETY: ftruncate has no memory-safety preconditions.
        None => unsafe { libc::syscall(libc::SYS_ftruncate, fd, len) as c_int },
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftruncate64(fd: c_int, len: off64_t) -> c_int {
    match tracked(fd) {
        Some((shim, index)) => truncate_tracked(shim, fd, index, len, Entry::Ftruncate64),
        // SAFETY: ftruncate has no memory-safety preconditions.
        None => unsafe { libc::syscall(libc::SYS_ftruncate, fd, len) as c_int },
    }
}

// ---- syncing --------------------------------------------------------------------------------

fn sync_impl(fd: c_int, entry: Entry) -> c_int {
    let number = if entry == Entry::Fsync { libc::SYS_fsync } else { libc::SYS_fdatasync };
    // SAFETY: fsync and fdatasync have no memory-safety preconditions.
    let raw = || unsafe { libc::syscall(number, fd) as c_int };
    let Some((shim, index)) = tracked(fd) else { return raw() };
    let covers = {
        let inner = shim.lock();
        let Some(path) = &inner.files[index as usize] else { return raw() };
        if let Some(errno) = shim.fault(FaultOp::Fsync, path, None) {
            set_errno(errno);
            return -1;
        }
        // Every change recorded so far was made (they are made under this lock): this sync
        // covers them all.
        file_size(shim.journal)
    };
    let result = raw();
    if result == 0 {
        let inner = shim.lock();
        if let Some(path) = &inner.files[index as usize] {
            shim.append(&Record::Sync { entry, path: PathBuf::from(std::ffi::OsStr::from_bytes(path)), covers });
        }
    }
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fsync(fd: c_int) -> c_int {
    sync_impl(fd, Entry::Fsync)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fdatasync(fd: c_int) -> c_int {
    sync_impl(fd, Entry::Fdatasync)
}

// ---- directory changes ----------------------------------------------------------------------

/// # Safety
/// As `unlinkat(2)`.
unsafe fn unlink_impl(dirfd: c_int, path: *const c_char, flags: c_int, entry: Entry) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    let raw = || unsafe { libc::syscall(libc::SYS_unlinkat, dirfd, path, flags) as c_int };
    let Some(shim) = shim() else { return raw() };
    // SAFETY: as the caller promised.
    let Some(target) = (unsafe { shim.tracked_path(dirfd, path) }) else { return raw() };
    let mut inner = shim.lock();
    let result = raw();
    if result == 0 {
        for file in inner.files.iter_mut().filter(|p| p.as_deref() == Some(target.as_slice())) {
            *file = None;
        }
        shim.append(&Record::Unlink { entry, path: PathBuf::from(std::ffi::OsStr::from_bytes(&target)) });
    }
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { unlink_impl(libc::AT_FDCWD, path, 0, Entry::Unlink) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { unlink_impl(dirfd, path, flags, Entry::Unlinkat) }
}

/// # Safety
/// As `renameat2(2)`.
unsafe fn rename_impl(
    olddirfd: c_int,
    from: *const c_char,
    newdirfd: c_int,
    to: *const c_char,
    flags: c_uint,
    entry: Entry,
) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    let raw = || unsafe { libc::syscall(libc::SYS_renameat2, olddirfd, from, newdirfd, to, flags) as c_int };
    let Some(shim) = shim() else { return raw() };
    // SAFETY: as the caller promised.
    let (from_path, to_path) = unsafe { (resolve(olddirfd, from), resolve(newdirfd, to)) };
    let from_tracked = from_path.as_deref().is_some_and(|p| shim.is_tracked(p));
    let to_tracked = to_path.as_deref().is_some_and(|p| shim.is_tracked(p));
    if !from_tracked && !to_tracked {
        return raw();
    }
    if flags & libc::RENAME_EXCHANGE != 0 {
        die("renameat2(RENAME_EXCHANGE) on a tracked file is not simulated");
    }
    let mut inner = shim.lock();
    let result = raw();
    if result == 0 {
        let (from_path, to_path) = (from_path.unwrap_or_default(), to_path.unwrap_or_default());
        for file in inner.files.iter_mut() {
            if file.as_deref() == Some(to_path.as_slice()) {
                *file = None;
            } else if file.as_deref() == Some(from_path.as_slice()) {
                *file = to_tracked.then(|| to_path.clone());
            }
        }
        shim.append(&Record::Rename {
            entry,
            from: PathBuf::from(std::ffi::OsStr::from_bytes(&from_path)),
            to: PathBuf::from(std::ffi::OsStr::from_bytes(&to_path)),
        });
    }
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rename(from: *const c_char, to: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { rename_impl(libc::AT_FDCWD, from, libc::AT_FDCWD, to, 0, Entry::Rename) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn renameat(olddirfd: c_int, from: *const c_char, newdirfd: c_int, to: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { rename_impl(olddirfd, from, newdirfd, to, 0, Entry::Renameat) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn renameat2(
    olddirfd: c_int,
    from: *const c_char,
    newdirfd: c_int,
    to: *const c_char,
    flags: c_uint,
) -> c_int {
    // SAFETY: the caller's arguments, forwarded.
    unsafe { rename_impl(olddirfd, from, newdirfd, to, flags, Entry::Renameat2) }
}

// ---- forwarded: descriptor copies and write paths the journal does not cover ----------------

/// The next definition of a libc function after this library's, found once.
macro_rules! real {
    ($name:literal as $ty:ty) => {{
        static REAL: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());
        let mut found = REAL.load(Ordering::Relaxed);
        if found.is_null() {
            // SAFETY: a NUL-terminated symbol name; RTLD_NEXT is a valid pseudo-handle.
            found = unsafe { libc::dlsym(libc::RTLD_NEXT, concat!($name, "\0").as_ptr().cast()) };
            if found.is_null() {
                die(concat!("cannot find the real ", $name));
            }
            REAL.store(found, Ordering::Relaxed);
        }
        // SAFETY: `found` is libc's definition of this function, whose type `$ty` spells out.
        unsafe { std::mem::transmute::<*mut c_void, $ty>(found) }
    }};
}

/// Makes `copy` track whatever `original` tracks (or nothing).
fn copy_tracking(original: c_int, copy: c_int) {
    let index = usize::try_from(original).ok().filter(|fd| *fd < MAX_FDS).map_or(0, |s| FDS[s].load(Ordering::SeqCst));
    match usize::try_from(copy).ok().filter(|fd| *fd < MAX_FDS) {
        Some(slot) => FDS[slot].store(index, Ordering::SeqCst),
        None if index != 0 => die(&format!("descriptor {copy}, a copy of a tracked one, is beyond the shim's table")),
        None => {}
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    let real = real!("dup" as unsafe extern "C" fn(c_int) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc's dup.
    let copy = unsafe { real(fd) };
    if copy >= 0 {
        copy_tracking(fd, copy);
    }
    copy
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(fd: c_int, copy: c_int) -> c_int {
    let real = real!("dup2" as unsafe extern "C" fn(c_int, c_int) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc's dup2.
    let result = unsafe { real(fd, copy) };
    if result >= 0 && fd != copy {
        copy_tracking(fd, copy);
    }
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(fd: c_int, copy: c_int, flags: c_int) -> c_int {
    let real = real!("dup3" as unsafe extern "C" fn(c_int, c_int, c_int) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc's dup3.
    let result = unsafe { real(fd, copy, flags) };
    if result >= 0 {
        copy_tracking(fd, copy);
    }
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    let real = real!("fcntl" as unsafe extern "C" fn(c_int, c_int, c_long) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc's fcntl (see the module's note on variadics).
    let result = unsafe { real(fd, cmd, arg) };
    if result >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        copy_tracking(fd, result);
    }
    result
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    let real = real!("fcntl64" as unsafe extern "C" fn(c_int, c_int, c_long) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc's fcntl64 (see the module's note on variadics).
    let result = unsafe { real(fd, cmd, arg) };
    if result >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        copy_tracking(fd, result);
    }
    result
}

/// Aborts if `fd` is open on a tracked file: `call` would change it without a journal record.
fn refuse_if_tracked(fd: c_int, call: &str) {
    if let Some((shim, index)) = tracked(fd)
        && let Some(path) = &shim.lock().files[index as usize]
    {
        die(&format!("{call} on the tracked file {} is not journaled", String::from_utf8_lossy(path)));
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
    refuse_if_tracked(fd, "writev");
    let real = real!("writev" as unsafe extern "C" fn(c_int, *const libc::iovec, c_int) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, iov, count) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwritev(fd: c_int, iov: *const libc::iovec, count: c_int, offset: off_t) -> ssize_t {
    refuse_if_tracked(fd, "pwritev");
    let real = real!("pwritev" as unsafe extern "C" fn(c_int, *const libc::iovec, c_int, off_t) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, iov, count, offset) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwritev64(fd: c_int, iov: *const libc::iovec, count: c_int, offset: off64_t) -> ssize_t {
    refuse_if_tracked(fd, "pwritev64");
    let real = real!("pwritev64" as unsafe extern "C" fn(c_int, *const libc::iovec, c_int, off64_t) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, iov, count, offset) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwritev2(
    fd: c_int,
    iov: *const libc::iovec,
    count: c_int,
    offset: off_t,
    flags: c_int,
) -> ssize_t {
    refuse_if_tracked(fd, "pwritev2");
    let real = real!("pwritev2" as unsafe extern "C" fn(c_int, *const libc::iovec, c_int, off_t, c_int) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, iov, count, offset, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwritev64v2(
    fd: c_int,
    iov: *const libc::iovec,
    count: c_int,
    offset: off64_t,
    flags: c_int,
) -> ssize_t {
    refuse_if_tracked(fd, "pwritev64v2");
    let real =
        real!("pwritev64v2" as unsafe extern "C" fn(c_int, *const libc::iovec, c_int, off64_t, c_int) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, iov, count, offset, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fallocate(fd: c_int, mode: c_int, offset: off_t, len: off_t) -> c_int {
    refuse_if_tracked(fd, "fallocate");
    let real = real!("fallocate" as unsafe extern "C" fn(c_int, c_int, off_t, off_t) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, mode, offset, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fallocate64(fd: c_int, mode: c_int, offset: off64_t, len: off64_t) -> c_int {
    refuse_if_tracked(fd, "fallocate64");
    let real = real!("fallocate64" as unsafe extern "C" fn(c_int, c_int, off64_t, off64_t) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, mode, offset, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_fallocate(fd: c_int, offset: off_t, len: off_t) -> c_int {
    refuse_if_tracked(fd, "posix_fallocate");
    let real = real!("posix_fallocate" as unsafe extern "C" fn(c_int, off_t, off_t) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, offset, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_fallocate64(fd: c_int, offset: off64_t, len: off64_t) -> c_int {
    refuse_if_tracked(fd, "posix_fallocate64");
    let real = real!("posix_fallocate64" as unsafe extern "C" fn(c_int, off64_t, off64_t) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd, offset, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn copy_file_range(
    fd_in: c_int,
    off_in: *mut loff_t,
    fd_out: c_int,
    off_out: *mut loff_t,
    len: size_t,
    flags: c_uint,
) -> ssize_t {
    refuse_if_tracked(fd_out, "copy_file_range");
    let real = real!(
        "copy_file_range" as unsafe extern "C" fn(c_int, *mut loff_t, c_int, *mut loff_t, size_t, c_uint) -> ssize_t
    );
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(fd_in, off_in, fd_out, off_out, len, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut off_t, count: size_t) -> ssize_t {
    refuse_if_tracked(out_fd, "sendfile");
    let real = real!("sendfile" as unsafe extern "C" fn(c_int, c_int, *mut off_t, size_t) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(out_fd, in_fd, offset, count) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off64_t, count: size_t) -> ssize_t {
    refuse_if_tracked(out_fd, "sendfile64");
    let real = real!("sendfile64" as unsafe extern "C" fn(c_int, c_int, *mut off64_t, size_t) -> ssize_t);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(out_fd, in_fd, offset, count) }
}

/// # Safety
/// `path` is null or a NUL-terminated string.
unsafe fn refuse_if_tracked_path(path: *const c_char, call: &str) {
    if let Some(shim) = shim()
        // SAFETY: as the caller promised.
        && let Some(target) = unsafe { shim.tracked_path(libc::AT_FDCWD, path) }
    {
        die(&format!("{call} on the tracked file {} is not journaled", String::from_utf8_lossy(&target)));
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn truncate(path: *const c_char, len: off_t) -> c_int {
    // SAFETY: the caller's path.
    unsafe { refuse_if_tracked_path(path, "truncate") };
    let real = real!("truncate" as unsafe extern "C" fn(*const c_char, off_t) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(path, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn truncate64(path: *const c_char, len: off64_t) -> c_int {
    // SAFETY: the caller's path.
    unsafe { refuse_if_tracked_path(path, "truncate64") };
    let real = real!("truncate64" as unsafe extern "C" fn(*const c_char, off64_t) -> c_int);
    // SAFETY: the caller's arguments, forwarded to libc.
    unsafe { real(path, len) }
}
