//! Every wait of the blocking client is bounded, and waiting costs no CPU: silent servers,
//! refused ports, a server that stops answering pings, and an idle connection.

use crate::support::{BOUND, events_through as events_until};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use spaces_socket::client::{ConnectFailure, DisconnectReason};
use spaces_socket::spaces::{SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::{Client, Options, connect};
use tungstenite::Message;

fn client(port: u16, connect_timeout: Duration) -> Client {
    let mut config = SpacesConfig::new(&format!("http://127.0.0.1:{port}/chat")).expect("url");
    config.client.reconnection = false;
    // The fake servers announce short test heartbeats; take them as announced.
    config.client.ping_interval_bounds = Duration::from_millis(1)..=Duration::from_secs(300);
    config.client.ping_timeout_bounds = Duration::from_millis(1)..=Duration::from_secs(120);
    let mut options = Options::default();
    options.connect_timeout = connect_timeout;
    connect(config, Token::jwt("u"), options).expect("client builds")
}

/// A one-connection Engine.IO/`/chat` server over plain websocket: open packet with the
/// given heartbeat, `40`, `40/chat` for the CONNECT, pongs for pings if `pong`.
fn fake_server(ping_interval_ms: u64, ping_timeout_ms: u64, pong: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else {
            return;
        };
        let _ = tcp.set_read_timeout(Some(BOUND));
        let Ok(mut ws) = tungstenite::accept(tcp) else {
            return;
        };
        let open = format!(
            r#"0{{"sid":"s","upgrades":[],"pingInterval":{ping_interval_ms},"pingTimeout":{ping_timeout_ms}}}"#
        );
        if ws.send(Message::text(open)).is_err() || ws.send(Message::text("40")).is_err() {
            return;
        }
        while let Ok(m) = ws.read() {
            if let Message::Text(t) = m {
                let reply = if t.starts_with("40/chat") {
                    "40/chat"
                } else if t.as_str() == "2" && pong {
                    "3"
                } else {
                    continue;
                };
                if ws.send(Message::text(reply)).is_err() {
                    return;
                }
            }
        }
    });
    port
}

#[test]
fn a_server_that_never_answers_the_upgrade_fails_the_attempt_in_time() {
    // Accepts TCP (the kernel does, from the backlog) and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut c = client(port, Duration::from_millis(300));
    let start = Instant::now();
    let seen = events_until(&mut c, |e| matches!(e, SpacesEvent::ConnectFailed { .. }));
    let took = start.elapsed();
    assert!(
        seen.iter().any(|e| matches!(
            e,
            SpacesEvent::ConnectFailed {
                failure: ConnectFailure::Transport(r)
            } if r.contains("timeout") || r.contains("timed out")
        )),
        "{seen:#?}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "gave up early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "connect_timeout not honoured: {took:?}"
    );
    drop(listener);
}

#[test]
fn a_refused_port_fails_fast_and_backs_off_without_spinning() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut config = SpacesConfig::new(&format!("http://127.0.0.1:{port}/chat")).expect("url");
    config.client.reconnection_delay = Duration::from_millis(300);
    config.client.reconnection_delay_max = Duration::from_millis(300);
    config.client.randomization_factor = 0.0;
    config.client.reconnection_attempts = Some(3);
    let mut c = connect(config, Token::jwt("u"), Options::default()).expect("client builds");
    let cpu = ThreadCpu::now();
    let start = Instant::now();
    let seen = events_until(&mut c, |_| false);
    let took = start.elapsed();
    let failures = seen
        .iter()
        .filter(|e| matches!(e, SpacesEvent::ConnectFailed { .. }))
        .count();
    assert_eq!(failures, 4, "first attempt plus three retries: {seen:#?}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, SpacesEvent::ReconnectFailed))
    );
    assert!(c.is_closed());
    // Three 300 ms backoffs were slept, not spun.
    assert!(took >= Duration::from_millis(850), "{took:?}");
    // Each attempt blocks a handful of times (connect, sleep); a polling loop would block
    // hundreds of times.
    cpu.assert_below(Duration::from_millis(200), 60, "backing off");
}

