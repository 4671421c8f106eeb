//! The project's invariants, as a kit [`Observer`]: it sees every command, token, event, frame,
//! server event and fault, checks the state after every step, and the settled state at the
//! test's checkpoints. A violation names its invariant (see [`Checker`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use spaces_socket::client::{ConnectFailure, DisconnectReason, Transmit};
use spaces_socket::spaces::{Delivery, Incoming, SendError, SendFailure, SpacesEvent};
use spaces_socket_emulator::{CloseReason, EmulatorEvent, codes};
use spaces_socket_sim::{
    Command, Fault, Happening, Observer, Outcome, ParticipantView, SendRecord, SimView,
    TokenOutcome,
};

/// The sessions' `rate_window` (the kit keeps `SpacesConfig`'s default).
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// The sessions' `confirm_timeout` (the kit keeps `SpacesConfig`'s default).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// Checkpoint: the quiet period is over; the final round starts.
pub const SETTLED: &str = "after the quiet period";
/// Checkpoint: the final round is over.
pub const FINAL: &str = "after the final round";

/// Returns the violation of invariant `$n`.
macro_rules! bail {
    ($n:expr, $($arg:tt)*) => {
        return Err(format!("invariant {} violated: {}", $n, format_args!($($arg)*)))
    };
}

/// What the checker follows of one client.
#[derive(Debug, Default)]
struct Client {
    /// The spaces the user wants (mirror of the session's).
    wanted: BTreeSet<String>,
    /// Last `unsubscribe` of each space.
    unsubscribed_at: BTreeMap<String, Duration>,
    /// A token was handed over since the last token request (`Step::Token`).
    token_fresh: bool,
    /// The attempt the next token request (`Step::Token`) must carry.
    next_token_attempt: u32,
    /// Between `Connected` and `Disconnected`.
    connected: bool,
    /// The user closed the session: a `Closed` (and the failure of every unresolved send) is
    /// legitimate now (server disconnects and expired tokens are told by the link).
    closing: bool,
    /// The last answer to token request (`Step::Token`) was an error.
    token_failed: bool,
    /// A token request (`Step::Token`) not answered yet, since then: the connect timeout covers the wait.
    token_wait_since: Option<Instant>,
    /// Wanted spaces not yet `Subscribed` on this connection, with when they became due.
    awaiting_sub: BTreeMap<String, Instant>,
    /// Events waited for the session's rate window at the last step.
    was_paced: bool,
    /// Server `_id`s received as `Message`.
    seen_ids: BTreeSet<String>,
    /// Copies received per message text.
    copies: BTreeMap<String, u32>,
    /// When the last `Disconnected` came (a written message may be in doubt since).
    last_disconnect: Option<Duration>,
    /// SEND_MESSAGE frames written per message text.
    written: BTreeMap<String, u32>,
    /// When each `42/chat,` frame of the last rate window was written (the subscriptions
    /// replayed on joining aside).
    window: VecDeque<Instant>,
    /// SUBSCRIBE_CHANNELs the session may still write at once, over its rate window, since
    /// the last `Connected`: one per wanted space.
    replays: usize,
    /// Server error packets sent to it and not yet reported.
    server_errors: u32,
}

/// A server message, from the emulator's events.
#[derive(Debug, Clone)]
struct ServerMsg {
    /// The link it was accepted on.
    link: Option<u64>,
    sender: String,
    text: String,
}

