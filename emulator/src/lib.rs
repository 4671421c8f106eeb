//! A Spaces server emulator: Engine.IO 3 and Socket.IO protocol revision 4 server roles (as
//! socket.io 2.0.4 plays them over websocket) plus the Avaya Spaces `/chat` events, faithful
//! enough that socket.io-client 2.0.4 talks to it unchanged. For tests, simulations and offline
//! development; it is not a production server.
//!
//! Two layers:
//!
//! * [`Emulator`] (module `server`, re-exported here): the sans-IO server. It reuses the client
//!   core's codecs ([`spaces_socket::engine`], [`spaces_socket::socket`], public with the
//!   core's `wire` feature) and, like the client, never touches a socket, a clock or a thread:
//!   feed it websocket upgrades and frames, then drain [`Emulator::poll_output`]. See
//!   [`Emulator`] for the drain contract.
//! * `listener::EmulatorServer` (feature `listener`): the only IO in this crate, a loopback
//!   websocket listener that serves an [`Emulator`] from one background thread. Start it, hand
//!   its `url()` to a client, drop it to stop.
//!
//! * [`sim`]: deterministic simulation of the bots you write, built on the two sans-IO cores
//!   (your bot's [`Spaces`](spaces_socket::spaces::Spaces) session and [`Emulator`]): a virtual
//!   clock, a simulated network with faults, one seed, a trace and a report.
//! * [`replay`]: plays a session recording (`chat --record FILE`, or a runtime's
//!   `Options::record`) back against the core and reports the first line it disagrees with, so
//!   a user's recording becomes a regression test.
//!
//! [`rng::Rng`] is the seeded generator behind every id the emulator makes, and every choice a
//! simulation makes.
//!
//! # Features
//!
//! * `listener` (default): the `listener` module and its IO dependencies (async-io,
//!   async-tungstenite…). Without it (`default-features = false`) the crate is sans-IO: the
//!   [`Emulator`], the [`sim`] kit and [`replay`] only.
//!
//! # Choices where the real server's behaviour is unknown (documented, not observed)
//!
//! * **Time.** There is no wall clock in the sans-IO server: `created` timestamps are
//!   [`EmulatorConfig::base_time_unix_ms`] plus the time elapsed since the first `Instant` the
//!   emulator was given. The listener sets the base to the real time at start.
//! * **Acks.** Spaces does not use acks; an ack id on a client event is ignored (no `43` answer).
//! * **Binary events.** Spaces has none: a BINARY_EVENT and its attachments are consumed and
//!   dropped.
//! * **Error codes** the docs do not give are invented and listed in [`codes`].
//! * **Payload limit.** A SEND_MESSAGE whose argument's JSON is longer than
//!   [`EmulatorConfig::max_payload`] fails with [`codes::PAYLOAD_TOO_LARGE`]; an oversized
//!   SEND_PRESENCE_EVENT is dropped. The real reaction to the documented 16 KB limit is unknown.
//! * **Presence** is relayed to every other socket in the room (`receivers` is not used to
//!   filter), and does not require the sender to be subscribed (socket.io lets a socket emit
//!   to a room it is not in).
//! * **A second `40/chat`** on a connection that already joined is authenticated again and
//!   answered again; the connection keeps its first identity and its rooms.
//! * **Queries** are parsed with [`spaces_socket::client::Query::parse`]: percent-decoding,
//!   first key wins; unlike Node's `querystring`, `+` is not turned into a space.
#![forbid(unsafe_code)]
// Feature labels on items (docs.rs builds with `--cfg docsrs`, every feature, nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod auth;
mod ids;
#[cfg(feature = "listener")]
pub mod listener;
pub mod replay;
pub mod rng;
mod server;
pub mod sim;

pub use auth::{AuthRejection, Authenticator, DemoAuth, User};
pub use server::{
    CloseReason, ConnId, Emulator, EmulatorConfig, EmulatorEvent, EmulatorStats, MAX_QUEUED_EVENTS,
    RateLimit, Rejection, ServerOutput, SpaceInfo, codes,
};
