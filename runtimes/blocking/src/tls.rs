//! TLS for `wss://` connections: rustls with the aws-lc-rs provider and the webpki roots by
//! default, certificate checks always on; the platform library behind the `native-tls` feature.

use core::fmt;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Which TLS library secures `wss://` connections.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsBackend {
    /// rustls with the aws-lc-rs crypto provider (the default; no system library needed).
    #[default]
    Rustls,
    /// The platform library through `native-tls` (OpenSSL on Linux, Secure Transport on macOS,
    /// SChannel on Windows), trusting the system's roots. Needs the `native-tls` feature.
    #[cfg(feature = "native-tls")]
    NativeTls,
}

/// TLS settings for `wss://` connections. Certificates are always verified.
#[derive(Clone)]
pub struct TlsOptions {
    /// Extra trusted root certificates, each a PEM document holding one or more
    /// `CERTIFICATE` blocks: for a private CA or a test server.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Trust the Mozilla roots shipped in `webpki-roots` (default true; rustls only). Turn it
    /// off to trust [`TlsOptions::extra_roots_pem`] alone.
    pub webpki_roots: bool,
    /// The TLS library (default [`TlsBackend::Rustls`]).
    pub backend: TlsBackend,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            extra_roots_pem: Vec::new(),
            webpki_roots: true,
            backend: TlsBackend::default(),
        }
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("extra_roots_pem", &self.extra_roots_pem.len())
            .field("webpki_roots", &self.webpki_roots)
            .field("backend", &self.backend)
            .finish()
    }
}

/// Why the TLS settings could not be turned into a connector.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// An entry of [`TlsOptions::extra_roots_pem`] is not PEM, holds no certificate, or holds a
    /// certificate that cannot be used as a trust anchor.
    #[error("extra root certificate #{index}: {reason}")]
    BadRoot {
        /// Its position in [`TlsOptions::extra_roots_pem`].
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No root certificate is trusted at all ([`TlsOptions::webpki_roots`] is off and no extra
    /// root was given), so no server could ever be verified.
    #[error("no trusted root certificates: enable webpki_roots or add extra_roots_pem")]
    NoRoots,
    /// The TLS library refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Config(String),
}

/// A ready connector, built once per client and cloned for each connection.
#[derive(Clone)]
pub(crate) enum Tls {
    Rustls(Arc<rustls::ClientConfig>),
    #[cfg(feature = "native-tls")]
    Native(native_tls::TlsConnector),
}

impl Tls {
    pub(crate) fn new(options: &TlsOptions) -> Result<Self, TlsError> {
        match options.backend {
            TlsBackend::Rustls => rustls_config(options).map(Self::Rustls),
            #[cfg(feature = "native-tls")]
            TlsBackend::NativeTls => native_connector(options).map(Self::Native),
        }
    }

    pub(crate) fn connector(&self) -> tungstenite::Connector {
        match self {
            Self::Rustls(config) => tungstenite::Connector::Rustls(Arc::clone(config)),
            #[cfg(feature = "native-tls")]
            Self::Native(connector) => tungstenite::Connector::NativeTls(connector.clone()),
        }
    }
}

fn parse_pem(index: usize, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadRoot {
            index,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::BadRoot {
            index,
            reason: "no CERTIFICATE block found".to_owned(),
        });
    }
    Ok(certs)
}

/// The rustls client configuration: an explicit aws-lc-rs provider (never the process
/// default, which rustls cannot always determine), safe default protocol versions, the
/// requested roots, no client certificate.
fn rustls_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    if options.webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for (index, pem) in options.extra_roots_pem.iter().enumerate() {
        for cert in parse_pem(index, pem)? {
            roots.add(cert).map_err(|e| TlsError::BadRoot {
                index,
                reason: e.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(feature = "native-tls")]
fn native_connector(options: &TlsOptions) -> Result<native_tls::TlsConnector, TlsError> {
    let mut builder = native_tls::TlsConnector::builder();
    for (index, pem) in options.extra_roots_pem.iter().enumerate() {
        // Validate with the same parser as rustls so both backends accept the same input.
        for der in parse_pem(index, pem)? {
            let cert =
                native_tls::Certificate::from_der(der.as_ref()).map_err(|e| TlsError::BadRoot {
                    index,
                    reason: e.to_string(),
                })?;
            builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| TlsError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_trusts_the_webpki_roots() {
        let tls = Tls::new(&TlsOptions::default());
        assert!(matches!(tls, Ok(Tls::Rustls(_))));
    }

    #[test]
    fn no_roots_at_all_is_refused() {
        let options = TlsOptions {
            webpki_roots: false,
            ..TlsOptions::default()
        };
        assert!(matches!(Tls::new(&options), Err(TlsError::NoRoots)));
    }

    #[test]
    fn garbage_and_empty_pem_are_typed_errors() {
        for (pem, what) in [
            (&b""[..], "empty"),
            (&b"not a certificate"[..], "no block"),
            (
                &b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"[..],
                "bad base64",
            ),
        ] {
            let options = TlsOptions {
                extra_roots_pem: vec![pem.to_vec()],
                ..TlsOptions::default()
            };
            match Tls::new(&options) {
                Err(TlsError::BadRoot { index: 0, .. }) => {}
                Err(e) => panic!("{what}: unexpected error {e}"),
                Ok(_) => panic!("{what}: accepted"),
            }
        }
    }

    #[test]
    fn debug_shows_counts_not_bytes() {
        let options = TlsOptions {
            extra_roots_pem: vec![b"-----BEGIN CERTIFICATE-----".to_vec()],
            ..TlsOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(shown.contains("extra_roots_pem: 1"), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");
    }
}
