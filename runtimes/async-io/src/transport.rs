//! Opening a websocket: TCP with async-net, TLS with futures-rustls or, with the `native-tls`
//! feature, async-native-tls (configured by the shared `spaces-socket-tls` builders),
//! the HTTP upgrade with async-tungstenite. Errors become short descriptions
//! that never contain the URL (its query carries the token).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Error as WsError;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use futures_rustls::pki_types::ServerName;

use crate::{TlsBackend, TlsError, TlsOptions};

/// The websocket the driver owns.
pub(crate) type WsStream = WebSocketStream<Stream>;

/// A plain or TLS TCP stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    #[cfg(feature = "native-tls")]
    NativeTls(Box<async_native_tls::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_close(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
            #[cfg(feature = "native-tls")]
            Self::NativeTls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// The TLS client of the chosen backend, configured once per session.
enum Tls {
    Rustls(TlsConnector),
    #[cfg(feature = "native-tls")]
    Native(async_native_tls::TlsConnector),
}

impl Tls {
    fn new(options: &TlsOptions) -> Result<Self, TlsError> {
        match options.backend {
            // futures-rustls 0.26 is on rustls 0.23: the shared config is its type.
            TlsBackend::Rustls => spaces_socket_tls::rustls_client_config(options)
                .map(|config| Self::Rustls(TlsConnector::from(config))),
            // async-native-tls 0.6 wraps only a builder and builds a connector per
            // connection; the shared builder has built one already, so a refused
            // configuration fails `start` with a typed error instead.
            #[cfg(feature = "native-tls")]
            TlsBackend::NativeTls => spaces_socket_tls::native_tls_builder(options)
                .map(|builder| Self::Native(async_native_tls::TlsConnector::from(builder))),
            // Another crate may turn on a backend this crate was built without.
            other => Err(TlsError::BackendUnavailable(other)),
        }
    }

    /// The TLS handshake for `host` over `tcp`. The error names the host only, never the URL.
    async fn connect(&self, host: &str, tcp: TcpStream) -> Result<Stream, String> {
        let failed = |e: &dyn std::fmt::Display| format!("TLS handshake with {host} failed: {e}");
        match self {
            Self::Rustls(connector) => {
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
                let tls = connector.connect(name, tcp).await.map_err(|e| failed(&e))?;
                Ok(Stream::Tls(Box::new(tls)))
            }
            #[cfg(feature = "native-tls")]
            Self::Native(connector) => {
                // native-tls checks the name (DNS or IP) against the certificate itself.
                let tls = connector.connect(host, tcp).await.map_err(|e| failed(&e))?;
                Ok(Stream::NativeTls(Box::new(tls)))
            }
        }
    }
}

/// Opens websockets; holds the TLS configuration built once per session.
pub(crate) struct Connector {
    tls: Tls,
    ws_config: WebSocketConfig,
}

impl Connector {
    pub(crate) fn new(options: &TlsOptions, max_message_size: usize) -> Result<Self, TlsError> {
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(max_message_size))
            .max_frame_size(Some(max_message_size));
        Ok(Self {
            tls: Tls::new(options)?,
            ws_config,
        })
    }

    /// Opens a websocket to `url` (`ws://` or `wss://`). The error is safe to log.
    pub(crate) async fn connect(&self, url: &str) -> Result<WsStream, String> {
        let request = url.into_client_request().map_err(|e| describe(&e))?;
        let uri = request.uri();
        let secure = match uri.scheme_str() {
            Some("wss") => true,
            Some("ws") => false,
            _ => return Err("the websocket URL scheme is not ws or wss".to_owned()),
        };
        let host = uri
            .host()
            .ok_or_else(|| "the websocket URL has no host".to_owned())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        // async-net resolves names on its blocking pool, never on the executor.
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("TCP connection to {host}:{port} failed: {e}"))?;
        // Frames are small and latency matters (heartbeats); errors here are harmless.
        let _ = tcp.set_nodelay(true);
        let stream = if secure {
            self.tls.connect(&host, tcp).await?
        } else {
            Stream::Plain(tcp)
        };
        let (ws, _response) =
            async_tungstenite::client_async_with_config(request, stream, Some(self.ws_config))
                .await
                .map_err(|e| format!("websocket upgrade failed: {}", describe(&e)))?;
        Ok(ws)
    }
}

/// A websocket error as text for logs and [`ConnectFailure`]s, without the URL.
///
/// [`ConnectFailure`]: spaces_socket::client::ConnectFailure
pub(crate) fn describe(error: &WsError) -> String {
    match error {
        // Some URL errors quote the URL, and its query carries the token.
        WsError::Url(_) => "invalid websocket URL".to_owned(),
        WsError::Http(response) => format!("HTTP status {}", response.status()),
        WsError::Io(e) => format!("IO error: {e}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn url_errors_never_show_the_url() {
        let e = WsError::Url(
            async_tungstenite::tungstenite::error::UrlError::UnableToConnect(
                "ws://h/?token=s3cr3t".to_owned(),
            ),
        );
        assert!(!describe(&e).contains("s3cr3t"));
    }
}
