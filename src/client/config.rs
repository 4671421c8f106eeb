//! Client configuration: where to connect, the query, and the timing knobs, with
//! socket.io-client 2.0.4's defaults.

use core::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Why a configuration was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL has no `scheme://`, or a scheme other than `http`, `https`, `ws`, `wss`.
    #[error("unsupported URL scheme in {0:?}: expected http, https, ws or wss")]
    BadScheme(String),
    /// The URL has no host, or a malformed `[IPv6]` host.
    #[error("URL has no usable host")]
    BadHost,
    /// The port is not a number from 1 to 65535.
    #[error("URL port is not a number from 1 to 65535")]
    BadPort,
    /// A namespace must start with `/` and must not contain `,` or `?` (the wire format
    /// ends the namespace at the first `,`).
    #[error("invalid namespace {0:?}: it must start with '/' and contain no ',' or '?'")]
    BadNamespace(String),
    /// A timing option is out of range (for example a zero reconnection delay maximum).
    #[error("invalid option: {0}")]
    BadOption(&'static str),
}

/// Query parameters sent in the handshake URL and in every namespace CONNECT.
///
/// Values often hold credentials, so `Debug` shows the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key=value` (appended; insertion order is kept on the wire, as `parseqs` does).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(key, value);
        self
    }

    /// Adds `key=value` in place.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        // Doubling from one, not from `Vec`'s four: a query has a pair or two and is kept for
        // the whole session.
        if self.pairs.len() == self.pairs.capacity() {
            self.pairs.reserve_exact(self.pairs.len().max(1));
        }
        self.pairs.push((key.into(), value.into()));
    }

    /// Parses `a=1&b=x%20y` (the form the Spaces guide passes to `io()`); invalid percent
    /// escapes are kept as they are, like `decodeURIComponent` fallbacks in `parseqs`.
    pub fn parse(s: &str) -> Self {
        let pairs = s
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect();
        Self { pairs }
    }

    /// The value of the first pair named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `k=v&k2=v2` with `encodeURIComponent` escaping (so `,` `&` `=` `?` are always escaped).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_uri_component(&mut out, k);
            out.push('=');
            encode_uri_component(&mut out, v);
        }
        out
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(k, _)| (k, "<redacted>")))
            .finish()
    }
}

/// Appends `s` escaped like JavaScript's `encodeURIComponent`.
pub(crate) fn encode_uri_component(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// Where the server is: scheme, host and port (the namespace is not part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `wss`/`https` (true) or `ws`/`http` (false).
    pub secure: bool,
    /// Host name or IP; IPv6 without brackets.
    pub host: String,
    /// Explicit port; `None` means the scheme default (443 or 80).
    pub port: Option<u16>,
}

impl Endpoint {
    /// The port to dial: the explicit one or the scheme default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.secure { 443 } else { 80 })
    }

    /// `host:port` with IPv6 bracketed, as needed for a TCP connect.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port_or_default())
    }
}

/// Default of [`Config::max_attachments`].
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;
/// Default of [`Config::max_binary_packet_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BINARY_PACKET_BYTES: usize = 1024 * 1024;
/// Default of [`Config::max_args`].
pub const DEFAULT_MAX_ARGS: usize = 64;
/// Default of [`Config::max_receive_buffer_bytes`]: 1 MiB.
pub const DEFAULT_MAX_RECEIVE_BUFFER_BYTES: usize = 1024 * 1024;
/// Default of [`Config::ping_interval_bounds`]: 1 ms ..= 5 min. The floor only keeps an
/// announced 0 from making the client ping in a tight loop; any shorter interval a server asks
/// for is followed (pinging less often than asked gets the connection dropped).
pub const DEFAULT_PING_INTERVAL_BOUNDS: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(300);
/// Default of [`Config::ping_timeout_bounds`]: 1 ms ..= 2 min. The floor only replaces an
/// announced 0; the ceiling bounds how long a dead link goes unnoticed.
pub const DEFAULT_PING_TIMEOUT_BOUNDS: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(120);

