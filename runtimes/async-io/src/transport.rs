//! Opening a websocket: TCP with async-net, TLS with futures-rustls (aws-lc-rs provider,
//! webpki roots) or, with the `native-tls` feature, async-native-tls (the platform library),
//! the HTTP upgrade with async-tungstenite. Errors become short descriptions
//! that never contain the URL (its query carries the token).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Error as WsError;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::{CertificateDer, ServerName};
use futures_rustls::rustls::{ClientConfig, RootCertStore, crypto};

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
            TlsBackend::Rustls => Ok(Self::Rustls(TlsConnector::from(Arc::new(client_config(
                options,
            )?)))),
            #[cfg(feature = "native-tls")]
            TlsBackend::NativeTls => native_connector(options).map(Self::Native),
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

/// rustls with the aws-lc-rs provider given explicitly (a process-default provider may be
/// missing or ambiguous, and rustls panics then), Mozilla's roots plus the user's.
fn client_config(options: &TlsOptions) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots(options)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    }
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Provider(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The certificates of [`TlsOptions::extra_roots_pem`], parsed the same way for both backends:
/// none when it is unset, an error when it is set but holds no certificate.
fn extra_roots(options: &TlsOptions) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let Some(pem) = &options.extra_roots_pem else {
        return Ok(Vec::new());
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    Ok(certs)
}

/// The platform library with the system's roots plus the extra ones. The connector is built
/// once here so that a configuration the library refuses fails [`start`](crate::start) with a
/// typed error; async-native-tls then builds its own from the same builder per connection.
#[cfg(feature = "native-tls")]
fn native_connector(options: &TlsOptions) -> Result<async_native_tls::TlsConnector, TlsError> {
    let mut builder = native_tls::TlsConnector::builder();
    for der in extra_roots(options)? {
        let cert = native_tls::Certificate::from_der(der.as_ref())
            .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
        builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| TlsError::NativeTls(e.to_string()))?;
    Ok(async_native_tls::TlsConnector::from(builder))
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
    fn default_tls_options_build_a_config() {
        assert!(client_config(&TlsOptions::default()).is_ok());
    }

    #[test]
    fn unusable_extra_roots_are_typed_errors() {
        let none = TlsOptions {
            extra_roots_pem: Some(b"no pem here".to_vec()),
            ..TlsOptions::default()
        };
        assert_eq!(client_config(&none).err(), Some(TlsError::NoCertificates));
        let garbage = TlsOptions {
            extra_roots_pem: Some(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            ),
            ..TlsOptions::default()
        };
        assert!(matches!(
            client_config(&garbage),
            Err(TlsError::BadCertificate(_) | TlsError::Pem(_))
        ));
    }

    #[test]
    fn each_backend_gets_its_own_connector() {
        assert!(matches!(
            Tls::new(&TlsOptions::default()),
            Ok(Tls::Rustls(_))
        ));
        #[cfg(feature = "native-tls")]
        {
            let options = TlsOptions {
                backend: TlsBackend::NativeTls,
                extra_roots_pem: Some(
                    include_bytes!("../../../tests/fixtures/tls-test-ca.pem").to_vec(),
                ),
            };
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