/// The invariants (each failure names its number):
///
/// 1. Every `send_message` that returned `Ok` ends in exactly one `Confirmed` or `SendFailed`
///    for its id: never both, never twice, and never neither once the quiet period is over. A
///    `SendFailed` is only legitimate as `Unsubscribed` after the user unsubscribed that space,
///    or `Closed` when the session was closed (by the user, a server disconnect or an expired
///    token); a `Confirmed` carries the text sent and a server `_id` the emulator gave that
///    user's message. `send_message` refuses exactly when it should (`NotSubscribed` iff the
///    space is not wanted, `QueueFull` iff `max_held` messages are unconfirmed).
/// 2. After every `Connected`, every wanted space gets `Subscribed` before the next
///    disconnect, within a round trip of the worst latency unless the link failed first; after
///    the quiet period the client and the emulator agree on every subscription.
/// 3. A dead link is detected: an open engine never outlives its last received packet by more
///    than pingInterval + pingTimeout; a link dead only towards the server is dropped within
///    pingInterval + pingTimeout + one worst latency of its death; a link dead towards the
///    client ends in `PingTimeout`; a `PingTimeout` only comes after pingTimeout of silence;
///    a connect is given up within the connect timeout. The emulator, too, forgets a silent
///    connection within pingInterval + pingTimeout.
/// 4. Every `Reconnecting { attempt, delay }` lies in `reconnect_delay_bounds(attempt)`; every
///    connection attempt asks for exactly one fresh token, and opens only with one.
/// 5. Messages: the emulator accepts a message only from a connection in that space's room
///    and attributes it to the right user; no server `_id` reaches a client twice (so at most
///    once per connection), every copy is of a message the emulator accepted, and the copies
///    of one text at a client never outnumber the times the emulator accepted it (resends
///    after a lost echo are the only duplicates). A client's own message comes back as a
///    `Message` only from an older connection of its own that the server still had open (a
///    late original racing its resend), never from the connection it is on. Order is not
///    asserted: a resend after a lost echo can overtake later messages at other subscribers.
///    In the final round, with the network calm, each message reaches every other subscriber
///    exactly once.
/// 6. No unexpected event (auth failure, subscribe failure, closed session, protocol error on
///    either side); bounded memory: `unconfirmed() <= max_held`, the emulator's connection
///    count equal to the links it has not closed (and to the number of clients at the end).
///    (The kit itself stops on a panic, a live-lock, an unbounded in-flight queue or a frame
///    the network cannot carry.)
/// 7. The live-service policies. Delivery: a participant at most once never writes a
///    SEND_MESSAGE for the same message twice (counted from its transmits); at least once,
///    invariant 1 holds with the reported failures `MaybeDelivered` (only after a disconnect
///    since the send), `Unconfirmed` (only `confirm_timeout` after it) and `Rejected` with
///    [`codes::RATE_LIMITED`] (only from a server with a message rate limit). Pacing: no
///    sliding `rate_window` holds more `42/chat,` frames written by a participant than its
///    `rate_limit`, the subscriptions replayed on joining aside (one per wanted space per
///    `Connected`: they are never held, so a joined connection is never deaf). Echoes: one without `loopbackMetadata` or with fields of odd types still
///    confirms (invariant 1), never comes back as a `Message` (invariant 5). Error packets: a
///    `ServerError` comes only after the server sent one, and the connection stays.
#[derive(Debug, Default)]
pub struct Checker {
    clients: Vec<Client>,
    server_msgs: BTreeMap<String, ServerMsg>,
    /// Times the emulator accepted each text.
    accepted: BTreeMap<String, u32>,
    /// The final round has started: accepted sends are final-round messages.
    final_round: bool,
    /// Final-round messages: (sender, space, text).
    finals: Vec<(usize, String, String)>,
}

impl Checker {
    /// A checker for `clients` clients.
    pub fn new(clients: usize) -> Self {
        Self {
            clients: (0..clients).map(|_| Client::default()).collect(),
            ..Self::default()
        }
    }

    /// Received copies of a text already received (at-least-once resends), over all clients.
    pub fn duplicate_deliveries(&self) -> u32 {
        self.clients
            .iter()
            .flat_map(|c| c.copies.values())
            .map(|n| n.saturating_sub(1))
            .sum()
    }

    // ----- commands and tokens ------------------------------------------------------------

