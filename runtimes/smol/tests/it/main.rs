//! The smol runtime's integration tests against the real Node socket.io 2.0.4 Spaces server
//! (`tests/peer/` in the root crate; Node.js is required), one module per behaviour. The
//! driver's own behaviours are tested in the async-io crate.

mod against_socketio_2_0_4;
mod large_messages;
mod live_service_policies_against_node;
mod runs_inside_a_tokio_runtime;
mod short_server_heartbeat_against_node;
mod support;
