//! The examples end to end: the chat CLI (the main job) and the service app, run as programs
//! against the real Node socket.io servers (`tests/peer/`, Node.js required) and the
//! embedded emulator; and the bench tools (`bench`, `bench_floor`, `tests/peer/bench-client.js`).

/// The Node socket.io peers and the example binaries.
use spaces_socket_peers as support;

mod bench;
mod chat;
mod chat_through_a_cutting_proxy;
mod echo_bot;
mod record;
mod service_app;
