//! The blocking runtime reconnects by itself against the real socket.io 2.0.4 server: a fresh
//! token from the provider per connection, subscriptions replayed, messages sent while offline
//! confirmed after resubscription; a refused token ends the session closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::support::peer;
use crate::support::{body, client, drain_until_closed, wait_for};
use spaces_socket::client::DisconnectReason;
use spaces_socket::spaces::{
    SendMessage, SpacesConfig, SpacesEvent, Token, TokenProvider, token_fn,
};

const STEP: Duration = Duration::from_secs(10);
/// Short heartbeats so pings and pongs flow through the adapter during the test.
const PING_INTERVAL_MS: u64 = 300;
const PING_TIMEOUT_MS: u64 = 1_000;

/// A provider that hands out `<user>~<n>` for its n-th call (from 1) and counts the calls.
fn counting(user: &'static str) -> (Arc<AtomicUsize>, impl TokenProvider + 'static) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let provider = token_fn(move |_now: SystemTime| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Token::jwt(format!("{user}~{n}")))
    });
    (calls, provider)
}

fn reconnects_after(server_command: &str, expected: fn(&DisconnectReason) -> bool) {
    let mut peer = peer::spaces_server_with(
        peer::SIO_2_0_4,
        PING_INTERVAL_MS,
        PING_TIMEOUT_MS,
        &["--log-frames"],
    );
    let (calls, provider) = counting("carol");
    let mut carol = client(&peer.url("/chat"), provider);
    carol.subscribe("s1", None).expect("session open");
    wait_for(
        &mut carol,
        "carol",
        "Subscribed s1",
        STEP,
        |e| matches!(e, SpacesEvent::Subscribed { space } if space == "s1"),
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one token for one connection"
    );
    // Heartbeats run through the adapter: a pong answers our ping within a few intervals.
    wait_for(&mut carol, "carol", "a pong", STEP, |e| {
        matches!(e, SpacesEvent::Pong { .. })
    });

    peer.command(server_command);
    let (lost, _) = wait_for(&mut carol, "carol", "Disconnected", STEP, |e| {
        matches!(e, SpacesEvent::Disconnected { .. })
    });
    let SpacesEvent::Disconnected { reason } = lost else {
        unreachable!()
    };
    assert!(
        expected(&reason),
        "{server_command}: unexpected reason {reason:?}"
    );

    // Offline now (the reconnection waits for its backoff timer, which only runs inside
    // next_event): this message is held, not lost.
    assert!(!carol.core().is_connected());
    let id = carol
        .send_message(SendMessage::chat("s1", "sent while offline"))
        .expect("held while offline");
    assert_eq!(carol.core().unconfirmed(), 1);

    let (_, before) = wait_for(
        &mut carol,
        "carol",
        "Confirmed after reconnect",
        STEP,
        |e| matches!(e, SpacesEvent::Confirmed { id: got, .. } if *got == id),
    );
    let order: Vec<&str> = before
        .iter()
        .filter_map(|e| match e {
            SpacesEvent::Connected => Some("connected"),
            SpacesEvent::Subscribed { .. } => Some("subscribed"),
            SpacesEvent::Reconnecting { .. } => Some("reconnecting"),
            _ => None,
        })
        .fold(Vec::new(), |mut order, step| {
            // Several attempts may be scheduled before one succeeds.
            if order.last() != Some(&step) {
                order.push(step);
            }
            order
        });
    assert_eq!(
        order,
        ["reconnecting", "connected", "subscribed"],
        "resubscribed before the held message went out: {before:#?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the reconnection asked for a fresh token"
    );
    assert_eq!(carol.core().unconfirmed(), 0);
    // The server saw the second token in the /chat CONNECT of the new session.
    assert!(
        peer.wait_for_frame(
            "in",
            |d| d.starts_with("40/chat?") && d.contains("token=carol~2"),
            STEP
        )
        .is_some(),
        "no CONNECT with the fresh token in the server's frame log"
    );

    // Still subscribed on the new session: another user's message arrives.
    peer.command("say s1 after-the-reconnect");
    wait_for(
        &mut carol,
        "carol",
        "a message after reconnecting",
        STEP,
        |e| matches!(e, SpacesEvent::Message(m) if body(m) == Some("after-the-reconnect")),
    );
    carol.close();
    drain_until_closed(&mut carol, "carol", STEP);
}

