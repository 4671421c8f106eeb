//! Test support: runs the real Node socket.io peers in `tests/peer/`.
//!
//! * [`ensure_node_modules`] installs `tests/peer/node_modules` from the committed lock once
//!   (`npm ci`), safely across concurrently running test binaries.
//! * [`NodePeer`] runs a peer script (normally `spaces-server.js`), knows its port, sends it
//!   stdin commands and collects its stdout lines (including `--log-frames` wire logs).
//! * [`run_js_client`] runs the official socket.io-client 2.0.4 conformance script.
//!
//! Everything is bounded in time and panics with the peer's stderr instead of hanging or
//! skipping: a missing Node.js is a test failure, not a silent pass.
//!
//! A dev-dependency of every crate whose tests talk to the peers (the runtimes, the emulator,
//! the examples); `raw-ws` adds [`raw_ws`], a raw websocket for asserting exact frames.

// Each test binary compiles this module and uses only part of it; items are `pub` so
// that reads naturally in test files even though the module is private to each binary.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

/// `--sio` value selecting the socket.io 2.0.4 server (engine.io 3.1.3, parser 3.1.2).
pub const SIO_2_0_4: &str = "2.0.4";
/// `--sio` value selecting the socket.io 1.7.3 server (engine.io 1.8.3, parser 2.3.1).
pub const SIO_1_7_3: &str = "1.7.3";
/// Both server versions, for tests that must hold against each.
pub const SIO_VERSIONS: [&str; 2] = [SIO_2_0_4, SIO_1_7_3];

/// How long a peer may take to print `LISTENING <port>`.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stdin command may take to be answered with `OK <verb>`.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on one `npm ci` run (it normally takes a few seconds).
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);
/// A lock file older than this is left over from a killed run and may be taken over.
const LOCK_STALE_AFTER: Duration = Duration::from_secs(360);
/// Packages whose presence means the install is usable.
const REQUIRED_PACKAGES: [&str; 3] = ["socket.io", "socket.io-client", "socket.io-1.7.3"];

/// `tests/peer`, the Node package holding the peer scripts: this crate's own directory.
pub fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn node_modules_complete(dir: &Path) -> bool {
    let nm = dir.join("node_modules");
    // npm writes its hidden lockfile last, so a half-finished install lacks it.
    nm.join(".package-lock.json").is_file()
        && REQUIRED_PACKAGES
            .iter()
            .all(|p| nm.join(p).join("package.json").is_file())
}

/// Installs `tests/peer/node_modules` with `npm ci` if it is missing or incomplete.
///
/// Runs at most once per test binary; across binaries a lock file
/// (`tests/peer/.npm-ci.lock`, created with `create_new`) makes the others wait for the
/// first. Panics with what failed and how to fix it (Node/npm missing, `npm ci` output).
pub fn ensure_node_modules() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(msg) = DONE.get_or_init(install_node_modules) {
        panic!("{msg}");
    }
}

struct LockGuard(PathBuf);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn install_node_modules() -> Result<(), String> {
    let dir = peer_dir();
    let lock_path = dir.join(".npm-ci.lock");
    let deadline = Instant::now() + NPM_CI_TIMEOUT + Duration::from_secs(60);
    loop {
        if node_modules_complete(&dir) {
            return Ok(());
        }
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
        {
            Ok(mut file) => {
                let _guard = LockGuard(lock_path.clone());
                let _ = writeln!(file, "{}", std::process::id());
                // Another binary may have finished between our check and the lock.
                if node_modules_complete(&dir) {
                    return Ok(());
                }
                return run_npm_ci(&dir);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let age = fs::metadata(&lock_path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                if age.is_some_and(|a| a > LOCK_STALE_AFTER) {
                    let _ = fs::remove_file(&lock_path);
                    continue;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "timed out waiting for another test binary's `npm ci` in {} \
                         (lock file {} still present). Remove the lock file and run \
                         `cd tests/peer && npm ci` by hand to see what is wrong.",
                        dir.display(),
                        lock_path.display()
                    ));
                }
                thread::sleep(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(format!(
                    "cannot create the npm lock file {}: {e}",
                    lock_path.display()
                ));
            }
        }
    }
}

