//! The driver task: drain the core in its one poll order ([`Spaces::poll_step`] under the
//! lock: transmits, token answers, events handed to the [`Client`](crate::Client)s through the
//! shared queue, the deadline), carry out the transmits outside the lock (frames fed, then
//! flushed once per batch), then sleep until the first of a websocket message, a wake-up from
//! a [`Client`](crate::Client), or the core's deadline.
//!
//! [`Spaces::poll_step`]: spaces_socket::spaces::Spaces::poll_step

// `run`, `execute` and `write` return `async` blocks on purpose (see `run`).
#![allow(clippy::manual_async_fn)]

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use async_io::Timer;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use futures_lite::{StreamExt, future};
use futures_sink::Sink;
use spaces_socket::client::Transmit;
use spaces_socket::spaces::{Input, Step};
use spaces_socket_runtime::{Options, describe, normal_close};

use crate::transport::{Tls, Ws};
use crate::{Shared, State, lock};

/// What the websocket stream yields: `None` once it has ended.
type Frame = Option<Result<Message, WsError>>;

/// The driver of one session: [`Driver::run`] ends once the session has ended and its socket
/// is shut. Dropping it (done, or even unpolled) marks the session finished, releasing
/// `close()` and `next_event()` callers.
pub(crate) struct Driver {
    pub(crate) shared: Shared,
    pub(crate) tls: Tls,
    pub(crate) options: Options,
    pub(crate) ws: Option<Ws>,
    /// The transmits of one drain, carried out in order once the lock is released.
    pub(crate) batch: Vec<Transmit>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.finished = true;
        state.wake_waiters();
    }
}

impl Driver {
    /// The session's task: an `async` block, not an `async fn`, whose argument (the whole
    /// driver) would be kept twice in the future, as an argument and as a local.
    pub(crate) fn run(mut self) -> impl Future<Output = ()> + Send + 'static {
        async move {
            loop {
                // Locals live across an await take room in every state of the task: each is
                // scoped to the await that needs it.
                let (deadline, read, closed) = {
                    let mut state = lock(&self.shared);
                    let deadline = drain(&mut state, &mut self.batch);
                    // Under the same lock: a close in between would leave its events behind.
                    (deadline, !state.backlog(), state.core.is_closed())
                };
                if !self.batch.is_empty() {
                    self.write().await;
                    continue;
                }
                if closed {
                    break;
                }
                let woken = poll_fn(|cx| {
                    let mut state = lock(&self.shared);
                    if std::mem::take(&mut state.woken) {
                        return Poll::Ready(None);
                    }
                    state.driver = Some(cx.waker().clone());
                    Poll::Pending
                });
                let frame = poll_fn(|cx| next_frame(self.ws.as_mut().filter(|_| read), cx));
                let mut next = {
                    let mut timer = deadline.map_or_else(Timer::never, Timer::at);
                    let timer = poll_fn(|cx| timer.poll_next(cx).map(|_| None));
                    // The deadline first (it keeps heartbeats on time); a random pick between
                    // socket and wake-ups so neither can starve the other.
                    future::or(timer, future::race(frame, woken)).await
                };
                // Then the frames already waiting, until a command or a timer wants a turn.
                while let Some(frame) = next {
                    self.on_frame(frame);
                    let not_due = deadline.is_none_or(|due| due > Instant::now());
                    let state = not_due.then(|| lock(&self.shared));
                    let read = state.is_some_and(|s| !s.woken && !s.backlog());
                    let frame = poll_fn(|cx| next_frame(self.ws.as_mut().filter(|_| read), cx));
                    next = future::poll_once(frame).await.flatten();
                }
            }
            // The session is over, so this waits for the server's close (at most close_timeout).
            self.execute(Transmit::Close).await;
        }
    }

    /// Carries out the batch in order: frames are fed to the websocket and flushed once, before
    /// an open or a close and at the end (not an `async fn`, see [`Driver::run`]).
    fn write(&mut self) -> impl Future<Output = ()> + Send + '_ {
        async move {
            let mut fed = false;
            // Not kept for the next drain: an idle session holds no buffer.
            let batch = std::mem::take(&mut self.batch);
            for transmit in batch {
                let message = match transmit {
                    Transmit::Text(text) => Message::text(text),
                    Transmit::Binary(data) => Message::binary(data),
                    other => {
                        if std::mem::take(&mut fed) {
                            self.flush().await;
                        }
                        self.execute(other).await;
                        continue;
                    }
                };
                fed |= self.feed(message).await;
            }
            if fed {
                self.flush().await;
            }
        }
    }

    /// Queues one frame in the websocket's write buffer (written once it is full, or by
    /// [`Driver::flush`]); false when there is no websocket or it failed.
    fn feed(&mut self, message: Message) -> impl Future<Output = bool> + Send + '_ {
        async move {
            let Some(ws) = self.ws.as_mut() else {
                // The connection it was meant for is gone; the core resends what matters.
                log::debug!("spaces driver: no websocket, frame dropped");
                return false;
            };
            let feed = async {
                poll_fn(|cx| Pin::new(&mut *ws).poll_ready(cx)).await?;
                Pin::new(&mut *ws).start_send(message)
            };
            let feed = async { feed.await.map_err(|e| describe(&e)) };
            let limit = self.options.write_timeout;
            match within(limit, "a websocket write", feed).await {
                Ok(()) => true,
                Err(reason) => {
                    self.lost(Some(reason));
                    false
                }
            }
        }
    }

    /// Writes out what [`Driver::feed`] queued.
    fn flush(&mut self) -> impl Future<Output = ()> + Send + '_ {
        async move {
            let Some(ws) = self.ws.as_mut() else { return };
            let flush = poll_fn(|cx| Pin::new(&mut *ws).poll_flush(cx));
            let flush = async { flush.await.map_err(|e| describe(&e)) };
            let limit = self.options.write_timeout;
            if let Err(reason) = within(limit, "a websocket write", flush).await {
                self.lost(Some(reason));
            }
        }
    }

    /// Opens or closes the websocket (not an `async fn`, which would keep `transmit` twice).
    fn execute(&mut self, transmit: Transmit) -> impl Future<Output = ()> + Send + '_ {
        async move {
            match transmit {
                Transmit::Open(url) => {
                    self.ws = None;
                    // `WsUrl`'s Debug hides the token; never log `url.expose()`.
                    log::debug!("spaces driver: opening {url:?}");
                    let limit = self.options.connect_timeout;
                    // Boxed: opening needs far more state than the idle loop, only for a moment.
                    let connect = Box::pin(self.tls.open(&url, self.options.websocket_config()));
                    let opened = within(limit, "opening the websocket", connect).await;
                    let mut state = lock(&self.shared);
                    match opened {
                        Ok(opened) => {
                            self.ws = Some(opened);
                            state.core.handle_input(Instant::now(), Input::Opened);
                        }
                        Err(failure) => failure.report(&mut state.core, Instant::now()),
                    }
                }
                Transmit::Close => {
                    let Some(ws) = self.ws.take() else { return };
                    // Wait for the server's answer only when the session is over.
                    let graceful = lock(&self.shared).core.is_closed();
                    Box::pin(self.shut(ws, graceful)).await;
                }
                // Frames go through `write`; `Transmit` may grow.
                other => log::debug!("spaces driver: {other:?} not carried out"),
            }
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        let message = match frame {
            Some(Ok(message)) => message,
            Some(Err(e)) => return self.lost(Some(describe(&e))),
            None => return self.lost(None),
        };
        let mut state = lock(&self.shared);
        match message {
            Message::Text(text) => state
                .core
                .handle_input(Instant::now(), Input::Text(text.as_str())),
            Message::Binary(data) => state
                .core
                .handle_input(Instant::now(), Input::Binary(&data)),
            // tungstenite answers pings and close frames itself; the stream ends after a close.
            _ => {}
        }
    }

    /// The websocket failed or was closed by the server: forget it and tell the core.
    fn lost(&mut self, reason: Option<String>) {
        log::debug!("spaces driver: websocket lost: {reason:?}");
        self.ws = None;
        let error = reason.as_deref();
        lock(&self.shared)
            .core
            .handle_input(Instant::now(), Input::Closed { error });
    }

    /// Sends a close frame (code 1000); when `graceful`, also waits for the server's answering
    /// close. Bounded by [`Options::close_timeout`] (graceful) or [`Options::write_timeout`].
    async fn shut(&mut self, mut ws: Ws, graceful: bool) {
        let close = async {
            if ws.close(Some(normal_close())).await.is_ok() && graceful {
                while let Some(Ok(_)) = ws.next().await {}
            }
            Ok(())
        };
        let (graceful_limit, limit) = (self.options.close_timeout, self.options.write_timeout);
        let limit = if graceful { graceful_limit } else { limit };
        // Best effort: the socket is dropped right after, whatever happens.
        let _: Result<(), String> = within(limit, "closing the websocket", close).await;
    }
}

