//! The session lives while a handle or the event stream does; once all are dropped the driver
//! leaves `/chat` gracefully (`41/chat`, then a close frame) and ends.
mod async_support;
mod support;

use std::time::Duration;

use async_support::{expect_event, subscribe, test_config};
use spaces_socket::spaces::{SpacesEvent, Token};

#[test]
fn dropping_the_handles_keeps_the_stream_then_dropping_it_closes_gracefully() {
    let mut peer =
        support::spaces_server_with(support::SIO_2_0_4, 25_000, 60_000, &["--log-frames"]);
    let (handle, mut events) =
        spaces_socket_async_std::connect(test_config(&peer.url("/chat")), Token::jwt("alice"))
            .expect("valid config");
    async_std::task::block_on(subscribe(&handle, &mut events, "s1"));
    let spare = handle.clone();
    drop(handle);
    drop(spare);

    // With every handle gone, the stream alone keeps the session: it still receives.
    peer.command("say s1 still listening");
    async_std::task::block_on(async {
        let event = expect_event(&mut events, "the server's message", |e| {
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

    drop(events);
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
