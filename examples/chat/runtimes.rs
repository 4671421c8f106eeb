//! One small session interface over the three runtimes, so the chat logic is written once.

use std::time::{Duration, SystemTime};

use futures_lite::StreamExt;
use spaces_socket::spaces::{
    AuthError, SendError, SendId, SendMessage, SpacesConfig, SpacesEvent, Token, TokenProvider,
};
use spaces_socket_async_io::{Events, RuntimeSendError, SpacesHandle};

use crate::options::Runtime;

/// Why a line could not be handed to the session.
#[derive(Debug)]
pub(crate) enum SendProblem {
    /// The session refused it (rate limit, size, …); see the error.
    Refused(SendError),
    /// The session has ended.
    Closed,
}

/// What the chat loop needs from a runtime.
pub(crate) trait Session {
    fn subscribe(&mut self, space: &str, password: Option<&str>);
    fn send(&mut self, message: SendMessage) -> Result<SendId, SendProblem>;
    /// The next event, waiting at most `wait`.
    fn next_event(&mut self, wait: Duration) -> Option<SpacesEvent>;
    fn close(&mut self);
}

pub(crate) fn open(
    runtime: Runtime,
    config: SpacesConfig,
    mut provider: Box<dyn TokenProvider>,
) -> Result<Box<dyn Session>, String> {
    // A closure is itself a provider; it lets a boxed provider cross into the runtimes.
    let provider = move |now: SystemTime| -> Result<Token, AuthError> { provider.token(now) };
    Ok(match runtime {
        Runtime::Blocking => Box::new(
            spaces_socket_blocking::SpacesClient::new(config, provider)
                .map_err(|e| e.to_string())?,
        ),
        Runtime::Smol => {
            let (handle, events) =
                spaces_socket_smol::connect(config, provider).map_err(|e| e.to_string())?;
            Box::new(Async {
                handle,
                events,
                block_on: |f| smol::block_on(f),
            })
        }
        Runtime::AsyncStd => {
            let (handle, events) =
                spaces_socket_async_std::connect(config, provider).map_err(|e| e.to_string())?;
            Box::new(Async {
                handle,
                events,
                block_on: |f| async_std::task::block_on(f),
            })
        }
    })
}

impl Session for spaces_socket_blocking::SpacesClient {
    fn subscribe(&mut self, space: &str, password: Option<&str>) {
        Self::subscribe(self, space, password);
    }

    fn send(&mut self, message: SendMessage) -> Result<SendId, SendProblem> {
        self.send_message(message).map_err(SendProblem::Refused)
    }

    fn next_event(&mut self, wait: Duration) -> Option<SpacesEvent> {
        Self::next_event(self, Some(wait))
    }

    fn close(&mut self) {
        Self::close(self);
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + 'a>>;

/// smol and async-std differ only in how a future is run to completion here.
struct Async {
    handle: SpacesHandle,
    events: Events,
    block_on: fn(BoxFuture<'_, Option<SpacesEvent>>) -> Option<SpacesEvent>,
}

impl Session for Async {
    fn subscribe(&mut self, space: &str, password: Option<&str>) {
        let handle = self.handle.clone();
        let (space, password) = (space.to_owned(), password.map(str::to_owned));
        (self.block_on)(Box::pin(async move {
            let _ = handle.subscribe(&space, password.as_deref()).await;
            None
        }));
    }

    fn send(&mut self, message: SendMessage) -> Result<SendId, SendProblem> {
        let handle = self.handle.clone();
        let mut result = None;
        let slot = &mut result;
        (self.block_on)(Box::pin(async move {
            *slot = Some(handle.send_message(message).await);
            None
        }));
        match result {
            Some(Ok(id)) => Ok(id),
            Some(Err(RuntimeSendError::Refused(e))) => Err(SendProblem::Refused(e)),
            _ => Err(SendProblem::Closed),
        }
    }

    fn next_event(&mut self, wait: Duration) -> Option<SpacesEvent> {
        let events = &mut self.events;
        (self.block_on)(Box::pin(futures_lite::future::or(
            events.next(),
            async move {
                async_io::Timer::after(wait).await;
                None
            },
        )))
    }

    fn close(&mut self) {
        let handle = self.handle.clone();
        (self.block_on)(Box::pin(async move {
            handle.close().await;
            None
        }));
    }
}
