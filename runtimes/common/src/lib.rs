//! What every spaces-socket runtime shares, written once: the adapter [`Options`], the one
//! [`Error`] type, the [`Session`] trait, the TLS settings ([`TlsOptions`], [`TlsBackend`],
//! [`TlsError`] and the connector builders), and the session recording ([`Recorder`], written
//! through the [`RecordedSession`] every runtime drives).
//!
//! You rarely depend on this crate directly: each runtime re-exports all of it.
//!
//! | runtime crate | `connect` returns | drives the session |
//! | --- | --- | --- |
//! | `spaces-socket-blocking` | `Client` | on your thread, inside its methods |
//! | `spaces-socket-smol` | `Client` (async) | a task on smol's executor |
//! | `spaces-socket-async-std` | `Client` (async) | a task on async-std's executor |
//!
//! Every runtime has the same `connect(config, provider, options) -> Result<Client, Error>`
//! and its `Client` the same methods (`subscribe`, `unsubscribe`, `send_message`,
//! `send_presence`, `next_event`, `close`, `is_closed`), so switching runtime is a one-line
//! change (plus `.await` on the async side). Every `Client` also implements [`Session`], the
//! blocking-call form of those methods, for code that picks its runtime at run time:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use spaces_socket_runtime::{Error, Session};
//! use spaces_socket_runtime::spaces_socket::spaces::{SendMessage, SpacesEvent};
//!
//! /// Sends `text` and waits (at most a minute) for its confirmation, on any runtime.
//! fn say(session: &mut dyn Session, space: &str, text: &str) -> Result<bool, Error> {
//!     session.subscribe(space, None)?;
//!     let id = session.send_message(SendMessage::chat(space, text))?;
//!     while let Some(event) = session.next_event(Some(Duration::from_secs(60))) {
//!         match event {
//!             SpacesEvent::Confirmed { id: done, .. } if done == id => return Ok(true),
//!             SpacesEvent::SendFailed { id: failed, .. } if failed == id => return Ok(false),
//!             _ => {}
//!         }
//!     }
//!     Ok(false)
//! }
//! ```
//!
//! # TLS
//!
//! - [`TlsBackend::Rustls`] (the default): rustls with the **aws-lc-rs** provider passed
//!   explicitly (never a process-wide default provider, which rustls cannot always pick and
//!   then panics), Mozilla's roots from `webpki-roots` unless [`TlsOptions::webpki_roots`] is
//!   off, plus [`TlsOptions::extra_roots_pem`]. Build it with [`rustls_client_config`].
//! - `TlsBackend::NativeTls`, with the **`native-tls`** cargo feature (OpenSSL on Linux, so it
//!   needs libssl-dev and pkg-config to build): the platform library, trusting the system's
//!   roots plus [`TlsOptions::extra_roots_pem`]. Build it with `native_tls_connector`. Each
//!   runtime crate has a `native-tls` feature of its own that turns this one on.
//!
//! Certificates and host names are always verified; there is no switch to turn that off. Both
//! backends parse [`TlsOptions::extra_roots_pem`] with the same PEM parser, so they accept and
//! refuse the same input.
#![forbid(unsafe_code)]
// Feature labels on items (docs.rs builds with `--cfg docsrs`, every feature, nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod record;
mod tls;

use std::time::{Duration, Instant};

use spaces_socket::bot::SessionCommands;
use spaces_socket::client::ConfigError;
use spaces_socket::spaces::{
    Input, SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesConfig, SpacesEvent,
};

pub use record::{RecordedSession, Recorder};
/// The sans-IO core every runtime drives, re-exported so one dependency is enough.
pub use spaces_socket;
pub use tls::{TlsBackend, TlsError, TlsOptions, rustls_client_config};
#[cfg(feature = "native-tls")]
pub use tls::{native_tls_builder, native_tls_connector};

