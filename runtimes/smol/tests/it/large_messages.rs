//! A message far larger than the websocket read buffer (4 KiB at first) arrives intact on the
//! async driver: the buffer grows to the frame, on the sender's echo and on another
//! subscriber's delivery.

use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_smol::{Options, connect};

use crate::support::{expect_event, peer, subscribe, test_config, text_and_sender};

/// 200 KiB of text: fifty read buffers' worth, within the raised payload limit.
const SIZE: usize = 200 << 10;

#[test]
fn a_200_kib_message_is_confirmed_and_delivered_intact() {
    let peer = peer::spaces_server_with(
        peer::SIO_2_0_4,
        25_000,
        60_000,
        &["--max-payload", "300000"],
    );
    let open = |user: &str| {
        let mut config = test_config(&peer.url("/chat"));
        config.max_payload = 300_000;
        connect(config, Token::jwt(user), Options::default()).expect("valid config")
    };
    let (alice, bob) = (open("alice"), open("bob"));
    // Varied text, so a chunk misplaced while the buffer grows would show.
    let text: String = (0..SIZE)
        .map(|i| char::from(b'a' + (i % 23) as u8))
        .collect();
    smol::block_on(async {
        subscribe(&alice, "s1").await;
        subscribe(&bob, "s1").await;
        let id = alice
            .send_message(SendMessage::chat("s1", text.clone()))
            .expect("send accepted");
        let confirmed = expect_event(
            &alice,
            "Confirmed",
            |e| matches!(e, SpacesEvent::Confirmed { id: got, .. } if *got == id),
        )
        .await;
        let SpacesEvent::Confirmed { message, .. } = confirmed else {
            unreachable!()
        };
        assert!(text_and_sender(&message).0 == text, "echo altered");
        let delivered =
            expect_event(&bob, "Message", |e| matches!(e, SpacesEvent::Message(_))).await;
        let SpacesEvent::Message(message) = delivered else {
            unreachable!()
        };
        assert!(text_and_sender(&message).0 == text, "delivery altered");
    });
}
