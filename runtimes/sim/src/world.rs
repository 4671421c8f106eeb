//! The world a run happens in: the participants, the emulator, the links, the agenda and the
//! trace, with the bookkeeping of what each participant does and sees.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use spaces_socket::client::Config;
use spaces_socket::spaces::{Incoming, SendError, SendId, Spaces, SpacesEvent, TokenProvider};
use spaces_socket_emulator::rng::Rng;
use spaces_socket_emulator::{ConnId, Emulator, EmulatorConfig};

use spaces_socket::bot::Command;

use crate::error::{MAX_IN_FLIGHT, SimError, SimErrorKind};
use crate::net::{InFlight, Link, Packet, Pipe};
use crate::plan::{Fault, NetPlan, ParticipantConfig};
use crate::report::{Outcome, ParticipantReport, Received, SendRecord, ServerReport};
use crate::trace::Recorder;

// ----- the agenda -------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) enum Action {
    Start(usize),
    Connect(usize),
    Reopen(usize),
    Token(usize),
    Fault(Fault),
    EndRefuse,
    EndBlackhole,
    EndSlow(u32),
    EndSilent,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Due {
    Agenda,
    Deliver { link: u64, up: bool },
    ClientTimer(usize),
    ServerTimer,
    BotTimer(usize),
}

// ----- the world --------------------------------------------------------------------------

/// Where a participant's tokens come from.
pub(crate) enum Tokens {
    /// Its own source.
    Own(Box<dyn TokenProvider>),
    /// The source of participant `.0` (a second connection of its user).
    Of(usize),
}

pub(crate) struct Participant {
    pub(crate) name: String,
    pub(crate) config: ParticipantConfig,
    pub(crate) session_config: Config,
    pub(crate) spaces: Spaces,
    pub(crate) tokens: Tokens,
    /// The spaces its bot asked for (mirrors the session's wanted spaces).
    pub(crate) wanted: BTreeSet<String>,
    pub(crate) link: Option<u64>,
    pub(crate) last_link: Option<u64>,
    /// The bot closed the session: do not reopen it.
    pub(crate) user_closed: bool,
    /// A reopen (`Builder::reopen_at`) came while the session was open: connect again once
    /// the bot closes it.
    pub(crate) reopen_pending: bool,
    pub(crate) expire_next_token: bool,
    pub(crate) report: ParticipantReport,
    pub(crate) send_index: BTreeMap<SendId, usize>,
}

impl Participant {
    /// A participant whose session is `config.session` with the reconnection seed `seed`.
    pub(crate) fn new(name: String, config: ParticipantConfig, tokens: Tokens, seed: u64) -> Self {
        let mut session = config.session.clone();
        session.client.rng_seed = Some(seed);
        let session_config = session.client.clone();
        // Checked when the participant was added.
        let spaces = Spaces::new(session).expect("a session configuration Spaces::new accepts");
        Self {
            report: ParticipantReport {
                name: name.clone(),
                ..ParticipantReport::default()
            },
            name,
            config,
            session_config,
            spaces,
            tokens,
            wanted: BTreeSet::new(),
            link: None,
            last_link: None,
            user_closed: false,
            reopen_pending: false,
            expire_next_token: false,
            send_index: BTreeMap::new(),
        }
    }
}

/// Everything but the bots and the observer, so that both can be called while it is borrowed.
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) base: Instant,
    pub(crate) now: Instant,
    pub(crate) rng: Rng,
    pub(crate) seq: u64,
    pub(crate) agenda: BTreeMap<(Instant, u64), Action>,
    pub(crate) parts: Vec<Participant>,
    pub(crate) server: Emulator,
    pub(crate) server_config: EmulatorConfig,
    pub(crate) generation: u64,
    pub(crate) conns: BTreeMap<ConnId, u64>,
    pub(crate) links: BTreeMap<u64, Link>,
    pub(crate) next_link: u64,
    pub(crate) net: NetPlan,
    pub(crate) max_latency: Duration,
    pub(crate) chaos_until: Option<Duration>,
    pub(crate) faults: Vec<(Duration, Fault)>,
    pub(crate) refusing: u32,
    pub(crate) blackholing: u32,
    pub(crate) silent: u32,
    pub(crate) slow: Vec<u32>,
    pub(crate) rec: Recorder,
    pub(crate) record_events: bool,
    pub(crate) steps: u64,
    pub(crate) same_instant: u64,
    pub(crate) server_report: ServerReport,
    pub(crate) injected: Vec<(Duration, Fault)>,
    pub(crate) error: Option<SimError>,
}