fn tool_version(tool: &str) -> Result<String, String> {
    let output = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "`{tool} --version` could not run ({e}). The socket.io peer tests need Node.js \
                 >= 18 with npm on PATH (CI uses Node 20); install them (e.g. \
                 `apt-get install nodejs npm`) and re-run."
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`{tool} --version` failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn run_npm_ci(dir: &Path) -> Result<(), String> {
    let node = tool_version("node")?;
    let major: u32 = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 18 {
        return Err(format!(
            "Node.js {node} is too old for the socket.io peers; install Node >= 18 (CI uses 20)."
        ));
    }
    let npm = tool_version("npm")?;
    eprintln!("support: installing tests/peer/node_modules with `npm ci` (node {node}, npm {npm})");
    let mut child = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `npm ci` in {}: {e}", dir.display()))?;
    let out = collect_all(child.stdout.take());
    let err = collect_all(child.stderr.take());
    let status = wait_bounded(&mut child, NPM_CI_TIMEOUT);
    let text = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        join_text(out),
        join_text(err)
    );
    match status {
        None => Err(format!(
            "`npm ci` in {} did not finish within {NPM_CI_TIMEOUT:?} (is the npm registry \
             reachable?).\n{text}",
            dir.display()
        )),
        Some(s) if !s.success() => Err(format!(
            "`npm ci --no-audit --no-fund` in {} failed ({s}). Fix it by hand with \
             `cd tests/peer && npm ci` (needs the npm registry and a package-lock.json that \
             matches package.json).\n{text}",
            dir.display()
        )),
        Some(_) if !node_modules_complete(dir) => Err(format!(
            "`npm ci` in {} succeeded but node_modules lacks one of {REQUIRED_PACKAGES:?}.\n{text}",
            dir.display()
        )),
        Some(_) => Ok(()),
    }
}

/// Reads a pipe to its end on a thread.
fn collect_all<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

fn join_text(handle: JoinHandle<String>) -> String {
    handle
        .join()
        .unwrap_or_else(|_| "<reader thread panicked>".to_owned())
}

/// Waits for `child` at most `timeout`; kills it and returns `None` on expiry.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => {
                let _ = child.kill();
                return child.wait().ok();
            }
        }
    }
}

/// One `--log-frames` line of `spaces-server.js`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `"in"` (received by the server), `"out"` (sent by the server) or `"close"`.
    pub dir: String,
    /// engine.io session id of the connection.
    pub sid: String,
    /// The websocket text frame exactly as on the wire; lowercase hex for binary frames;
    /// the close reason for `dir == "close"`; the parser error text for undecodable input.
    pub data: String,
    /// Whether `data` is the hex of a binary frame.
    pub binary: bool,
}

