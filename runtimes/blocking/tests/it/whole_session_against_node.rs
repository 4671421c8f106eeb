//! The blocking runtime against the real Node socket.io servers (2.0.4, and 1.7.3 with the same
//! scenario): connect, subscribe, a confirmed send, another user's message, unsubscribe and a
//! graceful close.

use std::time::{Duration, Instant};

use crate::support::peer;
use crate::support::{body, client, drain_until_closed, sender, wait_for};
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};

const STEP: Duration = Duration::from_secs(10);

fn scenario(sio: &str) {
    let mut peer = peer::spaces_server(sio, 25_000, 60_000);
    let url = peer.url("/chat");
    let mut alice = client(&url, Token::jwt("alice~1"));
    let mut bob = client(&url, Token::jwt("bob~1"));

    alice.subscribe("s1", None).expect("session open");
    wait_for(&mut alice, "alice", "Connected", STEP, |e| {
        matches!(e, SpacesEvent::Connected)
    });
    wait_for(
        &mut alice,
        "alice",
        "Subscribed s1",
        STEP,
        |e| matches!(e, SpacesEvent::Subscribed { space } if space == "s1"),
    );
    assert!(alice.core().is_subscribed("s1"));
    bob.subscribe("s1", None).expect("session open");
    wait_for(
        &mut bob,
        "bob",
        "Subscribed s1",
        STEP,
        |e| matches!(e, SpacesEvent::Subscribed { space } if space == "s1"),
    );

    // Alice's message is confirmed to her and delivered to Bob.
    let sent_at = Instant::now();
    let id = alice
        .send_message(SendMessage::chat("s1", "hello from alice"))
        .expect("send accepted");
    let (confirmed, _) = wait_for(
        &mut alice,
        "alice",
        "Confirmed",
        STEP,
        |e| matches!(e, SpacesEvent::Confirmed { id: got, .. } if *got == id),
    );
    eprintln!("{sio}: send -> Confirmed took {:?}", sent_at.elapsed());
    let SpacesEvent::Confirmed { message, .. } = confirmed else {
        unreachable!()
    };
    assert_eq!(body(&message), Some("hello from alice"));
    assert_eq!(sender(&message), Some("alice"));
    assert!(
        message.id.is_some(),
        "the server's _id is kept: {message:?}"
    );
    assert_eq!(alice.core().unconfirmed(), 0);

    let (got, _) = wait_for(
        &mut bob,
        "bob",
        "alice's message",
        STEP,
        |e| matches!(e, SpacesEvent::Message(m) if body(m) == Some("hello from alice")),
    );
    let SpacesEvent::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(sender(&m), Some("alice"));

    // And the other way round: a second client's message arrives as `Message`.
    let bob_id = bob
        .send_message(SendMessage::chat("s1", "hi from bob"))
        .expect("send accepted");
    wait_for(
        &mut bob,
        "bob",
        "Confirmed",
        STEP,
        |e| matches!(e, SpacesEvent::Confirmed { id, .. } if *id == bob_id),
    );
    let (got, skipped) = wait_for(
        &mut alice,
        "alice",
        "bob's message",
        STEP,
        |e| matches!(e, SpacesEvent::Message(m) if body(m) == Some("hi from bob")),
    );
    let SpacesEvent::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(sender(&m), Some("bob"));
    assert!(
        !skipped
            .iter()
            .any(|e| matches!(e, SpacesEvent::Message(m) if body(m) == Some("hello from alice"))),
        "alice's own message must come back as Confirmed only: {skipped:#?}"
    );

    // A message from the server side reaches both.
    assert_eq!(peer.command("say s1 from-the-bot"), "2");
    for (who, c) in [("alice", &mut alice), ("bob", &mut bob)] {
        wait_for(
            c,
            who,
            "the bot's message",
            STEP,
            |e| matches!(e, SpacesEvent::Message(m) if sender(m) == Some("server-bot")),
        );
    }

    alice.unsubscribe("s1").expect("session open");
    wait_for(
        &mut alice,
        "alice",
        "Unsubscribed s1",
        STEP,
        |e| matches!(e, SpacesEvent::Unsubscribed { space } if space == "s1"),
    );
    assert!(!alice.core().is_subscribed("s1"));

    let closing = Instant::now();
    alice.close();
    eprintln!("{sio}: graceful close took {:?}", closing.elapsed());
    assert!(alice.is_closed());
    let rest = drain_until_closed(&mut alice, "alice", STEP);
    assert!(
        matches!(rest.last(), Some(SpacesEvent::Closed)),
        "close ends with Closed: {rest:#?}"
    );
    assert!(alice.next_event(Some(Duration::from_millis(50))).is_none());

    // The server saw alice leave /chat while bob stays.
    peer.wait_for_stats(|s| s["chatSockets"] == 1, STEP);
    bob.close();
    assert!(bob.is_closed());
    peer.wait_for_stats(|s| s["chatSockets"] == 0 && s["connections"] == 0, STEP);
}

#[test]
fn blocking_client_against_socketio_2_0_4() {
    scenario(peer::SIO_2_0_4);
}

#[test]
fn blocking_client_against_socketio_1_7_3() {
    scenario(peer::SIO_1_7_3);
}
