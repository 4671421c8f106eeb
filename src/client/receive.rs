//! What the server sent: Engine.IO packets, Socket.IO packets and their attachments, each
//! dispatched to its namespace.

use super::*;

impl Client {
    pub(super) fn handle_engine_packet(&mut self, now: Instant, packet: engine::Packet<'_>) {
        let Engine::Open(hb) = &mut self.engine else {
            match (&self.engine, packet) {
                (Engine::Opening { .. }, engine::Packet::Open(json)) => {
                    self.on_handshake(now, json)
                }
                (Engine::Opening { .. }, _) => {
                    self.events
                        .push_back(Event::ProtocolViolation(ProtocolViolation::OutOfOrder(
                            "packet before the open packet",
                        )))
                }
                // Stale frames from a websocket we already gave up on.
                _ => {}
            }
            return;
        };
        // Any packet proves the server alive (onHeartbeat in engine.io-client).
        hb.deadline = Some(now + hb.interval + hb.timeout);
        match packet {
            engine::Packet::Pong(_) => {
                hb.next_ping = Some(now + hb.interval);
                let latency = hb
                    .last_ping
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                self.events.push_back(Event::Pong { latency });
                // A full heartbeat with a namespace connected: the connection is useful, so
                // the reconnection schedule starts over. Connections that die earlier (a close
                // right after the open packet, a refused namespace, a ping timeout on the
                // first ping) keep counting attempts and growing delays, whatever the server
                // announced.
                if self
                    .namespaces
                    .iter()
                    .any(|n| n.state == NspState::Connected)
                {
                    self.backoff.reset();
                }
            }
            engine::Packet::Message(text) => self.handle_socket_text(now, text),
            engine::Packet::BinaryMessage(data) => self.handle_attachment(data),
            engine::Packet::Open(_) => {
                self.events
                    .push_back(Event::ProtocolViolation(ProtocolViolation::OutOfOrder(
                        "second open packet",
                    )))
            }
            // A server ping (EIO4 style) is answered like engine.io would, harmlessly.
            engine::Packet::Ping(data) => self.transmits.push_back(Transmit::Text(
                engine::encode_text(engine::PacketKind::Pong, data),
            )),
            // Polling-only packets: liveness only.
            engine::Packet::Close | engine::Packet::Upgrade | engine::Packet::Noop => {}
        }
    }

    pub(super) fn engine_violation(&mut self, now: Instant, violation: ProtocolViolation) {
        let reason = DisconnectReason::TransportError(violation.to_string());
        self.events.push_back(Event::ProtocolViolation(violation));
        match self.engine {
            Engine::Open(_) => {
                self.transmits.push_back(Transmit::Close);
                self.engine_closed(now, reason, false);
            }
            Engine::Opening { .. } => {
                self.open_failed(
                    now,
                    ConnectFailure::BadHandshake(reason.as_str().to_owned()),
                );
            }
            _ => {}
        }
    }

    pub(super) fn handle_socket_text(&mut self, now: Instant, text: &str) {
        // Any text packet ends the attachments of a refused binary packet.
        self.discard_attachments = 0;
        let packet = match socket::decode_bounded(text, self.config.max_args) {
            Ok(p) => p,
            Err(e) => {
                self.events
                    .push_back(Event::ProtocolViolation(ProtocolViolation::Socket(e)));
                return;
            }
        };
        if self.reassembly.take().is_some() {
            self.events.push_back(Event::ProtocolViolation(
                ProtocolViolation::IncompleteBinaryPacket,
            ));
        }
        match packet.kind {
            PacketKind::BinaryEvent | PacketKind::BinaryAck if packet.attachments > 0 => {
                let (limit, bytes_limit) = (
                    self.config.max_attachments,
                    self.config.max_binary_packet_bytes,
                );
                let violation = if packet.attachments > limit {
                    Some(ProtocolViolation::TooManyAttachments {
                        announced: packet.attachments,
                        limit,
                    })
                } else if text.len() > bytes_limit {
                    Some(ProtocolViolation::BinaryPacketTooLarge { limit: bytes_limit })
                } else {
                    None
                };
                if let Some(v) = violation {
                    self.events.push_back(Event::ProtocolViolation(v));
                    self.discard_attachments = packet.attachments;
                    return;
                }
                let elements = match &packet.payload {
                    Payload::Array(a) => a.as_slice(),
                    _ => &[],
                };
                if let Err(e) = socket::check_placeholders(elements, packet.attachments) {
                    self.events
                        .push_back(Event::ProtocolViolation(ProtocolViolation::Socket(e)));
                    return;
                }
                let (name, args) = split_event(&packet);
                self.reassembly = Some(Box::new(Reassembly {
                    kind: packet.kind,
                    nsp: packet.nsp.to_owned(),
                    id: packet.id,
                    name,
                    args,
                    expected: packet.attachments,
                    attachments: Vec::with_capacity(packet.attachments),
                    bytes: text.len(),
                }));
            }
            _ => self.dispatch(now, &packet),
        }
    }

    pub(super) fn handle_attachment(&mut self, data: Cow<'_, [u8]>) {
        let Some(r) = self.reassembly.as_mut() else {
            if self.discard_attachments > 0 {
                self.discard_attachments -= 1;
            } else {
                self.events.push_back(Event::ProtocolViolation(
                    ProtocolViolation::UnexpectedAttachment,
                ));
            }
            return;
        };
        let limit = self.config.max_binary_packet_bytes;
        if data.len() > limit.saturating_sub(r.bytes) {
            // Checked before copying: nothing of the oversized attachment is kept.
            self.discard_attachments = r.expected - r.attachments.len() - 1;
            self.reassembly = None;
            self.events.push_back(Event::ProtocolViolation(
                ProtocolViolation::BinaryPacketTooLarge { limit },
            ));
            return;
        }
        r.bytes += data.len();
        r.attachments.push(data.into_owned());
        if r.attachments.len() < r.expected {
            return;
        }
        let Some(r) = self.reassembly.take().map(|r| *r) else {
            return;
        };
        let event_kind = r.kind == PacketKind::BinaryEvent;
        self.deliver(event_kind, r.nsp, r.id, r.name, r.args, r.attachments);
    }

