//! A full event channel stops the driver reading the socket but not serving handle calls, so a
//! task that awaits a send before reading its events cannot deadlock; nothing is lost or
//! reordered.
mod async_support;
mod support;

use async_support::{STEP, expect_event, subscribe, test_config, text_and_sender, within};
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_smol::Options;

const SAID: usize = 20;

#[test]
fn a_send_completes_while_the_event_channel_is_full_and_order_is_kept() {
    let mut peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
    let mut options = Options::default();
    options.event_capacity = 1;
    let (handle, mut events) = spaces_socket_smol::connect_with(
        test_config(&peer.url("/chat")),
        Token::jwt("alice"),
        options,
    )
    .expect("valid config");
    smol::block_on(subscribe(&handle, &mut events, "s1"));
    for i in 0..SAID {
        peer.command(&format!("say s1 line {i}"));
    }
    smol::block_on(async {
        // Nobody reads the events now, and the channel holds one.
        let id = within(
            "send_message with a full event channel",
            STEP,
            handle.send_message(SendMessage::chat("s1", "mine")),
        )
        .await
        .expect("accepted");
        for i in 0..SAID {
            let event = expect_event(&mut events, &format!("line {i}"), |e| {
                matches!(e, SpacesEvent::Message(_))
            })
            .await;
            let SpacesEvent::Message(message) = event else {
                unreachable!("matched above")
            };
            assert_eq!(text_and_sender(&message).0, format!("line {i}"));
        }
        expect_event(
            &mut events,
            "Confirmed",
            |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
        )
        .await;
        within("close()", STEP, handle.close()).await;
    });
}
