//! A message far larger than the websocket read buffer (4 KiB at first) arrives intact on the
//! async driver: the buffer grows to the frame, on the sender's echo and on another
//! subscriber's delivery.

use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_smol::{Options, connect};

use crate::support::{expect_event, peer, subscribe, test_config, text_and_sender};

#[test]
fn a_200_kib_message_is_confirmed_and_delivered_intact() {
    let peer = peer::large_payload_server();
    let open = |user: &str| {
        let mut config = test_config(&peer.url("/chat"));
        config.max_payload = peer::LARGE_PAYLOAD;
        connect(config, Token::jwt(user), Options::default()).expect("valid config")
    };
    let (alice, bob) = (open("alice"), open("bob"));
    // 200 KiB: fifty read buffers' worth.
    let text = peer::varied_text(200 << 10);
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
