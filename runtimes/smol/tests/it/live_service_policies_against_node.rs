//! Issue 9's policies against the real Node socket.io servers in `spaces-server.js`'s
//! live-service modes, on smol (the blocking crate's `live_service_policies_against_node`
//! has the others; the policies live in the core, so one runtime proves each, except the
//! deadlines and the pacer, which wait on the runtime's timer and so are proved here too).
//!
//! | test | server mode | proves |
//! |---|---|---|
//! | `odd_field_types_are_confirmed_and_the_message_stays_readable` | `--odd-fields` (2.0.4, 1.7.3) | an echo with a number `version`, plain-id `assignees` and an object `mentions` confirms; the other subscriber reads the text, the odd fields kept raw |
//! | `an_error_packet_after_joining_is_a_server_error_and_sending_still_works` | `--error-after-connect` (2.0.4, 1.7.3) | `44/chat` after `40/chat` is `ServerError`, the connection stays, and a message is confirmed on it |
//! | `on_smol_an_unanswered_subscribe_times_out_and_paced_sends_stay_within_the_limit` | `--unanswered-subscribe`, `--rate-limit 4:1000` | the driver's timer fires `SubscribeTimedOut` and releases paced sends: none refused |

use std::time::Duration;

use serde_json::json;
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_smol::{Options, connect};

use crate::support::{STEP, expect_event, peer, subscribe, test_config, text_and_sender, within};

#[test]
fn odd_field_types_are_confirmed_and_the_message_stays_readable() {
    for sio in peer::SIO_VERSIONS {
        let peer = peer::spaces_server_with(sio, 25_000, 60_000, &["--odd-fields"]);
        let url = peer.url("/chat");
        let alice = connect(test_config(&url), Token::jwt("alice~1"), Options::default())
            .expect("valid config");
        let bob = connect(test_config(&url), Token::jwt("bob~1"), Options::default())
            .expect("valid config");
        smol::block_on(async {
            subscribe(&alice, "s1").await;
            subscribe(&bob, "s1").await;
            let id = alice
                .send_message(SendMessage::chat("s1", "odd but fine"))
                .expect("send accepted");
            let confirmed = expect_event(
                &alice,
                "Confirmed",
                |e| matches!(e, SpacesEvent::Confirmed { id: got, .. } if *got == id),
            )
            .await;
            let SpacesEvent::Confirmed { message, .. } = confirmed else {
                unreachable!("matched above")
            };
            assert_eq!(
                text_and_sender(&message),
                ("odd but fine".into(), "alice".into())
            );
            // The odd fields are kept raw, not typed and not lost.
            assert_eq!(message.version, None, "{sio}");
            assert_eq!(message.extra["version"], json!(2), "{sio}");

            let got = expect_event(&bob, "alice's message", |e| {
                matches!(e, SpacesEvent::Message(_))
            })
            .await;
            let SpacesEvent::Message(m) = got else {
                unreachable!("matched above")
            };
            assert_eq!(text_and_sender(&m), ("odd but fine".into(), "alice".into()));
            assert_eq!(m.extra["mentions"], json!({ "odd": true }), "{sio}");
            let content = m.content.as_ref().expect("content");
            assert_eq!(content.extra["assignees"], json!(["u1", "u2"]), "{sio}");
            within("close", STEP, async {
                alice.close().await;
                bob.close().await;
            })
            .await;
        });
    }
}

#[test]
fn an_error_packet_after_joining_is_a_server_error_and_sending_still_works() {
    for sio in peer::SIO_VERSIONS {
        let mut peer = peer::spaces_server_with(sio, 25_000, 60_000, &["--error-after-connect"]);
        let alice = connect(
            test_config(&peer.url("/chat")),
            Token::jwt("alice~1"),
            Options::default(),
        )
        .expect("valid config");
        smol::block_on(async {
            alice.subscribe("s1", None).expect("session open");
            let mut before = Vec::new();
            let error = expect_event(&alice, "ServerError", |e| {
                before.push(format!("{e:?}"));
                matches!(e, SpacesEvent::ServerError(_))
            })
            .await;
            let SpacesEvent::ServerError(failure) = error else {
                unreachable!("matched above")
            };
            assert_eq!(failure.message, "server hiccup", "{sio}");
            assert_eq!(failure.code.as_deref(), Some("server.error"), "{sio}");
            assert!(
                before.iter().any(|e| e == "Connected"),
                "{sio}: after joining: {before:#?}"
            );

            // The connection stays: the subscription and a message go through on it.
            let mut after = Vec::new();
            expect_event(&alice, "Subscribed", |e| {
                after.push(format!("{e:?}"));
                matches!(e, SpacesEvent::Subscribed { .. })
            })
            .await;
            let id = alice
                .send_message(SendMessage::chat("s1", "still here"))
                .expect("send accepted");
            expect_event(&alice, "Confirmed", |e| {
                after.push(format!("{e:?}"));
                matches!(e, SpacesEvent::Confirmed { id: got, .. } if *got == id)
            })
            .await;
            assert!(
                !after.iter().any(|e| e.starts_with("Disconnected")),
                "{sio}: {after:#?}"
            );
        });
        assert_eq!(
            peer.stats()["connections"],
            1,
            "{sio}: one connection throughout"
        );
    }
}

#[test]
fn on_smol_an_unanswered_subscribe_times_out_and_paced_sends_stay_within_the_limit() {
    let mut peer = peer::spaces_server_with(
        peer::SIO_2_0_4,
        25_000,
        60_000,
        &[
            "--unanswered-subscribe",
            "mute",
            "--rate-limit",
            "4:1000",
            "--log-frames",
        ],
    );
    let mut config = test_config(&peer.url("/chat"));
    config.subscribe_timeout = Duration::from_millis(400);
    // The server's count over a slightly longer window: its window starts a little later.
    config.rate_limit = 4;
    config.rate_window = Duration::from_millis(1200);
    let alice = connect(config, Token::jwt("alice~1"), Options::default()).expect("valid config");
    smol::block_on(async {
        alice.subscribe("mute1", None).expect("session open");
        expect_event(
            &alice,
            "SubscribeTimedOut mute1",
            |e| matches!(e, SpacesEvent::SubscribeTimedOut { space } if space == "mute1"),
        )
        .await;
        subscribe(&alice, "s1").await;
        let ids: Vec<_> = (0..9)
            .map(|i| {
                alice
                    .send_message(SendMessage::chat("s1", format!("paced {i}")))
                    .expect("send accepted")
            })
            .collect();
        for id in ids {
            let ended = expect_event(&alice, "the message's end", |e| {
                matches!(e, SpacesEvent::Confirmed { id: got, .. } | SpacesEvent::SendFailed { id: got, .. } if *got == id)
            })
            .await;
            assert!(matches!(ended, SpacesEvent::Confirmed { .. }), "{ended:?}");
        }
    });
    // The answer to `stats` comes after every frame line logged before it.
    assert_eq!(peer.stats()["messages"], 9);
    let refusals = peer
        .frames()
        .iter()
        .filter(|f| f.dir == "out" && f.data.contains("SEND_MESSAGE_FAILED"))
        .count();
    assert_eq!(refusals, 0);
}