#[test]
fn a_kick_reconnects_with_a_fresh_token_and_resubscribes() {
    reconnects_after("kick", |r| *r == DisconnectReason::TransportClose);
}

#[test]
fn a_dropped_tcp_connection_reconnects_too() {
    reconnects_after("drop", |r| matches!(r, DisconnectReason::TransportError(_)));
}

#[test]
fn an_expired_token_fails_authentication_and_closes() {
    let mut peer = peer::spaces_server(peer::SIO_2_0_4, PING_INTERVAL_MS, PING_TIMEOUT_MS);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let provider = token_fn(move |_now: SystemTime| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Token::jwt("expired"))
    });
    let mut dave = client(&peer.url("/chat"), provider);
    dave.subscribe("s1", None).expect("session open");
    let id = dave
        .send_message(SendMessage::chat("s1", "never delivered"))
        .expect("held until subscribed");
    let (failed, _) = wait_for(&mut dave, "dave", "AuthFailed", STEP, |e| {
        matches!(e, SpacesEvent::AuthFailed(_))
    });
    let SpacesEvent::AuthFailed(failure) = failed else {
        unreachable!()
    };
    assert_eq!(failure.message, "jwt expired");
    assert_eq!(failure.code.as_deref(), Some("invalid_token"));

    let rest = drain_until_closed(&mut dave, "dave", STEP);
    assert!(dave.is_closed());
    assert!(
        rest.iter().any(|e| matches!(
            e,
            SpacesEvent::SendFailed { id: got, .. } if *got == id
        )),
        "the held message fails when the session closes: {rest:#?}"
    );
    assert!(
        matches!(rest.last(), Some(SpacesEvent::Closed)),
        "{rest:#?}"
    );
    // A closure may hand out a fresh token each time, so the refusal is retried, a bounded
    // number of times (a fixed `Token` is never retried).
    let attempts = 1 + default_auth_retries();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        attempts,
        "one attempt and the configured retries"
    );
    // Closed for good: no reconnection, nothing more to read, and the server is left alone.
    assert!(dave.next_event(Some(Duration::from_millis(300))).is_none());
    assert_eq!(calls.load(Ordering::SeqCst), attempts);
    peer.wait_for_stats(|s| s["connections"] == 0, STEP);
}

#[test]
fn a_token_that_expires_before_a_reconnect_ends_closed() {
    let mut peer = peer::spaces_server(peer::SIO_2_0_4, PING_INTERVAL_MS, PING_TIMEOUT_MS);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let provider = token_fn(move |_now: SystemTime| {
        let token = match counter.fetch_add(1, Ordering::SeqCst) {
            0 => "erin~1",
            _ => "expired",
        };
        Ok(Token::jwt(token))
    });
    let mut erin = client(&peer.url("/chat"), provider);
    erin.subscribe("s1", None).expect("session open");
    wait_for(&mut erin, "erin", "Subscribed s1", STEP, |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    peer.command("kick");
    wait_for(
        &mut erin,
        "erin",
        "AuthFailed on reconnect",
        STEP,
        |e| matches!(e, SpacesEvent::AuthFailed(f) if f.message == "jwt expired"),
    );
    drain_until_closed(&mut erin, "erin", STEP);
    assert!(erin.is_closed());
    // The first token, then the expired one: once and on every retry.
    assert_eq!(calls.load(Ordering::SeqCst), 2 + default_auth_retries());
}

/// Refusals a refreshing token source retries before the session gives up.
fn default_auth_retries() -> usize {
    let config = SpacesConfig::new("http://127.0.0.1:1/chat").expect("config");
    config.auth_retries as usize
}
