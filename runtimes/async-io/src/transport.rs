//! Opening a websocket: TCP with async-net, TLS with futures-rustls or, with the `native-tls`
//! feature, async-native-tls (configured by the shared `spaces-socket-runtime` builders), the
//! HTTP upgrade with async-tungstenite. Errors become short descriptions that never contain
//! the URL (its query carries the token).

use std::sync::Arc;

use async_net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
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
        let stream = match endpoint.secure {
            true => self.handshake(host, tcp).await?,
            false => Box::new(tcp),
        };
        let upgrade = async_tungstenite::client_async_with_config(request, stream, Some(config));
        let upgraded = upgrade.await;
        let (ws, _response) = upgraded.map_err(|e| OpenError::upgrade(&e))?;
        Ok(ws)
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
}
