//! The TLS settings of every spaces-socket runtime, defined once: [`TlsOptions`] (which roots
//! to trust, which [`TlsBackend`]), [`TlsError`], and the builders that turn the options into
//! a connector. Every runtime re-exports these types, so switching runtime keeps the same TLS
//! configuration code.
//!
//! # Backends
//!
//! - [`TlsBackend::Rustls`] (the default): rustls with the **aws-lc-rs** provider passed
//!   explicitly (never a process-wide default provider, which rustls cannot always pick and
//!   then panics), Mozilla's roots from `webpki-roots` unless [`TlsOptions::webpki_roots`] is
//!   off, plus [`TlsOptions::extra_roots_pem`]. Build it with [`rustls_client_config`].
//! - `TlsBackend::NativeTls`, with the **`native-tls`** cargo feature (OpenSSL on Linux, so it
//!   needs libssl-dev and pkg-config to build): the platform library, trusting the system's
//!   roots plus [`TlsOptions::extra_roots_pem`]. Build it with `native_tls_connector`.
//!
//! Certificates and host names are always verified; there is no switch to turn that off. Both
//! backends parse [`TlsOptions::extra_roots_pem`] with the same PEM parser, so they accept and
//! refuse the same input.
//!
//! # Example
//!
//! ```
//! use spaces_socket_runtime::{TlsOptions, rustls_client_config};
//!
//! # fn example(private_ca_pem: Vec<u8>) -> Result<(), spaces_socket_runtime::TlsError> {
//! // Trust a private CA only (say a staging server behind a TLS-terminating proxy).
//! let options = TlsOptions::default()
//!     .with_extra_root(private_ca_pem)
//!     .without_webpki_roots();
//! let config = rustls_client_config(&options)?;
//! # drop(config);
//! # Ok(())
//! # }
//! ```
use core::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Which TLS library secures `wss://` connections. Certificates are verified by either.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsBackend {
    /// rustls with the aws-lc-rs crypto provider (the default; no system library needed),
    /// trusting [`TlsOptions::webpki_roots`] and [`TlsOptions::extra_roots_pem`].
    #[default]
    Rustls,
    /// The platform library through `native-tls` (OpenSSL on Linux, Secure Transport on macOS,
    /// SChannel on Windows), trusting the system's roots plus [`TlsOptions::extra_roots_pem`].
    /// Needs the `native-tls` cargo feature.
    #[cfg(feature = "native-tls")]
    NativeTls,
}

