//! The README and `docs/` are executable: their shell blocks run, in order, against the real
//! binary, and a step that fails as written fails this test (issue 12, item 10).
//!
//! The rules a document follows (README.md's "Development" section says the same, shorter):
//! - A fence's first word is its language (what GitHub highlights by). ```` ```sh ```` blocks run
//!   as one bash script with `set -euo pipefail` and must succeed. ```` ```console ```` blocks
//!   hold `$ command` lines (continued by `> ` lines), each followed by its expected output
//!   (stdout, then stderr); a command exits 0 unless its trailing comment says `# exit N`.
//!   Other languages (yaml, toml, rust, …) are prose and do not run.
//! - Expected output matches line by line; `[..]` in a line matches any text, and a line that is
//!   just `...` matches any number of lines (tokens, times and seqs vary between runs).
//! - A command whose trailing comment says `(runs until interrupted)` runs for
//!   [`FOLLOW_TIME`], is sent SIGINT, and its output so far is compared.
//! - ```` ```sh skip: REASON ```` (or `console skip: REASON`) is not run; a reason is required
//!   (long builds, commands that start a second server, this test itself).
//! - Every document runs in one shell session in a scratch directory laid out like a checkout
//!   (`examples/functions/target/…` holds the example components): variables, the working
//!   directory and files carry from block to block. A server the test started is at the
//!   address the docs use, `127.0.0.1:7400`, which the test rewrites to the real one, and
//!   `switchyard` on `PATH` is the binary under test.

mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::TestServer;

/// How long a command marked `(runs until interrupted)` runs before it is interrupted.
const FOLLOW_TIME: Duration = Duration::from_secs(3);

/// How long any one block may take before the test calls it a hang.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// The address the documents use for a local server.
const DOC_ADDRESS: &str = "127.0.0.1:7400";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Sh,
    Console,
}

/// One fenced block that runs.
#[derive(Debug, Clone)]
struct Block {
    kind: Kind,
    /// 1-based line of the opening fence.
    line: usize,
    body: String,
    skip: Option<String>,
}

/// The runnable blocks of a Markdown document; an unfinished fence or a `skip` without a reason
/// is an error.
fn blocks(markdown: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let info = info.trim();
        let (language, rest) = info.split_once(char::is_whitespace).unwrap_or((info, ""));
        let mut body = String::new();
        let mut closed = false;
        for (_, line) in lines.by_ref() {
            if line.trim_start() == "```" {
                closed = true;
                break;
            }
            body.push_str(line);
            body.push('\n');
        }
        if !closed {
            return Err(format!("line {}: the block never closes", n + 1));
        }
        let kind = match language {
            "sh" | "bash" | "shell" => Kind::Sh,
            "console" => Kind::Console,
            _ => continue,
        };
        let rest = rest.trim();
        let skip = match rest.strip_prefix("skip") {
            None if rest.is_empty() => None,
            None => return Err(format!("line {}: unknown fence attributes {rest:?}", n + 1)),
            Some(reason) => {
                let reason = reason.trim_start_matches(':').trim();
                if reason.is_empty() {
                    return Err(format!("line {}: `skip` needs a reason: ```{language} skip: WHY", n + 1));
                }
                Some(reason.to_string())
            }
        };
        out.push(Block { kind, line: n + 1, body, skip });
    }
    Ok(out)
}

/// One `$ command` of a console block with what it should print and exit with.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    command: String,
    expected: Vec<String>,
    exit: i32,
    follow: bool,
}

fn steps(body: &str) -> Result<Vec<Step>, String> {
    let mut out: Vec<Step> = Vec::new();
    for line in body.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            let comment = command.rsplit_once(" # ").map(|(_, c)| c).unwrap_or("");
            let exit = match comment.split_once("exit ") {
                Some((_, n)) => n
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("`# exit N` needs a number: {line}"))?,
                None => 0,
            };
            let follow = comment.contains("(runs until interrupted)");
            out.push(Step { command: command.to_string(), expected: Vec::new(), exit, follow });
        } else if let Some(more) = line.strip_prefix("> ") {
            let step = out.last_mut().ok_or_else(|| format!("a continuation before any command: {line}"))?;
            if !step.expected.is_empty() {
                return Err(format!("a continuation after output: {line}"));
            }
            step.command.push('\n');
            step.command.push_str(more);
        } else {
            let step = out.last_mut().ok_or_else(|| format!("output before any command: {line}"))?;
            step.expected.push(line.to_string());
        }
    }
    Ok(out)
}

