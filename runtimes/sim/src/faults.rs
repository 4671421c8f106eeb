//! Faults as they happen: what each [`Fault`] does to the links, the server and the participants.

use spaces_socket::spaces::Input;
use spaces_socket_emulator::{DemoAuth, Emulator};

use crate::plan::Fault;
use crate::sim::Sim;
use crate::view::Happening;
use crate::world::Action;

impl Sim {
    pub(crate) fn fault(&mut self, fault: Fault) {
        self.w.trace(format_args!("FAULT {fault:?}"));
        let now = self.w.now;
        let at = self.w.elapsed();
        self.w.injected.push((at, fault.clone()));
        match fault.participant() {
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
                if let Some(l) = self.w.parts.get(participant).and_then(|p| p.link) {
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
                    .get(participant)
                    .and_then(|p| p.link)
                    .and_then(|l| self.w.links.get_mut(&l))
                {
                    link.kill(now, up, down);
                }
            }
            Fault::Kick { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant) {
                    self.w.server.kick(now, conn);
                    self.drain_server();
                }
            }
            Fault::ServerDisconnect { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant) {
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
                if let Some(p) = self.w.parts.get_mut(participant) {
                    p.expire_next_token = true;
                }
            }
            Fault::ServerError { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant)
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
}
