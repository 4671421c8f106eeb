//! Opening a websocket: TCP with async-net, TLS with futures-rustls (aws-lc-rs provider,
//! webpki roots), the HTTP upgrade with async-tungstenite. Errors become short descriptions
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

use crate::{TlsError, TlsOptions};

/// The websocket the driver owns.
pub(crate) type WsStream = WebSocketStream<Stream>;

/// A plain or TLS TCP stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
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
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_close(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// Opens websockets; holds the TLS configuration built once per session.
pub(crate) struct Connector {
    tls: TlsConnector,
    ws_config: WebSocketConfig,
}

impl Connector {
    pub(crate) fn new(options: &TlsOptions, max_message_size: usize) -> Result<Self, TlsError> {
        let config = client_config(options)?;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(max_message_size))
            .max_frame_size(Some(max_message_size));
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
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
            let name = ServerName::try_from(host.clone())
                .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {host} failed: {e}"))?;
            Stream::Tls(Box::new(tls))
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
    if let Some(pem) = &options.extra_roots_pem {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
            found += 1;
        }
        if found == 0 {
            return Err(TlsError::NoCertificates);
        }
    }
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Provider(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
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
        };
        assert_eq!(client_config(&none).err(), Some(TlsError::NoCertificates));
        let garbage = TlsOptions {
            extra_roots_pem: Some(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            ),
        };
        assert!(matches!(
            client_config(&garbage),
            Err(TlsError::BadCertificate(_) | TlsError::Pem(_))
        ));
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
