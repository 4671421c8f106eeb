//! What a [`Spaces`](super::Spaces) session is fed: websocket outcomes, the timer and token
//! answers.

use std::time::SystemTime;

use super::auth::{AuthError, Token, TokenProvider};
#[cfg(doc)]
use super::{Spaces, SpacesEvent, Step};
#[cfg(doc)]
use crate::client::Transmit;

/// Something that happened outside the session, fed in with [`Spaces::handle_input`]: a
/// websocket outcome, the timer, or the answer to a token request. Frames are borrowed, so
/// the receive path copies nothing. The user's commands ([`Spaces::subscribe`],
/// [`Spaces::send_message`], …) are methods of their own.
///
/// Its `Debug` shows no frame content, token or error text that could carry a secret.
#[non_exhaustive]
#[derive(Clone, Copy)]
pub enum Input<'a> {
    /// The websocket asked for by [`Transmit::Open`] is open.
    Opened,
    /// The websocket could not be opened (refused, unreachable, TLS failure, …).
    OpenFailed {
        /// Why, for the [`SpacesEvent::ConnectFailed`] that follows.
        reason: &'a str,
    },
    /// The websocket upgrade was answered with HTTP `status` instead of `101` (the runtime
    /// read it from the handshake response). 401 and 403 refuse the credentials, like a
    /// `44/chat` before joining; any other status fails the attempt like
    /// [`Input::OpenFailed`].
    UpgradeRefused {
        /// The HTTP status.
        status: u16,
    },
    /// A websocket text message.
    Text(&'a str),
    /// A websocket binary message.
    Binary(&'a [u8]),
    /// The websocket was closed or lost.
    Closed {
        /// Why, when it failed (`None` for a close by the server).
        error: Option<&'a str>,
    },
    /// The deadline from [`Spaces::poll_timeout`] (or [`Step::Wait`]) has passed. Early or
    /// late is harmless.
    Timeout,
    /// The answer to [`Step::Token`]: the token for the connection being opened.
    /// `refreshes` says whether the source gives a different token next time
    /// ([`TokenProvider::refreshes`]); a fixed token (`false`) is not retried after a
    /// refusal, see [`SpacesEvent::AuthFailed`].
    Token {
        /// The token.
        token: &'a Token,
        /// Whether its source refreshes.
        refreshes: bool,
    },
    /// The answer to [`Step::Token`]: no token could be had. The attempt fails and
    /// reconnection goes on.
    TokenFailed(&'a AuthError),
}

impl core::fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Opened => f.write_str("Opened"),
            Self::OpenFailed { .. } => f.write_str("OpenFailed"),
            Self::UpgradeRefused { status } => write!(f, "UpgradeRefused({status})"),
            Self::Text(text) => write!(f, "Text({} bytes)", text.len()),
            Self::Binary(data) => write!(f, "Binary({} bytes)", data.len()),
            Self::Closed { error } => write!(f, "Closed(error: {})", error.is_some()),
            Self::Timeout => f.write_str("Timeout"),
            Self::Token { token, refreshes } => f
                .debug_struct("Token")
                .field("type", &token.token_type())
                .field("refreshes", refreshes)
                .finish(),
            Self::TokenFailed(_) => f.write_str("TokenFailed"),
        }
    }
}

/// Asks `tokens` for a token at the wall-clock time `wall` and hands the answer to `handle`
/// as an input ([`Input::Token`], or [`Input::TokenFailed`] when the source has none): how a
/// driver answers [`Step::Token`]. [`Spaces::poll_step`] does this itself; a driver that
/// records its inputs calls it with its own `handle_input`.
pub fn ask_token(tokens: &mut dyn TokenProvider, wall: SystemTime, handle: impl FnOnce(Input<'_>)) {
    match tokens.token(wall) {
        Ok(token) => handle(Input::Token {
            token: &token,
            refreshes: tokens.refreshes(),
        }),
        Err(e) => {
            log::warn!("spaces: no token for this connection attempt: {e}");
            handle(Input::TokenFailed(&e));
        }
    }
}
