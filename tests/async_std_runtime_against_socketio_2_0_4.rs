//! The async-std runtime against the real socket.io 2.0.4 Spaces server: a whole session.
mod async_support;
mod support;

#[test]
fn a_whole_session_on_async_std() {
    let peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    async_std::task::block_on(async_support::full_session(&url, |config, token| {
        spaces_socket_async_std::connect(config, token).expect("valid config")
    }));
}