/// Whether one line matches an expected line with `[..]` wildcards.
fn line_matches(expected: &str, actual: &str) -> bool {
    let mut parts = expected.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether the lines match the expected ones, `...` lines matching any number of lines.
fn output_matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..])),
        Some((first, rest)) => {
            actual.split_first().is_some_and(|(line, more)| line_matches(first, line) && output_matches(rest, more))
        }
    }
}

/// A shell session in a scratch directory: each run starts from the variables and working
/// directory the previous one left.
struct Session {
    dir: PathBuf,
    state: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

/// What one run printed and how it ended.
struct Ran {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Session {
    fn new(dir: &Path, server: &TestServer) -> Session {
        let bin_dir = Path::new(support::binary()).parent().expect("the binary's directory").to_path_buf();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let state = dir.join(".session-state");
        let cwd = dir.join(".session-cwd");
        std::fs::write(&state, "").expect("state file");
        std::fs::write(&cwd, dir.join("switchyard").display().to_string()).expect("cwd file");
        let mut env = vec![
            ("PATH".to_string(), path),
            ("HOME".to_string(), dir.join("home").display().to_string()),
            ("SWITCHYARD_SERVER".to_string(), server.url.clone()),
            ("TERM".to_string(), "dumb".to_string()),
        ];
        // Cargo and rustup keep their caches and toolchains under the real home.
        let real_home = std::env::var("HOME").unwrap_or_default();
        let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{real_home}/.cargo"));
        let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{real_home}/.rustup"));
        env.push(("CARGO_HOME".to_string(), cargo_home));
        env.push(("RUSTUP_HOME".to_string(), rustup_home));
        Session { dir: dir.to_path_buf(), state, cwd, env }
    }