/// TLS settings for `wss://` connections. Start from [`TlsOptions::default`] (rustls,
/// Mozilla's roots) and change it with the `with_*` methods or by assigning the fields.
/// Certificates are always verified.
///
/// `Debug` shows how many extra roots there are, not their bytes.
#[non_exhaustive]
#[derive(Clone)]
pub struct TlsOptions {
    /// Extra trusted root certificates, each a PEM document holding one or more
    /// `CERTIFICATE` blocks: for a private CA (a staging server, a TLS-terminating proxy) or a
    /// test server. Both backends trust them in addition to their usual roots. Empty by
    /// default.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Trust the Mozilla roots shipped in `webpki-roots` (default true; rustls only, the
    /// native backend always trusts the system's roots). Turn it off to trust
    /// [`TlsOptions::extra_roots_pem`] alone.
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

impl TlsOptions {
    /// Also trusts the certificates of `pem` (one or more `CERTIFICATE` blocks), appended to
    /// [`TlsOptions::extra_roots_pem`].
    #[must_use]
    pub fn with_extra_root(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// Stops trusting Mozilla's roots ([`TlsOptions::webpki_roots`] off; rustls only), so
    /// only [`TlsOptions::extra_roots_pem`] is trusted.
    #[must_use]
    pub fn without_webpki_roots(mut self) -> Self {
        self.webpki_roots = false;
        self
    }

    /// Selects the TLS library ([`TlsOptions::backend`]).
    #[must_use]
    pub fn with_backend(mut self, backend: TlsBackend) -> Self {
        self.backend = backend;
        self
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

/// Why [`TlsOptions`] could not be turned into a connector.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// An entry of [`TlsOptions::extra_roots_pem`] is not PEM, holds no certificate, or holds a
    /// certificate that cannot be used as a trust anchor (by either backend).
    #[error("extra root certificate #{index}: {reason}")]
    BadRoot {
        /// Its position in [`TlsOptions::extra_roots_pem`].
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No root certificate is trusted at all ([`TlsOptions::webpki_roots`] is off and no extra
    /// root was given), so no server could ever be verified. Rustls only: the native backend
    /// always has the system's roots.
    #[error("no trusted root certificates: enable webpki_roots or add extra_roots_pem")]
    NoRoots,
    /// The TLS library refused the configuration: the rustls provider refused the protocol
    /// versions (not expected with aws-lc-rs), or the platform library (`native-tls`) could
    /// not build a connector.
    #[error("TLS configuration refused: {0}")]
    Config(String),
    /// The selected [`TlsBackend`] is not compiled into the runtime asked to use it.
    /// `TlsBackend::NativeTls` exists as soon as any crate in the build turns on
    /// `spaces-socket-runtime/native-tls`, but each runtime needs its own `native-tls` feature to
    /// drive it: turn that on, or choose [`TlsBackend::Rustls`].
    #[error(
        "TLS backend {0:?} is not compiled into this runtime (enable its `native-tls` feature)"
    )]
    BackendUnavailable(TlsBackend),
}

/// The certificates of the PEM document at `index` of [`TlsOptions::extra_roots_pem`]; an
/// error when it is not PEM or holds no certificate. Both backends use it.
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

/// The rustls client configuration for `options` (whatever its [`TlsOptions::backend`]): the
/// aws-lc-rs provider passed explicitly, safe default protocol versions, the requested roots,
/// no client certificate. Build it once and share it across connections; tungstenite's
/// `Connector::Rustls` and `futures_rustls::TlsConnector::from` both take it as is.
///
/// Sessions asking for the same roots get the same configuration while any of them holds it
/// (a root store and a resumption cache are about 23 KiB, too much to keep per connection).
///
/// # Errors
/// [`TlsError::BadRoot`] for an unusable extra root, [`TlsError::NoRoots`] when nothing would
/// be trusted, [`TlsError::Config`] if the provider refuses the protocol versions.
pub fn rustls_client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    type Shared = Vec<(bool, Vec<Vec<u8>>, Weak<rustls::ClientConfig>)>;
    static SHARED: Mutex<Shared> = Mutex::new(Vec::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    // Forget the configurations no session holds any more, so the list stays short.
    shared.retain(|(.., config)| config.strong_count() > 0);
    let same = |(webpki, extra, _): &&(bool, Vec<Vec<u8>>, _)| {
        *webpki == options.webpki_roots && *extra == options.extra_roots_pem
    };
    if let Some(config) = shared.iter().find(same).and_then(|(.., c)| c.upgrade()) {
        return Ok(config);
    }
    let config = build_rustls_config(options)?;
    let key = (options.webpki_roots, options.extra_roots_pem.clone());
    shared.push((key.0, key.1, Arc::downgrade(&config)));
    Ok(config)
}

fn build_rustls_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsError> {
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

/// The platform library's builder with the system's roots plus the extra ones, not yet
/// checked by the library.
#[cfg(feature = "native-tls")]
fn native_tls_roots(options: &TlsOptions) -> Result<native_tls::TlsConnectorBuilder, TlsError> {
    let mut builder = native_tls::TlsConnector::builder();
    for (index, pem) in options.extra_roots_pem.iter().enumerate() {
        for der in parse_pem(index, pem)? {
            let cert =
                native_tls::Certificate::from_der(der.as_ref()).map_err(|e| TlsError::BadRoot {
                    index,
                    reason: e.to_string(),
                })?;
            builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// The platform library's connector for `options` (whatever its [`TlsOptions::backend`]):
/// the system's roots plus [`TlsOptions::extra_roots_pem`]. Build it once and clone it for
/// each connection (tungstenite's `Connector::NativeTls` takes it as is).
///
/// # Errors
/// [`TlsError::BadRoot`] for an unusable extra root, [`TlsError::Config`] when the platform
/// library refuses the configuration.
#[cfg(feature = "native-tls")]
pub fn native_tls_connector(options: &TlsOptions) -> Result<native_tls::TlsConnector, TlsError> {
    native_tls_roots(options)?
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// Like [`native_tls_connector`], but returns the builder, for libraries that take one and
/// build a connector per connection (async-native-tls 0.6 has no public way to wrap a built
/// connector). The configuration is built once here, so a refusal is a [`TlsError`] now
/// rather than a failure at every connection.
///
/// # Errors
/// As [`native_tls_connector`].
#[cfg(feature = "native-tls")]
pub fn native_tls_builder(
    options: &TlsOptions,
) -> Result<native_tls::TlsConnectorBuilder, TlsError> {
    let builder = native_tls_roots(options)?;
    builder
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &[u8] = include_bytes!("../../../tests/fixtures/tls-test-ca.pem");

    /// PEM input no backend can use, with what is wrong with it.
    const UNUSABLE: [(&[u8], &str); 4] = [
        (b"", "empty"),
        (b"not a certificate", "no block"),
        (
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "bad base64",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a certificate",
        ),
    ];

    #[test]
    fn default_trusts_the_webpki_roots() {
        let options = TlsOptions::default();
        assert!(options.webpki_roots);
        assert_eq!(options.backend, TlsBackend::Rustls);
        assert!(rustls_client_config(&options).is_ok());
    }

    #[test]
    fn no_roots_at_all_is_refused() {
        let options = TlsOptions::default().without_webpki_roots();
        assert_eq!(
            rustls_client_config(&options).err(),
            Some(TlsError::NoRoots)
        );
    }

    #[test]
    fn a_private_ca_alone_is_enough() {
        let options = TlsOptions::default()
            .with_extra_root(CA)
            .without_webpki_roots();
        assert!(rustls_client_config(&options).is_ok());
    }

    #[test]
    fn garbage_and_empty_pem_are_typed_errors() {
        for (pem, what) in UNUSABLE {
            match rustls_client_config(&TlsOptions::default().with_extra_root(pem)) {
                Err(TlsError::BadRoot { index: 0, .. }) => {}
                Err(e) => panic!("{what}: unexpected error {e}"),
                Ok(_) => panic!("{what}: accepted"),
            }
        }
    }

    #[test]
    fn the_error_names_the_bad_entry() {
        let options = TlsOptions::default()
            .with_extra_root(CA)
            .with_extra_root(&b"no pem here"[..]);
        match rustls_client_config(&options) {
            Err(TlsError::BadRoot { index: 1, .. }) => {}
            other => panic!("expected BadRoot #1, got {:?}", other.err()),
        }
    }

    #[test]
    fn debug_shows_counts_not_bytes() {
        let options = TlsOptions::default().with_extra_root(&b"-----BEGIN CERTIFICATE-----"[..]);
        let shown = format!("{options:?}");
        assert!(shown.contains("extra_roots_pem: 1"), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");
    }

    #[cfg(feature = "native-tls")]
    #[test]
    fn native_tls_accepts_a_private_ca() {
        let options = TlsOptions::default()
            .with_backend(TlsBackend::NativeTls)
            .with_extra_root(CA);
        assert!(native_tls_connector(&options).is_ok());
        assert!(native_tls_builder(&options).is_ok());
    }

    #[cfg(feature = "native-tls")]
    #[test]
    fn native_tls_refuses_the_same_pem_as_rustls() {
        for (pem, what) in UNUSABLE {
            let options = TlsOptions::default()
                .with_backend(TlsBackend::NativeTls)
                .with_extra_root(pem);
            match native_tls_connector(&options) {
                Err(TlsError::BadRoot { index: 0, .. }) => {}
                Err(e) => panic!("{what}: unexpected error {e}"),
                Ok(_) => panic!("{what}: accepted"),
            }
            assert!(
                matches!(
                    native_tls_builder(&options),
                    Err(TlsError::BadRoot { index: 0, .. })
                ),
                "{what}: builder accepted"
            );
        }
    }
}