impl Frame {
    /// Parses a stdout line; `None` if it is not a frame-log line.
    pub fn parse(line: &str) -> Option<Self> {
        if !line.starts_with("{\"dir\":") {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let dir = text("dir")?;
        let data = text("data")
            .or_else(|| text("reason"))
            .or_else(|| text("error"))
            .unwrap_or_default();
        Some(Self {
            dir,
            sid: text("sid").unwrap_or_default(),
            data,
            binary: v.get("binary").and_then(|b| b.as_bool()).unwrap_or(false),
        })
    }
}

/// A running Node peer script from `tests/peer/`; killed on drop.
pub struct NodePeer {
    script: String,
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    lines_rx: Receiver<String>,
    /// Lines received and not yet taken by a `wait_for_*` call, in order.
    pending: VecDeque<String>,
    /// Every stdout line after `LISTENING`, in order.
    history: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl NodePeer {
    /// Starts `node tests/peer/<script> <args…>` and waits (at most [`START_TIMEOUT`]) for its
    /// first stdout line, `LISTENING <port>`. Panics with the script's stderr otherwise.
    pub fn spawn(script: &str, args: &[&str]) -> Self {
        ensure_node_modules();
        let dir = peer_dir();
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start `node {script}` (is Node.js on PATH?): {e}")
            });

        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = {
            let pipe = child.stderr.take().expect("stderr is piped");
            let sink = Arc::clone(&stderr);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            })
        };
        let stdin = child.stdin.take();
        let mut peer = Self {
            script: script.to_owned(),
            child,
            stdin,
            port: 0,
            lines_rx,
            pending: VecDeque::new(),
            history: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
        };
        match peer.lines_rx.recv_timeout(START_TIMEOUT) {
            Ok(first) => match first
                .strip_prefix("LISTENING ")
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                Some(port) if port != 0 => peer.port = port,
                _ => peer.fail(&format!(
                    "first stdout line should be `LISTENING <port>`, got {first:?}"
                )),
            },
            Err(RecvTimeoutError::Timeout) => peer.fail(&format!(
                "no `LISTENING <port>` line within {START_TIMEOUT:?}"
            )),
            Err(RecvTimeoutError::Disconnected) => {
                peer.fail("exited before printing `LISTENING <port>`")
            }
        }
        peer
    }

    /// Kills the peer and panics with `what`, its exit status and its full stderr.
    #[track_caller]
    pub fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        if let Some(reader) = self.stderr_reader.take() {
            // The process is gone, so its stderr pipe has reached EOF.
            let _ = reader.join();
        }
        let recent: Vec<&String> = self.history.iter().rev().take(20).rev().collect();
        panic!(
            "node peer {}: {what}\nexit status: {status:?}\nlast stdout lines: {recent:#?}\n\
             --- stderr ---\n{}",
            self.script,
            self.stderr()
        );
    }

    /// The TCP port the peer listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT<ns>`, e.g. `url("/chat")`: what socket.io-client takes.
    pub fn url(&self, ns: &str) -> String {
        format!("http://127.0.0.1:{}{ns}", self.port)
    }

    /// The engine.io websocket URL with `user_query` first (as socket.io-client orders it):
    /// `ws://127.0.0.1:PORT/socket.io/?<user_query>&EIO=3&transport=websocket`.
    pub fn ws_url(&self, user_query: &str) -> String {
        let sep = if user_query.is_empty() { "" } else { "&" };
        format!(
            "ws://127.0.0.1:{}/socket.io/?{user_query}{sep}EIO=3&transport=websocket",
            self.port
        )
    }

    /// Everything the peer wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn drain_channel(&mut self) {
        while let Ok(line) = self.lines_rx.try_recv() {
            self.history.push(line.clone());
            self.pending.push_back(line);
        }
    }

    /// Every stdout line received after `LISTENING`, in order (whether taken or not).
    pub fn lines(&mut self) -> Vec<String> {
        self.drain_channel();
        self.history.clone()
    }

    /// Waits at most `timeout` for a stdout line matching `pred` that no earlier wait took,
    /// and takes it. Lines that do not match stay available to later waits.
    pub fn wait_for_line(
        &mut self,
        mut pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        self.drain_channel();
        if let Some(i) = self.pending.iter().position(|l| pred(l)) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.lines_rx.recv_timeout(left) {
                Ok(line) => {
                    self.history.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                    self.pending.push_back(line);
                }
                Err(_) => return None,
            }
        }
    }

    /// Like [`wait_for_line`](Self::wait_for_line) but panics (with stderr) on timeout.
    #[track_caller]
    pub fn expect_line(
        &mut self,
        what: &str,
        pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> String {
        match self.wait_for_line(pred, timeout) {
            Some(line) => line,
            None => self.fail(&format!("no stdout line {what} within {timeout:?}")),
        }
    }

    /// All `--log-frames` lines so far, in order.
    pub fn frames(&mut self) -> Vec<Frame> {
        self.lines()
            .iter()
            .filter_map(|l| Frame::parse(l))
            .collect()
    }

    /// Waits at most `timeout` for a not-yet-taken frame-log line with direction `dir`
    /// whose data matches `pred`, and takes it.
    pub fn wait_for_frame(
        &mut self,
        dir: &str,
        mut pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Option<Frame> {
        self.wait_for_line(
            |l| Frame::parse(l).is_some_and(|f| f.dir == dir && pred(&f.data)),
            timeout,
        )
        .and_then(|l| Frame::parse(&l))
    }

    /// Sends one stdin command (e.g. `kick`, `say s1 hello`) and waits at most
    /// [`COMMAND_TIMEOUT`] for its `OK <verb>` line. Returns what follows `OK <verb> `
    /// (e.g. the JSON of `stats`, or a count). Panics on `ERR <verb>` or timeout.
    #[track_caller]
    pub fn command(&mut self, line: &str) -> String {
        let verb = line.split_whitespace().next().unwrap_or("").to_owned();
        assert!(!verb.is_empty(), "empty command");
        let written = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        if let Err(e) = written {
            self.fail(&format!("could not write command {line:?}: {e}"));
        }
        let ok = format!("OK {verb}");
        let ok_prefix = format!("OK {verb} ");
        let err_prefix = format!("ERR {verb} ");
        let answer = self.wait_for_line(
            |l| l == ok || l.starts_with(&ok_prefix) || l.starts_with(&err_prefix),
            COMMAND_TIMEOUT,
        );
        match answer {
            Some(l) if l.starts_with("ERR ") => self.fail(&format!("command {line:?} failed: {l}")),
            Some(l) => l[ok.len()..].trim().to_owned(),
            None => self.fail(&format!(
                "no `OK {verb}` answer to {line:?} within {COMMAND_TIMEOUT:?}"
            )),
        }
    }

    /// Runs `stats` and parses its JSON:
    /// `{"connections","chatSockets","subscriptions","messages","presenceEvents"}`.
    #[track_caller]
    pub fn stats(&mut self) -> serde_json::Value {
        let json = self.command("stats");
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("bad stats JSON {json:?}: {e}"))
    }

    /// Polls `stats` until `pred` holds, at most `timeout`; returns the last stats.
    #[track_caller]
    pub fn wait_for_stats(
        &mut self,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
        timeout: Duration,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.stats();
            if pred(&stats) {
                return stats;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "stats never matched within {timeout:?}; last: {stats}"
                ));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        // Closing stdin asks the peer to exit cleanly; kill it if it does not.
        drop(self.stdin.take());
        if wait_bounded(&mut self.child, Duration::from_millis(1500)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `spaces-server.js` on a free port with the given socket.io version
/// ([`SIO_2_0_4`] or [`SIO_1_7_3`]) and engine.io heartbeat settings.
pub fn spaces_server(sio: &str, ping_interval_ms: u64, ping_timeout_ms: u64) -> NodePeer {
    spaces_server_with(sio, ping_interval_ms, ping_timeout_ms, &[])
}

/// Like [`spaces_server`] with extra flags, e.g. `&["--log-frames"]`.
pub fn spaces_server_with(
    sio: &str,
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    extra: &[&str],
) -> NodePeer {
    let interval = ping_interval_ms.to_string();
    let timeout = ping_timeout_ms.to_string();
    let mut args = vec![
        "--sio",
        sio,
        "--port",
        "0",
        "--ping-interval",
        &interval,
        "--ping-timeout",
        &timeout,
    ];
    args.extend_from_slice(extra);
    NodePeer::spawn("spaces-server.js", &args)
}

/// The payload limit (bytes) of [`large_payload_server`], for the clients' `max_payload` too.
pub const LARGE_PAYLOAD: usize = 300_000;

/// A 2.0.4 Spaces server taking payloads up to [`LARGE_PAYLOAD`], for messages far larger
/// than a websocket read buffer.
pub fn large_payload_server() -> NodePeer {
    let limit = LARGE_PAYLOAD.to_string();
    spaces_server_with(SIO_2_0_4, 25_000, 60_000, &["--max-payload", &limit])
}

/// `len` bytes of text that never repeats at a 4 KiB stride, so a chunk misplaced while a
/// buffer grows shows in a comparison.
pub fn varied_text(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + (i % 23) as u8))
        .collect()
}