/// Everything the client needs to know before it connects.
///
/// Build one with [`Config::new`] from a URL such as
/// `wss://spacesapis-socket.avayacloud.com/chat` (the path is the namespace, as with `io(url)`),
/// adjust the public fields, then hand it to [`Client::new`](crate::client::Client::new).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Config {
    /// Scheme, host and port.
    pub endpoint: Endpoint,
    /// The namespace taken from the URL path (`/` when there is none). The client joins it at
    /// construction.
    pub namespace: String,
    /// Engine.IO path, default `/socket.io` (a trailing `/` is added on the wire).
    pub path: String,
    /// Sent in the handshake URL and in each non-root namespace CONNECT (`40/chat?…,`),
    /// because a 2.0.4 server drops the CONNECT query when it buffers the CONNECT.
    pub query: Query,
    /// When true, the client asks for a fresh query before every (re)connection with
    /// [`Event::QueryNeeded`](crate::client::Event::QueryNeeded) and waits for
    /// [`Client::set_query`](crate::client::Client::set_query). For tokens that expire.
    pub fresh_query_per_connection: bool,
    /// Reconnect after a lost or failed connection (default true).
    pub reconnection: bool,
    /// Give up after this many reconnection attempts; `None` (default) never gives up.
    ///
    /// Attempts (and the growing delays) are counted since the last *useful* connection: one
    /// on which a namespace connected and a ping was answered. A connection that ends before
    /// that (closed right after the open packet, a namespace never connected, a ping timeout
    /// on the first ping) does not start the count over, so no server can make reconnection
    /// endless or tight by accepting and dropping connections.
    pub reconnection_attempts: Option<u32>,
    /// First reconnection delay (default 1 s).
    pub reconnection_delay: Duration,
    /// Largest reconnection delay (default 5 s).
    pub reconnection_delay_max: Duration,
    /// Jitter factor in `(0, 1]`, default 0.5; anything else disables jitter.
    pub randomization_factor: f64,
    /// Time allowed from opening a websocket to the Engine.IO open packet (default 20 s);
    /// `None` disables the timer; zero is refused. With
    /// [`fresh_query_per_connection`](Self::fresh_query_per_connection) it also covers the wait
    /// for the query (token), so it must exceed the token provider's latency: an attempt whose
    /// token comes later fails with a timeout, and the next attempt asks again.
    pub connect_timeout: Option<Duration>,
    /// Time allowed for a server ack before [`Event::AckTimedOut`](crate::client::Event::AckTimedOut);
    /// `None` (default, as in 2.0.4) waits for as long as the connection lives.
    pub ack_timeout: Option<Duration>,
    /// Most packets kept per namespace while it is not connected; a further emit fails with
    /// [`EmitError::BufferFull`](crate::client::EmitError::BufferFull). Default 1024.
    pub max_buffered: usize,
    /// Most acks awaited per namespace at once; default 4096. It also bounds the acks the
    /// server asked of us and that are not answered yet: beyond it the oldest request is
    /// forgotten (answering it then fails with
    /// [`EmitError::UnknownAck`](crate::client::EmitError::UnknownAck)).
    pub max_pending_acks: usize,
    /// Most attachments one incoming BINARY_EVENT/BINARY_ACK may announce; default
    /// [`DEFAULT_MAX_ATTACHMENTS`] (10). A packet announcing more is dropped with
    /// [`ProtocolViolation::TooManyAttachments`](crate::client::ProtocolViolation::TooManyAttachments)
    /// and its attachments are discarded as they arrive, without being kept. 0 refuses every
    /// binary packet that has attachments.
    pub max_attachments: usize,
    /// Most bytes one incoming binary packet may hold, its JSON text and every attachment
    /// counted; default [`DEFAULT_MAX_BINARY_PACKET_BYTES`] (1 MiB). When an attachment would
    /// go past it, the partial packet is dropped (memory freed at once) with
    /// [`ProtocolViolation::BinaryPacketTooLarge`](crate::client::ProtocolViolation::BinaryPacketTooLarge),
    /// and its remaining attachments are discarded as they arrive.
    pub max_binary_packet_bytes: usize,
    /// Most top-level elements in an incoming EVENT/ACK array (an event's name counts);
    /// default [`DEFAULT_MAX_ARGS`] (64). Decoding stops as soon as a packet has more, and the
    /// packet is dropped with
    /// [`ProtocolViolation::Socket`](crate::client::ProtocolViolation::Socket)`(`[`TooManyElements`](crate::socket::DecodeError::TooManyElements)`)`:
    /// each element costs about 32 bytes of bookkeeping, so without a bound a frame of tiny
    /// elements (`[0,0,0,…]`) would cost some 16 times its size. Nested arrays are not
    /// counted: they stay raw JSON text.
    pub max_args: usize,
    /// Most bytes of events kept per namespace while its CONNECT answer is awaited (events a
    /// server sends before `40/nsp`, held to be delivered after
    /// [`Event::Connected`](crate::client::Event::Connected)); default [`DEFAULT_MAX_RECEIVE_BUFFER_BYTES`]
    /// (1 MiB). [`max_buffered`](Self::max_buffered) also bounds their number. An event over
    /// either bound is dropped with
    /// [`ProtocolViolation::ReceiveBufferFull`](crate::client::ProtocolViolation::ReceiveBufferFull).
    pub max_receive_buffer_bytes: usize,
    /// The ping interval actually used is the server's `pingInterval` clamped to this range;
    /// default [`DEFAULT_PING_INTERVAL_BOUNDS`] (1 ms ..= 5 min). The server's value is
    /// followed otherwise, however short: a server closes a connection that pings less often
    /// than it asked (Engine.IO 3 closes one silent for `pingInterval + pingTimeout`), while
    /// pinging more often is harmless. So raise the floor only knowingly. The floor keeps a
    /// server announcing 0 from making the client ping in a tight loop; the ceiling keeps one
    /// announcing 2^31−1 ms from making a dead link go unnoticed for weeks.
    pub ping_interval_bounds: RangeInclusive<Duration>,
    /// The ping timeout actually used is the server's `pingTimeout` clamped to this range;
    /// default [`DEFAULT_PING_TIMEOUT_BOUNDS`] (1 ms ..= 2 min): the server's value is
    /// followed, an announced 0 becomes 1 ms. With both defaults a dead link is detected at
    /// most 7 minutes after the last packet, whatever the server announces.
    pub ping_timeout_bounds: RangeInclusive<Duration>,
    /// Seed for reconnection jitter, so one seed reproduces one run. `None` (the default)
    /// lets the runtime pick one from the operating system's randomness, so a fleet of
    /// clients restarted together does not reconnect in lockstep; the core itself, having no
    /// randomness of its own, uses 0 for `None`. Simulations pass their own.
    pub rng_seed: Option<u64>,
}

