//! The session lives while any clone of its `Client` does; once all are dropped the driver
//! leaves `/chat` gracefully (`41/chat`, then a close frame) and ends.

use std::time::Duration;

use spaces_socket::spaces::{SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::on_async_std;
use crate::support::{expect_event, peer, subscribe, test_config};

#[test]
fn dropping_the_senders_keeps_the_reader_then_dropping_it_closes_gracefully() {
    let mut peer = peer::spaces_server_with(peer::SIO_2_0_4, 25_000, 60_000, &["--log-frames"]);
    let config = test_config(&peer.url("/chat"));
    let client = on_async_std(config, Token::jwt("alice"), Options::default());
    // One clone reads events; the others only send commands.
    let reader = client.clone();
    async_std::task::block_on(subscribe(&client, "s1"));
    let spare = client.clone();
    drop(client);
    drop(spare);

    // With every other clone gone, the reader alone keeps the session: it still receives.
    peer.command("say s1 still listening");
    async_std::task::block_on(async {
        let event = expect_event(&reader, "the server's message", |e| {
            matches!(e, SpacesEvent::Message(_))
        })
        .await;
        let SpacesEvent::Message(message) = event else {
            unreachable!("matched above")
        };
        let text = message
            .content
            .as_ref()
            .and_then(|c| c.body_text.as_deref());
        assert_eq!(text, Some("still listening"));
    });
    assert_eq!(peer.stats()["chatSockets"], 1);

    drop(reader);
    peer.wait_for_stats(
        |s| s["connections"] == 0 && s["chatSockets"] == 0,
        Duration::from_secs(10),
    );
    assert!(
        peer.wait_for_frame("in", |d| d.starts_with("41/chat"), Duration::from_secs(5))
            .is_some(),
        "the driver left /chat before closing: {:#?}",
        peer.frames()
    );
}