/// Runs `node tests/peer/js-client.js <args…>` (the official socket.io-client 2.0.4) to
/// completion, at most `timeout` (panics after killing it otherwise). Returns its exit
/// status (0 ok, 1 fail, 2 its own timeout) and stdout lines. Its stderr is printed.
pub fn run_js_client(args: &[&str], timeout: Duration) -> (ExitStatus, Vec<String>) {
    run_js_script("js-client.js", args, timeout)
}

/// Runs `node tests/peer/<script> <args…>` (a socket.io-client 2.0.4 script: `js-client.js`,
/// `js-chatter.js`) like [`run_js_client`].
pub fn run_js_script(script: &str, args: &[&str], timeout: Duration) -> (ExitStatus, Vec<String>) {
    ensure_node_modules();
    let dir = peer_dir();
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start `node {script}` (is Node.js on PATH?): {e}"));
    let out = collect_all(child.stdout.take());
    let err = collect_all(child.stderr.take());
    let status = wait_bounded(&mut child, timeout);
    let stdout = join_text(out);
    let stderr = join_text(err);
    eprintln!("{script} stderr:\n{stderr}");
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    match status {
        Some(status) => (status, lines),
        None => panic!(
            "{script} {args:?} did not exit within {timeout:?}\nstdout: {lines:#?}\nstderr:\n{stderr}"
        ),
    }
}

/// The `{"event","data"}` lines of a js-client run, parsed, in order.
pub fn js_client_events(lines: &[String]) -> Vec<(String, serde_json::Value)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let name = v.get("event")?.as_str()?.to_owned();
            Some((
                name,
                v.get("data").cloned().unwrap_or(serde_json::Value::Null),
            ))
        })
        .collect()
}

/// The final `RESULT …` line of a js-client run (without `RESULT `), if any.
pub fn js_client_result(lines: &[String]) -> Option<&str> {
    lines.last().and_then(|l| l.strip_prefix("RESULT "))
}

/// `target/<profile>/examples/<name>`, rebuilt first: `cargo test --test …` alone does not
/// build examples, and a stale binary would test old code.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args([
            "build",
            "--quiet",
            "-p",
            "spaces-socket-examples",
            "--example",
            name,
        ]);
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let status = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --example");
        assert!(status.success(), "cargo build --example {name} failed");
        built.push(name.to_owned());
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing after cargo build --example {name}",
        bin.display()
    );
    bin
}

#[cfg(feature = "raw-ws")]
pub mod raw_ws;
