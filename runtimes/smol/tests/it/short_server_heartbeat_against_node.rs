//! Issue 16 (1): the real Node `socket.io@2.0.4` server with `pingInterval: 300,
//! pingTimeout: 300` keeps one smol connection across many intervals (the client follows the
//! server's short heartbeat instead of clamping it up to a second).

use std::time::Duration;

use spaces_socket_smol::{Options, connect};

use crate::support::{kept_under_a_short_heartbeat, peer};

#[test]
fn one_connection_is_kept_across_many_300_ms_server_heartbeats() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 300, 300);
    smol::block_on(kept_under_a_short_heartbeat(
        &peer.url("/chat"),
        Duration::from_secs(3),
        |config, token| connect(config, token, Options::default()).expect("valid config"),
    ));
}
