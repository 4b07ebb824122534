//! Injected I/O errors: what the fault file holds and what the shim makes of it.
//!
//! The fault file (named by [`crate::ENV_FAULTS`]) holds one fault per line,
//! `<operation> <errno> [file=<name>] [containing=<text>]`, e.g. `fsync EIO
//! file=switchyard.db-wal`. While a line is there, that operation on the tracked files (only the
//! one named, if a name is given; for writes, only those whose bytes contain `<text>`, if given)
//! fails with that errno and changes nothing. The shim reads the file at every operation on a
//! tracked file, so a test arms and clears faults while the process runs. `containing` lets a
//! test make sure the write that meets a fault is its own, not a background one of the process.

use std::fmt;
use std::str::FromStr;

/// Which operations a fault fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// Every change of a file's contents or size: `write`, `pwrite`, `pwrite64`, `ftruncate`,
    /// `ftruncate64`, and `O_TRUNC` at open.
    Write,
    /// `fsync` and `fdatasync`.
    Fsync,
}

/// The errors a fault can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: the file system is full.
    Enospc,
}

impl Errno {
    /// The errno value.
    pub fn code(self) -> i32 {
        match self {
            Errno::Eio => libc::EIO,
            Errno::Enospc => libc::ENOSPC,
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What fails.
    pub op: FaultOp,
    /// With which error.
    pub errno: Errno,
    /// Only this file (a name in the tracked directory), or every tracked file.
    pub file: Option<String>,
    /// Only writes whose bytes contain this (no whitespace), or every write.
    pub containing: Option<String>,
}

impl Fault {
    /// `op` fails with `errno` on every tracked file.
    pub fn new(op: FaultOp, errno: Errno) -> Fault {
        Fault { op, errno, file: None, containing: None }
    }

    /// The same fault, on `file` only.
    pub fn on(mut self, file: &str) -> Fault {
        self.file = Some(file.to_string());
        self
    }

    /// The same fault, on writes whose bytes contain `text` only.
    pub fn containing(mut self, text: &str) -> Fault {
        assert!(!text.is_empty() && !text.contains(char::is_whitespace), "a marker is one word");
        self.containing = Some(text.to_string());
        self
    }

    /// The errno `op` on the file named `file_name`, writing `data` (`None` for a sync or a
    /// size change), fails with, if a fault in `faults` says so.
    pub fn find(faults: &[Fault], op: FaultOp, file_name: &[u8], data: Option<&[u8]>) -> Option<i32> {
        faults
            .iter()
            .find(|f| {
                f.op == op
                    && f.file.as_ref().is_none_or(|n| n.as_bytes() == file_name)
                    && f.containing.as_ref().is_none_or(|text| {
                        data.is_some_and(|data| data.windows(text.len()).any(|w| w == text.as_bytes()))
                    })
            })
            .map(|f| f.errno.code())
    }

    /// Parses a fault file's text.
    pub fn parse_all(text: &str) -> Result<Vec<Fault>, String> {
        text.lines().filter(|l| !l.trim().is_empty()).map(str::parse).collect()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FaultOp::Write => "write",
            FaultOp::Fsync => "fsync",
        };
        let errno = match self.errno {
            Errno::Eio => "EIO",
            Errno::Enospc => "ENOSPC",
        };
        write!(f, "{op} {errno}")?;
        if let Some(file) = &self.file {
            write!(f, " file={file}")?;
        }
        if let Some(text) = &self.containing {
            write!(f, " containing={text}")?;
        }
        Ok(())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(line: &str) -> Result<Fault, String> {
        let mut words = line.split_whitespace();
        let (Some(op), Some(errno)) = (words.next(), words.next()) else {
            return Err(format!(
                "a fault is `<write|fsync> <EIO|ENOSPC> [file=<name>] [containing=<text>]`, not {line:?}"
            ));
        };
        let (mut file, mut containing) = (None, None);
        for word in words {
            match word.split_once('=') {
                Some(("file", name)) => file = Some(name.to_string()),
                Some(("containing", text)) => containing = Some(text.to_string()),
                _ => return Err(format!("unknown fault option {word:?} (file=, containing=)")),
            }
        }
        let op = match op {
            "write" => FaultOp::Write,
            "fsync" => FaultOp::Fsync,
            other => return Err(format!("unknown faulty operation {other:?} (write, fsync)")),
        };
        let errno = match errno {
            "EIO" => Errno::Eio,
            "ENOSPC" => Errno::Enospc,
            other => return Err(format!("unknown errno {other:?} (EIO, ENOSPC)")),
        };
        if op == FaultOp::Fsync && containing.is_some() {
            return Err("containing= applies to writes only".into());
        }
        Ok(Fault { op, errno, file, containing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lines_parse_and_print_back() {
        for (line, expected) in [
            ("fsync EIO", Fault::new(FaultOp::Fsync, Errno::Eio)),
            ("write ENOSPC", Fault::new(FaultOp::Write, Errno::Enospc)),
            ("fsync EIO file=switchyard.db-wal", Fault::new(FaultOp::Fsync, Errno::Eio).on("switchyard.db-wal")),
            (
                "write EIO file=switchyard.db-wal containing=marker",
                Fault::new(FaultOp::Write, Errno::Eio).on("switchyard.db-wal").containing("marker"),
            ),
        ] {
            let fault: Fault = line.parse().expect(line);
            assert_eq!(fault, expected);
            assert_eq!(fault.to_string(), line);
        }
    }

    #[test]
    fn malformed_fault_lines_are_refused_with_the_reason() {
        for (line, message) in [
            ("fsync", "a fault is `<write|fsync> <EIO|ENOSPC> [file=<name>] [containing=<text>]`, not \"fsync\""),
            ("fsync EIO wal", "unknown fault option \"wal\" (file=, containing=)"),
            ("fsync EIO containing=x", "containing= applies to writes only"),
            ("read EIO", "unknown faulty operation \"read\" (write, fsync)"),
            ("write EPERM", "unknown errno \"EPERM\" (EIO, ENOSPC)"),
        ] {
            assert_eq!(line.parse::<Fault>().unwrap_err(), message);
        }
    }

    #[test]
    fn a_fault_on_one_file_spares_the_others() {
        let faults = Fault::parse_all("fsync EIO file=a\nwrite ENOSPC\n").expect("parses");
        assert_eq!(Fault::find(&faults, FaultOp::Fsync, b"a", None), Some(libc::EIO));
        assert_eq!(Fault::find(&faults, FaultOp::Fsync, b"b", None), None);
        assert_eq!(Fault::find(&faults, FaultOp::Write, b"b", Some(b"x")), Some(libc::ENOSPC));
    }

    #[test]
    fn a_fault_containing_a_marker_fails_only_writes_that_carry_it() {
        let faults = Fault::parse_all("write EIO containing=needle").expect("parses");
        assert_eq!(Fault::find(&faults, FaultOp::Write, b"a", Some(b"hay needle hay")), Some(libc::EIO));
        assert_eq!(Fault::find(&faults, FaultOp::Write, b"a", Some(b"hay needl hay")), None);
        assert_eq!(Fault::find(&faults, FaultOp::Write, b"a", None), None, "a size change carries no bytes");
    }
}
