//! Deterministic simulation for the bots you write: your bot's `Spaces` session and the
//! emulator's, wired through a simulated network on a virtual clock, with faults, all drawn from
//! one seed. No threads, no sockets, no real time: a minute of chat with reconnects takes
//! milliseconds, and a failing seed replays exactly.
//!
//! * **Bots.** Your code implements [`Bot`]: it reacts to every
//!   [`SpacesEvent`](spaces_socket::spaces::SpacesEvent) of its session and issues commands
//!   through a [`Ctx`] (subscribe, send, timers, a seeded [`Rng`]). Other participants are bots
//!   too: scripted users, chatters, a second instance of yours.
//! * **Clock.** Virtual: the simulation jumps to the next thing due (a delivery, a timer of a
//!   session or of the emulator, a bot's timer, a fault). Nothing reads the real clock.
//! * **Participants.** [`Builder::participant`] returns the [`ParticipantId`] that addresses
//!   it in faults, reports and views (names may not repeat: [`AddError`]). Each has the full
//!   `SpacesConfig` it ships with and a token source (any `TokenProvider`), in a
//!   [`ParticipantConfig`]; a simulated provider hands tokens over late or fails while the
//!   faults last.
//! * **Network.** Each websocket is a TCP stream: per direction in order, after a latency with
//!   jitter ([`NetPlan`]), or not at all once it fails.
//! * **Faults** ([`Fault`], drawn by a [`FaultMix`], scripted with [`Builder::fault_at`], or
//!   injected while the world runs with [`Sim::inject`]): resets, half-open links, kicks,
//!   refused or black-holed connects, server restarts, slow and silent servers, server-side
//!   namespace disconnects, expired tokens, a second connection of the same user; and the
//!   live-service behaviours the emulator plays ([`random_server`]: the missing root `40`,
//!   `40/chat` without comma, a full server).
//! * **Stepping.** [`Sim::run_for`] a stretch of virtual time, or [`Sim::step`] one event at a
//!   time, reading [`Sim::view`] in between.
//! * **Trace.** Every command, event, fault and frame with its virtual time: hashed as it happens
//!   ([`Report::trace_hash`]), kept as lines with [`Builder::keep_trace`] ([`Trace`]). One seed,
//!   one trace, byte for byte.
//! * **Report.** What each participant saw and did ([`ParticipantReport`]): events, messages
//!   received with sender and text, sends and their outcomes, faults. Assert on it.
//! * **Checks as it runs.** An [`Observer`] sees every [`Happening`] and every step with a
//!   read-only [`SimView`]; an error stops the run with the seed and the last trace lines.
//! * **Shrinking.** [`shrink`] reduces a failing run's faults to a few that still make it
//!   fail, as [`FaultPicks`] that [`Builder::only_faults`] replays.
//!
//! # Example
//!
//! An echo bot and a user saying hello, over five virtual seconds:
//!
//! ```
//! use std::time::Duration;
//!
//! use spaces_socket::spaces::SpacesEvent;
//! use spaces_socket_sim::{Bot, Builder, Ctx};
//!
//! /// Answers every message in `lobby`.
//! struct Echo;
//!
//! impl Bot for Echo {
//!     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
//!         ctx.subscribe("lobby");
//!     }
//!
//!     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
//!         if let SpacesEvent::Message(m) = event {
//!             let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
//!             let _ = ctx.send_text("lobby", &format!("echo: {}", text.unwrap_or("")));
//!         }
//!     }
//! }
//!
//! /// Says hello once subscribed.
//! struct Hello;
//!
//! impl Bot for Hello {
//!     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
//!         ctx.subscribe("lobby");
//!     }
//!
//!     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
//!         if let SpacesEvent::Subscribed { space } = event {
//!             ctx.send_text(space, "hello").expect("subscribed");
//!         }
//!     }
//! }
//!
//! let mut world = Builder::new();
//! world.seed(7);
//! let echo = world.participant("echo", Echo)?;
//! let alice = world.participant("alice", Hello)?;
//! let report = world.run_for(Duration::from_secs(5))?;
//!
//! assert_eq!(report.participant(alice).confirmed(), 1);
//! let got = &report.participant(alice).received;
//! assert!(got.iter().any(|m| m.sender == "echo" && m.text == "echo: hello"));
//! assert_eq!(report.participant(echo).confirmed(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! To put it under faults, call `.random_network().random_server().faults(FaultMix::new(window))`
//! on the builder and run past the window by [`Sim::settle_time`]; sweep seeds in a loop, print
//! [`Sim::trace`] of a failing one, and [`shrink`] its faults to the few that matter.
//! `cargo run --example bot_sim` is a complete example (`--seed K --shrink`).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bot;
mod builder;
mod drive;
mod error;
mod faults;
mod net;
mod plan;
mod report;
mod shrink;
mod sim;
mod trace;
mod view;
mod world;

pub use builder::{AddError, Builder};
pub use error::{MAX_IN_FLIGHT, MAX_STEPS, MAX_STEPS_PER_INSTANT, SimError, SimErrorKind};
pub use plan::{
    Fault, FaultMix, FaultWeights, NetPlan, ParticipantConfig, ParticipantId, SIM_URL,
    default_server, random_server,
};
pub use report::{Outcome, ParticipantReport, Received, Report, SendRecord, ServerReport};
pub use shrink::{BadFaultPicks, FaultPicks, MAX_SHRINK_RUNS, Shrunk, shrink};
pub use sim::Sim;
/// The core's bot model, re-exported: the simulation runs the very bot type a runtime runs.
pub use spaces_socket::bot::{Bot, Command, Ctx};
/// The emulator the kit runs: its configuration ([`emulator::EmulatorConfig`]) and events
/// ([`emulator::EmulatorEvent`]).
pub use spaces_socket_emulator as emulator;
pub use spaces_socket_emulator::rng::Rng;
pub use trace::{Trace, TraceHash};
pub use view::{Happening, LinkView, Observer, ParticipantView, SimView, TokenOutcome};
