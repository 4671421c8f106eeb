//! Issue 16 (1): a server that asks for a short heartbeat keeps us. The real Node
//! `socket.io@2.0.4` server started with `pingInterval: 300, pingTimeout: 300` closes a
//! connection that has not pinged within 600 ms; with the client's default bounds the client
//! follows the server's 300 ms, so one connection lives across many intervals.

use std::time::{Duration, Instant};

use crate::support::{client, peer, wait_for};
use spaces_socket::spaces::{SpacesEvent, Token};

/// How long the connection must stay: at least 10 of the server's 300 ms intervals.
const KEPT: Duration = Duration::from_secs(3);

#[test]
fn one_connection_is_kept_across_many_300_ms_server_heartbeats() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 300, 300);
    // The default heartbeat bounds: what every user gets.
    let mut alice = client(&peer.url("/chat"), Token::jwt("alice~1"));
    wait_for(
        &mut alice,
        "alice",
        "Connected",
        Duration::from_secs(10),
        |e| matches!(e, SpacesEvent::Connected),
    );
    let start = Instant::now();
    let mut pongs = 0;
    let mut bad = Vec::new();
    while let Some(left) = (start + KEPT).checked_duration_since(Instant::now()) {
        match alice.next_event(Some(left)) {
            Some(SpacesEvent::Pong { .. }) => pongs += 1,
            Some(
                e @ (SpacesEvent::Disconnected { .. }
                | SpacesEvent::Connected
                | SpacesEvent::Reconnecting { .. }
                | SpacesEvent::ConnectFailed { .. }
                | SpacesEvent::Closed),
            ) => bad.push(e),
            Some(_) | None => {}
        }
    }
    assert!(
        bad.is_empty(),
        "the one connection was dropped or replaced within {KEPT:?}: {bad:#?}"
    );
    assert!(
        pongs >= 8,
        "the client pings at the server's 300 ms interval: {pongs} pongs in {KEPT:?}"
    );
    assert!(!alice.is_closed());
    alice.close();
}
