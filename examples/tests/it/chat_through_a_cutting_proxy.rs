//! Issue 9's end-to-end proof: the chat example through a proxy that cuts its connections,
//! against an emulator whose echoes have odd field types, against one that omits
//! `loopbackMetadata`, and against the real socket.io 2.0.4 server doing both. Every stdin
//! line reaches a subscriber connected directly to the server exactly once, and chat exits 0,
//! on each runtime.
//!
//! | test | server mode | proves |
//! |---|---|---|
//! | `through_cuts_odd_echoes_confirm_every_line_once_on_each_runtime` | `odd_message_fields` | an echo with odd field types confirms; nothing lost or doubled across cuts |
//! | `through_cuts_echoes_without_loopback_confirm_every_line_once_on_each_runtime` | `drop_loopback` | an echo without `loopbackMetadata` confirms by space, category and text; nothing lost or doubled across cuts |
//! | `through_cuts_to_socketio_odd_echoes_without_loopback_confirm_each_line_once` | real socket.io 2.0.4, `--odd-fields --drop-loopback` | both at once, against the real server |
//!
//! How the proxy cuts: each of the first connections is cut once the client has sent a
//! given number of bytes. The chunk that crosses it, and everything after, is never forwarded
//! (those lines are in flight and must be sent again); the server's answers to what it did
//! receive are let through until it has been quiet for [`QUIET`]; then both sockets are shut
//! down without a websocket close. A cut between the server taking a line and its echo
//! reaching the client is left out on purpose: no client can tell whether such a line was
//! delivered, so at-least-once sends it again (a duplicate by design) and at-most-once reports
//! it `MaybeDelivered`; the core's `echoes_and_delivery_policies` tests cover that window.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use spaces_socket::spaces::{SpacesConfig, SpacesEvent, Token};
use spaces_socket_emulator::listener::EmulatorServer;
use spaces_socket_emulator::{DemoAuth, EmulatorConfig};

use crate::chat::chat_command;

/// How long the server must have been silent before a cut, so that every answer to what it
/// received has reached the client.
const QUIET: Duration = Duration::from_millis(250);
/// Client bytes after which each of the first connections is cut (later ones pass through).
const CUT_AFTER: [usize; 3] = [1_100, 1_300, 1_500];
/// Stdin lines per chat run, written one every [`LINE_GAP`] so that cuts find lines in flight.
const LINES: usize = 30;
const LINE_GAP: Duration = Duration::from_millis(120);
/// The bound on one chat run.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// A loopback TCP proxy to `upstream` that cuts connection `i` after `CUT_AFTER[i]` client
/// bytes (see the module documentation). Stops when dropped.
struct CuttingProxy {
    port: u16,
    cuts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl CuttingProxy {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cuts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (cuts, stop) = (Arc::clone(&cuts), Arc::clone(&stop));
            thread::spawn(move || {
                for (n, client) in listener.incoming().enumerate() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let (Ok(client), Ok(server)) = (client, TcpStream::connect(upstream)) else {
                        continue;
                    };
                    let cut_after = CUT_AFTER.get(n).copied();
                    let cuts = Arc::clone(&cuts);
                    thread::spawn(move || relay(client, server, cut_after, &cuts));
                }
            })
        };
        Self {
            port,
            cuts,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/chat", self.port)
    }

    fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Relays one connection both ways; cuts it after `cut_after` client bytes if set.
