//! A running simulation: [`Sim`], its loop and how it calls the bots.

use std::any::Any;
use std::time::{Duration, Instant};

use spaces_socket::spaces::{AuthError, Input, Spaces, Token};

use spaces_socket::bot::Bot;

use crate::bot::BotHost;
use crate::error::{MAX_STEPS, MAX_STEPS_PER_INSTANT, SimError, SimErrorKind};
use crate::plan::{Fault, ParticipantId};
use crate::report::Report;
use crate::trace::Trace;
use crate::view::{Happening, Observer, SimView, TokenOutcome};
use crate::world::{Action, Due, Tokens, World};

/// A running simulation: participants' `Spaces` cores and the emulator core on a simulated
/// network and a virtual clock. Made by [`Builder::build`](crate::Builder::build); advance it with
/// [`run_for`](Self::run_for), then read [`report`](Self::report) and [`trace`](Self::trace).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// world.keep_trace(true);
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(3))?;
/// assert_eq!(sim.report().participant(bob).received.len(), 1);
/// assert!(sim.trace().lines().iter().any(|l| l.contains("alice send \"hello\"")));
/// assert_eq!(sim.elapsed(), Duration::from_secs(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sim {
    pub(crate) w: World,
    pub(crate) bots: Vec<BotHost>,
    pub(crate) observer: Box<dyn Observer>,
}

