//! The undo journal the shim appends to and [`crate::restore`] reads.
//!
//! Layout: the 8 bytes [`MAGIC`], then records, each a little-endian `u32` body length followed
//! by the body. A body opens with its kind (`u8`), the libc entry point that caused it (`u8`)
//! and the path of the file it concerns (`u16` length, bytes); what follows depends on the kind.
//!
//! Invariants the shim keeps and the restore relies on:
//! - A `Write` or `Truncate` record is complete in the journal before the change it describes
//!   is made, and holds what that change destroys (the bytes it overwrites or cuts off, and the
//!   file's size before it). Undoing it is therefore possible whether or not the change itself
//!   happened before the crash, and undoing a change that never happened changes nothing.
//! - A `Sync` record is appended only after `fsync`/`fdatasync` returned success; its `covers`
//!   is the journal's length when that call *began*. Every change of that file recorded before
//!   `covers` had been made by then, so it is durable.
//! - Records are appended with `write(2)` to a file opened `O_APPEND`: they reach the page cache,
//!   which outlives a SIGKILLed process. A process killed in the middle of an append leaves a
//!   torn last record; the change it describes was never started, so the reader drops it.
//! - `Unlink` and `Rename` are recorded after they succeeded: directory changes are treated as
//!   durable at once (the simulation covers file contents and sizes, not directory entries).

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The first bytes of every journal.
pub const MAGIC: &[u8; 8] = b"SYFLTJ01";

/// The libc function through which the shim saw an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Entry {
    /// `write(2)`.
    Write = 1,
    /// `pwrite`.
    Pwrite = 2,
    /// `pwrite64`.
    Pwrite64 = 3,
    /// `ftruncate`.
    Ftruncate = 4,
    /// `ftruncate64`.
    Ftruncate64 = 5,
    /// An `open` family call with `O_TRUNC` on an existing file.
    OpenTrunc = 6,
    /// `fsync`.
    Fsync = 7,
    /// `fdatasync`.
    Fdatasync = 8,
    /// `unlink`.
    Unlink = 9,
    /// `unlinkat`.
    Unlinkat = 10,
    /// `rename`.
    Rename = 11,
    /// `renameat`.
    Renameat = 12,
    /// `renameat2`.
    Renameat2 = 13,
}

impl Entry {
    const ALL: [Entry; 13] = [
        Entry::Write,
        Entry::Pwrite,
        Entry::Pwrite64,
        Entry::Ftruncate,
        Entry::Ftruncate64,
        Entry::OpenTrunc,
        Entry::Fsync,
        Entry::Fdatasync,
        Entry::Unlink,
        Entry::Unlinkat,
        Entry::Rename,
        Entry::Renameat,
        Entry::Renameat2,
    ];

    /// The libc function's name.
    pub fn name(self) -> &'static str {
        match self {
            Entry::Write => "write",
            Entry::Pwrite => "pwrite",
            Entry::Pwrite64 => "pwrite64",
            Entry::Ftruncate => "ftruncate",
            Entry::Ftruncate64 => "ftruncate64",
            Entry::OpenTrunc => "open(O_TRUNC)",
            Entry::Fsync => "fsync",
            Entry::Fdatasync => "fdatasync",
            Entry::Unlink => "unlink",
            Entry::Unlinkat => "unlinkat",
            Entry::Rename => "rename",
            Entry::Renameat => "renameat",
            Entry::Renameat2 => "renameat2",
        }
    }

    fn from_u8(b: u8) -> Option<Entry> {
        Entry::ALL.into_iter().find(|e| *e as u8 == b)
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `len` bytes are about to be written at `offset`.
    Write {
        /// Through which function.
        entry: Entry,
        /// The file.
        path: PathBuf,
        /// Where the write starts.
        offset: u64,
        /// How many bytes it writes (at most).
        len: u64,
        /// The file's size before it.
        old_size: u64,
        /// The bytes it overwrites: those of `offset..offset + len` below `old_size`.
        old: Vec<u8>,
    },
    /// The file is about to be cut or extended to `new_len`.
    Truncate {
        /// Through which function.
        entry: Entry,
        /// The file.
        path: PathBuf,
        /// The size it is set to.
        new_len: u64,
        /// The file's size before it.
        old_size: u64,
        /// The bytes it cuts off: `new_len..old_size` (empty when it grows the file).
        old: Vec<u8>,
    },
    /// Every change of the file recorded before journal offset `covers` is durable.
    Sync {
        /// Through which function.
        entry: Entry,
        /// The file.
        path: PathBuf,
        /// The journal's length when the sync began.
        covers: u64,
    },
    /// The file was removed.
    Unlink {
        /// Through which function.
        entry: Entry,
        /// The file.
        path: PathBuf,
    },
    /// The file `from` now is `to` (whatever `to` was is gone).
    Rename {
        /// Through which function.
        entry: Entry,
        /// The old name.
        from: PathBuf,
        /// The new name.
        to: PathBuf,
    },
}

