//! Pull loops: `next_event` is cancel-safe (a wait dropped mid-way, raced against a timer,
//! loses no event), the `Client` is a `Stream` of the same events, and a `Shutdown` from
//! another thread ends a waiting loop. Against the Node socket.io 2.0.4 server, the driver on
//! smol and on async-std.

use std::time::Duration;

use futures_lite::{StreamExt, future};
use spaces_socket::spaces::{SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::support::{STEP, peer, subscribe, test_config, text_and_sender, the_rest, within};
use crate::{on_async_std, on_smol};

const SAID: usize = 30;

#[test]
fn dropping_next_event_mid_wait_loses_no_event() {
    for on in [on_smol, on_async_std] {
        let mut peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
        let client = on(
            test_config(&peer.url("/chat")),
            Token::jwt("bob"),
            Options::default(),
        );
        smol::block_on(subscribe(&client, "s1"));
        // The server says 30 lines while the loop below keeps abandoning its waits.
        let talker = std::thread::spawn(move || {
            for k in 0..SAID {
                peer.command(&format!("say s1 line {k}"));
                std::thread::sleep(Duration::from_millis(3));
            }
            peer
        });
        let (texts, abandoned) = smol::block_on(within("every line", STEP, async {
            let (mut texts, mut abandoned) = (Vec::new(), 0);
            while texts.len() < SAID {
                let tick = async {
                    async_io::Timer::after(Duration::from_micros(500)).await;
                    None
                };
                match future::or(async { Some(client.next_event().await) }, tick).await {
                    Some(Some(SpacesEvent::Message(m))) => texts.push(text_and_sender(&m).0),
                    Some(Some(_)) => {}
                    Some(None) => panic!("the session ended"),
                    None => abandoned += 1,
                }
            }
            (texts, abandoned)
        }));
        let _peer = talker.join().unwrap();
        let expected: Vec<String> = (0..SAID).map(|k| format!("line {k}")).collect();
        assert_eq!(texts, expected, "every line, once, in order");
        assert!(abandoned > 0, "no wait was ever dropped mid-way");
    }
}

#[test]
fn the_client_is_a_stream_that_a_shutdown_from_another_thread_ends() {
    let mut peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let mut client = on_smol(
        test_config(&peer.url("/chat")),
        Token::jwt("bob"),
        Options::default(),
    );
    smol::block_on(subscribe(&client, "s1"));
    peer.command("say s1 through the stream");
    let first = smol::block_on(within("the message", STEP, async {
        loop {
            match client.next().await {
                Some(SpacesEvent::Message(m)) => break text_and_sender(&m).0,
                Some(_) => {}
                None => panic!("the stream ended"),
            }
        }
    }));
    assert_eq!(first, "through the stream");

    let stop = client.shutdown_handle();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        stop.shutdown();
    });
    let rest = smol::block_on(async {
        within("the end of the stream", STEP, async {
            let mut rest = Vec::new();
            while let Some(event) = client.next().await {
                rest.push(event);
            }
            rest
        })
        .await
    });
    stopper.join().unwrap();
    assert!(
        matches!(rest.last(), Some(SpacesEvent::Closed)),
        "{rest:#?}"
    );
    assert!(client.is_closed());
    assert!(smol::block_on(the_rest(&client)).is_empty());
}