    fn on_command(&mut self, sim: &SimView<'_>, i: usize, cmd: &Command) -> Result<(), String> {
        let now = sim.now();
        let p = part(sim, i);
        let c = &mut self.clients[i];
        match cmd {
            Command::Connect { was_closed } => {
                if *was_closed {
                    c.next_token_attempt = 0;
                }
            }
            Command::Close { was_closed } => {
                if !was_closed {
                    c.closing = true;
                }
            }
            Command::Subscribe(space) => {
                if c.wanted.insert(space.clone()) && c.connected {
                    c.awaiting_sub.insert(space.clone(), now);
                }
            }
            Command::Unsubscribe(space) => {
                if c.wanted.remove(space) {
                    c.unsubscribed_at.insert(space.clone(), sim.elapsed());
                }
                c.awaiting_sub.remove(space);
            }
            Command::Send {
                space,
                text,
                unconfirmed_before: before,
                result,
            } => {
                let max_held = p.config().session.max_held;
                let wanted = c.wanted.contains(space);
                match result {
                    Ok(id) => {
                        if !wanted {
                            bail!(1, "c{i}: accepted a send to unwanted {space}");
                        }
                        if *before >= max_held {
                            bail!(6, "c{i}: accepted a send beyond max_held");
                        }
                        let sends = &p.report().sends;
                        if sends.len() >= 2 && sends[sends.len() - 2].id >= *id {
                            bail!(1, "c{i}: send id {id:?} reused");
                        }
                        if self.final_round {
                            self.finals.push((i, space.clone(), text.clone()));
                        }
                    }
                    Err(e) => {
                        let plausible = match e {
                            SendError::NotSubscribed(_) => !wanted,
                            SendError::QueueFull { .. } => wanted && *before >= max_held,
                            SendError::RateLimited { retry_after } => {
                                wanted && *retry_after <= Duration::from_secs(60)
                            }
                            _ => false,
                        };
                        if !plausible {
                            bail!(
                                1,
                                "c{i}: send to {space} refused with {e:?} \
                                 (wanted: {wanted}, unconfirmed: {before})"
                            );
                        }
                    }
                }
            }
            Command::Presence {
                subscribed_before,
                result,
                ..
            } => match result {
                Ok(()) if *subscribed_before => {}
                Err(SendError::NotConnected(_)) if !subscribed_before => {}
                other => bail!(
                    6,
                    "c{i}: presence {other:?} (connected+subscribed: {subscribed_before})"
                ),
            },
            other => bail!(6, "c{i}: unknown command {other:?}"),
        }
        Ok(())
    }

    fn on_token(&mut self, i: usize, outcome: TokenOutcome) {
        let c = &mut self.clients[i];
        if outcome == TokenOutcome::Failed {
            // A late answer (the attempt already timed out) fails nothing.
            c.token_failed = c.token_wait_since.is_some();
        } else {
            c.token_fresh = true;
        }
        c.token_wait_since = None;
    }

