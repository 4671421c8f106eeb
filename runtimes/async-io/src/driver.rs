//! The driver loop: drain the core, carry out its transmits, forward its events, then wait for
//! the first of a websocket message, a command or the core's deadline.

use std::time::{Duration, Instant, SystemTime};

use async_channel::{Receiver, Sender, TrySendError};
use async_io::Timer;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use futures_lite::{StreamExt, future};
use spaces_socket::Secret;
use spaces_socket::client::{Transmit, WsUrl};
use spaces_socket::spaces::{
    SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesEvent, TokenProvider,
};

use crate::transport::{self, Connector, WsStream};

/// A handle call, carried to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Subscribe {
        space: String,
        password: Option<Secret<String>>,
    },
    Unsubscribe {
        space: String,
    },
    SendMessage {
        // Boxed: messages are large and most commands are not.
        message: Box<SendMessage>,
        reply: Sender<Result<SendId, SendError>>,
    },
    SendPresence {
        presence: Box<SendPresenceEvent>,
        reply: Sender<Result<(), SendError>>,
    },
    Close,
}

/// What ended a wait.
enum Wake {
    Frame(Option<Result<Message, async_tungstenite::tungstenite::Error>>),
    Command(Result<Command, async_channel::RecvError>),
    Timer,
}

/// Everything [`Driver::new`] needs.
pub(crate) struct Parts<P> {
    pub(crate) core: Spaces,
    pub(crate) provider: P,
    pub(crate) connector: Connector,
    pub(crate) commands: Receiver<Command>,
    pub(crate) events: Sender<SpacesEvent>,
    pub(crate) finished: Sender<()>,
    pub(crate) connect_timeout: Duration,
    pub(crate) write_timeout: Duration,
}

pub(crate) struct Driver<P> {
    core: Spaces,
    provider: P,
    connector: Connector,
    ws: Option<WsStream>,
    commands: Receiver<Command>,
    events: Sender<SpacesEvent>,
    /// Dropped (never sent on) once the socket is shut: that releases `close()` callers.
    finished: Option<Sender<()>>,
    /// An event taken from the core that the full channel did not accept yet; it goes before
    /// any later event.
    stashed: Option<SpacesEvent>,
    /// The user closed (or dropped everything): shut down after the next drain.
    closing: bool,
    connect_timeout: Duration,
    write_timeout: Duration,
}

