//! The blocking runtime's integration tests, one module per behaviour. The Node socket.io
//! servers they run against live in the root crate's `tests/peer/` (Node.js is required: a
//! test that cannot start it fails and says why).

mod bounded_waits;
mod reconnects;
mod support;
mod tls_on_loopback;
mod whole_session_against_node;
