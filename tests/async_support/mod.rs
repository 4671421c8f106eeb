//! Helpers for the async runtime tests: bounded waits, event matching, a session config tuned
//! for tests, and the scenarios both runtimes must pass against the Node Spaces server.
//!
//! Use it with `mod support; mod async_support;` (it builds on `support`'s `NodePeer`).

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use futures_lite::{StreamExt, future};
use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_async_io::{ClientClosed, Events, SpacesHandle};

/// How long any single expected step may take.
pub const STEP: Duration = Duration::from_secs(15);

/// `fut`, or a panic naming `what` if it takes longer than `limit`.
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

/// Reads `events` until one matches `pred` (at most [`STEP`]); panics with the events seen
/// meanwhile if none does or the stream ends.
pub async fn expect_event(
    events: &mut Events,
    what: &str,
    mut pred: impl FnMut(&SpacesEvent) -> bool,
) -> SpacesEvent {
    let mut seen = Vec::new();
    let found = within(what, STEP, async {
        while let Some(event) = events.next().await {
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
        None => panic!("the event stream ended before {what}; events seen: {seen:#?}"),
    }
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

/// Subscribes `handle` to `space` and waits for `Subscribed`.
pub async fn subscribe(handle: &SpacesHandle, events: &mut Events, space: &str) {
    within("subscribe to be taken", STEP, handle.subscribe(space, None))
        .await
        .expect("session open");
    expect_event(
        events,
        &format!("Subscribed {{ space: {space} }}"),
        |e| matches!(e, SpacesEvent::Subscribed { space: s } if s == space),
    )
    .await;
}

/// The whole life of a session on one runtime: connect, subscribe, send and get `Confirmed`,
/// receive a second client's message, unsubscribe, close (the stream ends after `Closed`).
pub async fn full_session(
    url: &str,
    connect: impl Fn(SpacesConfig, Token) -> (SpacesHandle, Events),
) {
    let (alice, mut alice_events) = connect(test_config(url), Token::jwt("alice"));
    expect_event(&mut alice_events, "alice Connected", |e| {
        matches!(e, SpacesEvent::Connected)
    })
    .await;
    subscribe(&alice, &mut alice_events, "s1").await;

    let (bob, mut bob_events) = connect(test_config(url), Token::jwt("bob"));
    subscribe(&bob, &mut bob_events, "s1").await;

    // Alice sends: her copy confirms it, Bob receives it as a message.
    let id = within(
        "send_message to be answered",
        STEP,
        alice.send_message(SendMessage::chat("s1", "hello from alice")),
    )
    .await
    .expect("the session accepts the message");
    let confirmed = expect_event(
        &mut alice_events,
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
    let received = expect_event(&mut bob_events, "bob receiving alice's message", |e| {
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
    within(
        "bob's send_message",
        STEP,
        bob.send_message(SendMessage::chat("s1", "hi alice")),
    )
    .await
    .expect("the session accepts bob's message");
    let received = expect_event(&mut alice_events, "alice receiving bob's message", |e| {
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

    within("unsubscribe to be taken", STEP, alice.unsubscribe("s1"))
        .await
        .expect("session open");
    expect_event(
        &mut alice_events,
        "Unsubscribed { s1 }",
        |e| matches!(e, SpacesEvent::Unsubscribed { space } if space == "s1"),
    )
    .await;

    within("alice.close()", STEP, alice.close()).await;
    assert!(alice.is_closed(), "the handle reports the session ended");
    assert_eq!(
        within("subscribe after close", STEP, alice.subscribe("s2", None)).await,
        Err(ClientClosed)
    );
    expect_event(&mut alice_events, "alice Closed", |e| {
        matches!(e, SpacesEvent::Closed)
    })
    .await;
    assert!(
        within("the end of alice's events", STEP, alice_events.next())
            .await
            .is_none(),
        "the stream ends after Closed"
    );

    within("bob.close()", STEP, bob.close()).await;
    expect_event(&mut bob_events, "bob Closed", |e| {
        matches!(e, SpacesEvent::Closed)
    })
    .await;
}
