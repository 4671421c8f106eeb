//! Faults as they happen: what each [`Fault`] does to the links, the server and the participants.

use std::time::Duration;

use spaces_socket::spaces::{Input, SpacesEvent};
use spaces_socket_emulator::{DemoAuth, Emulator};

use spaces_socket::bot::{Bot, Ctx, Host};

use crate::bot::SimBot;
use crate::plan::{Fault, ParticipantId};
use crate::sim::Sim;
use crate::view::Happening;
use crate::world::{Action, Participant, Tokens};

impl Sim {
    pub(crate) fn fault(&mut self, fault: Fault) {
        match fault.participant().and_then(|id| self.w.parts.get(id.0)) {
            Some(p) => {
                let name = p.name.clone();
                self.w.trace(format_args!("FAULT {fault:?} on {name}"));
            }
            None => self.w.trace(format_args!("FAULT {fault:?}")),
        }
        let now = self.w.now;
        let at = self.w.elapsed();
        self.w.injected.push((at, fault.clone()));
        match fault.participant().map(|id| id.0) {
            Some(i) => {
                if let Some(p) = self.w.parts.get_mut(i) {
                    p.report.faults.push((at, fault.clone()));
                }
            }
            None => {
                for p in &mut self.w.parts {
                    p.report.faults.push((at, fault.clone()));
                }
            }
        }
        self.observe(Happening::Fault(&fault));
        match fault {
            Fault::Reset { participant } => {
                if let Some(l) = self.w.parts.get(participant.0).and_then(|p| p.link) {
                    self.reset_link(l);
                }
            }
            Fault::HalfOpen {
                participant,
                up,
                down,
            } => {
                if let Some(link) = self
                    .w
                    .parts
                    .get(participant.0)
                    .and_then(|p| p.link)
                    .and_then(|l| self.w.links.get_mut(&l))
                {
                    link.kill(now, up, down);
                }
            }
            Fault::Kick { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant.0) {
                    self.w.server.kick(now, conn);
                    self.drain_server();
                }
            }
            Fault::ServerDisconnect { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant.0) {
                    if let Some(link) = self
                        .w
                        .conns
                        .get(&conn)
                        .and_then(|l| self.w.links.get_mut(l))
                    {
                        link.server_left = true;
                    }
                    self.w.server.disconnect_namespace(now, conn);
                    self.drain_server();
                }
            }
            Fault::ExpireToken { participant } => {
                if let Some(p) = self.w.parts.get_mut(participant.0) {
                    p.expire_next_token = true;
                }
            }
            Fault::ServerError { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant.0)
                    && self
                        .w
                        .server
                        .send_error(now, conn, "simulated server error", None)
                {
                    self.drain_server();
                }
            }
            Fault::RestartServer { down_for } => {
                let open: Vec<u64> = self
                    .w
                    .links
                    .iter()
                    .filter(|(_, l)| l.server_open)
                    .map(|(id, _)| *id)
                    .collect();
                for l in open {
                    // The process is gone: nothing to tell it, but the participants see resets.
                    if let Some(link) = self.w.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.reset_link(l);
                }
                self.w.generation += 1;
                self.w.server_report.restarts += 1;
                self.w.conns.clear();
                self.w.server = Emulator::new(self.w.emulator_config(), Box::new(DemoAuth));
                if !down_for.is_zero() {
                    self.w.refusing += 1;
                    self.w.schedule(now + down_for, Action::EndRefuse);
                }
            }
            Fault::RefuseConnects {
                duration,
                blackhole,
            } => {
                if blackhole {
                    self.w.blackholing += 1;
                    self.w.schedule(now + duration, Action::EndBlackhole);
                } else {
                    self.w.refusing += 1;
                    self.w.schedule(now + duration, Action::EndRefuse);
                }
            }
            Fault::Slow { duration, factor } => {
                self.w.slow.push(factor);
                self.w.schedule(now + duration, Action::EndSlow(factor));
            }
            Fault::SecondConnection {
                participant,
                duration,
            } => self.second_connection(participant.0, duration),
            Fault::Silent { duration } => {
                self.w.silent += 1;
                for link in self.w.links.values_mut() {
                    link.kill(now, true, true);
                }
                self.w.schedule(now + duration, Action::EndSilent);
            }
        }
    }

    /// Both ends are told at once; in-flight data is lost.
    pub(crate) fn reset_link(&mut self, l: u64) {
        let now = self.w.now;
        let Some(link) = self.w.links.get_mut(&l) else {
            return;
        };
        link.up.queue.clear();
        link.down.queue.clear();
        let (server_open, client_open, conn, i) = (
            link.server_open,
            link.client_open,
            link.conn,
            link.participant,
        );
        link.server_open = false;
        link.client_open = false;
        if server_open && let Some(conn) = conn {
            self.w.server.handle_closed(now, conn);
            self.drain_server();
        }
        if client_open {
            self.w.parts[i].link = None;
            self.w.parts[i].spaces.handle_input(
                now,
                Input::Closed {
                    error: Some("reset"),
                },
            );
            self.drain_client(i);
        }
    }

    /// Opens a second connection of participant `i`'s user: one more participant, with `i`'s
    /// session settings and token source, running `Elsewhere` for `duration`.
    fn second_connection(&mut self, i: usize, duration: Duration) {
        let Some(p) = self.w.parts.get(i) else {
            return;
        };
        let user = p.name.clone();
        let twin = format!("{user}'");
        let twins = self.w.parts.iter().filter(|p| p.name.starts_with(&twin));
        // One second connection at a time.
        if twins.clone().any(|p| !p.spaces.is_closed()) {
            return;
        }
        // Names never repeat: the next ones are "<name>'2", "<name>'3"…
        let name = match twins.count() {
            0 => twin,
            n => format!("{twin}{}", n + 1),
        };
        let spaces: Vec<String> = p.wanted.iter().cloned().collect();
        let mut config = p.config.clone();
        config.reopen_after_close = false;
        config.token_failure_one_in = 0;
        config.session.client.rng_seed = None;
        let tokens = match p.tokens {
            Tokens::Of(j) => Tokens::Of(j),
            Tokens::Own(_) => Tokens::Of(i),
        };
        let bot_seed = self.w.rng.next_u64();
        let seed = self.w.rng.next_u64();
        let mut twin = Participant::new(name, config, tokens, seed);
        twin.report.faults.push((
            self.w.elapsed(),
            Fault::SecondConnection {
                participant: ParticipantId(i),
                duration,
            },
        ));
        self.w.parts.push(twin);
        let elsewhere = Elsewhere {
            user,
            spaces,
            said: 0,
            stay: duration,
        };
        let mut host = Host::new(Box::new(elsewhere) as Box<dyn SimBot>, bot_seed);
        host.record_commands();
        self.bots.push(host);
        let k = self.w.parts.len() - 1;
        let now = self.w.now;
        self.w.schedule(now, Action::Start(k));
    }
}

/// The timer on which a second connection leaves.
const ELSEWHERE_LEAVE: u64 = u64::MAX;

/// A second connection of a participant's user ([`Fault::SecondConnection`]): joins the
/// participant's spaces, says one message in each, leaves when its time is up.
struct Elsewhere {
    user: String,
    spaces: Vec<String>,
    said: u32,
    stay: Duration,
}

impl Bot for Elsewhere {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        for space in &self.spaces {
            ctx.subscribe(space);
        }
        ctx.set_timer(self.stay, ELSEWHERE_LEAVE);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        if let SpacesEvent::Subscribed { space } = event {
            self.said += 1;
            let text = format!("{} elsewhere #{}", self.user, self.said);
            let _ = ctx.send_text(space, &text);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        if timer == ELSEWHERE_LEAVE {
            ctx.close();
        }
    }
}