const KIND_WRITE: u8 = 1;
const KIND_TRUNCATE: u8 = 2;
const KIND_SYNC: u8 = 3;
const KIND_UNLINK: u8 = 4;
const KIND_RENAME: u8 = 5;

impl Record {
    /// Through which function the shim saw it.
    pub fn entry(&self) -> Entry {
        match self {
            Record::Write { entry, .. }
            | Record::Truncate { entry, .. }
            | Record::Sync { entry, .. }
            | Record::Unlink { entry, .. }
            | Record::Rename { entry, .. } => *entry,
        }
    }

    /// The file it concerns (for a rename, the old name).
    pub fn path(&self) -> &Path {
        match self {
            Record::Write { path, .. }
            | Record::Truncate { path, .. }
            | Record::Sync { path, .. }
            | Record::Unlink { path, .. } => path,
            Record::Rename { from, .. } => from,
        }
    }

    /// The record framed for appending: length prefix and body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; 4];
        let (kind, entry) = match self {
            Record::Write { entry, .. } => (KIND_WRITE, entry),
            Record::Truncate { entry, .. } => (KIND_TRUNCATE, entry),
            Record::Sync { entry, .. } => (KIND_SYNC, entry),
            Record::Unlink { entry, .. } => (KIND_UNLINK, entry),
            Record::Rename { entry, .. } => (KIND_RENAME, entry),
        };
        out.push(kind);
        out.push(*entry as u8);
        put_path(&mut out, self.path());
        match self {
            Record::Write { offset, len, old_size, old, .. } => {
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&old_size.to_le_bytes());
                out.extend_from_slice(old);
            }
            Record::Truncate { new_len, old_size, old, .. } => {
                out.extend_from_slice(&new_len.to_le_bytes());
                out.extend_from_slice(&old_size.to_le_bytes());
                out.extend_from_slice(old);
            }
            Record::Sync { covers, .. } => out.extend_from_slice(&covers.to_le_bytes()),
            Record::Unlink { .. } => {}
            Record::Rename { to, .. } => put_path(&mut out, to),
        }
        let body = u32::try_from(out.len() - 4).expect("a journal record is under 4 GiB");
        out[..4].copy_from_slice(&body.to_le_bytes());
        out
    }

    fn decode(body: &[u8]) -> Result<Record, String> {
        let mut r = Reader(body);
        let kind = r.u8()?;
        let entry = r.u8()?;
        let entry = Entry::from_u8(entry).ok_or_else(|| format!("unknown entry point {entry}"))?;
        let path = r.path()?;
        let record = match kind {
            KIND_WRITE => {
                let (offset, len, old_size) = (r.u64()?, r.u64()?, r.u64()?);
                Record::Write { entry, path, offset, len, old_size, old: r.rest() }
            }
            KIND_TRUNCATE => {
                let (new_len, old_size) = (r.u64()?, r.u64()?);
                Record::Truncate { entry, path, new_len, old_size, old: r.rest() }
            }
            KIND_SYNC => Record::Sync { entry, path, covers: r.u64()? },
            KIND_UNLINK => Record::Unlink { entry, path },
            KIND_RENAME => Record::Rename { entry, from: path, to: r.path()? },
            other => return Err(format!("unknown record kind {other}")),
        };
        if !r.0.is_empty() {
            return Err(format!("{} bytes after a {} record", r.0.len(), entry));
        }
        Ok(record)
    }
}

