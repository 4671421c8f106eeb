//! Issue 9's policies for what the live service may do, proved against the real Node socket.io
//! servers in `spaces-server.js`'s live-service modes. The policies live in the core, so one
//! runtime proves each; the smol crate's `live_service_policies_against_node` has the others.
//!
//! | test | server mode | proves |
//! |---|---|---|
//! | `an_echo_without_loopback_is_confirmed_once_and_never_shown_as_anothers_message` | `--drop-loopback` (2.0.4, 1.7.3) | fallback matching confirms each message exactly once; our own echo is never a `Message` |
//! | `an_unanswered_subscribe_times_out_and_is_requested_again_on_the_next_connection` | `--unanswered-subscribe` | `SubscribeTimedOut`, and the space is requested again after a reconnect |
//! | `the_pacer_keeps_within_the_servers_rate_limit` | `--rate-limit 5:1000` | the sliding-window pacer never exceeds the server's limit, so nothing is refused |
//! | `a_rate_limit_refusal_is_a_typed_send_failed` | `--rate-limit 2:60000` | the server's refusal is `SendFailed { Rejected }` for that message only |

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{body, client, events_until, peer, sender, test_config, wait_for};
use spaces_socket::spaces::{SendFailure, SendMessage, SpacesEvent, Token};
use spaces_socket_blocking::{Client, Options, connect};

const STEP: Duration = Duration::from_secs(10);

/// Subscribes `who`'s `client` to `space` and waits for `Subscribed`.
fn subscribed(client: &mut Client, who: &str, space: &str) {
    client.subscribe(space, None).expect("session open");
    wait_for(
        client,
        who,
        "Subscribed",
        STEP,
        |e| matches!(e, SpacesEvent::Subscribed { space: s } if s == space),
    );
}

/// Every event for `quiet`: what arrives after the decisive ones (a duplicate would).
fn events_for(client: &mut Client, quiet: Duration) -> Vec<SpacesEvent> {
    let deadline = std::time::Instant::now() + quiet;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        seen.extend(client.next_event(Some(left)));
    }
    seen
}

#[test]
fn an_echo_without_loopback_is_confirmed_once_and_never_shown_as_anothers_message() {
    for sio in peer::SIO_VERSIONS {
        let mut peer = peer::spaces_server_with(sio, 25_000, 60_000, &["--drop-loopback"]);
        let url = peer.url("/chat");
        let mut alice = client(&url, Token::jwt("alice~1"));
        let mut bob = client(&url, Token::jwt("bob~1"));
        subscribed(&mut alice, "alice", "s1");
        subscribed(&mut bob, "bob", "s1");

        // Two identical texts: each echo confirms the oldest one still in flight.
        let texts = ["same text", "same text", "another text"];
        let mut ids = BTreeSet::new();
        for text in texts {
            ids.insert(
                alice
                    .send_message(SendMessage::chat("s1", text))
                    .expect("send accepted"),
            );
        }
        let mut confirmed = Vec::new();
        let mut seen = Vec::new();
        while confirmed.len() < texts.len() {
            let (found, before) = events_until(&mut alice, "alice", "Confirmed", STEP, |e| {
                matches!(e, SpacesEvent::Confirmed { .. })
            });
            seen.extend(before);
            if let Some(SpacesEvent::Confirmed { id, message }) = found {
                assert_eq!(sender(&message), Some("alice"), "{sio}");
                assert_eq!(message.loopback_metadata, None, "{sio}: the mode is on");
                confirmed.push(id);
            }
        }
        seen.extend(events_for(&mut alice, Duration::from_millis(500)));
        assert_eq!(
            confirmed.iter().copied().collect::<BTreeSet<_>>(),
            ids,
            "{sio}: each message confirmed exactly once"
        );
        let shown_again: Vec<_> = seen
            .iter()
            .filter(|e| matches!(e, SpacesEvent::Message(_) | SpacesEvent::Confirmed { .. }))
            .collect();
        assert!(
            shown_again.is_empty(),
            "{sio}: our echo shown again: {shown_again:#?}"
        );

        // The server did deliver all three to the other subscriber.
        let mut delivered = Vec::new();
        while delivered.len() < texts.len() {
            let (event, _) = wait_for(&mut bob, "bob", "alice's messages", STEP, |e| {
                matches!(e, SpacesEvent::Message(_))
            });
            if let SpacesEvent::Message(m) = event {
                delivered.push(body(&m).unwrap_or_default().to_owned());
            }
        }
        assert_eq!(delivered, texts, "{sio}");
        assert_eq!(peer.stats()["messages"], 3, "{sio}: nothing sent twice");
    }
}

