//! A full event backlog stops the driver reading the socket but not serving commands, so a
//! task that sends before reading its events cannot deadlock; nothing is lost or reordered.

use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::on_smol;
use crate::support::{STEP, expect_event, peer, subscribe, test_config, text_and_sender, within};

const SAID: usize = 20;

#[test]
fn a_send_completes_while_the_event_backlog_is_full_and_order_is_kept() {
    let mut options = Options::default();
    options.max_queued_events = 1;
    send_while_the_backlog_is_full(options);
}

#[test]
fn a_backlog_bounded_in_bytes_behaves_the_same() {
    let mut options = Options::default();
    options.max_queued_bytes = 1;
    send_while_the_backlog_is_full(options);
}

fn send_while_the_backlog_is_full(options: Options) {
    let mut peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let client = on_smol(
        test_config(&peer.url("/chat")),
        Token::jwt("alice"),
        options,
    );
    smol::block_on(subscribe(&client, "s1"));
    for i in 0..SAID {
        peer.command(&format!("say s1 line {i}"));
    }
    smol::block_on(async {
        // Nobody reads the events now, and the backlog holds one.
        let id = client
            .send_message(SendMessage::chat("s1", "mine"))
            .expect("accepted");
        for i in 0..SAID {
            let event = expect_event(&client, &format!("line {i}"), |e| {
                matches!(e, SpacesEvent::Message(_))
            })
            .await;
            let SpacesEvent::Message(message) = event else {
                unreachable!("matched above")
            };
            assert_eq!(text_and_sender(&message).0, format!("line {i}"));
        }
        expect_event(
            &client,
            "Confirmed",
            |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
        )
        .await;
        within("close()", STEP, client.close()).await;
    });
}