fn put_path(out: &mut Vec<u8>, path: &Path) {
    let bytes = path.as_os_str().as_bytes();
    let len = u16::try_from(bytes.len()).expect("a path is under 64 KiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err(format!("record ends {} bytes early", n - self.0.len()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn path(&mut self) -> Result<PathBuf, String> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes"));
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(self.take(usize::from(len))?)))
    }

    fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0).to_vec()
    }
}

/// A journal as read back: its records with the offset each starts at.
#[derive(Debug, Default)]
pub struct Journal {
    /// `(offset in the journal, record)`, in the order they were appended.
    pub records: Vec<(u64, Record)>,
    /// Whether the last record was torn (its process was killed while appending it).
    pub torn_tail: bool,
}

impl Journal {
    /// Parses a journal's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Journal, String> {
        if bytes.is_empty() {
            return Ok(Journal::default());
        }
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a faultfs journal (wrong magic)".into());
        }
        let mut journal = Journal::default();
        let mut at = MAGIC.len();
        while at < bytes.len() {
            let Some(len) = bytes.get(at..at + 4) else {
                journal.torn_tail = true;
                break;
            };
            let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
            let Some(body) = bytes.get(at + 4..at + 4 + len) else {
                journal.torn_tail = true;
                break;
            };
            let record = Record::decode(body).map_err(|e| format!("record at offset {at}: {e}"))?;
            journal.records.push((at as u64, record));
            at += 4 + len;
        }
        Ok(journal)
    }

    /// Reads and parses the journal at `path`; a missing file is an empty journal.
    pub fn read(path: &Path) -> Result<Journal, String> {
        match std::fs::read(path) {
            Ok(bytes) => Journal::parse(&bytes).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    }

    /// How many records each entry point produced for files named `file_name`.
    pub fn count(&self, file_name: &str, entry: Entry) -> usize {
        self.records
            .iter()
            .filter(|(_, r)| r.entry() == entry && r.path().file_name().is_some_and(|n| n == file_name))
            .count()
    }

    /// Every (file name, entry point) pair seen, with its count: what the shim intercepted.
    pub fn entry_points(&self) -> std::collections::BTreeMap<(String, Entry), usize> {
        let mut out = std::collections::BTreeMap::new();
        for (_, r) in &self.records {
            let name = r.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            *out.entry((name, r.entry())).or_insert(0) += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::Write {
                entry: Entry::Pwrite64,
                path: "/d/f".into(),
                offset: 4096,
                len: 10,
                old_size: 4100,
                old: b"abcd".to_vec(),
            },
            Record::Truncate {
                entry: Entry::Ftruncate64,
                path: "/d/f".into(),
                new_len: 1,
                old_size: 3,
                old: b"xy".to_vec(),
            },
            Record::Sync { entry: Entry::Fdatasync, path: "/d/f".into(), covers: 77 },
            Record::Unlink { entry: Entry::Unlink, path: "/d/g".into() },
            Record::Rename { entry: Entry::Rename, from: "/d/a".into(), to: "/d/b".into() },
        ]
    }

    fn encoded(records: &[Record]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for r in records {
            bytes.extend(r.encode());
        }
        bytes
    }

    #[test]
    fn every_record_kind_reads_back_as_written() {
        let journal = Journal::parse(&encoded(&sample())).expect("parses");
        let read: Vec<Record> = journal.records.into_iter().map(|(_, r)| r).collect();
        assert_eq!(read, sample());
        assert!(!journal.torn_tail);
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_reported() {
        let whole = encoded(&sample());
        let last = sample().last().expect("a record").encode().len();
        for cut in 1..last {
            let journal = Journal::parse(&whole[..whole.len() - cut]).expect("a torn tail is not an error");
            assert_eq!(journal.records.len(), sample().len() - 1, "cut {cut} bytes");
            assert!(journal.torn_tail);
        }
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused() {
        assert_eq!(Journal::parse(b"hello, world").unwrap_err(), "not a faultfs journal (wrong magic)");
    }
}
