//! Moving data: the network's deliveries into the machines, and the machines' outputs (the
//! emulator's frames and events, the participants' transmits, token requests and events) out.

use std::collections::VecDeque;

use spaces_socket::client::Transmit;
use spaces_socket::spaces::{Input, SpacesEvent, Step};
use spaces_socket_emulator::{CloseReason, EmulatorEvent, Rejection, ServerOutput};

use crate::error::SimErrorKind;
use crate::net::{InFlight, Packet};
use crate::plan::ParticipantId;
use crate::sim::Sim;
use crate::view::Happening;
use crate::world::EventLine;

impl Sim {
    pub(crate) fn deliver(&mut self, l: u64, up: bool) {
        let now = self.w.now;
        let Some(link) = self.w.links.get_mut(&l) else {
            return;
        };
        let pipe = if up { &mut link.up } else { &mut link.down };
        let Some(InFlight { packet, .. }) = pipe.queue.pop_front() else {
            return;
        };
        let i = link.participant;
        if up {
            let conn = link.conn.filter(|_| link.server_open);
            if conn.is_some() && !matches!(packet, Packet::Fin) {
                link.server_last_recv = now;
            }
            self.trace_packet(i, true, &packet);
            match (packet, conn) {
                (Packet::Connect(uri), _) => self.server_accept(l, &uri),
                (Packet::Text(text), Some(conn)) => {
                    self.w.server.handle_text(now, conn, &text);
                    self.drain_server();
                }
                (Packet::Binary(data), Some(conn)) => {
                    self.w.server.handle_binary(now, conn, &data);
                    self.drain_server();
                }
                (Packet::Fin, Some(conn)) => {
                    if let Some(link) = self.w.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.w.server.handle_closed(now, conn);
                    self.drain_server();
                }
                // The emulator already forgot this connection.
                _ => {}
            }
            return;
        }
        if !link.client_open {
            return;
        }
        match packet {
            Packet::Fin => link.client_open = false,
            Packet::Text(_) | Packet::Binary(_) => link.client_last_recv = now,
            _ => {}
        }
        self.trace_packet(i, false, &packet);
        let spaces = &mut self.w.parts[i].spaces;
        match packet {
            Packet::Accepted => spaces.handle_input(now, Input::Opened),
            Packet::Refused => {
                let reason = "connection refused";
                spaces.handle_input(now, Input::OpenFailed { reason });
            }
            Packet::Text(text) => spaces.handle_input(now, Input::Text(&text)),
            Packet::Binary(data) => spaces.handle_input(now, Input::Binary(&data)),
            Packet::Fin => {
                self.w.parts[i].link = None;
                self.w.parts[i]
                    .spaces
                    .handle_input(now, Input::Closed { error: None });
            }
            Packet::Connect(_) => {}
        }
        self.drain_client(i);
    }

    /// A delivery: hashed as its time and direction (frames are hashed when sent), shown in
    /// full when the trace is kept.
    pub(crate) fn trace_packet(&mut self, i: usize, up: bool, packet: &Packet) {
        let t = (self.w.now - self.w.base).as_micros() as u64;
        self.w.rec.hash.write(&t.to_le_bytes());
        self.w.rec.hash.write(&[u8::from(up), i as u8]);
        if !self.w.rec.showing() {
            return;
        }
        let shown = match packet {
            Packet::Text(t) => format!("{:?}", Transmit::Text(t.clone())),
            Packet::Connect(_) => "Connect".to_owned(),
            other => format!("{other:?}"),
        };
        let name = self.w.parts[i].name.clone();
        if up {
            self.w.show(format_args!("{name} => server {shown}"));
        } else {
            self.w.show(format_args!("=> {name} {shown}"));
        }
    }

    pub(crate) fn server_accept(&mut self, l: u64, uri: &str) {
        let now = self.w.now;
        if self.w.silent > 0 || self.w.blackholing > 0 {
            self.w.trace(format_args!("connect dropped"));
            return;
        }
        if self.w.refusing > 0 {
            self.w.send(l, false, Packet::Refused);
            return;
        }
        match self.w.server.handle_connect(now, uri) {
            Ok(conn) => {
                if let Some(link) = self.w.links.get_mut(&l) {
                    link.conn = Some(conn);
                    link.server_open = true;
                    link.server_last_recv = now;
                }
                self.w.conns.insert(conn, l);
                self.w.send(l, false, Packet::Accepted);
                self.drain_server();
            }
            // HTTP 503: the participant hears a failed open.
            Err(Rejection::TooManyConnections) => {
                self.w.server_report.full += 1;
                self.w.send(l, false, Packet::Refused);
            }
            Err(rejection) => {
                self.w.fail(
                    SimErrorKind::Model,
                    format!("the emulator rejected {uri:?}: {rejection:?}"),
                );
            }
        }
    }

    // ----- the emulator -------------------------------------------------------------------

    pub(crate) fn drain_server(&mut self) {
        while let Some(out) = self.w.server.poll_output() {
            let conn = out.conn();
            let Some(&l) = self.w.conns.get(&conn) else {
                self.w.fail(
                    SimErrorKind::Model,
                    format!("emulator output for unknown {conn:?}"),
                );
                return;
            };
            let server_open = self.w.links.get(&l).is_some_and(|k| k.server_open);
            if !server_open {
                self.w.fail(
                    SimErrorKind::Model,
                    format!("emulator wrote to {conn:?} after it was closed: {out:?}"),
                );
                return;
            }
            match out {
                ServerOutput::Text { text, .. } => {
                    self.w.rec.hash.write(text.as_bytes());
                    self.w.send(l, false, Packet::Text(text));
                }
                ServerOutput::Binary { data, .. } => {
                    self.w.rec.hash.write(&data);
                    self.w.send(l, false, Packet::Binary(data));
                }
                ServerOutput::Close { .. } => {
                    if let Some(link) = self.w.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.w.send(l, false, Packet::Fin);
                }
            }
        }
        while let Some(ev) = self.w.server.poll_event() {
            self.on_server_event(&ev);
        }
    }

