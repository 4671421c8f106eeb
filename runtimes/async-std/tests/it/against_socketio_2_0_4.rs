//! The async-std runtime against the real socket.io 2.0.4 Spaces server: a whole session.

use spaces_socket_async_std::{Options, connect};

use crate::support::{full_session, peer};

#[test]
fn a_whole_session_on_async_std() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    async_std::task::block_on(full_session(&url, |config, token| {
        connect(config, token, Options::default()).expect("valid config")
    }));
}
