//! Helpers for the async runtime tests: the Node peers, one bounded wait, event matching, a
//! session config tuned for tests, the TLS fixtures, and the whole-session scenario every
//! async runtime must pass against the Node Spaces server.
//!
//! The smol and async-std crates' test binaries include this file too (with `#[path]`), so it
//! names only crates they also have: `spaces_socket_async_io` (their dependency), `async_io`,
//! `futures_lite`, `serde_json` and `spaces_socket_peers`.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use futures_lite::future;
use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_async_io::{Client, Error};

/// The Node socket.io peers (`tests/peer/`).
pub use spaces_socket_peers as peer;

/// How long any single expected step may take.
pub const STEP: Duration = Duration::from_secs(15);

/// The one bounded wait: `fut`, or a panic naming `what` if it takes longer than `limit`.
pub fn within<T>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = T>,
) -> impl Future<Output = T> {
    let what = what.to_owned();
    async move {
        let expired = async {
            async_io::Timer::after(limit).await;
            None
        };
        match future::or(async { Some(fut.await) }, expired).await {
            Some(value) => value,
            None => panic!("timed out after {limit:?} waiting for {what}"),
        }
    }
}

/// A TLS test fixture from the root crate's `tests/fixtures/` (see
/// `tls_with_a_private_ca.rs` for how they were made).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("tests").join("fixtures").join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("no tests/fixtures/{name} above the crate"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads `client`'s events until one matches `pred` (at most [`STEP`]); panics with the
/// events seen meanwhile if none does or the session ends.
pub async fn expect_event(
    client: &Client,
    what: &str,
    mut pred: impl FnMut(&SpacesEvent) -> bool,
) -> SpacesEvent {
    let mut seen = Vec::new();
    let found = within(what, STEP, async {
        while let Some(event) = client.next_event().await {
            if pred(&event) {
                return Some(event);
            }
            seen.push(format!("{event:?}"));
        }
        None
    })
    .await;
    match found {
        Some(event) => event,
        None => panic!("the session's events ended before {what}; events seen: {seen:#?}"),
    }
}

/// Every event left, until the session's events end (at most [`STEP`]).
pub async fn the_rest(client: &Client) -> Vec<SpacesEvent> {
    within("the rest of the events", STEP, async {
        let mut rest = Vec::new();
        while let Some(event) = client.next_event().await {
            rest.push(event);
        }
        rest
    })
    .await
}

/// A session config for `url` that reconnects quickly and predictably (no jitter).
pub fn test_config(url: &str) -> SpacesConfig {
    let mut config = SpacesConfig::new(url).expect("the peer URL is valid");
    config.client.reconnection_delay = Duration::from_millis(500);
    config.client.reconnection_delay_max = Duration::from_millis(1000);
    config.client.randomization_factor = 0.0;
    config
}

/// The `bodyText` and sender id of a message event.
pub fn text_and_sender(message: &spaces_socket::spaces::MessageSent) -> (String, String) {
    let text = message
        .content
        .as_ref()
        .and_then(|c| c.body_text.clone())
        .unwrap_or_default();
    let sender = message
        .sender
        .as_ref()
        .and_then(|s| s.id.clone())
        .unwrap_or_default();
    (text, sender)
}

/// Subscribes `client` to `space` and waits for `Subscribed`.
pub async fn subscribe(client: &Client, space: &str) {
    client.subscribe(space, None).expect("session open");
    expect_event(
        client,
        &format!("Subscribed {{ space: {space} }}"),
        |e| matches!(e, SpacesEvent::Subscribed { space: s } if s == space),
    )
    .await;
}