impl World {
    pub(crate) fn calm(&self) -> bool {
        self.chaos_until
            .is_some_and(|until| self.now >= self.base + until)
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// The virtual wall clock: the emulator's base time plus the virtual time.
    pub(crate) fn wall_clock(&self) -> SystemTime {
        let base = Duration::from_millis(self.server_config.base_time_unix_ms);
        SystemTime::UNIX_EPOCH + base + self.elapsed()
    }

    pub(crate) fn trace(&mut self, what: fmt::Arguments<'_>) {
        let at = self.elapsed();
        self.rec.line(at, what);
    }

    pub(crate) fn show(&mut self, what: fmt::Arguments<'_>) {
        let at = self.elapsed();
        self.rec.show(at, what);
    }

    pub(crate) fn fail(&mut self, kind: SimErrorKind, what: String) {
        if self.error.is_none() {
            self.error = Some(SimError {
                seed: self.seed,
                at: self.elapsed(),
                kind,
                what,
                tail: self.rec.tail.iter().cloned().collect(),
            });
        }
    }

    pub(crate) fn schedule(&mut self, at: Instant, action: Action) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), action);
    }

    pub(crate) fn latency(&mut self, up: bool) -> Duration {
        let base = if up {
            self.net.up_latency
        } else {
            self.net.down_latency
        };
        let jitter = self.rng.ms(0, self.net.jitter.as_millis() as u64);
        let factor = self.slow.iter().copied().max().unwrap_or(1).max(1);
        (base + jitter) * factor
    }

    pub(crate) fn send(&mut self, l: u64, up: bool, packet: Packet) {
        let lat = self.latency(up);
        let now = self.now;
        self.seq += 1;
        let seq = self.seq;
        let Some(link) = self.links.get_mut(&l) else {
            return;
        };
        let pipe = if up { &mut link.up } else { &mut link.down };
        if pipe.dead {
            return;
        }
        let at = pipe.last_at.max(now + lat);
        pipe.last_at = at;
        pipe.queue.push_back(InFlight { at, seq, packet });
        if pipe.queue.len() > MAX_IN_FLIGHT {
            self.fail(
                SimErrorKind::Model,
                format!("more than {MAX_IN_FLIGHT} in flight"),
            );
        }
    }

    /// The earliest thing to happen; ties go to the agenda, then deliveries, then the
    /// participants' timers, then the server's.
    pub(crate) fn next_due(&self) -> Option<(Instant, Due)> {
        let mut best: Option<(Instant, Due)> = None;
        let mut offer = |at: Instant, due: Due| {
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, due));
            }
        };
        if let Some(((at, _), _)) = self.agenda.first_key_value() {
            offer(*at, Due::Agenda);
        }
        let mut delivery: Option<(Instant, u64, Due)> = None;
        for (&id, link) in &self.links {
            for (up, pipe) in [(true, &link.up), (false, &link.down)] {
                if let Some(f) = pipe.queue.front()
                    && delivery.is_none_or(|(at, seq, _)| (f.at, f.seq) < (at, seq))
                {
                    delivery = Some((f.at, f.seq, Due::Deliver { link: id, up }));
                }
            }
        }
        if let Some((at, _, due)) = delivery {
            offer(at, due);
        }
        for (i, p) in self.parts.iter().enumerate() {
            if let Some(t) = p.spaces.poll_timeout() {
                offer(t.max(self.now), Due::ClientTimer(i));
            }
        }
        if let Some(t) = self.server.poll_timeout() {
            offer(t.max(self.now), Due::ServerTimer);
        }
        best
    }

    /// Drops links nothing can happen on any more.
    pub(crate) fn collect_links(&mut self) {
        self.links.retain(|_, l| {
            l.client_open || l.server_open || !l.up.queue.is_empty() || !l.down.queue.is_empty()
        });
    }

    pub(crate) fn link_of_conn_mut(&mut self, conn: ConnId) -> Option<&mut Link> {
        let l = *self.conns.get(&conn)?;
        self.links.get_mut(&l)
    }

    /// The emulator's id for `participant`'s current connection, if the emulator has it open.
    pub(crate) fn server_conn_of(&self, participant: usize) -> Option<ConnId> {
        let l = self.parts.get(participant)?.link?;
        let link = self.links.get(&l)?;
        link.conn.filter(|_| link.server_open)
    }

    pub(crate) fn emulator_config(&self) -> EmulatorConfig {
        let mut config = self.server_config.clone();
        config.seed ^= self.generation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        config
    }

    pub(crate) fn open_link(&mut self, i: usize, expired_token: bool) -> u64 {
        let now = self.now;
        let id = self.next_link;
        self.next_link += 1;
        self.links.insert(
            id,
            Link {
                id,
                participant: i,
                conn: None,
                client_open: true,
                server_open: false,
                up: Pipe::new(now),
                down: Pipe::new(now),
                opened_at: now,
                client_last_recv: now,
                server_last_recv: now,
                up_dead_at: None,
                down_dead: false,
                server_rooms: BTreeSet::new(),
                expired_token,
                client_left: false,
                server_left: false,
            },
        );
        let p = &mut self.parts[i];
        p.link = Some(id);
        p.last_link = Some(id);
        id
    }

    /// The participant closes its side: it reads nothing more; the server hears the FIN later.
    pub(crate) fn client_close(&mut self, l: u64) {
        if let Some(link) = self.links.get_mut(&l) {
            link.client_open = false;
            link.down.queue.clear();
        }
        self.send(l, true, Packet::Fin);
    }

    pub(crate) fn record_command(&mut self, i: usize, command: &Command) {
        let name = &self.parts[i].name;
        let at = self.now - self.base;
        match command {
            Command::Connect { .. } => self.rec.line(at, format_args!("{name} connect")),
            Command::Subscribe(space) => {
                self.rec.line(at, format_args!("{name} subscribe {space}"));
            }
            Command::Unsubscribe(space) => {
                self.rec
                    .line(at, format_args!("{name} unsubscribe {space}"));
            }
            Command::Send {
                space,
                text,
                result,
                ..
            } => self.rec.line(
                at,
                format_args!("{name} send {text:?} to {space}: {result:?}"),
            ),
            Command::Presence { space, result, .. } => self
                .rec
                .line(at, format_args!("{name} presence to {space}: {result:?}")),
            Command::Close { .. } => self.rec.line(at, format_args!("{name} close")),
            other => self.rec.line(at, format_args!("{name} {other:?}")),
        }
        let p = &mut self.parts[i];
        match command {
            Command::Connect { was_closed } => {
                p.report.connect_calls += u32::from(*was_closed);
                p.user_closed = false;
            }
            Command::Close { was_closed: false } => p.user_closed = true,
            Command::Subscribe(space) => {
                p.wanted.insert(space.clone());
            }
            Command::Unsubscribe(space) => {
                p.wanted.remove(space);
            }
            Command::Send {
                space,
                text,
                result: Ok(id),
                ..
            } => {
                p.send_index.insert(*id, p.report.sends.len());
                p.report.sends.push(SendRecord {
                    id: *id,
                    space: space.clone(),
                    text: text.clone(),
                    at,
                    outcome: None,
                });
            }
            Command::Send { result: Err(e), .. } => {
                let kind = match e {
                    SendError::NotSubscribed(_) => "not subscribed",
                    SendError::QueueFull { .. } => "queue full",
                    SendError::RateLimited { .. } => "rate limited",
                    _ => "other",
                };
                *p.report.sends_refused.entry(kind).or_default() += 1;
            }
            Command::Presence { result: Ok(()), .. } => p.report.presence_sent += 1,
            _ => {}
        }
    }

    /// The simulation's own bookkeeping of a participant's token request (after the observer
    /// saw it): its provider answers after a drawn delay.
    pub(crate) fn book_token_request(&mut self, i: usize, attempt: u32) {
        let now = self.now;
        let calm = self.calm();
        let p = &mut self.parts[i];
        p.report.tokens_asked += 1;
        if attempt > 0 {
            p.report.reconnect_attempts += 1;
        }
        // A slow token provider is a fault: once calm, tokens come promptly.
        let max = if calm {
            p.config.token_delay_max.min(Duration::from_millis(300))
        } else {
            p.config.token_delay_max
        };
        let delay = self.rng.ms(0, max.as_millis() as u64);
        self.schedule(now + delay, Action::Token(i));
    }

    /// The simulation's own bookkeeping of a participant's event (after the observer saw it,
    /// before the bot does).
    pub(crate) fn book_event(&mut self, i: usize, e: &SpacesEvent) {
        let now = self.now;
        let at = now - self.base;
        let mut later = None;
        let p = &mut self.parts[i];
        if self.record_events {
            p.report.events.push((at, e.clone()));
        }
        match e {
            SpacesEvent::Connected => p.report.connects += 1,
            SpacesEvent::Disconnected { reason } => {
                *p.report.disconnects.entry(reason.as_str()).or_default() += 1;
            }
            SpacesEvent::ConnectFailed { .. } => p.report.connect_failures += 1,
            SpacesEvent::Confirmed { id, message } => {
                let server_id = message.id.clone().unwrap_or_default();
                if let Some(&k) = p.send_index.get(id) {
                    p.report.sends[k]
                        .outcome
                        .get_or_insert(Outcome::Confirmed(server_id));
                }
            }
            SpacesEvent::SendFailed { id, failure, .. } => {
                if let Some(&k) = p.send_index.get(id) {
                    p.report.sends[k]
                        .outcome
                        .get_or_insert(Outcome::Failed(failure.clone()));
                }
            }
            SpacesEvent::Message(m) => p.report.received.push(Received::of(at, m)),
            SpacesEvent::OwnMessage(m) => p.report.own_received.push(Received::of(at, m)),
            SpacesEvent::Closed => {
                p.report.closes += 1;
                if p.user_closed && std::mem::take(&mut p.reopen_pending) {
                    // The user's reopen that came first at this instant (or earlier).
                    later = Some((now, Action::Connect(i)));
                } else if !p.user_closed && p.config.reopen_after_close {
                    // Reopen as an app would after an auth failure or a server disconnect.
                    let reopen = self.rng.ms(500, 3_000);
                    later = Some((now + reopen, Action::Connect(i)));
                }
                p.user_closed = false;
            }
            _ => {}
        }
        if let Some((at, action)) = later {
            self.schedule(at, action);
        }
    }
}

/// A compact, deterministic line for an event (pongs are most of a trace).
pub(crate) struct EventLine<'a>(pub(crate) &'a SpacesEvent);

impl fmt::Display for EventLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SpacesEvent::Pong { latency } => write!(f, "pong {latency:?}"),
            SpacesEvent::Message(m) => {
                let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
                let from = m.sender.as_ref().and_then(|s| s.id.as_deref());
                write!(
                    f,
                    "message {:?} from {:?}: {:?}",
                    m.id.as_deref().unwrap_or(""),
                    from.unwrap_or(""),
                    text.unwrap_or("")
                )
            }
            SpacesEvent::Confirmed { id, message } => {
                write!(f, "confirmed {id:?} {:?}", message.id)
            }
            SpacesEvent::Incoming(Incoming::PresenceEventResponse(p)) => {
                write!(f, "presence {:?}", p.category)
            }
            other => write!(f, "{other:?}"),
        }
    }
}
