//! The Engine.IO session's life: opening, the handshake, reconnecting with backoff, and
//! shutting down (namespaces, buffers and acks settled as it ends).

use super::*;

impl Client {
    /// Begins (re)connection attempt `attempt`: asks for a query first if configured.
    pub(super) fn start_open(&mut self, now: Instant, attempt: u32) {
        let deadline = self.config.connect_timeout.map(|t| now + t);
        if self.config.fresh_query_per_connection {
            self.engine = Engine::AwaitingQuery { deadline };
            self.events.push_back(Event::QueryNeeded { attempt });
        } else {
            self.open_transport(now);
        }
    }

    pub(super) fn open_transport(&mut self, now: Instant) {
        let deadline = match self.engine {
            // The connect timer covers asking for the query too.
            Engine::AwaitingQuery { deadline } => deadline,
            _ => self.config.connect_timeout.map(|t| now + t),
        };
        self.engine = Engine::Opening { deadline };
        self.reassembly = None;
        self.discard_attachments = 0;
        self.root_connected = false;
        self.transmits.push_back(Transmit::Open(WsUrl::new(
            self.config.handshake_url(),
            self.config.endpoint.clone(),
        )));
    }

    pub(super) fn open_failed(&mut self, now: Instant, failure: ConnectFailure) {
        if matches!(self.engine, Engine::Opening { .. }) {
            self.transmits.push_back(Transmit::Close);
        }
        self.engine = Engine::Idle;
        self.events.push_back(Event::ConnectFailed { failure });
        self.schedule_reconnect(now);
    }

    pub(super) fn schedule_reconnect(&mut self, now: Instant) {
        if !self.config.reconnection {
            self.events.push_back(Event::Closed);
            return;
        }
        let attempts = self.backoff.attempts();
        if self
            .config
            .reconnection_attempts
            .is_some_and(|max| attempts >= max)
        {
            self.backoff.reset();
            self.reconnecting = false;
            self.events.push_back(Event::ReconnectFailed);
            self.events.push_back(Event::Closed);
            return;
        }
        let delay = self.backoff.next_delay(&mut self.rng);
        self.reconnecting = true;
        self.engine = Engine::Backoff { until: now + delay };
        self.events.push_back(Event::ReconnectScheduled {
            attempt: self.backoff.attempts(),
            delay,
        });
    }

    /// The open packet arrived.
    pub(super) fn on_handshake(&mut self, now: Instant, json: &str) {
        let hs = match Handshake::parse(json) {
            Ok(hs) => hs,
            Err(e) => {
                self.open_failed(now, ConnectFailure::BadHandshake(e.to_string()));
                return;
            }
        };
        let interval = clamp(hs.ping_interval, &self.config.ping_interval_bounds);
        let timeout = clamp(hs.ping_timeout, &self.config.ping_timeout_bounds);
        if (interval, timeout) != (hs.ping_interval, hs.ping_timeout) {
            log::warn!(
                "server heartbeat {:?}/{:?} clamped to {interval:?}/{timeout:?}",
                hs.ping_interval,
                hs.ping_timeout
            );
        }
        self.engine = Engine::Open(Heartbeat {
            interval,
            timeout,
            next_ping: Some(now + interval),
            deadline: None,
            last_ping: None,
        });
        self.events.push_back(Event::Opened {
            ping_interval: interval,
            ping_timeout: timeout,
        });
        if self.reconnecting {
            let attempt = self.backoff.attempts();
            self.events.push_back(Event::Reconnected { attempt });
        }
        self.reconnecting = false;
        // Unlike socket.io-client, the backoff is not reset here: an open packet alone proves
        // nothing (a server may close right after it). See `on_pong`.
        for n in &mut self.namespaces {
            n.connect_sent = false;
            if n.state == NspState::Refused {
                n.state = NspState::Connecting;
            }
        }
        self.send_connects();
    }

