//! The driver's timer (`Timer::at(poll_timeout)`) keeps the Engine.IO heartbeat going: with a
//! 200 ms ping interval and a 300 ms ping timeout the connection stays up, pinging steadily.

use std::time::{Duration, Instant};

use spaces_socket::spaces::{SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::on_smol;
use crate::support::{peer, subscribe, test_config, within};

#[test]
fn pings_go_out_on_time_and_the_connection_stays_up() {
    let mut peer = peer::spaces_server(peer::SIO_2_0_4, 200, 300);
    let mut config = test_config(&peer.url("/chat"));
    // Take the short test heartbeat as announced (as the default bounds do since issue 16).
    config.client.ping_interval_bounds = Duration::from_millis(1)..=Duration::from_secs(300);
    config.client.ping_timeout_bounds = Duration::from_millis(1)..=Duration::from_secs(120);
    let client = on_smol(config, Token::jwt("alice"), Options::default());
    let watch = Duration::from_secs(2);
    let (pongs, trouble) = smol::block_on(async {
        subscribe(&client, "s1").await;
        let until = Instant::now() + watch;
        let mut pongs = 0;
        let mut trouble = Vec::new();
        let watching = async {
            while let Some(event) = client.next_event().await {
                match event {
                    SpacesEvent::Pong { .. } => pongs += 1,
                    SpacesEvent::Disconnected { .. } | SpacesEvent::Closed => {
                        trouble.push(format!("{event:?}"));
                    }
                    _ => {}
                }
            }
        };
        future_or_deadline(watching, until).await;
        within("close()", watch, client.close()).await;
        (pongs, trouble)
    });
    assert!(trouble.is_empty(), "the connection dropped: {trouble:?}");
    // 2 s at one ping per 200 ms is about 10; allow for a slow machine.
    assert!(pongs >= 5, "only {pongs} pongs in {watch:?}");
    peer.wait_for_stats(|s| s["chatSockets"] == 0, Duration::from_secs(5));
}

/// Runs `fut` until it ends or `until` passes.
async fn future_or_deadline(fut: impl Future<Output = ()>, until: Instant) {
    futures_lite::future::or(fut, async {
        async_io::Timer::at(until).await;
    })
    .await;
}