    fn on_transmit(&mut self, sim: &SimView<'_>, i: usize, t: &Transmit) -> Result<(), String> {
        if let Transmit::Text(frame) = t
            && let Some(data) = frame.strip_prefix("42/chat,")
        {
            let now = sim.now();
            let p = part(sim, i);
            let limit = p.config().session.rate_limit as usize;
            let c = &mut self.clients[i];
            if c.replays > 0 && data.starts_with("[\"SUBSCRIBE_CHANNEL\"") {
                // A subscription replayed on joining: never held by the pacer.
                c.replays -= 1;
                return Ok(());
            }
            while c.window.front().is_some_and(|t| *t + RATE_WINDOW <= now) {
                c.window.pop_front();
            }
            c.window.push_back(now);
            if c.window.len() > limit {
                bail!(
                    7,
                    "c{i} wrote {} events in {RATE_WINDOW:?}, over its rate_limit {limit}",
                    c.window.len()
                );
            }
            let event: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            if event[0] == "SEND_MESSAGE" {
                let text = event[1]["content"]["bodyText"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let written = c.written.entry(text.clone()).or_default();
                *written += 1;
                if *written > 1 && p.config().session.delivery == Delivery::AtMostOnce {
                    bail!(
                        7,
                        "c{i} is at most once but wrote {text:?} {} times",
                        *written
                    );
                }
            }
        }
        if let Transmit::Open(url) = t {
            let c = &mut self.clients[i];
            if !c.token_fresh {
                bail!(4, "c{i} opened a websocket without a fresh token");
            }
            c.token_fresh = false;
            let url = url.expose();
            let token = format!("token={}", part(sim, i).name());
            if !url.contains(&token) && !url.contains("token=expired&") {
                bail!(4, "c{i} opened without its token");
            }
        }
        Ok(())
    }

    // ----- the clients' events ------------------------------------------------------------

    /// A token request (`Step::Token`): the attempt it is for, and the wait starts.
    fn on_token_request(
        &mut self,
        sim: &SimView<'_>,
        i: usize,
        attempt: u32,
    ) -> Result<(), String> {
        let c = &mut self.clients[i];
        c.token_fresh = false;
        c.token_failed = false;
        c.token_wait_since = Some(sim.now());
        if attempt != c.next_token_attempt {
            let want = c.next_token_attempt;
            bail!(4, "c{i}: token request for attempt {attempt}, want {want}");
        }
        Ok(())
    }

    fn on_event(&mut self, sim: &SimView<'_>, i: usize, e: &SpacesEvent) -> Result<(), String> {
        let now = sim.now();
        let p = part(sim, i);
        match e {
            SpacesEvent::Connected => {
                let c = &mut self.clients[i];
                if c.connected {
                    bail!(2, "c{i}: Connected twice");
                }
                c.connected = true;
                c.closing = false;
                c.awaiting_sub = c.wanted.iter().map(|s| (s.clone(), now)).collect();
                c.replays = c.wanted.len();
            }
            SpacesEvent::Disconnected { reason } => self.on_disconnected(sim, i, reason)?,
            SpacesEvent::Subscribed { space } => {
                let c = &mut self.clients[i];
                if !c.connected {
                    bail!(2, "c{i}: Subscribed {space} while disconnected");
                }
                c.awaiting_sub.remove(space);
            }
            SpacesEvent::Unsubscribed { .. } => {}
            SpacesEvent::Confirmed { id, message } => {
                let text = message
                    .content
                    .as_ref()
                    .and_then(|c| c.body_text.clone())
                    .unwrap_or_default();
                let server_id = message.id.clone().unwrap_or_default();
                let Some(record) = find_send(&p.report().sends, *id) else {
                    bail!(1, "c{i}: Confirmed unknown {id:?}");
                };
                if let Some(prev) = &record.outcome {
                    bail!(1, "c{i}: {id:?} Confirmed after {prev:?}");
                }
                if text != record.text || message.topic_id.as_deref() != Some(&record.space) {
                    bail!(1, "c{i}: {id:?} confirmed with the wrong message");
                }
                match self.server_msgs.get(&server_id) {
                    Some(m) if m.sender == p.name() && m.text == record.text => {}
                    other => bail!(
                        1,
                        "c{i}: {id:?} confirmed as {server_id:?}: server has {other:?}"
                    ),
                }
            }
            SpacesEvent::SendFailed { id, space, failure } => {
                let Some(record) = find_send(&p.report().sends, *id) else {
                    bail!(1, "c{i}: SendFailed for unknown {id:?}");
                };
                if let Some(prev) = &record.outcome {
                    bail!(1, "c{i}: {id:?} failed after {prev:?}");
                }
                let unsubscribed = self.clients[i]
                    .unsubscribed_at
                    .get(&record.space)
                    .is_some_and(|t| *t >= record.at);
                let legit = match failure {
                    SendFailure::Unsubscribed => unsubscribed,
                    // Every unresolved send fails when the session closes.
                    SendFailure::Closed => self.closing_legit(sim, i),
                    // The delivery policy gave up after a drop (reported just before the
                    // `Disconnected`, or on a later connection).
                    SendFailure::MaybeDelivered => {
                        !p.spaces().is_connected()
                            || self.clients[i]
                                .last_disconnect
                                .is_some_and(|t| t >= record.at)
                    }
                    SendFailure::Unconfirmed => sim.elapsed() >= record.at + CONFIRM_TIMEOUT,
                    SendFailure::Rejected(error) => {
                        sim.server_config().message_rate_limit.is_some()
                            && error.contains(codes::RATE_LIMITED)
                    }
                    _ => false,
                };
                if !legit || *space != record.space {
                    bail!(1, "c{i}: {id:?} to {space} failed: {failure:?}");
                }
            }
            SpacesEvent::Message(msg) | SpacesEvent::OwnMessage(msg) => {
                let server_id = msg.id.clone().unwrap_or_default();
                let Some(m) = self.server_msgs.get(&server_id) else {
                    bail!(5, "c{i}: message {server_id:?} the server never sent");
                };
                // Our user's messages come as `OwnMessage` once the session knows who it is
                // (the same cases as below: an older connection of ours delivering late).
                if matches!(e, SpacesEvent::OwnMessage(_)) && m.sender != p.name() {
                    bail!(5, "c{i}: {:?} of {} came as its own", m.text, m.sender);
                }
                // Our own message comes back as someone else's only when an older connection
                // of ours delivered it late (the server still had it open): never from the
                // connection we are on.
                let link = p.link().map(|l| l.id());
                if m.sender == p.name() && (m.link.is_none() || m.link == link) {
                    let config = sim.server_config();
                    if config.drop_loopback || config.odd_message_fields {
                        bail!(
                            7,
                            "c{i}: its own {:?} (echo without loopbackMetadata: {}, odd \
                             fields: {}) came back as a message",
                            m.text,
                            config.drop_loopback,
                            config.odd_message_fields
                        );
                    }
                    bail!(5, "c{i}: got its own {:?} back as a message", m.text);
                }
                if msg.sender.as_ref().and_then(|s| s.id.as_deref()) != Some(&m.sender) {
                    bail!(5, "c{i}: {server_id} has the wrong sender");
                }
                let text = m.text.clone();
                let c = &mut self.clients[i];
                if !c.seen_ids.insert(server_id.clone()) {
                    bail!(5, "c{i}: message {server_id} arrived twice");
                }
                let copies = c.copies.entry(text.clone()).or_default();
                *copies += 1;
                let accepted = self.accepted.get(&text).copied().unwrap_or(0);
                if *copies > accepted {
                    bail!(5, "c{i}: {copies} copies of {text:?}, sent {accepted}");
                }
            }
            SpacesEvent::Incoming(Incoming::PresenceEventResponse(_)) => {}
            SpacesEvent::AuthFailed(failure) => {
                if !p.last_link().is_some_and(|l| l.expired_token()) {
                    bail!(6, "c{i}: unexpected {failure:?}");
                }
            }
            SpacesEvent::Closed => {
                if !self.closing_legit(sim, i) {
                    bail!(6, "c{i}: the session closed by itself");
                }
                let c = &mut self.clients[i];
                c.closing = false;
                c.connected = false;
                c.token_wait_since = None;
                c.awaiting_sub.clear();
            }
            SpacesEvent::Reconnecting { attempt, delay } => {
                let (lo, hi) = p.session_config().reconnect_delay_bounds(*attempt);
                if *delay < lo || *delay > hi {
                    bail!(
                        4,
                        "c{i}: attempt {attempt} delay {delay:?} outside {lo:?}..={hi:?}"
                    );
                }
                // The attempt's token request must carry this number.
                self.clients[i].next_token_attempt = *attempt;
            }
            SpacesEvent::ConnectFailed { failure } => {
                let c = &mut self.clients[i];
                c.token_wait_since = None;
                let token_failed = std::mem::take(&mut c.token_failed);
                let legit = match failure {
                    ConnectFailure::Credentials(_) => token_failed,
                    ConnectFailure::Timeout | ConnectFailure::Transport(_) => !token_failed,
                    _ => false,
                };
                if !legit {
                    bail!(6, "c{i}: connect failed: {failure:?}");
                }
            }
            SpacesEvent::Pong { .. } => {}
            SpacesEvent::ServerError(failure) => {
                let c = &mut self.clients[i];
                if c.server_errors == 0 {
                    bail!(7, "c{i}: ServerError {failure:?} the server never sent");
                }
                c.server_errors -= 1;
                if !c.connected || !p.spaces().is_connected() {
                    bail!(7, "c{i}: ServerError {failure:?} dropped the connection");
                }
            }
            other => bail!(6, "c{i}: unexpected {other:?}"),
        }
        Ok(())
    }

    fn on_disconnected(
        &mut self,
        sim: &SimView<'_>,
        i: usize,
        reason: &DisconnectReason,
    ) -> Result<(), String> {
        let now = sim.now();
        let t = sim.server_config().ping_timeout;
        let closing = self.clients[i].closing;
        let c = &mut self.clients[i];
        if !c.connected {
            bail!(2, "c{i}: Disconnected while not connected");
        }
        c.connected = false;
        c.last_disconnect = Some(sim.elapsed());
        // Subscriptions still awaited here: the link failed first, which is allowed.
        c.awaiting_sub.clear();
        // The link the events of this drain come from (the session may have closed it).
        let link = part(sim, i).last_link();
        let down_dead = link.is_some_and(|l| l.down_dead());
        match reason {
            DisconnectReason::PingTimeout => {
                if let Some(l) = link
                    && now < l.client_last_recv() + t
                {
                    bail!(
                        3,
                        "c{i}: ping timeout only {:?} after the last packet",
                        now - l.client_last_recv()
                    );
                }
            }
            DisconnectReason::TransportClose if down_dead => {
                bail!(3, "c{i}: heard a close through a dead link");
            }
            DisconnectReason::TransportClose => {}
            DisconnectReason::TransportError(e) if e == "reset" => {}
            // The user closed, or the server disconnected the namespace.
            DisconnectReason::ClientDisconnect if closing => {}
            DisconnectReason::ServerDisconnect if link.is_some_and(|l| l.server_left()) => {}
            other => bail!(6, "c{i}: disconnected for {other:?}"),
        }
        Ok(())
    }

    /// A session close is expected now: the user closed, the server disconnected the
    /// namespace, or the connection's token had expired.
    fn closing_legit(&self, sim: &SimView<'_>, i: usize) -> bool {
        self.clients[i].closing
            || part(sim, i)
                .last_link()
                .is_some_and(|l| l.server_left() || l.expired_token())
    }

    // ----- the emulator -------------------------------------------------------------------

    fn on_server_event(&mut self, sim: &SimView<'_>, ev: &EmulatorEvent) -> Result<(), String> {
        match ev {
            EmulatorEvent::MessageSent {
                conn,
                space,
                sender,
                text,
                message_id,
            } => {
                let link = conn.and_then(|c| sim.link_of_conn(c));
                if let Some(l) = link {
                    let owner = sim.participant(l.participant()).name();
                    if owner != sender.id {
                        bail!(5, "emulator attributed {text:?} to {:?}", sender.id);
                    }
                    if !l.server_rooms().contains(space) {
                        bail!(5, "emulator took {text:?} from outside {space}");
                    }
                }
                *self.accepted.entry(text.clone()).or_default() += 1;
                let msg = ServerMsg {
                    link: link.map(|l| l.id()),
                    sender: sender.id.clone(),
                    text: text.clone(),
                };
                if self.server_msgs.insert(message_id.clone(), msg).is_some() {
                    bail!(5, "emulator reused message id {message_id}");
                }
            }
            EmulatorEvent::Closed { conn, reason } => {
                if matches!(reason, CloseReason::ParseError | CloseReason::ProtocolError) {
                    bail!(6, "emulator closed {conn:?}: {reason:?}");
                }
            }
            EmulatorEvent::AuthFailed { conn, rejection }
                if !sim.link_of_conn(*conn).is_some_and(|l| l.expired_token()) =>
            {
                bail!(6, "emulator refused {conn:?}: {rejection:?}");
            }
            EmulatorEvent::Left {
                conn, by_server, ..
            } => {
                let legit = sim.link_of_conn(*conn).is_some_and(|l| {
                    if *by_server {
                        l.server_left()
                    } else {
                        l.client_left()
                    }
                });
                if !legit {
                    bail!(6, "{conn:?} left the namespace unasked");
                }
            }
            EmulatorEvent::Joined { conn, user } => {
                let owner = sim
                    .link_of_conn(*conn)
                    .map(|l| sim.participant(l.participant()).name());
                if owner != Some(user.id.as_str()) {
                    bail!(6, "{conn:?} joined as {:?}", user.id);
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ----- after every step and at the checkpoints ----------------------------------------

    fn check_step(&self, sim: &SimView<'_>) -> Result<(), String> {
        let now = sim.now();
        let ping = sim.heartbeat_bound();
        let round_trip = sim.max_latency() * 2 + Duration::from_millis(1);
        for (i, c) in self.clients.iter().enumerate() {
            let p = part(sim, i);
            let spaces = p.spaces();
            if spaces.unconfirmed() > p.config().session.max_held {
                bail!(6, "c{i}: {} unconfirmed", spaces.unconfirmed());
            }
            let open = spaces.is_open();
            let link = p.link();
            if let Some(l) = link {
                if open && now > l.client_last_recv() + ping {
                    bail!(
                        3,
                        "c{i}: link silent for {:?}, not detected",
                        now - l.client_last_recv()
                    );
                }
                // Dead only towards the server: the emulator's silence timer closes it, and
                // its close reaches the client (if the other direction dies too, the bound
                // above applies instead).
                if open
                    && !l.down_dead()
                    && let Some(dead) = l.up_dead_since()
                    && now > dead + ping + sim.max_latency()
                {
                    bail!(3, "c{i}: link dead since {:?}", dead - sim.base());
                }
                if !open && now > l.opened_at() + connect_timeout(&p) {
                    bail!(3, "c{i}: connect not given up after its timeout");
                }
            }
            if let Some(since) = c.token_wait_since
                && now > since + connect_timeout(&p)
            {
                bail!(3, "c{i}: waited for a token past the connect timeout");
            }
            let healthy = link.is_none_or(|l| !l.down_dead() && l.up_dead_since().is_none());
            if c.connected
                && healthy
                && let Some((space, since)) =
                    c.awaiting_sub.iter().find(|(_, t)| now > **t + round_trip)
            {
                bail!(2, "c{i}: {space} not subscribed {:?} after", now - *since);
            }
        }
        let mut server_open = 0;
        for link in sim.links() {
            if link.server_open() {
                server_open += 1;
                if now > link.server_last_recv() + ping {
                    bail!(3, "emulator kept a silent connection");
                }
            }
        }
        if sim.emulator().connections() != server_open {
            bail!(
                6,
                "emulator has {} connections, the network {server_open}",
                sim.emulator().connections()
            );
        }
        Ok(())
    }

    /// Everything has settled: connected, subscribed on both sides, every send resolved, no
    /// stale connection left on the emulator.
    fn check_settled(&self, sim: &SimView<'_>, when: &str) -> Result<(), String> {
        for (i, c) in self.clients.iter().enumerate() {
            let p = part(sim, i);
            if !p.spaces().is_connected() || !c.connected {
                bail!(2, "c{i} not connected {when}");
            }
            let Some(rooms) = p
                .link()
                .filter(|l| l.server_open())
                .map(|l| l.server_rooms())
            else {
                bail!(2, "c{i}: no live connection on the emulator {when}");
            };
            if !c.awaiting_sub.is_empty() {
                bail!(2, "c{i}: awaiting {:?} {when}", c.awaiting_sub);
            }
            for space in &c.wanted {
                if !p.spaces().is_subscribed(space) || !rooms.contains(space) {
                    bail!(2, "c{i}: {space} not subscribed on both sides {when}");
                }
            }
            if let Some(extra) = rooms.iter().find(|s| !c.wanted.contains(*s)) {
                bail!(2, "c{i}: still in {extra} {when}");
            }
            let r = p.report();
            if let Some(s) = r.sends.iter().find(|s| s.outcome.is_none()) {
                bail!(1, "c{i}: {:?} unresolved {when}", s.id);
            }
            if p.spaces().unconfirmed() != 0 {
                bail!(1, "c{i}: {} unconfirmed {when}", p.spaces().unconfirmed());
            }
            // One token per connection attempt: the first, then one per reconnection attempt.
            if r.tokens_asked != r.connect_calls + r.reconnect_attempts || r.opens > r.tokens_asked
            {
                bail!(
                    4,
                    "c{i}: {} tokens for {} connects and {} reconnection attempts, {} opens",
                    r.tokens_asked,
                    r.connect_calls,
                    r.reconnect_attempts,
                    r.opens
                );
            }
        }
        if sim.emulator().connections() != self.clients.len() {
            bail!(
                6,
                "{} emulator connections {when}",
                sim.emulator().connections()
            );
        }
        Ok(())
    }

    fn check_final_round(&self, sim: &SimView<'_>) -> Result<(), String> {
        for (sender, space, text) in &self.finals {
            let confirmed = part(sim, *sender)
                .report()
                .sends
                .iter()
                .any(|r| r.text == *text && matches!(r.outcome, Some(Outcome::Confirmed(_))));
            if !confirmed {
                bail!(1, "final {text:?} not confirmed");
            }
            for (j, c) in self.clients.iter().enumerate() {
                if j == *sender {
                    continue;
                }
                let copies = c.copies.get(text).copied().unwrap_or(0);
                let want = u32::from(c.wanted.contains(space));
                if copies != want {
                    bail!(5, "c{j} got {copies} copies of final {text:?}");
                }
            }
        }
        Ok(())
    }
}

/// Client `i` (the scenario's clients are the run's participants, in order).
fn part<'a>(sim: &SimView<'a>, i: usize) -> ParticipantView<'a> {
    sim.participants()
        .nth(i)
        .expect("one participant per client")
}

/// A client's connect timeout (the scenario always sets one).
fn connect_timeout(p: &ParticipantView<'_>) -> Duration {
    p.config()
        .session
        .client
        .connect_timeout
        .expect("the scenario sets one")
}

fn find_send(sends: &[SendRecord], id: spaces_socket::spaces::SendId) -> Option<&SendRecord> {
    sends
        .binary_search_by_key(&id, |s| s.id)
        .ok()
        .map(|k| &sends[k])
}

impl Observer for Checker {
    fn on_happening(&mut self, sim: &SimView<'_>, what: &Happening<'_>) -> Result<(), String> {
        match *what {
            Happening::Command {
                participant,
                command,
            } => self.on_command(sim, participant.index(), command),
            Happening::Token {
                participant,
                outcome,
            } => {
                self.on_token(participant.index(), outcome);
                Ok(())
            }
            Happening::TokenRequest {
                participant,
                attempt,
            } => self.on_token_request(sim, participant.index(), attempt),
            Happening::Event { participant, event } => {
                self.on_event(sim, participant.index(), event)
            }
            Happening::Transmit {
                participant,
                transmit,
            } => self.on_transmit(sim, participant.index(), transmit),
            Happening::Server(ev) => self.on_server_event(sim, ev),
            Happening::Fault(Fault::ServerError { participant }) => {
                // It may die with its link: a count, not an exact expectation.
                self.clients[participant.index()].server_errors += 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_step(&mut self, sim: &SimView<'_>) -> Result<(), String> {
        let now = sim.now();
        for (i, c) in self.clients.iter_mut().enumerate() {
            let paced = part(sim, i).spaces().paced() > 0;
            if paced || c.was_paced {
                // Waiting for the rate window (or just released from it): a subscription's
                // round trip starts when it leaves.
                for since in c.awaiting_sub.values_mut() {
                    *since = now;
                }
            }
            c.was_paced = paced;
        }
        self.check_step(sim)
    }

    fn on_checkpoint(&mut self, sim: &SimView<'_>, label: &str) -> Result<(), String> {
        self.check_settled(sim, label)?;
        match label {
            SETTLED => self.final_round = true,
            FINAL => self.check_final_round(sim)?,
            _ => {}
        }
        Ok(())
    }
}

impl fmt::Display for Checker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} server messages, {} final-round messages",
            self.server_msgs.len(),
            self.finals.len()
        )
    }
}