    pub(crate) fn on_server_event(&mut self, ev: &EmulatorEvent) {
        if self.w.rec.showing() {
            self.w.show(format_args!("server {ev:?}"));
        }
        match ev {
            EmulatorEvent::MessageSent { .. } => self.w.server_report.messages += 1,
            EmulatorEvent::Subscribed { conn, space, .. } => {
                if let Some(link) = self.w.link_of_conn_mut(*conn) {
                    link.server_rooms.insert(space.clone());
                }
            }
            EmulatorEvent::Unsubscribed { conn, space, .. } => {
                if let Some(link) = self.w.link_of_conn_mut(*conn) {
                    link.server_rooms.remove(space);
                }
            }
            EmulatorEvent::Closed {
                reason: CloseReason::PingTimeout,
                ..
            } => self.w.server_report.ping_timeouts += 1,
            _ => {}
        }
        self.observe(Happening::Server(ev));
    }

    // ----- the participants ---------------------------------------------------------------

    /// Takes a participant's outputs in its session's poll order (`Spaces::poll_output`) until
    /// it waits. The transmits that taking events queues are carried out after that run of
    /// events, as the kit always did, so that a seed draws the same run.
    pub(crate) fn drain_client(&mut self, i: usize) {
        // Within a run of events (and token requests), transmits wait in `later`.
        let mut in_events = false;
        let mut later = VecDeque::new();
        while self.w.error.is_none() {
            match self.w.parts[i].spaces.poll_output() {
                Step::Transmit(t) if !in_events => self.on_transmit(i, t),
                Step::Transmit(t) => later.push_back(t),
                Step::Token { attempt } => {
                    in_events = true;
                    self.on_token_request(i, attempt);
                }
                Step::Event(e) => {
                    in_events = true;
                    self.on_client_event(i, &e);
                }
                _ if later.is_empty() => break,
                _ => {
                    in_events = false;
                    while let Some(t) = later.pop_front() {
                        self.on_transmit(i, t);
                    }
                }
            }
        }
    }

    pub(crate) fn on_token_request(&mut self, i: usize, attempt: u32) {
        let name = &self.w.parts[i].name;
        let at = self.w.now - self.w.base;
        self.w.rec.line(
            at,
            format_args!("{name} TokenNeeded {{ attempt: {attempt} }}"),
        );
        self.observe(Happening::TokenRequest {
            participant: ParticipantId(i),
            attempt,
        });
        self.w.book_token_request(i, attempt);
    }

    pub(crate) fn on_transmit(&mut self, i: usize, t: Transmit) {
        self.observe(Happening::Transmit {
            participant: ParticipantId(i),
            transmit: &t,
        });
        match t {
            Transmit::Open(url) => {
                let name = self.w.parts[i].name.clone();
                self.w.trace(format_args!("{name} open"));
                self.w.parts[i].report.opens += 1;
                let url = url.expose();
                let expired_token =
                    url.contains("token=expired&") || url.ends_with("token=expired");
                let uri = url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|k| rest[k..].to_owned()))
                    .unwrap_or_default();
                if let Some(old) = self.w.parts[i].link.take() {
                    self.w.parts[i].report.open_without_close += 1;
                    self.w.client_close(old);
                }
                let id = self.w.open_link(i, expired_token);
                self.w.send(id, true, Packet::Connect(uri));
            }
            Transmit::Text(text) => {
                self.w.rec.hash.write(text.as_bytes());
                if self.w.rec.showing() {
                    let name = self.w.parts[i].name.clone();
                    self.w
                        .show(format_args!("{name} > {:?}", Transmit::Text(text.clone())));
                }
                let Some(l) = self.w.parts[i].link else {
                    let name = &self.w.parts[i].name;
                    let what = format!("{name} wrote with no websocket open");
                    self.w.fail(SimErrorKind::Model, what);
                    return;
                };
                if text.starts_with("41/chat")
                    && let Some(link) = self.w.links.get_mut(&l)
                {
                    link.client_left = true;
                }
                self.w.send(l, true, Packet::Text(text));
            }
            Transmit::Binary(data) => {
                self.w.rec.hash.write(&data);
                let Some(l) = self.w.parts[i].link else {
                    let name = &self.w.parts[i].name;
                    let what = format!("{name} wrote with no websocket open");
                    self.w.fail(SimErrorKind::Model, what);
                    return;
                };
                self.w.send(l, true, Packet::Binary(data));
            }
            Transmit::Close => {
                let name = self.w.parts[i].name.clone();
                self.w.trace(format_args!("{name} close websocket"));
                if let Some(l) = self.w.parts[i].link.take() {
                    self.w.client_close(l);
                }
            }
        }
    }

    pub(crate) fn on_client_event(&mut self, i: usize, e: &SpacesEvent) {
        let name = &self.w.parts[i].name;
        let at = self.w.now - self.w.base;
        self.w.rec.line(at, format_args!("{name} {}", EventLine(e)));
        self.observe(Happening::Event {
            participant: ParticipantId(i),
            event: e,
        });
        self.w.book_event(i, e);
        self.call_bot(i, |host, spaces, now| host.handle_event(spaces, now, e));
    }
}