/// Adapter settings, the same for every runtime (the protocol's own timers, reconnection and
/// limits live in [`SpacesConfig`]). Start from
/// [`Options::default`], change the fields you need, and pass it to the runtime's `connect`.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Options {
    /// Budget for opening one websocket: TCP connect, TLS handshake and HTTP upgrade together
    /// (default 10 s). A slower attempt fails and the session's reconnection schedule goes on.
    /// Name resolution uses the system resolver and its own timeouts.
    pub connect_timeout: Duration,
    /// Longest a single websocket write may take before the connection is treated as lost
    /// (default 10 s).
    pub write_timeout: Duration,
    /// How long closing waits for the server to answer our close frame (default 2 s).
    pub close_timeout: Duration,
    /// TLS settings for `wss://` (and `https://`) URLs.
    pub tls: TlsOptions,
    /// Largest websocket message (and frame) accepted from the server, in bytes (default
    /// 16 MiB, a thousand times the Spaces payload limit). A larger one drops the connection,
    /// which then reconnects.
    pub max_message_size: usize,
    /// Events the session may hold for the reader before the runtime stops reading the
    /// websocket (default 1024; at least 1): a slow reader slows the server down (through
    /// TCP) instead of growing memory. Heartbeats keep running meanwhile, so a reader that
    /// stays behind for longer than the server's `pingInterval + pingTimeout` gets the
    /// connection dropped, and the session reconnects. The blocking runtime reads only once
    /// every event has been taken, so it never holds more than one frame's worth.
    pub max_queued_events: usize,
    /// Payload bytes (event arguments) the session may hold for the reader before the runtime
    /// stops reading, like [`max_queued_events`](Self::max_queued_events) but by weight, so a
    /// few huge events cannot take gigabytes (default 4 MiB). Together with
    /// [`max_message_size`](Self::max_message_size) this bounds a slow reader's backlog.
    pub max_queued_bytes: usize,
    /// Where to record the session (default none): every frame both ways, every command and
    /// event, with its time, tokens, PINs and session ids redacted, as JSON lines
    /// (`docs/recording.md`). The emulator crate's `replay` plays a recording back against the
    /// core, so a surprise met on the live service becomes a regression test.
    pub record: Option<Recorder>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            tls: TlsOptions::default(),
            max_message_size: 16 << 20,
            max_queued_events: 1024,
            max_queued_bytes: 4 << 20,
            record: None,
        }
    }
}

impl Options {
    /// [`max_queued_events`](Self::max_queued_events) and
    /// [`max_queued_bytes`](Self::max_queued_bytes), at least one each: a runtime reads the
    /// socket only while fewer events and fewer payload bytes wait for the reader.
    pub fn queue_limits(&self) -> (usize, usize) {
        (self.max_queued_events.max(1), self.max_queued_bytes.max(1))
    }

    /// The websocket settings these options ask for ([`Options::max_message_size`] for
    /// messages and frames). For runtime crates.
    ///
    /// The read buffer starts at 1 KiB instead of tungstenite's 128 KiB: an idle connection
    /// holds it for its whole life, Engine.IO frames are small (a chat message or a presence
    /// event is a few hundred bytes), and tungstenite grows it to the length of any larger
    /// frame it reads. It is also the most one read takes from the socket: a 4 KiB one cost
    /// no less CPU per delivery in the fan-out benchmark (issue 20). The async runtime starts
    /// from it after the upgrade; the blocking one, a thread per connection, asks for 4 KiB.
    pub fn websocket_config(&self) -> tungstenite::protocol::WebSocketConfig {
        let size = Some(self.max_message_size);
        let config = tungstenite::protocol::WebSocketConfig::default();
        config
            .max_message_size(size)
            .max_frame_size(size)
            .read_buffer_size(READ_BUFFER)
    }
}

/// The websocket read buffer's starting size (see [`Options::websocket_config`]).
const READ_BUFFER: usize = 1 << 10;

/// What a runtime refuses, the same in every runtime. Failures of the network or the server
/// are not errors: they arrive as events (`ConnectFailed`, `Disconnected`, `AuthFailed`, …).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `connect`: the [`SpacesConfig`] was refused by
    /// the core. Fix the configuration and call `connect` again.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// `connect`: the TLS settings are unusable (for example a malformed extra root
    /// certificate, or a backend this runtime was built without). Fix [`Options::tls`].
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// `send_message`/`send_presence`: the session refused the send before it reached the
    /// wire (not subscribed, too large, rate limited, too many waiting); nothing was queued,
    /// so you may retry as the [`SendError`] says.
    #[error(transparent)]
    Refused(#[from] SendError),
    /// The session has ended (closed by you, by the server refusing the credentials, after
    /// exhausted reconnection attempts, or its driver is gone): call `connect` for a new one.
    /// The events still queued can be read with `next_event`.
    #[error("the Spaces session has ended")]
    Closed,
}

/// A websocket error as one line for the core (and from there the user's events and logs), as
/// every runtime reports it: TLS handshake failures and timeouts by name, HTTP refusals by
/// status, and never the URL (its query carries the token). For runtime crates.
pub fn describe(error: &tungstenite::Error) -> String {
    use tungstenite::Error as E;
    match error {
        // Some URL errors quote the URL.
        E::Url(_) => "invalid websocket URL".to_owned(),
        E::Http(response) => format!("HTTP status {}", response.status()),
        // rustls reports handshake failures (bad certificate, alert) through io::Error.
        E::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => format!("TLS handshake failed: {tls}"),
            None if io.kind() == std::io::ErrorKind::TimedOut => {
                "connect timeout reached".to_owned()
            }
            None => format!("IO error: {io}"),
        },
        other => other.to_string(),
    }
}

