//! The async-std runtime against the real socket.io 2.0.4 Spaces server: a whole session.

use spaces_socket_async_std::{Options, connect};

use crate::support::{full_session, kept_under_a_short_heartbeat, peer};

#[test]
fn a_whole_session_on_async_std() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    async_std::task::block_on(full_session(&url, |config, token| {
        connect(config, token, Options::default()).expect("valid config")
    }));
}

/// Issue 16 (1): with `pingInterval: 300, pingTimeout: 300` the server drops a connection
/// that pings less often; async-std (smol's driver) keeps one connection across many
/// intervals.
#[test]
fn one_connection_is_kept_across_many_300_ms_server_heartbeats() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 300, 300);
    async_std::task::block_on(kept_under_a_short_heartbeat(
        &peer.url("/chat"),
        std::time::Duration::from_secs(3),
        |config, token| connect(config, token, Options::default()).expect("valid config"),
    ));
}
