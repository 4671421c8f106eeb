//! Tokens, space PINs and session ids never reach the log through a whole session with a
//! reconnect, on the blocking and the async runtimes (str0m's `pii` test idea): not from our
//! crates at any level, and not from any crate up to `debug`. The one exception is a third
//! party's `trace` level: tungstenite traces the raw upgrade request, whose query carries the
//! token (the Spaces protocol puts it there); the runtime docs say to keep that level off.
use spaces_socket_peers as support;

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::{Options, Session};

const TOKEN: &str = "tok3n~SECRET-JWT-VALUE";
const PIN: &str = "PIN-SECRET-4321";

/// Every record at every level, as text.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

/// Reads `client`'s events (on any runtime) until one matches `pred`, for at most 15 s.
fn wait_for(client: &mut dyn Session, what: &str, pred: impl Fn(&SpacesEvent) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if client
            .next_event(Some(Duration::from_millis(100)))
            .is_some_and(|e| pred(&e))
        {
            return;
        }
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_whole_session_with_a_reconnect_logs_no_secret() {
    let logs = capture();
    let mut peer = support::spaces_server_with(support::SIO_2_0_4, 300, 1000, &["--log-frames"]);
    let config = SpacesConfig::new(&peer.url("/chat")).expect("config");
    let mut client = spaces_socket_blocking::connect(config, Token::jwt(TOKEN), Options::default())
        .expect("client");
    client.subscribe("s1", Some(PIN)).expect("subscribe");
    wait_for(&mut client, "subscribed", |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    client
        .send_message(SendMessage::chat("s1", "hello"))
        .expect("send");
    wait_for(&mut client, "confirmed", |e| {
        matches!(e, SpacesEvent::Confirmed { .. })
    });
    peer.command("kick");
    wait_for(&mut client, "resubscribed", |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    client.close();

    let mut client = spaces_socket_smol::connect(
        SpacesConfig::new(&peer.url("/chat")).expect("config"),
        Token::oauth(TOKEN),
        Options::default(),
    )
    .expect("async session");
    client.subscribe("s1", Some(PIN)).expect("subscribe");
    // The async client as a blocking `Session`: next_event waits on its own.
    wait_for(&mut client, "the async session subscribed", |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    Session::close(&mut client);

    let sids: Vec<String> = peer
        .frames()
        .into_iter()
        .map(|f| f.sid)
        .filter(|s| !s.is_empty())
        .collect();
    assert!(sids.len() >= 3, "the server saw three sessions: {sids:?}");
    let lines = logs.0.lock().expect("logs").clone();
    let secret_parts = ["SECRET-JWT-VALUE", PIN];
    let ours_or_not_trace = |l: &&String| l.contains(" spaces_socket") || !l.starts_with("TRACE");
    let checked: Vec<&String> = lines.iter().filter(ours_or_not_trace).collect();
    assert!(
        checked.iter().any(|l| l.contains(" spaces_socket")),
        "our crates log at debug level: {lines:#?}"
    );
    for line in checked {
        for secret in secret_parts
            .iter()
            .copied()
            .chain(sids.iter().map(String::as_str))
        {
            assert!(
                !line.contains(secret),
                "{secret:?} leaked into the log: {line}"
            );
        }
    }
}