/// Why a websocket could not be opened, as the core needs to hear it: a refused upgrade's
/// HTTP status decides whether the credentials were refused. For runtime crates: build it
/// from the failure, then [`report`](Self::report) it to the core.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The server answered the websocket upgrade with this HTTP status instead of 101.
    Refused(u16),
    /// Any other failure, described without the URL (its query carries the token).
    Failed(String),
}

impl OpenError {
    /// The failure of a websocket upgrade.
    pub fn upgrade(error: &tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::Http(response) => Self::Refused(response.status().as_u16()),
            other => Self::Failed(describe(other)),
        }
    }

    /// Tells the core: [`Input::UpgradeRefused`] or [`Input::OpenFailed`].
    pub fn report(self, core: &mut RecordedSession, now: Instant) {
        log::debug!("spaces runtime: open failed: {self}");
        match self {
            Self::Refused(status) => core.handle_input(now, Input::UpgradeRefused { status }),
            Self::Failed(reason) => core.handle_input(now, Input::OpenFailed { reason: &reason }),
        }
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(status) => write!(f, "websocket upgrade refused with HTTP {status}"),
            Self::Failed(reason) => f.write_str(reason),
        }
    }
}

impl From<String> for OpenError {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

impl From<&str> for OpenError {
    fn from(reason: &str) -> Self {
        Self::Failed(reason.to_owned())
    }
}

/// The sans-IO session a runtime drives, connecting from `now`: `config` as given, with a
/// reconnection-jitter seed from the operating system's randomness when the caller set none
/// ([`Config::rng_seed`](spaces_socket::client::Config::rng_seed)), so that clients started
/// together do not retry in lockstep; recorded into [`Options::record`] when set. Drive the
/// returned [`RecordedSession`] as a [`Spaces`].
///
/// # Errors
/// [`Error::Config`] when the core refuses `config`.
pub fn session(
    mut config: SpacesConfig,
    now: Instant,
    options: &Options,
) -> Result<RecordedSession, Error> {
    if config.client.rng_seed.is_none() {
        config.client.rng_seed = Some(os_seed());
    }
    let spaces = Spaces::new(config.clone())?;
    let mut core = RecordedSession::new(spaces, options.record.clone(), &config, now);
    core.connect(now);
    Ok(core)
}

/// 64 random bits: std's `RandomState` is keyed from the operating system's randomness once
/// per thread and stepped for every instance, so two calls and two processes differ. What
/// seeds a session's jitter when its configuration sets none, and a bot's
/// [`Ctx::rng`](spaces_socket::bot::Ctx::rng) in every runtime's `run`.
pub fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The close frame every runtime sends when it lets a websocket go: code 1000 (normal), no
/// reason. For runtime crates.
pub fn normal_close() -> tungstenite::protocol::CloseFrame {
    tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "".into(),
    }
}

/// One Spaces session as blocking calls, implemented by the `Client` of every runtime (the
/// async ones block the calling thread in `next_event` and `close`). Use it as
/// `Box<dyn Session>` to choose the runtime at run time; with one runtime in mind, call the
/// `Client`'s own methods instead.
///
/// Typical use: [`subscribe`](Self::subscribe), then [`send_message`](Self::send_message),
/// then call [`next_event`](Self::next_event) in a loop until it returns `None` with
/// [`is_closed`](Self::is_closed) true, or until you [`close`](Self::close).
pub trait Session: Send {
    /// [`Spaces::subscribe`](spaces_socket::spaces::Spaces::subscribe) on this session: wants
    /// `space` subscribed, now and after every reconnect. Its events come from
    /// [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Closed`] once the session has ended.
    fn subscribe(&mut self, space: &str, password: Option<&str>) -> Result<(), Error>;

    /// [`Spaces::unsubscribe`](spaces_socket::spaces::Spaces::unsubscribe) on this session. Its
    /// events come from [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Closed`] once the session has ended.
    fn unsubscribe(&mut self, space: &str) -> Result<(), Error>;

    /// [`Spaces::send_message`](spaces_socket::spaces::Spaces::send_message) on this session: the
    /// returned id comes back in exactly one `Confirmed` or `SendFailed` event. Its events come
    /// from [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Refused`] with the session's [`SendError`] (nothing was queued), or
    /// [`Error::Closed`].
    fn send_message(&mut self, message: SendMessage) -> Result<SendId, Error>;

    /// [`Spaces::send_presence`](spaces_socket::spaces::Spaces::send_presence) on this session
    /// (never held).
    ///
    /// # Errors
    /// [`Error::Refused`] with the session's [`SendError`], or [`Error::Closed`].
    fn send_presence(&mut self, presence: &SendPresenceEvent) -> Result<(), Error>;