impl Sim {
    /// Runs `duration` more of virtual time (everything due up to and including its end).
    /// After an error the simulation is stopped: every later call returns the same error.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        let end = self.w.now + duration;
        self.run_until(end);
        self.result()
    }

    /// Takes one step: the next thing due (a delivery, a timer of a session, of the emulator or
    /// of a bot, a fault), fed to its machine and drained, with the clock moved to it. Returns
    /// the virtual time of the step, or `None` when nothing at all is due (every session
    /// closed, nothing in flight). Mix it freely with [`run_for`](Self::run_for),
    /// [`inject`](Self::inject) and reads of [`view`](Self::view).
    ///
    /// ```
    /// # use spaces_socket_sim::{Bot, Builder, Ctx};
    /// # struct Quiet;
    /// # impl Bot for Quiet {
    /// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &spaces_socket::spaces::SpacesEvent) {}
    /// # }
    /// let mut world = Builder::new();
    /// let bot = world.participant("bot", Quiet)?;
    /// let mut sim = world.build();
    /// // Step until the bot's session is connected.
    /// while !sim.view().participant(bot).spaces().is_connected() {
    ///     sim.step()?.expect("something is due");
    /// }
    /// assert!(sim.elapsed() < std::time::Duration::from_secs(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The run's failure, as [`run_for`](Self::run_for).
    pub fn step(&mut self) -> Result<Option<Duration>, SimError> {
        self.result()?;
        let at = self.step_once(None);
        self.result()?;
        Ok(at)
    }

    /// Injects `fault` now, while the world runs: it happens before anything else due now.
    /// It joins [`faults`](Self::faults) and the report like a scheduled one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use spaces_socket_sim::{Bot, Builder, Ctx, Fault};
    /// # struct Quiet;
    /// # impl Bot for Quiet {
    /// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &spaces_socket::spaces::SpacesEvent) {}
    /// # }
    /// let mut world = Builder::new();
    /// let bot = world.participant("bot", Quiet)?;
    /// let mut sim = world.build();
    /// sim.run_for(Duration::from_secs(3))?;
    /// // Cut the bot's connection the moment it is connected and idle.
    /// sim.inject(Fault::Reset { participant: bot })?;
    /// sim.run_for(Duration::from_secs(10))?;
    /// assert_eq!(sim.report().participant(bot).connects, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The run's failure, as [`run_for`](Self::run_for).
    pub fn inject(&mut self, fault: Fault) -> Result<(), SimError> {
        self.result()?;
        self.note_fault(self.w.elapsed(), &fault);
        self.fault(fault);
        self.w.collect_links();
        self.check_step();
        self.result()
    }

    /// Schedules `fault` at virtual time `at` (since the start; now if that has passed), while
    /// the world runs.
    pub fn inject_at(&mut self, at: Duration, fault: Fault) {
        let at = at.max(self.w.elapsed());
        self.note_fault(at, &fault);
        let when = self.w.base + at;
        self.w.schedule(when, Action::Fault(fault));
    }

    /// Adds a fault decided while running to the run's schedule.
    fn note_fault(&mut self, at: Duration, fault: &Fault) {
        let k = self.w.faults.partition_point(|(t, _)| *t <= at);
        self.w.faults.insert(k, (at, fault.clone()));
        let slowed = self.w.net.calm_latency() * fault.slow_factor();
        self.w.max_latency = self.w.max_latency.max(slowed);
    }

    /// Calls the observer's [`on_checkpoint`](Observer::on_checkpoint) with `label` now (for
    /// checks at chosen moments, e.g. "everything settled after the faults").
    pub fn checkpoint(&mut self, label: &str) -> Result<(), SimError> {
        self.result()?;
        let result = self.observer.on_checkpoint(&SimView { w: &self.w }, label);
        if let Err(what) = result {
            self.w.fail(SimErrorKind::Violation, what);
        }
        self.result()
    }

    /// Calls `participant`'s [`Bot::on_timer`] with `timer` now, as if a timer were due: a
    /// way for a test to make a bot act at a chosen moment.
    ///
    /// # Errors
    /// The run's failure, as [`run_for`](Self::run_for).
    pub fn wake(&mut self, participant: ParticipantId, timer: u64) -> Result<(), SimError> {
        self.result()?;
        let index = participant.0;
        self.call_bot(index, |host, spaces, now| host.fire(spaces, now, timer));
        self.drain_client(index);
        self.check_step();
        self.result()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.w.elapsed()
    }

    /// A read-only look at the world now.
    pub fn view(&self) -> SimView<'_> {
        SimView { w: &self.w }
    }

    /// What the run did so far.
    pub fn report(&self) -> Report {
        Report {
            seed: self.w.seed,
            trace_hash: self.w.rec.hash.finish(),
            steps: self.w.steps,
            virtual_time: self.w.elapsed(),
            participants: self.w.parts.iter().map(|p| p.report.clone()).collect(),
            faults: self.w.injected.clone(),
            server: self.w.server_report.clone(),
        }
    }

    /// The trace so far (empty unless [`Builder::keep_trace`](crate::Builder::keep_trace)).
    pub fn trace(&self) -> &Trace {
        &self.w.rec.trace
    }

    /// The hash of the trace so far (always kept).
    pub fn trace_hash(&self) -> u64 {
        self.w.rec.hash.finish()
    }

    /// Every fault of the run (scripted and drawn), by virtual time.
    pub fn faults(&self) -> &[(Duration, Fault)] {
        &self.w.faults
    }

    /// How long after the fault window everything needs to settle: a message still crossing
    /// a slowed link, a dead link being detected, the longest backoff, a black-holed connect
    /// timing out and the slowest token, twice over, plus 10 s, plus the rate windows what is
    /// queued now must wait through. Call it once the window is over (after
    /// [`run_for`](Self::run_for) the window), so that what is still queued counts.
    pub fn settle_time(&self) -> Duration {
        let c = self.w.server.config();
        let heartbeat = c.ping_interval + c.ping_timeout;
        let worst = self
            .w
            .parts
            .iter()
            .map(|p| p.config.worst_recovery())
            .max()
            .unwrap_or_default();
        // Events over a session's rate limit wait their turn through one-minute windows: what
        // is still queued must drain too.
        let pacing = self
            .w
            .parts
            .iter()
            .map(|p| {
                let queued = (p.spaces.unconfirmed() + p.spaces.paced()) as u32;
                // A full window may have to pass before the first of them leaves.
                let windows = match queued {
                    0 => 0,
                    n => n / p.config.session.rate_limit.max(1) + 1,
                };
                p.config.session.rate_window * windows
            })
            .max()
            .unwrap_or_default();
        Duration::from_secs(10) + self.w.max_latency * 2 + heartbeat * 2 + worst * 2 + pacing
    }

    /// `participant`'s bot, if it is a `B`.
    pub fn bot<B: Bot + 'static>(&self, participant: ParticipantId) -> Option<&B> {
        self.bots.get(participant.0)?.bot().as_any().downcast_ref()
    }

    /// The observer, if it is an `O`.
    pub fn observer<O: Observer>(&self) -> Option<&O> {
        let observer: &dyn Any = self.observer.as_ref();
        observer.downcast_ref()
    }

    pub(crate) fn result(&self) -> Result<(), SimError> {
        match &self.w.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub(crate) fn observe(&mut self, what: Happening<'_>) {
        if self.w.error.is_some() {
            return;
        }
        if let Err(e) = self.observer.on_happening(&SimView { w: &self.w }, &what) {
            self.w.fail(SimErrorKind::Violation, e);
        }
    }

    pub(crate) fn check_step(&mut self) {
        if self.w.error.is_some() {
            return;
        }
        if let Err(e) = self.observer.on_step(&SimView { w: &self.w }) {
            self.w.fail(SimErrorKind::Violation, e);
        }
    }

    // ----- the loop -----------------------------------------------------------------------

    pub(crate) fn run_until(&mut self, end: Instant) {
        while self.w.error.is_none() && self.step_once(Some(end)).is_some() {}
        if self.w.error.is_some() {
            return;
        }
        self.w.now = self.w.now.max(end);
        self.check_step();
    }

    /// Takes the next thing due, if it is due by `end`: its virtual time.
    fn step_once(&mut self, end: Option<Instant>) -> Option<Duration> {
        let (at, due) = self.next_due()?;
        if end.is_some_and(|end| at > end) {
            return None;
        }
        if at > self.w.now {
            self.w.now = at;
            self.w.same_instant = 0;
        } else {
            self.w.same_instant += 1;
            if self.w.same_instant > MAX_STEPS_PER_INSTANT {
                self.w.fail(
                    SimErrorKind::LiveLock,
                    format!("{due:?} keeps being due at one instant"),
                );
                return None;
            }
        }
        self.w.steps += 1;
        if self.w.steps > MAX_STEPS {
            self.w
                .fail(SimErrorKind::TooManySteps, format!("more than {MAX_STEPS}"));
            return None;
        }
        self.dispatch(due);
        self.w.collect_links();
        self.check_step();
        Some(self.w.elapsed())
    }

    /// The earliest thing to happen: the world's, or a bot's timer. A bot's timer goes after
    /// the agenda and before the rest at the same instant.
    fn next_due(&self) -> Option<(Instant, Due)> {
        let world = self.w.next_due();
        let bot = (self.bots.iter().enumerate())
            .filter_map(|(i, host)| Some((host.poll_timeout()?.max(self.w.now), i)))
            .min();
        match (world, bot) {
            (Some((at, Due::Agenda)), Some((bot_at, _))) if at <= bot_at => world,
            (Some((at, _)), Some((bot_at, i))) if bot_at <= at => Some((bot_at, Due::BotTimer(i))),
            (None, Some((bot_at, i))) => Some((bot_at, Due::BotTimer(i))),
            _ => world,
        }
    }

    pub(crate) fn dispatch(&mut self, due: Due) {
        let now = self.w.now;
        match due {
            Due::Agenda => {
                if let Some((_, action)) = self.w.agenda.pop_first() {
                    self.act(action);
                }
            }
            Due::Deliver { link, up } => self.deliver(link, up),
            Due::ClientTimer(i) => {
                self.w.parts[i].spaces.handle_input(now, Input::Timeout);
                self.drain_client(i);
            }
            Due::ServerTimer => {
                self.w.server.handle_timeout(now);
                self.drain_server();
            }
            Due::BotTimer(i) => {
                self.call_bot(i, |host, spaces, now| host.handle_timeout(spaces, now));
                self.drain_client(i);
            }
        }
    }

    pub(crate) fn act(&mut self, action: Action) {
        match action {
            Action::Start(i) => {
                self.call_bot(i, |host, spaces, now| {
                    host.start(spaces, now);
                    host.connect(spaces, now);
                });
                self.drain_client(i);
            }
            Action::Connect(i) => {
                // The simulation's own `connect` (reopening), recorded like a bot's.
                self.call_bot(i, |host, spaces, now| host.connect(spaces, now));
                self.drain_client(i);
            }
            Action::Reopen(i) => {
                // The user's (`Builder::reopen_at`): a session still open is reopened once
                // its bot closes it.
                if self.w.parts[i].spaces.is_closed() {
                    self.call_bot(i, |host, spaces, now| host.connect(spaces, now));
                    self.drain_client(i);
                } else {
                    self.w.parts[i].reopen_pending = true;
                }
            }
            Action::Token(i) => self.token(i),
            Action::Fault(fault) => self.fault(fault),
            Action::EndRefuse => {
                self.w.trace(format_args!("fault end: refusing"));
                self.w.refusing -= 1;
            }
            Action::EndBlackhole => {
                self.w.trace(format_args!("fault end: black hole"));
                self.w.blackholing -= 1;
            }
            Action::EndSlow(factor) => {
                self.w.trace(format_args!("fault end: slow x{factor}"));
                if let Some(k) = self.w.slow.iter().position(|f| *f == factor) {
                    self.w.slow.remove(k);
                }
            }
            Action::EndSilent => {
                self.w.trace(format_args!("fault end: silent"));
                self.w.silent -= 1;
            }
        }
    }

    pub(crate) fn token(&mut self, i: usize) {
        let now = self.w.now;
        let one_in = self.w.parts[i].config.token_failure_one_in;
        let faulty = !self.w.calm() && one_in > 0;
        let outcome = if faulty && self.w.rng.chance(1, one_in) {
            let name = &self.w.parts[i].name;
            self.w
                .rec
                .line(now - self.w.base, format_args!("{name} token error"));
            self.w.parts[i].report.token_errors += 1;
            let error = AuthError::Provider("simulated outage".to_owned());
            self.w.parts[i]
                .spaces
                .handle_input(now, Input::TokenFailed(&error));
            TokenOutcome::Failed
        } else {
            let expired = std::mem::take(&mut self.w.parts[i].expire_next_token);
            let wall = self.w.wall_clock();
            let source = match &self.w.parts[i].tokens {
                Tokens::Own(_) => i,
                Tokens::Of(j) => *j,
            };
            let Tokens::Own(tokens) = &mut self.w.parts[source].tokens else {
                unreachable!("a second connection borrows the tokens of a participant with its own")
            };
            let refreshes = tokens.refreshes();
            let answer = if expired {
                Ok(Token::jwt("expired"))
            } else {
                tokens.token(wall)
            };
            let p = &mut self.w.parts[i];
            let outcome = match &answer {
                Ok(token) => {
                    p.spaces
                        .handle_input(now, Input::Token { token, refreshes });
                    if expired {
                        TokenOutcome::Expired
                    } else {
                        TokenOutcome::Valid
                    }
                }
                Err(error) => {
                    p.report.token_errors += 1;
                    p.spaces.handle_input(now, Input::TokenFailed(error));
                    TokenOutcome::Failed
                }
            };
            // The token itself is a secret, kept out of the trace; the user it names is not.
            let shown = match (&answer, expired) {
                (_, true) => "expired".to_owned(),
                (Ok(_), false) => p.name.trim_end_matches('\'').to_owned(),
                (Err(_), false) => "error from the source".to_owned(),
            };
            let name = &self.w.parts[i].name;
            self.w
                .rec
                .line(now - self.w.base, format_args!("{name} token {shown}"));
            outcome
        };
        self.observe(Happening::Token {
            participant: ParticipantId(i),
            outcome,
        });
        self.drain_client(i);
    }

    // ----- bots and commands --------------------------------------------------------------

    /// Calls participant `i`'s bot through its host on its session, then records the commands
    /// it issued.
    pub(crate) fn call_bot(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut BotHost, &mut Spaces, Instant),
    ) {
        let now = self.w.now;
        f(&mut self.bots[i], &mut self.w.parts[i].spaces, now);
        for command in self.bots[i].take_commands() {
            self.w.record_command(i, &command);
            self.observe(Happening::Command {
                participant: ParticipantId(i),
                command: &command,
            });
        }
    }
}
