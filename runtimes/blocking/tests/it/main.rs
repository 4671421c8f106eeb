//! The blocking runtime's integration tests, one module per behaviour. The Node socket.io
//! servers they run against live in the root crate's `tests/peer/` (Node.js is required: a
//! test that cannot start it fails and says why).

mod a_signal_during_a_read_keeps_the_session;
mod bounded_waits;
mod large_messages;
mod live_service_policies_against_node;
mod peer_servers_start;
mod peer_spaces_server_behaviour;
mod peer_wire_bytes;
mod reconnects;
mod runs_a_bot;
mod short_server_heartbeat_against_node;
mod support;
mod tls_on_loopback;
mod upgrade_refused;
mod whole_session_against_node;
mod woken_from_another_thread;