#[test]
fn an_unanswered_subscribe_times_out_and_is_requested_again_on_the_next_connection() {
    let mut peer = peer::spaces_server_with(
        peer::SIO_2_0_4,
        25_000,
        60_000,
        &["--unanswered-subscribe", "mute", "--log-frames"],
    );
    let mut config = test_config(&peer.url("/chat"));
    config.subscribe_timeout = Duration::from_millis(400);
    let mut alice = connect(config, Token::jwt("alice~1"), Options::default()).expect("builds");
    alice.subscribe("mute1", None).expect("session open");
    subscribed(&mut alice, "alice", "s1");
    let timed_out =
        |e: &SpacesEvent| matches!(e, SpacesEvent::SubscribeTimedOut { space } if space == "mute1");
    wait_for(
        &mut alice,
        "alice",
        "SubscribeTimedOut mute1",
        STEP,
        timed_out,
    );

    // Still wanted: the next connection asks again (and times out again).
    peer.command("kick");
    wait_for(&mut alice, "alice", "Connected again", STEP, |e| {
        matches!(e, SpacesEvent::Connected)
    });
    wait_for(
        &mut alice,
        "alice",
        "SubscribeTimedOut mute1 again",
        STEP,
        timed_out,
    );
    let asked_on: BTreeSet<String> = peer
        .frames()
        .into_iter()
        .filter(|f| f.dir == "in" && f.data.contains("SUBSCRIBE_CHANNEL"))
        .filter(|f| f.data.contains("\"mute1\""))
        .map(|f| f.sid)
        .collect();
    assert_eq!(
        asked_on.len(),
        2,
        "one request per connection: {asked_on:?}"
    );
}

/// `n` chat messages to `s1` from `client`, then every event until each has ended
/// (`Confirmed` or `SendFailed`).
fn send_and_settle(client: &mut Client, n: usize) -> Vec<SpacesEvent> {
    let ids: BTreeSet<_> = (0..n)
        .map(|i| {
            client
                .send_message(SendMessage::chat("s1", format!("paced {i}")))
                .expect("send accepted")
        })
        .collect();
    let mut ended = Vec::new();
    while ended.len() < n {
        let (event, _) = wait_for(
            client,
            "alice",
            "each message's end",
            STEP,
            |e| matches!(e, SpacesEvent::Confirmed { id, .. } | SpacesEvent::SendFailed { id, .. } if ids.contains(id)),
        );
        ended.push(event);
    }
    ended
}

#[test]
fn the_pacer_keeps_within_the_servers_rate_limit() {
    let mut peer = peer::spaces_server_with(
        peer::SIO_2_0_4,
        25_000,
        60_000,
        &["--rate-limit", "5:1000", "--log-frames"],
    );
    let mut config = test_config(&peer.url("/chat"));
    // The same count over a slightly longer window: the server's window starts when the
    // first message arrives, a little after the client's.
    config.rate_limit = 5;
    config.rate_window = Duration::from_millis(1200);
    let mut alice = connect(config, Token::jwt("alice~1"), Options::default()).expect("builds");
    subscribed(&mut alice, "alice", "s1");

    let ended = send_and_settle(&mut alice, 12);
    let failed: Vec<_> = ended
        .iter()
        .filter(|e| matches!(e, SpacesEvent::SendFailed { .. }))
        .collect();
    assert!(failed.is_empty(), "refused: {failed:#?}");
    // The answer to `stats` comes after every frame line logged before it.
    assert_eq!(peer.stats()["messages"], 12);
    let frames = peer.frames();
    let sends = frames
        .iter()
        .filter(|f| f.dir == "in" && f.data.contains("\"SEND_MESSAGE\""))
        .count();
    let refusals = frames
        .iter()
        .filter(|f| f.dir == "out" && f.data.contains("SEND_MESSAGE_FAILED"))
        .count();
    assert_eq!(
        (sends, refusals),
        (12, 0),
        "each written once, none refused"
    );
}

#[test]
fn a_rate_limit_refusal_is_a_typed_send_failed() {
    let peer = peer::spaces_server_with(
        peer::SIO_2_0_4,
        25_000,
        60_000,
        &["--rate-limit", "2:60000"],
    );
    let mut alice = client(&peer.url("/chat"), Token::jwt("alice~1"));
    subscribed(&mut alice, "alice", "s1");

    let ended = send_and_settle(&mut alice, 3);
    let confirmed = ended
        .iter()
        .filter(|e| matches!(e, SpacesEvent::Confirmed { .. }))
        .count();
    let refused: Vec<_> = ended
        .iter()
        .filter_map(|e| match e {
            SpacesEvent::SendFailed {
                failure: SendFailure::Rejected(code),
                space,
                ..
            } => Some((space.as_str(), code.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(confirmed, 2, "{ended:#?}");
    assert_eq!(refused, [("s1", "\"rate.limit.exceeded\"")], "{ended:#?}");
    // The refusal ends that message only: the session still sends.
    assert!(!alice.is_closed());
}