impl Config {
    /// Parses `http[s]://host[:port][/namespace][?query]` (or `ws[s]://`); the query, if any,
    /// becomes [`Config::query`].
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let (secure, rest) = if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "wss://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else if let Some(r) = strip_prefix_ci(url, "ws://") {
            (false, r)
        } else {
            return Err(ConfigError::BadScheme(url.chars().take(16).collect()));
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Query::parse(q)),
            None => (rest, Query::new()),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i..]),
            None => (before_query, "/"),
        };
        let (host, port) = split_host_port(authority)?;
        let namespace = if path.len() > 1 {
            path.trim_end_matches('/').to_owned()
        } else {
            "/".to_owned()
        };
        validate_namespace(&namespace)?;
        Ok(Self {
            endpoint: Endpoint { secure, host, port },
            namespace,
            path: "/socket.io".to_owned(),
            query,
            fresh_query_per_connection: false,
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            connect_timeout: Some(Duration::from_secs(20)),
            ack_timeout: None,
            max_buffered: 1024,
            max_pending_acks: 4096,
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            max_binary_packet_bytes: DEFAULT_MAX_BINARY_PACKET_BYTES,
            max_args: DEFAULT_MAX_ARGS,
            max_receive_buffer_bytes: DEFAULT_MAX_RECEIVE_BUFFER_BYTES,
            ping_interval_bounds: DEFAULT_PING_INTERVAL_BOUNDS,
            ping_timeout_bounds: DEFAULT_PING_TIMEOUT_BOUNDS,
            rng_seed: None,
        })
    }

    /// Checks the options; [`Client::new`](crate::client::Client::new) calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_namespace(&self.namespace)?;
        if self.reconnection_delay_max.is_zero() {
            return Err(ConfigError::BadOption(
                "reconnection_delay_max must be positive",
            ));
        }
        if !self.path.starts_with('/') {
            return Err(ConfigError::BadOption("path must start with '/'"));
        }
        // Longer than a day is a mistake, and `Instant + Duration` must never overflow.
        let day = Duration::from_secs(24 * 3600);
        if self.reconnection_delay > day || self.reconnection_delay_max > day {
            return Err(ConfigError::BadOption(
                "reconnection delays must be at most one day",
            ));
        }
        if self.connect_timeout.is_some_and(|t| t > day)
            || self.ack_timeout.is_some_and(|t| t > day)
        {
            return Err(ConfigError::BadOption(
                "timeouts must be at most one day (or None)",
            ));
        }
        // A zero connect timeout fails every attempt at the instant it starts; with a zero
        // reconnection delay the client would then retry forever without time moving on.
        if self.connect_timeout.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::BadOption(
                "connect_timeout must be positive (or None)",
            ));
        }
        if self.max_buffered == 0 {
            return Err(ConfigError::BadOption("max_buffered must be positive"));
        }
        if self.max_args == 0 {
            return Err(ConfigError::BadOption("max_args must be positive"));
        }
        for bounds in [&self.ping_interval_bounds, &self.ping_timeout_bounds] {
            if bounds.start().is_zero() || bounds.start() > bounds.end() || *bounds.end() > day {
                return Err(ConfigError::BadOption(
                    "ping bounds must be a non-empty range from above zero to at most one day",
                ));
            }
        }
        Ok(())
    }

    /// The range a reconnection delay for `attempt` (from 1) falls in with these options:
    /// `[d·(1−j), min(d·(1+j), max)]` with `d = delay · 2^(attempt−1)`.
    pub fn reconnect_delay_bounds(&self, attempt: u32) -> (Duration, Duration) {
        super::backoff::Backoff::new(
            self.reconnection_delay,
            self.reconnection_delay_max,
            self.randomization_factor,
        )
        .bounds(attempt)
    }

    /// The websocket URL of a fresh handshake:
    /// `ws[s]://host[:port]/socket.io/?<query>&EIO=3&transport=websocket`.
    pub fn handshake_url(&self) -> String {
        let scheme = if self.endpoint.secure { "wss" } else { "ws" };
        let host = if self.endpoint.host.contains(':') {
            format!("[{}]", self.endpoint.host)
        } else {
            self.endpoint.host.clone()
        };
        let default_port = if self.endpoint.secure { 443 } else { 80 };
        let port = match self.endpoint.port {
            Some(p) if p != default_port => format!(":{p}"),
            _ => String::new(),
        };
        let path = self.path.trim_end_matches('/');
        let mut url = format!("{scheme}://{host}{port}{path}/?");
        if !self.query.is_empty() {
            url.push_str(&self.query.encode());
            url.push('&');
        }
        url.push_str("EIO=3&transport=websocket");
        url
    }
}

