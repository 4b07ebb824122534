//! Rewinds the tracked files to what a power loss would have left: each file as it was when
//! its last successful sync began.
//!
//! Per file, the records after its last covering `Sync` are undone newest first. Each undo
//! puts back the bytes its change destroyed and the size the file had before it, so after the
//! newest-first pass the file holds exactly what it held at the sync point — contents and size.
//! Records are grouped by file *generation*: an unlink ends a generation and a rename moves one
//! to its new name, so changes made to a file that is gone are never applied to a later file
//! of the same name.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::journal::{Journal, Record};

/// What a restore did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Per file, how many changes were undone (files with none are not listed).
    pub undone: Vec<(PathBuf, usize)>,
    /// Whether the journal's last record was torn.
    pub torn_tail: bool,
}

impl Restored {
    /// Changes undone in the file named `file_name`.
    pub fn undone_in(&self, file_name: &str) -> usize {
        self.undone.iter().filter(|(p, _)| p.file_name().is_some_and(|n| n == file_name)).map(|(_, n)| n).sum()
    }

    /// Changes undone in all files.
    pub fn total(&self) -> usize {
        self.undone.iter().map(|(_, n)| n).sum()
    }
}

/// One file's changes since it came to bear its current name.
#[derive(Default)]
struct Generation<'a> {
    changes: Vec<(u64, &'a Record)>,
    durable_before: u64,
}

/// Undoes every change in `journal` that no sync made durable.
pub fn undo_unsynced(journal: &Journal) -> Result<Restored, String> {
    let mut live: HashMap<&Path, Generation<'_>> = HashMap::new();
    for (at, record) in &journal.records {
        match record {
            Record::Write { path, .. } | Record::Truncate { path, .. } => {
                live.entry(path).or_default().changes.push((*at, record));
            }
            Record::Sync { path, covers, .. } => {
                let generation = live.entry(path).or_default();
                generation.durable_before = generation.durable_before.max(*covers);
            }
            Record::Unlink { path, .. } => {
                live.remove(path.as_path());
            }
            Record::Rename { from, to, .. } => {
                let moved = live.remove(from.as_path());
                live.remove(to.as_path());
                if let Some(generation) = moved {
                    live.insert(to, generation);
                }
            }
        }
    }
    let mut restored = Restored { torn_tail: journal.torn_tail, ..Restored::default() };
    let mut paths: Vec<&Path> = live.keys().copied().collect();
    paths.sort();
    for path in paths {
        let generation = &live[path];
        let undo: Vec<&Record> =
            generation.changes.iter().filter(|(at, _)| *at >= generation.durable_before).map(|(_, r)| *r).collect();
        if undo.is_empty() {
            continue;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot undo {} changes of {}: {e}", undo.len(), path.display()))?;
        for record in undo.iter().rev() {
            undo_one(&file, record).map_err(|e| format!("undoing a {} of {}: {e}", record.entry(), path.display()))?;
        }
        file.sync_all().map_err(|e| format!("syncing {}: {e}", path.display()))?;
        restored.undone.push((path.to_path_buf(), undo.len()));
    }
    Ok(restored)
}

fn undo_one(file: &std::fs::File, record: &Record) -> std::io::Result<()> {
    match record {
        Record::Write { offset, old_size, old, .. } => {
            file.write_all_at(old, *offset)?;
            if file.metadata()?.len() > *old_size {
                file.set_len(*old_size)?;
            }
        }
        Record::Truncate { new_len, old_size, old, .. } => {
            file.set_len(*old_size)?;
            if new_len < old_size {
                file.write_all_at(old, *new_len)?;
            }
        }
        Record::Sync { .. } | Record::Unlink { .. } | Record::Rename { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Entry, MAGIC};

    fn journal(records: &[Record]) -> Journal {
        let mut bytes = MAGIC.to_vec();
        for r in records {
            bytes.extend(r.encode());
        }
        Journal::parse(&bytes).expect("parses")
    }

    /// Applies a write to `path` as the shim would, returning its record.
    fn write(path: &Path, offset: u64, data: &[u8]) -> Record {
        let before = std::fs::read(path).unwrap_or_default();
        let end = (offset as usize + data.len()).min(before.len());
        let old = before.get(offset as usize..end).unwrap_or_default().to_vec();
        let file = OpenOptions::new().write(true).create(true).truncate(false).open(path).expect("open");
        file.write_all_at(data, offset).expect("write");
        Record::Write {
            entry: Entry::Pwrite64,
            path: path.to_path_buf(),
            offset,
            len: data.len() as u64,
            old_size: before.len() as u64,
            old,
        }
    }

    fn truncate(path: &Path, new_len: u64) -> Record {
        let before = std::fs::read(path).expect("read");
        let old = before.get(new_len as usize..).unwrap_or_default().to_vec();
        OpenOptions::new().write(true).open(path).expect("open").set_len(new_len).expect("set_len");
        Record::Truncate {
            entry: Entry::Ftruncate64,
            path: path.to_path_buf(),
            new_len,
            old_size: before.len() as u64,
            old,
        }
    }

    #[test]
    fn overwrites_extensions_and_truncations_after_the_sync_are_undone_exactly() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("f");
        let mut records = vec![write(&f, 0, b"0123456789")];
        // The sync covers everything recorded so far; its offset is where the next record starts.
        let covers = journal(&records).records.last().map(|(at, r)| at + r.encode().len() as u64).expect("one");
        records.push(Record::Sync { entry: Entry::Fdatasync, path: f.clone(), covers });
        records.push(write(&f, 3, b"XY"));
        records.push(write(&f, 8, b"abcdef"));
        records.push(truncate(&f, 2));
        records.push(write(&f, 20, b"z"));
        assert_ne!(std::fs::read(&f).expect("read"), b"0123456789");
        let restored = undo_unsynced(&journal(&records)).expect("restores");
        assert_eq!(std::fs::read(&f).expect("read"), b"0123456789");
        assert_eq!(restored.undone_in("f"), 4);
    }

    #[test]
    fn a_file_never_synced_goes_back_to_its_size_before_the_first_change() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("f");
        std::fs::write(&f, b"before").expect("write");
        let records = vec![write(&f, 6, b" and after"), write(&f, 0, b"BEFORE")];
        undo_unsynced(&journal(&records)).expect("restores");
        assert_eq!(std::fs::read(&f).expect("read"), b"before");
    }

    #[test]
    fn changes_to_a_removed_file_never_touch_a_later_file_of_that_name() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("f");
        let mut records = vec![write(&f, 0, b"first generation")];
        std::fs::remove_file(&f).expect("remove");
        records.push(Record::Unlink { entry: Entry::Unlink, path: f.clone() });
        std::fs::write(&f, b"second").expect("write");
        undo_unsynced(&journal(&records)).expect("restores");
        assert_eq!(std::fs::read(&f).expect("read"), b"second");
    }

    #[test]
    fn a_renamed_file_is_restored_under_its_new_name() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"kept").expect("write");
        let mut records = vec![write(&a, 4, b" but not this")];
        std::fs::rename(&a, &b).expect("rename");
        records.push(Record::Rename { entry: Entry::Rename, from: a.clone(), to: b.clone() });
        undo_unsynced(&journal(&records)).expect("restores");
        assert_eq!(std::fs::read(&b).expect("read"), b"kept");
    }
}