/// Under the lock: drains the core in its one poll order into `batch` (transmits) and the
/// shared queue (events), running a due timer once; returns the deadline to wait for.
fn drain(state: &mut State, batch: &mut Vec<Transmit>) -> Option<Instant> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut timer_ran = false;
    let mut events = false;
    let deadline = loop {
        // The payload bytes the event taken next weighs (those of the frame it came from).
        let queued = state.core.queued_bytes();
        match state.core.poll_step(now, wall, &mut *state.provider) {
            Step::Transmit(transmit) => batch.push(transmit),
            Step::Event(event) => {
                let bytes = queued.saturating_sub(state.core.queued_bytes());
                state.push_event(event, bytes);
                events = true;
            }
            // Once per drain, so a timer that does not move cannot make this spin.
            Step::Wait(Some(due)) if due <= now && !timer_ran => {
                timer_ran = true;
                state.core.handle_input(now, Input::Timeout);
            }
            Step::Wait(deadline) => break deadline,
            // `poll_step` answers token requests itself.
            _ => {}
        }
    };
    if state.core.is_closed() && !state.drained {
        // Everything the closed session produced is queued: readers may now see the end.
        state.drained = true;
        events = true;
    }
    if events {
        state.wake_waiters();
    }
    deadline
}

/// The next websocket message of `ws`; never ready without a socket.
fn next_frame(ws: Option<&mut Ws>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
    ws.map_or(Poll::Pending, |ws| ws.poll_next(cx).map(Some))
}

/// `fut`, or an error naming `what` once `limit` has passed. Not an `async fn`, which would
/// keep a second copy of `fut` in the driver's state.
fn within<T, E: From<String>>(
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, E>>,
) -> impl Future<Output = Result<T, E>> {
    let expired = async move {
        Timer::after(limit).await;
        Err(format!("{what} timed out after {limit:?}").into())
    };
    future::or(fut, expired)
}