    /// The next event, waiting at most `max_wait` (`None`: no limit). Returns `None` on
    /// timeout, or once the session has ended and every event was returned (then
    /// [`is_closed`](Self::is_closed) is true). `Some(Duration::ZERO)` polls.
    fn next_event(&mut self, max_wait: Option<Duration>) -> Option<SpacesEvent>;

    /// Closes gracefully (`41/chat`, then a websocket close frame, waiting at most
    /// [`Options::close_timeout`] for the server's answer) and returns once the socket is
    /// shut. Unconfirmed messages fail with `SendFailure::Closed`; the remaining events,
    /// [`SpacesEvent::Closed`] last, can still be read with [`next_event`](Self::next_event).
    fn close(&mut self);

    /// True once the session has ended: commands return [`Error::Closed`], and
    /// [`next_event`](Self::next_event) returns what is left, then `None`.
    fn is_closed(&self) -> bool;
}

/// Implements [`Session`] for a runtime's `Client` whose inherent methods have the trait's
/// names and signatures, except `next_event` and `close`, which are given as expressions of
/// `$client` (the `&mut Client`) and `$max_wait`. For runtime crates: every `Client` forwards
/// the same way, so the forwarding is written once, here.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_session {
    ($ty:ty, |$client:ident, $max_wait:ident| next_event: $next:expr, close: $close:expr $(,)?) => {
        impl $crate::Session for $ty {
            fn subscribe(&mut self, space: &str, pin: Option<&str>) -> Result<(), $crate::Error> {
                <$ty>::subscribe(self, space, pin)
            }
            fn unsubscribe(&mut self, space: &str) -> Result<(), $crate::Error> {
                <$ty>::unsubscribe(self, space)
            }
            fn send_message(
                &mut self,
                message: $crate::spaces_socket::spaces::SendMessage,
            ) -> Result<$crate::spaces_socket::spaces::SendId, $crate::Error> {
                <$ty>::send_message(self, message)
            }
            fn send_presence(
                &mut self,
                presence: &$crate::spaces_socket::spaces::SendPresenceEvent,
            ) -> Result<(), $crate::Error> {
                <$ty>::send_presence(self, presence)
            }
            fn next_event(
                &mut self,
                $max_wait: Option<std::time::Duration>,
            ) -> Option<$crate::spaces_socket::spaces::SpacesEvent> {
                let $client = self;
                $next
            }
            fn close(&mut self) {
                let $client = self;
                $close
            }
            fn is_closed(&self) -> bool {
                <$ty>::is_closed(self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use spaces_socket::spaces::Step;

    #[test]
    fn url_errors_never_show_the_url() {
        let url = "ws://h/?token=s3cr3t".to_owned();
        let e = tungstenite::Error::Url(tungstenite::error::UrlError::UnableToConnect(url));
        assert!(!describe(&e).contains("s3cr3t"));
    }

    #[test]
    fn timeouts_and_tls_failures_are_named() {
        let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
        let text = describe(&tungstenite::Error::Io(timeout));
        assert_eq!(text, "connect timeout reached");
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let text = describe(&tungstenite::Error::Io(std::io::Error::other(tls)));
        assert!(text.starts_with("TLS handshake failed:") && text.contains("UnknownIssuer"));
    }

    /// The delays before the first reconnection of sessions built from `seed`.
    fn first_backoff(seed: Option<u64>, sessions: usize) -> Vec<Duration> {
        let now = Instant::now();
        (0..sessions)
            .map(|_| {
                let mut config = SpacesConfig::new("http://127.0.0.1:1/chat").expect("config");
                config.client.rng_seed = seed;
                let mut core = session(config, now, &Options::default()).expect("session");
                let mut token = spaces_socket::Token::jwt("t");
                let wall = std::time::SystemTime::now();
                while core.poll_write(now, wall, &mut token).is_some() {}
                core.handle_input(now, Input::OpenFailed { reason: "refused" });
                loop {
                    match core.poll_step(now, wall, &mut token) {
                        Step::Event(SpacesEvent::Reconnecting { delay, .. }) => break delay,
                        Step::Wait(_) => panic!("no reconnection is scheduled"),
                        _ => {}
                    }
                }
            })
            .collect()
    }

    #[test]
    fn sessions_without_a_seed_get_their_own_jitter_and_a_given_seed_is_kept() {
        let unseeded = first_backoff(None, 8);
        let distinct: std::collections::BTreeSet<_> = unseeded.iter().collect();
        assert!(distinct.len() >= 7, "lockstep: {unseeded:?}");
        let seeded = first_backoff(Some(42), 3);
        assert!(seeded.windows(2).all(|w| w[0] == w[1]), "{seeded:?}");
    }
}