fn relay(client: TcpStream, server: TcpStream, cut_after: Option<usize>, cuts: &AtomicUsize) {
    let last_down = Arc::new(Mutex::new(Instant::now()));
    let down = {
        let (mut from, mut to) = (
            server.try_clone().expect("clone"),
            client.try_clone().expect("clone"),
        );
        let last_down = Arc::clone(&last_down);
        thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                *last_down.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let (mut from, mut to) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let mut sent = 0usize;
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if cut_after.is_some_and(|limit| sent + n > limit) {
            // Hold this chunk, let the server's answers drain, then cut both ways.
            let frozen = Instant::now();
            let deadline = frozen + Duration::from_secs(5);
            loop {
                let last = *last_down.lock().unwrap_or_else(|e| e.into_inner());
                let quiet_since = last.max(frozen);
                if quiet_since.elapsed() >= QUIET || Instant::now() > deadline {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            cuts.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            break;
        }
        sent += n;
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = down.join();
}

/// The emulator in `mode`: see [`every_line_once_through_cuts`].
fn every_line_once_through_cuts_to_the_emulator(mode: &str, config: EmulatorConfig) {
    let server = EmulatorServer::start("127.0.0.1:0", config, Box::new(DemoAuth))
        .expect("start the emulator");
    every_line_once_through_cuts(mode, server.local_addr(), &server.url());
}

/// The chat (token `ann`) through a [`CuttingProxy`] to the server at `upstream` and a
/// blocking client (`bob`) connected directly to `url`; checks every line reaches `bob`
/// exactly once and chat exits 0, for each runtime.
fn every_line_once_through_cuts(mode: &str, upstream: SocketAddr, url: &str) {
    for runtime in ["blocking", "smol", "async-std"] {
        let who = format!("{mode}, {runtime}");
        let space = format!("cut-{runtime}");
        let proxy = CuttingProxy::start(upstream);
        let mut bob = spaces_socket_blocking::connect(
            SpacesConfig::new(url).expect("server URL"),
            Token::oauth("bob"),
            spaces_socket_blocking::Options::default(),
        )
        .expect("bob connects");
        bob.subscribe(&space, None).expect("bob subscribes");
        wait_subscribed(&mut bob, &who);

        let proxied = proxy.url();
        let mut child = chat_command(&["--url", &proxied, "--token-type", "oauth"])
            .args(["--token", "ann", "--space", &space, "--runtime", runtime])
            .args(["--timeout", "60"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the chat example");
        let mut stdin = child.stdin.take().expect("stdin");
        let lines: Vec<String> = (1..=LINES).map(|i| format!("{runtime} line {i}")).collect();
        let writer = {
            let lines = lines.clone();
            thread::spawn(move || {
                for line in lines {
                    if writeln!(stdin, "{line}").is_err() {
                        break;
                    }
                    thread::sleep(LINE_GAP);
                }
            })
        };
        let status = wait_bounded(&mut child, &who);
        let _ = writer.join();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert!(status.success(), "{who}: chat exited {status}\n{stderr}");
        eprintln!("{who}: {} cuts", proxy.cuts());
        assert!(
            proxy.cuts() >= 2,
            "{who}: only {} cut(s); the test did not cut repeatedly\n{stderr}",
            proxy.cuts()
        );

        // Every line reaches bob; then a moment more in which a duplicate would show.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut settle: Option<Instant> = None;
        while settle.is_none_or(|t| t.elapsed() < Duration::from_millis(500)) {
            assert!(
                Instant::now() < deadline,
                "{who}: bob got {seen:?}, not every line\n{stderr}"
            );
            if let Some(SpacesEvent::Message(m)) = bob.next_event(Some(Duration::from_millis(50))) {
                let from_ann = m.sender.as_ref().and_then(|s| s.id.as_deref()) == Some("ann");
                let text = m.content.as_ref().and_then(|c| c.body_text.clone());
                if let (true, Some(text)) = (from_ann, text) {
                    *seen.entry(text).or_default() += 1;
                }
            }
            if settle.is_none() && seen.len() >= lines.len() {
                settle = Some(Instant::now());
            }
        }
        let expected: BTreeMap<String, usize> = lines.iter().map(|l| (l.clone(), 1)).collect();
        assert_eq!(seen, expected, "{who}: each line once\n{stderr}");
        bob.close();
    }
}

/// Waits (bounded) for `child` to exit; kills it and panics naming `who` otherwise.
fn wait_bounded(child: &mut std::process::Child, who: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for chat") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("{who}: chat did not finish within {RUN_LIMIT:?}\n{stderr}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most 10 s) for `client`'s `Subscribed`; panics naming `who` otherwise.
fn wait_subscribed(client: &mut spaces_socket_blocking::Client, who: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(SpacesEvent::Subscribed { .. }) =
            client.next_event(Some(Duration::from_millis(100)))
        {
            return;
        }
    }
    panic!("{who}: the direct subscriber never subscribed");
}

#[test]
fn through_cuts_odd_echoes_confirm_every_line_once_on_each_runtime() {
    let config = EmulatorConfig {
        odd_message_fields: true,
        ..EmulatorConfig::default()
    };
    every_line_once_through_cuts_to_the_emulator("odd fields", config);
}

#[test]
fn through_cuts_echoes_without_loopback_confirm_every_line_once_on_each_runtime() {
    let config = EmulatorConfig {
        drop_loopback: true,
        ..EmulatorConfig::default()
    };
    every_line_once_through_cuts_to_the_emulator("no loopbackMetadata", config);
}

#[test]
fn through_cuts_to_socketio_odd_echoes_without_loopback_confirm_each_line_once() {
    let peer = crate::support::spaces_server_with(
        crate::support::SIO_2_0_4,
        25_000,
        60_000,
        &["--odd-fields", "--drop-loopback"],
    );
    let upstream = SocketAddr::from(([127, 0, 0, 1], peer.port()));
    every_line_once_through_cuts(
        "socket.io 2.0.4, odd and no loopbackMetadata",
        upstream,
        &peer.url("/chat"),
    );
}
