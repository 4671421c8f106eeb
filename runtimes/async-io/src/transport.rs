//! Opening a websocket: TCP with async-net, TLS with futures-rustls or, with the `native-tls`
//! feature, async-native-tls (configured by the shared `spaces-socket-runtime` builders), the
//! HTTP upgrade with async-tungstenite. Errors become short descriptions that never contain
//! the URL (its query carries the token).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::pki_types::ServerName;
use spaces_socket::client::WsUrl;
use spaces_socket_runtime::{OpenError, TlsBackend, TlsError, TlsOptions, describe};

/// A plain or TLS TCP stream.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The TCP stream under the websocket.
type Tcp = async_io::Async<std::net::TcpStream>;

/// The websocket the driver owns.
pub(crate) type Ws = WebSocketStream<Box<dyn Io>>;

/// The TLS client of the chosen backend, configured once per session.
pub(crate) enum Tls {
    Rustls(TlsConnector),
    #[cfg(feature = "native-tls")]
    Native(async_native_tls::TlsConnector),
}

impl Tls {
    pub(crate) fn new(options: &TlsOptions) -> Result<Self, TlsError> {
        match options.backend {
            // futures-rustls 0.26 is on rustls 0.23: the shared config is its type.
            TlsBackend::Rustls => spaces_socket_runtime::rustls_client_config(options)
                .map(|config| Self::Rustls(TlsConnector::from(config))),
            // async-native-tls 0.6 wraps only a builder and builds a connector per
            // connection; the shared builder has built one already, so a refused
            // configuration fails `start` with a typed error instead.
            #[cfg(feature = "native-tls")]
            TlsBackend::NativeTls => spaces_socket_runtime::native_tls_builder(options)
                .map(|builder| Self::Native(async_native_tls::TlsConnector::from(builder))),
            // Another crate may turn on a backend this crate was built without.
            other => Err(TlsError::BackendUnavailable(other)),
        }
    }

    /// Opens the websocket for `url` (`ws://` or `wss://`) with `config`, TLS from `self`. The
    /// error is safe to log.
    pub(crate) async fn open(&self, url: &WsUrl, config: WebSocketConfig) -> Result<Ws, OpenError> {
        let request = url.expose().into_client_request();
        let request = request.map_err(|e| describe(&e))?;
        let endpoint = url.endpoint();
        let (host, port) = (endpoint.host.as_str(), endpoint.port_or_default());
        // async-net resolves names on its blocking pool, never on the executor.
        let tcp = TcpStream::connect((host, port)).await;
        let tcp = tcp.map_err(|e| format!("TCP connection to {host}:{port} failed: {e}"))?;
        // Frames are small and latency matters (heartbeats); errors here are harmless.
        let _ = tcp.set_nodelay(true);
        // Out of async-net's wrapper, whose readiness slots (~0.1 KiB) would stay unused.
        let tcp = Arc::try_unwrap(tcp.into()).map_err(|_| "TCP stream still shared".to_owned())?;
        let stream: Box<dyn Io> = match endpoint.secure {
            true => Box::new(Upgrading::new(self.handshake(host, tcp).await?)),
            false => Box::new(Upgrading::new(tcp)),
        };
        let upgrade = async_tungstenite::client_async_with_config(request, stream, Some(config));
        let upgraded = upgrade.await;
        let (ws, _response) = upgraded.map_err(|e| OpenError::upgrade(&e))?;
        // The upgrade leaves a 4 KiB read buffer behind (tungstenite's handshake buffer, kept
        // for the frames that followed the response), held for the connection's whole life.
        // `Upgrading` gave it the response only, so a fresh websocket over the same stream
        // loses nothing and starts from `config`'s read buffer.
        let stream = ws.into_inner();
        Ok(WebSocketStream::from_raw_socket(stream, Role::Client, Some(config)).await)
    }

    /// The TLS handshake for `host` over `tcp`. The error names the host only, never the URL.
    async fn handshake(&self, host: &str, tcp: Tcp) -> Result<Box<dyn Io>, String> {
        let failed = |e: &dyn std::fmt::Display| format!("TLS handshake with {host} failed: {e}");
        match self {
            Self::Rustls(connector) => {
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
                let tls = connector.connect(name, tcp).await.map_err(|e| failed(&e))?;
                Ok(Box::new(tls))
            }
            // native-tls checks the name (DNS or IP) against the certificate itself.
            #[cfg(feature = "native-tls")]
            Self::Native(connector) => match connector.connect(host, tcp).await {
                Ok(tls) => Ok(Box::new(tls)),
                Err(e) => Err(failed(&e)),
            },
        }
    }
}

/// A stream that hands the HTTP upgrade's reader the response's head and nothing after it:
/// the bytes that came with it (the first Engine.IO frames) are kept back, in a buffer of their
/// size, and read first once the websocket runs.
struct Upgrading<S> {
    inner: S,
    /// How much of the `\r\n\r\n` ending the head was read; `None` once it was.
    head: Option<u8>,
    /// Bytes read after the head, not handed out yet.
    after: Vec<u8>,
}

impl<S> Upgrading<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            head: Some(0),
            after: Vec::new(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Upgrading<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.after.is_empty() {
            let n = this.after.len().min(buf.len());
            buf[..n].copy_from_slice(&this.after[..n]);
            this.after.drain(..n);
            if this.after.is_empty() {
                this.after = Vec::new();
            }
            return Poll::Ready(Ok(n));
        }
        let n = std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let Some(matched) = this.head.as_mut() else {
            return Poll::Ready(Ok(n));
        };
        const END: &[u8; 4] = b"\r\n\r\n";
        for (i, byte) in buf[..n].iter().enumerate() {
            *matched = match *byte {
                b if b == END[usize::from(*matched)] => *matched + 1,
                b'\r' => 1,
                _ => 0,
            };
            if usize::from(*matched) == END.len() {
                this.head = None;
                this.after = buf[i + 1..n].to_vec();
                return Poll::Ready(Ok(i + 1));
            }
        }
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Upgrading<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upgrade_reads_the_response_head_only_and_the_rest_comes_next() {
        let wire = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\nframes";
        // In small reads, so the end of the head spans two of them.
        let reader = futures_lite::io::Cursor::new(wire.to_vec());
        let mut stream = Upgrading::new(reader);
        let mut read = |size: usize| {
            let mut buf = vec![0; size];
            let n = async_io::block_on(futures_lite::AsyncReadExt::read(&mut stream, &mut buf));
            buf.truncate(n.unwrap());
            buf
        };
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let part = read(7);
            assert!(!part.is_empty(), "the head ends");
            head.extend(part);
        }
        assert_eq!(head, &wire[..wire.len() - 6]);
        let mut rest = Vec::new();
        loop {
            let part = read(64);
            if part.is_empty() {
                break;
            }
            rest.extend(part);
        }
        assert_eq!(rest, b"frames");
    }

    #[test]
    fn each_backend_gets_its_own_connector() {
        assert!(matches!(
            Tls::new(&TlsOptions::default()),
            Ok(Tls::Rustls(_))
        ));
        #[cfg(feature = "native-tls")]
        {
            let options = TlsOptions::default()
                .with_backend(TlsBackend::NativeTls)
                .with_extra_root(&include_bytes!("../../../tests/fixtures/tls-test-ca.pem")[..]);
            assert!(matches!(Tls::new(&options), Ok(Tls::Native(_))));
        }
    }
}