/// The whole life of a session on one runtime: connect, subscribe, send and get `Confirmed`,
/// receive a second client's message, unsubscribe, close (the events end after `Closed`).
pub async fn full_session(url: &str, connect: impl Fn(SpacesConfig, Token) -> Client) {
    let alice = connect(test_config(url), Token::jwt("alice"));
    expect_event(&alice, "alice Connected", |e| {
        matches!(e, SpacesEvent::Connected)
    })
    .await;
    subscribe(&alice, "s1").await;

    let bob = connect(test_config(url), Token::jwt("bob"));
    subscribe(&bob, "s1").await;

    // Alice sends: her copy confirms it, Bob receives it as a message.
    let id = alice
        .send_message(SendMessage::chat("s1", "hello from alice"))
        .expect("the session accepts the message");
    let confirmed = expect_event(
        &alice,
        "alice's Confirmed",
        |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
    )
    .await;
    let SpacesEvent::Confirmed { message, .. } = confirmed else {
        unreachable!("matched above")
    };
    assert_eq!(
        text_and_sender(&message),
        ("hello from alice".to_owned(), "alice".to_owned())
    );
    let received = expect_event(&bob, "bob receiving alice's message", |e| {
        matches!(e, SpacesEvent::Message(_))
    })
    .await;
    let SpacesEvent::Message(message) = received else {
        unreachable!("matched above")
    };
    assert_eq!(
        text_and_sender(&message),
        ("hello from alice".to_owned(), "alice".to_owned())
    );

    // Bob answers: Alice receives it as a Message, not a confirmation of her own.
    bob.send_message(SendMessage::chat("s1", "hi alice"))
        .expect("the session accepts bob's message");
    let received = expect_event(&alice, "alice receiving bob's message", |e| {
        matches!(e, SpacesEvent::Message(_))
    })
    .await;
    let SpacesEvent::Message(message) = received else {
        unreachable!("matched above")
    };
    assert_eq!(
        text_and_sender(&message),
        ("hi alice".to_owned(), "bob".to_owned())
    );

    alice.unsubscribe("s1").expect("session open");
    expect_event(
        &alice,
        "Unsubscribed { s1 }",
        |e| matches!(e, SpacesEvent::Unsubscribed { space } if space == "s1"),
    )
    .await;

    within("alice.close()", STEP, alice.close()).await;
    assert!(alice.is_closed(), "the client reports the session ended");
    assert_eq!(alice.subscribe("s2", None), Err(Error::Closed));
    expect_event(&alice, "alice Closed", |e| matches!(e, SpacesEvent::Closed)).await;
    assert!(
        within("the end of alice's events", STEP, alice.next_event())
            .await
            .is_none(),
        "the events end after Closed"
    );

    within("bob.close()", STEP, bob.close()).await;
    expect_event(&bob, "bob Closed", |e| matches!(e, SpacesEvent::Closed)).await;
}

/// Issue 16 (1): connects with the default heartbeat bounds to `url`, a server announcing a
/// 300 ms `pingInterval` and `pingTimeout` (it drops a connection silent for 600 ms), and
/// checks that one connection is kept for `kept` (no `Disconnected`, no second `Connected`)
/// while the pongs show the client pinging at the server's pace.
pub async fn kept_under_a_short_heartbeat(
    url: &str,
    kept: Duration,
    connect: impl Fn(SpacesConfig, Token) -> Client,
) {
    let client = connect(test_config(url), Token::jwt("alice~1"));
    expect_event(&client, "Connected", |e| {
        matches!(e, SpacesEvent::Connected)
    })
    .await;
    let mut pongs = 0;
    let mut bad = Vec::new();
    let watch = async {
        while let Some(event) = client.next_event().await {
            match event {
                SpacesEvent::Pong { .. } => pongs += 1,
                e @ (SpacesEvent::Disconnected { .. }
                | SpacesEvent::Connected
                | SpacesEvent::Reconnecting { .. }
                | SpacesEvent::ConnectFailed { .. }
                | SpacesEvent::Closed) => bad.push(e),
                _ => {}
            }
        }
    };
    future::or(watch, async {
        async_io::Timer::after(kept).await;
    })
    .await;
    assert!(
        bad.is_empty(),
        "the one connection was dropped or replaced within {kept:?}: {bad:#?}"
    );
    assert!(
        pongs >= 8,
        "the client pings at the server's 300 ms interval: {pongs} pongs in {kept:?}"
    );
    within("close()", STEP, client.close()).await;
}
