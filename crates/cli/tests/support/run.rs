//! A finished CLI command and the assertions tests make on it.

use std::process::{Command, ExitStatus, Output};

use serde_json::Value;

/// What a finished command left behind.
pub struct Run {
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    /// Stdout as text (invalid UTF-8 replaced).
    pub stdout: String,
    /// Stdout as it was written.
    pub stdout_bytes: Vec<u8>,
    /// Stderr as text.
    pub stderr: String,
}

/// Runs `cmd` with `args` to its end.
pub fn run(cmd: &mut Command, args: &[&str]) -> Run {
    Run::of(cmd.args(args).output().expect("run switchyard"))
}

impl Run {
    /// A finished process's output.
    pub fn of(output: Output) -> Run {
        Run::from_parts(output.status, output.stdout, &output.stderr)
    }

    /// A process's exit status and what it wrote.
    pub fn from_parts(status: ExitStatus, stdout_bytes: Vec<u8>, stderr: &[u8]) -> Run {
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stdout_bytes,
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }

    /// Asserts exit code `code`; returns the run.
    pub fn exits(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        self.exits(0).stdout
    }

    /// Asserts exit code `code` (and no panic) and returns stderr.
    pub fn fails(self, code: i32) -> String {
        let run = self.exits(code);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run.stderr
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(self) -> Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
    }

    /// Asserts exit code 1 and returns the JSON error object printed on stderr.
    pub fn json_error(self) -> Value {
        let stderr = self.fails(1);
        let error: Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
        error["error"].clone()
    }
}