    /// Sends CONNECT for every non-root namespace that waits for one on this session. Never for
    /// `/`: the server connects it by itself, and a second `40` creates a duplicate socket.
    pub(super) fn send_connects(&mut self) {
        let query = self.config.query.encode();
        let query = (!query.is_empty()).then_some(query);
        let mut frames = Vec::new();
        for n in &mut self.namespaces {
            if n.state == NspState::Connecting && !n.connect_sent && n.name != "/" {
                n.connect_sent = true;
                frames.push(encode_connect(&n.name, query.as_deref()));
            } else if n.name == "/" && n.state == NspState::Connecting && self.root_connected {
                // Joined `/` after its `40` arrived: it is connected already.
                n.connect_sent = true;
            }
        }
        self.transmits
            .extend(frames.into_iter().map(Transmit::Text));
        if self.root_connected {
            self.on_namespace_connected("/");
        }
    }

    /// The engine session ended; reconnect unless told otherwise.
    pub(super) fn engine_closed(&mut self, now: Instant, reason: DisconnectReason, by_user: bool) {
        self.engine = Engine::Idle;
        self.reassembly = None;
        self.discard_attachments = 0;
        self.root_connected = false;
        // The backoff is reset only by a useful connection (see `on_pong`), by `connect` and
        // by the user closing, never by a connection ending.
        let mut namespaces = std::mem::take(&mut self.namespaces);
        for n in &mut namespaces {
            if n.state == NspState::Connected {
                self.events.push_back(Event::Disconnected {
                    nsp: n.name.clone(),
                    reason: reason.clone(),
                });
            }
            if n.state != NspState::ServerClosed {
                n.state = NspState::Connecting;
            }
            n.connect_sent = false;
            n.owed_acks.clear();
            self.fail_pending_acks(n, false);
        }
        self.namespaces = namespaces;
        if by_user {
            self.events.push_back(Event::Closed);
        } else {
            self.schedule_reconnect(now);
        }
    }

    /// Closes the websocket (if any) for good.
    pub(super) fn shut_down(&mut self, now: Instant) {
        match self.engine {
            Engine::Open(_) => {
                self.transmits.push_back(Transmit::Close);
                self.engine_closed(now, DisconnectReason::ClientDisconnect, true);
            }
            Engine::Opening { .. } => {
                self.transmits.push_back(Transmit::Close);
                self.engine = Engine::Idle;
                self.events.push_back(Event::Closed);
            }
            Engine::AwaitingQuery { .. } | Engine::Backoff { .. } => {
                self.engine = Engine::Idle;
                self.events.push_back(Event::Closed);
            }
            Engine::Idle => {}
        }
        self.reconnecting = false;
        self.backoff.reset();
    }

    /// The user leaves `n`: DISCONNECT if connected (never for `/`), the event, and nothing
    /// left pending (buffered packets and awaited acks are reported, not dropped silently).
    pub(super) fn disconnect_by_user(&mut self, n: &mut Namespace) {
        if n.state == NspState::Connected {
            if n.name != "/" {
                self.transmit_packet(PacketKind::Disconnect, &n.name, None);
            }
            self.events.push_back(Event::Disconnected {
                nsp: n.name.clone(),
                reason: DisconnectReason::ClientDisconnect,
            });
        }
        self.discard_buffer(n);
        self.fail_pending_acks(n, true);
    }

    pub(super) fn discard_buffer(&mut self, n: &mut Namespace) {
        if !n.send_buffer.is_empty() {
            let packets = n.send_buffer.len();
            n.send_buffer.clear();
            self.events.push_back(Event::BufferDiscarded {
                nsp: n.name.clone(),
                packets,
            });
        }
    }

    /// Reports acks whose answer can no longer come: every sent one, or all when `all`.
    pub(super) fn fail_pending_acks(&mut self, n: &mut Namespace, all: bool) {
        let lost: Vec<u64> = n
            .pending_acks
            .iter()
            .filter(|(_, p)| all || p.sent)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            n.pending_acks.remove(&id);
            self.events.push_back(Event::AckLost {
                nsp: n.name.clone(),
                id: AckId(id),
            });
        }
    }

    pub(super) fn expire_acks(&mut self, now: Instant) {
        for n in &mut self.namespaces {
            let expired: Vec<u64> = n
                .pending_acks
                .iter()
                .filter(|(_, p)| p.deadline.is_some_and(|d| now >= d))
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                n.pending_acks.remove(&id);
                // A buffered emit whose ack expired is still sent later; its late answer is
                // then reported as an unknown ack, which is the honest outcome.
                self.events.push_back(Event::AckTimedOut {
                    nsp: n.name.clone(),
                    id: AckId(id),
                });
            }
        }
    }
}
