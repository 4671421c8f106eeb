//! A message far larger than the websocket read buffer (4 KiB at first) arrives intact: the
//! buffer grows to the frame, on the sender's echo and on another subscriber's delivery.

use std::time::Duration;

use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::{Options, connect};

use crate::support::{body, peer, wait_for};

const STEP: Duration = Duration::from_secs(10);

#[test]
fn a_200_kib_message_is_confirmed_and_delivered_intact() {
    let peer = peer::large_payload_server();
    let url = peer.url("/chat");
    let open = |user: &str| {
        let mut config = SpacesConfig::new(&url).expect("valid test URL");
        config.max_payload = peer::LARGE_PAYLOAD;
        connect(config, Token::jwt(user), Options::default()).expect("client builds")
    };
    let (mut alice, mut bob) = (open("alice"), open("bob"));
    for (client, who) in [(&mut alice, "alice"), (&mut bob, "bob")] {
        client.subscribe("s1", None).expect("session open");
        wait_for(client, who, "Subscribed s1", STEP, |e| {
            matches!(e, SpacesEvent::Subscribed { .. })
        });
    }
    // 200 KiB: fifty read buffers' worth.
    let text = peer::varied_text(200 << 10);
    let id = alice
        .send_message(SendMessage::chat("s1", text.clone()))
        .expect("send accepted");
    let (confirmed, _) = wait_for(
        &mut alice,
        "alice",
        "Confirmed",
        STEP,
        |e| matches!(e, SpacesEvent::Confirmed { id: got, .. } if *got == id),
    );
    let SpacesEvent::Confirmed { message, .. } = confirmed else {
        unreachable!()
    };
    assert!(body(&message) == Some(text.as_str()), "echo altered");
    let (delivered, _) = wait_for(&mut bob, "bob", "Message", STEP, |e| {
        matches!(e, SpacesEvent::Message(_))
    });
    let SpacesEvent::Message(message) = delivered else {
        unreachable!()
    };
    assert!(body(&message) == Some(text.as_str()), "delivery altered");
}
