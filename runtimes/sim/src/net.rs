//! The simulated network: each websocket a TCP stream, per direction in order after a latency,
//! or not at all once it fails.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use spaces_socket_emulator::ConnId;

/// What crosses a simulated connection.
#[derive(Debug, Clone)]
pub(crate) enum Packet {
    /// The websocket upgrade request (path and query).
    Connect(String),
    /// The upgrade was accepted (`handle_open`).
    Accepted,
    /// The connect was refused (`handle_open_failed`).
    Refused,
    Text(String),
    Binary(Vec<u8>),
    /// An orderly close (TCP FIN).
    Fin,
}

#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) at: Instant,
    pub(crate) seq: u64,
    pub(crate) packet: Packet,
}

/// One direction of one connection.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) queue: VecDeque<InFlight>,
    /// Silently dropping everything (half-open, silent server).
    pub(crate) dead: bool,
    /// Delivery time of the last message queued: later ones never arrive before it.
    pub(crate) last_at: Instant,
}

impl Pipe {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            queue: VecDeque::new(),
            dead: false,
            last_at: now,
        }
    }

    pub(crate) fn kill(&mut self) {
        self.dead = true;
        self.queue.clear();
    }
}

/// A simulated websocket between one participant and the server.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) id: u64,
    pub(crate) participant: usize,
    pub(crate) conn: Option<ConnId>,
    pub(crate) client_open: bool,
    pub(crate) server_open: bool,
    pub(crate) up: Pipe,
    pub(crate) down: Pipe,
    pub(crate) opened_at: Instant,
    pub(crate) client_last_recv: Instant,
    pub(crate) server_last_recv: Instant,
    pub(crate) up_dead_at: Option<Instant>,
    pub(crate) down_dead: bool,
    pub(crate) server_rooms: BTreeSet<String>,
    pub(crate) expired_token: bool,
    pub(crate) client_left: bool,
    pub(crate) server_left: bool,
}

impl Link {
    pub(crate) fn kill(&mut self, now: Instant, up: bool, down: bool) {
        if up {
            self.up.kill();
            self.up_dead_at.get_or_insert(now);
        }
        if down {
            self.down.kill();
            self.down_dead = true;
        }
    }
}