#[test]
fn a_server_that_stops_answering_pings_is_detected_by_the_read_deadline() {
    let port = fake_server(200, 300, false);
    let mut c = client(port, Duration::from_secs(5));
    let start = Instant::now();
    let seen = events_until(&mut c, |e| matches!(e, SpacesEvent::Disconnected { .. }));
    let took = start.elapsed();
    assert!(
        matches!(
            seen.last(),
            Some(SpacesEvent::Disconnected {
                reason: DisconnectReason::PingTimeout
            })
        ),
        "{seen:#?}"
    );
    // Ping at 200 ms, no pong by 200 + 300 ms.
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn an_idle_connection_sleeps_in_the_kernel() {
    let port = fake_server(150, 1_000, true);
    let mut c = client(port, Duration::from_secs(5));
    events_until(&mut c, |e| matches!(e, SpacesEvent::Connected));
    // max_wait is honoured while connected and idle, and costs (almost) no CPU, even with
    // a pong every 150 ms.
    let cpu = ThreadCpu::now();
    let start = Instant::now();
    let mut pongs = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        let t = Instant::now();
        match c.next_event(Some(Duration::from_millis(100))) {
            None => {
                let waited = t.elapsed();
                assert!(
                    waited >= Duration::from_millis(95),
                    "returned early: {waited:?}"
                );
                assert!(
                    waited < Duration::from_millis(600),
                    "returned late: {waited:?}"
                );
            }
            Some(SpacesEvent::Pong { .. }) => pongs += 1,
            Some(_) => {}
        }
    }
    assert!(pongs >= 5, "heartbeat kept running: {pongs} pongs");
    // About 10 pings and 15 max_wait returns wake it some 25 times; polling with the
    // shortest socket timeout (rounded up to a kernel tick) would wake it ~200 times.
    cpu.assert_below(Duration::from_millis(150), 100, "idling for 1.5 s");
    c.close();
    assert!(c.is_closed());
}

#[test]
fn a_zero_max_wait_polls_without_waiting() {
    let port = fake_server(100, 1_000, true);
    let mut c = client(port, Duration::from_secs(5));
    events_until(&mut c, |e| matches!(e, SpacesEvent::Connected));
    // A game-loop style caller: poll, do other work, poll again. Pongs still arrive.
    let start = Instant::now();
    let mut pongs = 0;
    let mut slowest = Duration::ZERO;
    while pongs < 3 {
        assert!(start.elapsed() < BOUND, "no pongs while polling");
        let t = Instant::now();
        while let Some(e) = c.next_event(Some(Duration::ZERO)) {
            if matches!(e, SpacesEvent::Pong { .. }) {
                pongs += 1;
            }
        }
        slowest = slowest.max(t.elapsed());
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!("slowest zero-wait poll: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(50),
        "a poll waited: {slowest:?}"
    );
    c.close();
}

/// CPU time and wake-ups of the current thread (Linux: `/proc/thread-self/schedstat` and
/// `status`); the checks are skipped where those files do not exist.
struct ThreadCpu(Option<(Duration, u64)>);

impl ThreadCpu {
    fn now() -> Self {
        Self(thread_usage())
    }

    /// Asserts that since [`ThreadCpu::now`] the thread used less than `cpu` and blocked
    /// (slept in the kernel) fewer than `wakeups` times.
    #[track_caller]
    fn assert_below(&self, cpu: Duration, wakeups: u64, what: &str) {
        if let (Some((cpu0, sw0)), Some((cpu1, sw1))) = (self.0, thread_usage()) {
            let used = cpu1.saturating_sub(cpu0);
            let woke = sw1.saturating_sub(sw0);
            eprintln!("{what}: {used:?} of CPU, {woke} wake-ups");
            assert!(
                used < cpu,
                "{what} used {used:?} of CPU (limit {cpu:?}): spinning?"
            );
            assert!(
                woke < wakeups,
                "{what} woke {woke} times (limit {wakeups}): polling?"
            );
        }
    }
}

fn thread_usage() -> Option<(Duration, u64)> {
    // schedstat: "<ns on CPU> <ns waiting to run> <timeslices>".
    let sched = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let on_cpu: u64 = sched.split_whitespace().next()?.parse().ok()?;
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let voluntary: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()?;
    Some((Duration::from_nanos(on_cpu), voluntary))
}