impl<P: TokenProvider + 'static> Driver<P> {
    pub(crate) fn new(parts: Parts<P>) -> Self {
        Self {
            core: parts.core,
            provider: parts.provider,
            connector: parts.connector,
            ws: None,
            commands: parts.commands,
            events: parts.events,
            finished: Some(parts.finished),
            stashed: None,
            closing: false,
            connect_timeout: parts.connect_timeout,
            write_timeout: parts.write_timeout,
        }
    }

    pub(crate) async fn run(mut self) {
        self.core.connect(Instant::now());
        loop {
            self.carry_out_transmits().await;
            if self.closing {
                break;
            }
            match self.stashed.take().or_else(|| self.core.poll_event()) {
                Some(SpacesEvent::TokenNeeded { attempt }) => self.supply_token(attempt),
                Some(SpacesEvent::Closed) => {
                    self.stashed = Some(SpacesEvent::Closed);
                    break;
                }
                Some(event) => self.forward(event).await,
                None => match self.wait().await {
                    Wake::Frame(frame) => self.on_frame(frame),
                    Wake::Command(Ok(command)) => self.on_command(command),
                    Wake::Command(Err(_)) => {
                        log::debug!("spaces driver: every handle and the events are dropped");
                        self.close_core();
                    }
                    Wake::Timer => self.core.handle_timeout(Instant::now()),
                },
            }
        }
        self.shut_down().await;
    }

    /// Carries out every pending transmit, in order, including those the outcomes produce.
    async fn carry_out_transmits(&mut self) {
        while let Some(transmit) = self.core.poll_transmit() {
            match transmit {
                Transmit::Open(url) => self.open(url).await,
                Transmit::Text(text) => self.write(Message::text(text)).await,
                Transmit::Binary(data) => self.write(Message::binary(data)).await,
                Transmit::Close => self.close_socket().await,
            }
        }
    }

    async fn open(&mut self, url: WsUrl) {
        self.ws = None;
        // `WsUrl`'s Debug hides the token; never log `url.expose()`.
        log::debug!("spaces driver: opening {url:?}");
        let timeout = self.connect_timeout;
        let attempt = self.connector.connect(url.expose());
        let expired = async {
            Timer::after(timeout).await;
            Err(format!("websocket not open within {timeout:?}"))
        };
        match future::or(attempt, expired).await {
            Ok(ws) => {
                self.ws = Some(ws);
                self.core.handle_open(Instant::now());
            }
            Err(reason) => {
                log::debug!("spaces driver: open failed: {reason}");
                self.core.handle_open_failed(Instant::now(), reason);
            }
        }
    }

    async fn write(&mut self, message: Message) {
        let Some(ws) = self.ws.as_mut() else {
            // The connection it was meant for is gone; the core resends what matters.
            log::debug!("spaces driver: no websocket, frame dropped");
            return;
        };
        let timeout = self.write_timeout;
        let send = async { ws.send(message).await.map_err(|e| transport::describe(&e)) };
        let expired = async {
            Timer::after(timeout).await;
            Err(format!("websocket write took longer than {timeout:?}"))
        };
        if let Err(reason) = future::or(send, expired).await {
            log::debug!("spaces driver: write failed: {reason}");
            self.ws = None;
            self.core.handle_closed(Instant::now(), Some(reason));
        }
    }

    async fn close_socket(&mut self) {
        let Some(mut ws) = self.ws.take() else {
            return;
        };
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let timeout = self.write_timeout;
        // Best effort: the socket is dropped right after, whatever happens.
        let close = async {
            let _ = ws.close(Some(frame)).await;
        };
        future::or(close, async {
            Timer::after(timeout).await;
        })
        .await;
    }

    fn supply_token(&mut self, attempt: u32) {
        match self.provider.token(SystemTime::now()) {
            Ok(token) => self.core.handle_token(Instant::now(), &token),
            Err(e) => {
                log::warn!("spaces driver: no token for connection attempt {attempt}: {e}");
                self.core.handle_token_error(Instant::now(), &e);
            }
        }
    }

    /// Hands `event` to the [`Events`](crate::Events) stream. When the channel is full, waits
    /// for room while still serving commands (not the socket: that is the back-pressure); a
    /// command that arrives first is run and `event` is kept for the next round.
    async fn forward(&mut self, event: SpacesEvent) {
        let event = match self.events.try_send(event) {
            Ok(()) | Err(TrySendError::Closed(_)) => return,
            Err(TrySendError::Full(event)) => event,
        };
        let outcome = {
            let events = &self.events;
            let commands = &self.commands;
            let event = &event;
            let send = async move {
                // Sent, or nobody listens any more: either way this event is done.
                let _ = events.send(event.clone()).await;
                None
            };
            future::or(send, async move { Some(commands.recv().await) }).await
        };
        match outcome {
            None => {}
            Some(Ok(command)) => {
                self.stashed = Some(event);
                self.on_command(command);
            }
            Some(Err(_)) => {
                self.stashed = Some(event);
                self.close_core();
            }
        }
    }

    /// Waits for the first of: a websocket message, a command, the core's deadline.
    async fn wait(&mut self) -> Wake {
        let timer = match self.core.poll_timeout() {
            Some(deadline) => Timer::at(deadline),
            None => Timer::never(),
        };
        let ws = &mut self.ws;
        let commands = &self.commands;
        let frame = async move {
            match ws {
                Some(ws) => Wake::Frame(ws.next().await),
                None => future::pending().await,
            }
        };
        let command = async move { Wake::Command(commands.recv().await) };
        let timer = async move {
            timer.await;
            Wake::Timer
        };
        // The deadline first (it is cheap and keeps heartbeats on time); a random pick between
        // socket and commands so neither can starve the other.
        future::or(timer, future::race(frame, command)).await
    }

    fn on_frame(&mut self, frame: Option<Result<Message, async_tungstenite::tungstenite::Error>>) {
        let now = Instant::now();
        match frame {
            Some(Ok(Message::Text(text))) => self.core.handle_text(now, text.as_str()),
            Some(Ok(Message::Binary(data))) => self.core.handle_binary(now, &data),
            // tungstenite answers pings and close frames itself; the stream ends after a close.
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let reason = transport::describe(&e);
                log::debug!("spaces driver: websocket failed: {reason}");
                self.ws = None;
                self.core.handle_closed(now, Some(reason));
            }
            None => {
                log::debug!("spaces driver: websocket closed by the server");
                self.ws = None;
                self.core.handle_closed(now, None);
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Subscribe { space, password } => {
                let password = password.as_ref().map(|p| p.expose().as_str());
                self.core.subscribe(now, &space, password);
            }
            Command::Unsubscribe { space } => self.core.unsubscribe(now, &space),
            Command::SendMessage { message, reply } => {
                // The caller may have given up waiting; nothing to do then.
                let _ = reply.try_send(self.core.send_message(now, *message));
            }
            Command::SendPresence { presence, reply } => {
                let _ = reply.try_send(self.core.send_presence(now, &presence));
            }
            Command::Close => self.close_core(),
        }
    }

    fn close_core(&mut self) {
        self.core.close(Instant::now());
        self.closing = true;
    }

    /// The session is over: shut the socket, refuse further commands, release `close()`
    /// callers, then deliver the remaining events in order (without reading the socket or
    /// serving commands any more, so a slow consumer cannot hold anything up).
    async fn shut_down(mut self) {
        self.carry_out_transmits().await;
        self.ws = None;
        self.commands.close();
        // Queued commands are dropped; their reply channels tell the callers it has ended.
        while self.commands.try_recv().is_ok() {}
        self.finished = None;
        while let Some(event) = self.stashed.take().or_else(|| self.core.poll_event()) {
            if matches!(event, SpacesEvent::TokenNeeded { .. }) {
                continue;
            }
            let last = matches!(event, SpacesEvent::Closed);
            if self.events.send(event).await.is_err() || last {
                break;
            }
        }
    }
}
