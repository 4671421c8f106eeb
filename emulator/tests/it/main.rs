//! The emulator's integration tests, one binary with a module per behaviour:
//!
//! * `protocol`: the sans-IO server driven directly on a virtual clock (socket.io 2.0.4's server
//!   side and the Spaces events);
//! * `listener`: the loopback listener as a real websocket server, with a raw client;
//! * `js_client`: the official socket.io-client 2.0.4 under Node against the listener;
//! * `bounds`: what a hostile client cannot exhaust (connections, handshake time, idle time,
//!   queued bytes, stalled writes, message size, spaces);
//! * `replay`: a checked-in session recording played back against the core, and edited copies
//!   of it reported at the first line that differs.
//!
//! Shared helpers are in `support`. The modules that need the loopback listener build only with
//! the `listener` feature (on by default).

#[cfg(feature = "listener")]
mod bounds;
#[cfg(feature = "listener")]
mod js_client;
#[cfg(feature = "listener")]
mod listener;
mod protocol;
mod replay;
#[cfg(feature = "listener")]
mod support;
