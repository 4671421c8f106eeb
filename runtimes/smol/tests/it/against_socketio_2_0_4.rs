//! The smol runtime against the real socket.io 2.0.4 Spaces server: a whole session, and a
//! reconnection that fetches a fresh token, resubscribes and delivers a message sent offline.
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use spaces_socket::spaces::{AuthError, SendMessage, SpacesEvent, Token, token_fn};
use spaces_socket_smol::{Options, connect};

use crate::support::{
    STEP, expect_event, full_session, peer, subscribe, test_config, text_and_sender, within,
};

#[test]
fn a_whole_session_on_smol() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    smol::block_on(full_session(&url, |config, token| {
        connect(config, token, Options::default()).expect("valid config")
    }));
}

#[test]
fn after_a_kick_smol_reconnects_with_a_fresh_token_and_delivers_what_was_sent_offline() {
    let mut peer = peer::spaces_server_with(peer::SIO_2_0_4, 25_000, 60_000, &["--log-frames"]);
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    // A new token for every connection, as a service-app provider would mint.
    let provider = token_fn(move |_now: SystemTime| -> Result<Token, AuthError> {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Token::jwt(format!("alice~{n}")))
    });
    let config = test_config(&peer.url("/chat"));
    let client = connect(config, provider, Options::default()).expect("valid config");

    smol::block_on(async {
        subscribe(&client, "s1").await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one token per connection");

        // The driver runs on smol's executor threads, so this blocking call is harmless.
        peer.command("kick");
        let disconnected = expect_event(&client, "Disconnected after the kick", |e| {
            matches!(e, SpacesEvent::Disconnected { .. })
        })
        .await;
        let SpacesEvent::Disconnected { reason } = disconnected else {
            unreachable!("matched above")
        };
        assert!(
            reason.reconnects(),
            "a kick is a transport close: {reason:?}"
        );

        // The reconnection waits 500 ms, so this message is held while offline.
        let id = client
            .send_message(SendMessage::chat("s1", "sent while offline"))
            .expect("held while offline, not refused");

        expect_event(&client, "Connected again", |e| {
            matches!(e, SpacesEvent::Connected)
        })
        .await;
        expect_event(
            &client,
            "s1 resubscribed",
            |e| matches!(e, SpacesEvent::Subscribed { space } if space == "s1"),
        )
        .await;
        let confirmed = expect_event(
            &client,
            "Confirmed for the offline message",
            |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
        )
        .await;
        let SpacesEvent::Confirmed { message, .. } = confirmed else {
            unreachable!("matched above")
        };
        assert_eq!(
            text_and_sender(&message),
            ("sent while offline".to_owned(), "alice".to_owned())
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "a fresh token for the reconnection"
        );

        within("close()", STEP, client.close()).await;
        expect_event(&client, "Closed", |e| matches!(e, SpacesEvent::Closed)).await;
    });

    // The second connection carried the second token (the CONNECT query repeats it).
    assert!(
        peer.wait_for_frame(
            "in",
            |d| d.starts_with("40/chat?") && d.contains("token=alice~2"),
            Duration::from_secs(5)
        )
        .is_some(),
        "the server never saw a CONNECT with the fresh token"
    );
    assert!(
        peer.frames()
            .iter()
            .all(|f| f.dir != "in" || !f.data.contains("token=alice~3")),
        "exactly one reconnection"
    );
}