    /// A complete text packet (binary ones arrive through [`Self::handle_attachment`]).
    pub(super) fn dispatch(&mut self, now: Instant, packet: &socket::Packet<'_>) {
        match packet.kind {
            PacketKind::Connect => {
                if packet.nsp == "/" {
                    self.root_connected = true;
                }
                self.on_namespace_connected(packet.nsp);
            }
            PacketKind::Disconnect => self.on_server_disconnect(now, packet.nsp),
            PacketKind::Error => {
                let data = match &packet.payload {
                    Payload::Value(v) => v.get().to_owned(),
                    Payload::Array(_) | Payload::None => "null".to_owned(),
                };
                if let Some(i) = self.nsp_index(packet.nsp) {
                    let n = &mut self.namespaces[i];
                    if n.state == NspState::Connecting {
                        n.state = NspState::Refused;
                    }
                    self.events.push_back(Event::NamespaceError {
                        nsp: packet.nsp.to_owned(),
                        data,
                    });
                }
            }
            PacketKind::Event
            | PacketKind::BinaryEvent
            | PacketKind::Ack
            | PacketKind::BinaryAck => {
                let (name, args) = split_event(packet);
                let is_event = matches!(packet.kind, PacketKind::Event | PacketKind::BinaryEvent);
                self.deliver(
                    is_event,
                    packet.nsp.to_owned(),
                    packet.id,
                    name,
                    args,
                    Vec::new(),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // one call per packet shape; a struct would only rename these
    pub(super) fn deliver(
        &mut self,
        is_event: bool,
        nsp: String,
        id: Option<u64>,
        name: Option<String>,
        args: Args,
        attachments: Vec<Vec<u8>>,
    ) {
        let Some(i) = self.nsp_index(&nsp) else {
            // Not a namespace we joined (socket.io-client ignores these too).
            return;
        };
        let n = &mut self.namespaces[i];
        if is_event {
            let Some(name) = name else { return };
            let bytes = event_bytes(&name, &args, &attachments);
            if n.state != NspState::Connected
                && (n.receive_buffer.len() >= self.config.max_buffered
                    || bytes
                        > self
                            .config
                            .max_receive_buffer_bytes
                            .saturating_sub(n.receive_bytes))
            {
                self.events.push_back(Event::ProtocolViolation(
                    ProtocolViolation::ReceiveBufferFull { nsp },
                ));
                return;
            }
            if let Some(id) = id {
                if n.owed_acks.len() >= self.config.max_pending_acks.max(1) {
                    n.owed_acks.pop_first();
                }
                n.owed_acks.insert(id);
            }
            let event = Event::Message {
                nsp,
                name,
                args,
                attachments,
                ack: id.map(AckId),
            };
            if n.state == NspState::Connected {
                self.queued_bytes += bytes;
                self.events.push_back(event);
            } else {
                n.receive_bytes += bytes;
                n.receive_buffer.push_back(event);
            }
            return;
        }
        let Some(id) = id else { return };
        if n.pending_acks.remove(&id).is_some() {
            let event = Event::AckReceived {
                nsp,
                id: AckId(id),
                args,
                attachments,
            };
            self.queued_bytes += payload_bytes(&event);
            self.events.push_back(event);
        } else {
            self.events
                .push_back(Event::ProtocolViolation(ProtocolViolation::UnknownAck(id)));
        }
    }

    pub(super) fn on_namespace_connected(&mut self, nsp: &str) {
        let Some(i) = self.nsp_index(nsp) else { return };
        let n = &mut self.namespaces[i];
        if n.state == NspState::Connected || n.state == NspState::ServerClosed {
            return;
        }
        n.state = NspState::Connected;
        self.events.push_back(Event::Connected {
            nsp: nsp.to_owned(),
        });
        // socket.io-client order: connect, buffered received events, then buffered sends.
        self.events.extend(n.receive_buffer.drain(..));
        self.queued_bytes += std::mem::take(&mut n.receive_bytes);
        for b in n.send_buffer.drain(..) {
            if let Some(p) = b.ack.and_then(|id| n.pending_acks.get_mut(&id)) {
                p.sent = true;
            }
            self.transmits.push_back(Transmit::Text(b.frame));
            self.transmits.extend(
                b.attachments
                    .iter()
                    .map(|a| Transmit::Binary(engine::encode_binary_message(a))),
            );
        }
    }

    pub(super) fn on_server_disconnect(&mut self, now: Instant, nsp: &str) {
        let Some(i) = self.nsp_index(nsp) else { return };
        let mut n = self.namespaces.remove(i);
        let was_connected = n.state == NspState::Connected;
        n.state = NspState::ServerClosed;
        n.connect_sent = false;
        n.owed_acks.clear();
        self.fail_pending_acks(&mut n, false);
        if was_connected {
            self.events.push_back(Event::Disconnected {
                nsp: nsp.to_owned(),
                reason: DisconnectReason::ServerDisconnect,
            });
        }
        self.namespaces.insert(i, n);
        let any_active = self
            .namespaces
            .iter()
            .any(|n| n.state != NspState::ServerClosed);
        if !any_active {
            // socket.io-client closes the manager when its last socket is destroyed.
            self.shut_down(now);
        }
    }
}