    /// Runs `script` in the session; with `follow`, interrupts it after [`FOLLOW_TIME`].
    fn run(&self, script: &str, strict: bool, follow: bool) -> Ran {
        let strict = if strict { "set -euo pipefail" } else { "" };
        // Variables assigned in one block are read by the next: allexport makes every
        // assignment an export, and `export -p` writes them back for the next run.
        let wrapped = format!(
            "set -a\n. {state}\ncd \"$(cat {cwd})\"\ntrap 'export -p > {state}; pwd > {cwd}' EXIT\n{strict}\n{script}\n",
            state = self.state.display(),
            cwd = self.cwd.display(),
        );
        let child = Command::new("bash")
            .arg("-c")
            .arg(&wrapped)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn bash");
        let pid = child.id() as i32;
        let limit = if follow { FOLLOW_TIME } else { BLOCK_TIMEOUT };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if rx.recv_timeout(limit).is_err() {
                // SAFETY: signalling the process group this test spawned.
                unsafe {
                    libc::kill(-pid, libc::SIGINT);
                }
                if rx.recv_timeout(Duration::from_secs(5)).is_err() {
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                    }
                }
            }
        });
        let output = child.wait_with_output().expect("wait for bash");
        let _ = tx.send(());
        Ran {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// Runs every block of `doc` in one session; returns the failures, each with its line.
fn run_document(doc: &str, server: &TestServer, dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let blocks = blocks(&text).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let session = Session::new(dir, server);
    let address = server.url.trim_start_matches("http://");
    let mut failures = Vec::new();
    for block in blocks.iter().filter(|b| b.skip.is_none()) {
        let body = block.body.replace(DOC_ADDRESS, address);
        match block.kind {
            Kind::Sh => {
                let ran = session.run(&body, true, false);
                if ran.status != 0 {
                    failures.push(format!(
                        "{doc}:{}: the block failed (exit {}):\n{}\n--- stdout\n{}--- stderr\n{}",
                        block.line, ran.status, body, ran.stdout, ran.stderr
                    ));
                }
            }
            Kind::Console => {
                let steps = steps(&body).unwrap_or_else(|e| panic!("{doc}:{}: {e}", block.line));
                for step in steps {
                    let ran = session.run(&step.command, false, step.follow);
                    let printed = format!("{}{}", ran.stdout, ran.stderr);
                    // Trailing blank lines (an event stream's last separator) are not shown.
                    let lines: Vec<&str> = printed.trim_end().lines().collect();
                    let status_ok = step.follow || ran.status == step.exit;
                    if !status_ok || !output_matches(&step.expected, &lines) {
                        failures.push(format!(
                            "{doc}:{}: `{}` exited {} (expected {}); printed:\n{}--- expected:\n{}\n",
                            block.line,
                            step.command,
                            ran.status,
                            step.exit,
                            printed,
                            step.expected.join("\n")
                        ));
                    }
                }
            }
        }
    }
    failures
}

/// A scratch directory laid out like the parts of a checkout the documents refer to.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    // `switchyard/` stands for the reader's checkout: what the documents use of one is there
    // (the built examples; `crates/` and the workspace manifest linked to the real ones).
    // "Writing a function" makes a crate beside it and adds the guest SDK from
    // `../switchyard/crates/guest`.
    let tour = dir.path().join("switchyard");
    let built = tour.join("examples/functions/target/wasm32-wasip2/release");
    std::fs::create_dir_all(&built).expect("examples dir");
    for name in ["hello", "kv-counter", "http-fetch", "charge-card"] {
        let from = switchyard_testkit::example_function(name);
        std::fs::copy(&from, built.join(from.file_name().expect("a file name"))).expect("copy an example");
    }
    for examples in ["examples/machines", "examples/flows", "examples/triggers"] {
        std::os::unix::fs::symlink(repo().join(examples), tour.join(examples)).expect("link the examples");
    }
    // The guest SDK inherits its package fields from the workspace's manifest.
    for entry in ["crates", "Cargo.toml", "Cargo.lock", "wit"] {
        std::os::unix::fs::symlink(repo().join(entry), tour.join(entry)).expect("link the checkout");
    }
    std::fs::create_dir_all(dir.path().join("home")).expect("home");
    dir
}

fn start_server(dir: &Path) -> TestServer {
    TestServer::start_in(&dir.join("switchyard/switchyard-data"), &[])
}

#[test]
fn the_readme_runs_as_written() {
    let dir = scratch();
    let server = start_server(dir.path());
    let failures = run_document("README.md", &server, dir.path());
    assert!(failures.is_empty(), "README.md steps failed:\n\n{}", failures.join("\n"));
}

#[test]
fn the_docs_run_as_written() {
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|e| format!("docs/{}", e.expect("an entry").file_name().to_string_lossy()))
        .filter(|name| name.ends_with(".md"))
        .collect();
    docs.sort();
    assert!(!docs.is_empty(), "no documents in docs/");
    for doc in &docs {
        let doc = doc.as_str();
        let text = std::fs::read_to_string(repo().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        // Checked even when nothing runs: an unclosed fence or a skip without a reason fails.
        let found = blocks(&text).unwrap_or_else(|e| panic!("{doc}: {e}"));
        if found.iter().all(|b| b.skip.is_some()) {
            continue;
        }
        let dir = scratch();
        let server = start_server(dir.path());
        let failures = run_document(doc, &server, dir.path());
        assert!(failures.is_empty(), "{doc} steps failed:\n\n{}", failures.join("\n"));
    }
}

#[test]
fn the_harness_finds_blocks_and_matches_output() {
    let doc = "text\n```sh\necho a\n```\n```yaml\nx: 1\n```\n```console skip: slow\n$ x\n```\n```console\n$ echo hi   # exit 0\nhi\n$ false   # exit 1\n$ a \\\n> b\n```\n";
    let found = blocks(doc).expect("blocks");
    assert_eq!(found.len(), 3);
    assert_eq!((found[0].kind.clone(), found[0].line), (Kind::Sh, 2));
    assert_eq!(found[1].skip.as_deref(), Some("slow"));
    let s = steps(&found[2].body).expect("steps");
    assert_eq!(s.len(), 3);
    assert_eq!((s[0].expected.clone(), s[0].exit), (vec!["hi".to_string()], 0));
    assert_eq!(s[1].exit, 1);
    assert_eq!(s[2].command, "a \\\nb");
    assert!(blocks("```sh skip\n```\n").is_err(), "skip without a reason");
    assert!(blocks("```sh\nnever closed\n").is_err());
    assert!(blocks("```sh later\n```\n").is_err(), "unknown attribute");

    assert!(line_matches("token: [..]", "token: sy_123"));
    assert!(line_matches("[..] revision [..] at [..]", "o-1 revision 3 at now"));
    assert!(!line_matches("revision 2", "revision 3"));
    assert!(!line_matches("a[..]b", "a-c"));
    let lines = |t: &'static str| t.lines().collect::<Vec<_>>();
    let exp = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    assert!(output_matches(&exp("a\n...\nd"), &lines("a\nb\nc\nd")));
    assert!(output_matches(&exp("a\n...\nd"), &lines("a\nd")));
    assert!(!output_matches(&exp("a\nd"), &lines("a\nb\nd")));
    assert!(!output_matches(&exp("a"), &lines("a\nextra")));
    assert!(output_matches(&exp("..."), &lines("")));
}