pub(crate) fn validate_namespace(nsp: &str) -> Result<(), ConfigError> {
    if !nsp.starts_with('/') || nsp.contains([',', '?']) {
        return Err(ConfigError::BadNamespace(nsp.to_owned()));
    }
    Ok(())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), ConfigError> {
    // Drop userinfo; it has no meaning here.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or(ConfigError::BadHost)?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(ConfigError::BadHost),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(ConfigError::BadHost);
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(ConfigError::BadPort),
            Ok(n) => Some(n),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_url_puts_user_query_first_and_omits_default_ports() {
        let mut c = Config::new("https://spacesapis-socket.avayacloud.com/chat").unwrap();
        c.query = Query::new().with("tokenType", "jwt").with("token", "a b");
        assert_eq!(c.namespace, "/chat");
        assert_eq!(
            c.handshake_url(),
            "wss://spacesapis-socket.avayacloud.com/socket.io/?tokenType=jwt&token=a%20b&EIO=3&transport=websocket"
        );
        let c = Config::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(c.namespace, "/");
        assert_eq!(
            c.handshake_url(),
            "ws://127.0.0.1:8080/socket.io/?EIO=3&transport=websocket"
        );
        let c = Config::new("ws://[::1]:80/x/").unwrap();
        assert_eq!(
            c.handshake_url(),
            "ws://[::1]/socket.io/?EIO=3&transport=websocket"
        );
        assert_eq!(c.namespace, "/x");
        assert_eq!(c.endpoint.authority(), "[::1]:80");
    }

    #[test]
    fn url_query_becomes_the_query() {
        let c = Config::new("http://h/chat?token=x%20y&n=2").unwrap();
        assert_eq!(c.query.get("token"), Some("x y"));
        assert_eq!(c.query.encode(), "token=x%20y&n=2");
    }

    #[test]
    fn encode_uri_component_escapes_like_javascript() {
        let q = Query::new().with("k", "a,b&c=d?e/f é~*'()!");
        assert_eq!(q.encode(), "k=a%2Cb%26c%3Dd%3Fe%2Ff%20%C3%A9~*'()!");
    }

    #[test]
    fn bad_urls_are_typed_errors() {
        assert!(matches!(
            Config::new("ftp://h"),
            Err(ConfigError::BadScheme(_))
        ));
        assert_eq!(
            Config::new("http://:80/").unwrap_err(),
            ConfigError::BadHost
        );
        assert_eq!(
            Config::new("http://h:99999/").unwrap_err(),
            ConfigError::BadPort
        );
        assert_eq!(
            Config::new("http://[::1/").unwrap_err(),
            ConfigError::BadHost
        );
        assert!(matches!(
            Config::new("http://h/a,b"),
            Err(ConfigError::BadNamespace(_))
        ));
    }

    #[test]
    fn durations_that_could_overflow_a_deadline_are_refused() {
        let mut c = Config::new("http://h/").unwrap();
        c.connect_timeout = Some(Duration::MAX);
        assert!(matches!(c.validate(), Err(ConfigError::BadOption(_))));
        let mut c = Config::new("http://h/").unwrap();
        c.reconnection_delay_max = Duration::MAX;
        assert!(matches!(c.validate(), Err(ConfigError::BadOption(_))));
        let mut c = Config::new("http://h/").unwrap();
        c.ack_timeout = Some(Duration::from_secs(3600));
        assert_eq!(c.validate(), Ok(()));
    }

    /// Fuzz finding (state_machine): `connect_timeout = Some(0)` with a zero reconnection delay
    /// made `handle_timeout(now)` leave a deadline due at `now` forever (open, time out,
    /// reschedule at `now`, ...), so a runtime spun without time moving on.
    #[test]
    fn a_zero_connect_timeout_is_refused() {
        let mut c = Config::new("http://h/").unwrap();
        c.reconnection_delay = Duration::ZERO;
        c.connect_timeout = Some(Duration::ZERO);
        assert!(matches!(c.validate(), Err(ConfigError::BadOption(_))));
        c.connect_timeout = Some(Duration::from_millis(1));
        assert_eq!(c.validate(), Ok(()));
        c.connect_timeout = None;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn ping_bounds_must_be_a_positive_range_of_at_most_a_day() {
        let ms = Duration::from_millis;
        let bad = [
            Duration::ZERO..=ms(10),
            ms(10)..=ms(5),
            ms(10)..=Duration::from_secs(2 * 24 * 3600),
        ];
        for b in bad {
            let mut c = Config::new("http://h/").unwrap();
            c.ping_timeout_bounds = b.clone();
            assert!(
                matches!(c.validate(), Err(ConfigError::BadOption(_))),
                "{b:?}"
            );
            let mut c = Config::new("http://h/").unwrap();
            c.ping_interval_bounds = b.clone();
            assert!(
                matches!(c.validate(), Err(ConfigError::BadOption(_))),
                "{b:?}"
            );
        }
        let mut c = Config::new("http://h/").unwrap();
        c.ping_interval_bounds = ms(1)..=ms(1);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn query_debug_hides_values() {
        let q = Query::new().with("token", "s3cr3t");
        let shown = format!("{q:?}");
        assert!(shown.contains("token") && !shown.contains("s3cr3t"));
    }

    #[test]
    fn percent_decode_keeps_invalid_escapes() {
        assert_eq!(Query::parse("a=%zz&b=%41%").get("a"), Some("%zz"));
        assert_eq!(Query::parse("a=%zz&b=%41%").get("b"), Some("A%"));
    }
}
