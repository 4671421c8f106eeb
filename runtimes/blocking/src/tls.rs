//! TLS for `wss://` connections: the connector of the chosen backend, built once per client by
//! `spaces-socket-tls` (which owns [`TlsOptions`] and [`TlsError`] for every runtime) and
//! wrapped for tungstenite.

use std::sync::Arc;

use spaces_socket_tls::{TlsBackend, TlsError, TlsOptions};

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
            TlsBackend::Rustls => {
                spaces_socket_tls::rustls_client_config(options).map(Self::Rustls)
            }
            #[cfg(feature = "native-tls")]
            TlsBackend::NativeTls => {
                spaces_socket_tls::native_tls_connector(options).map(Self::Native)
            }
            // Another crate may turn on a backend this crate was built without.
            other => Err(TlsError::BackendUnavailable(other)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backend_gets_its_own_connector() {
        let tls = Tls::new(&TlsOptions::default());
        assert!(matches!(tls, Ok(Tls::Rustls(_))));
        #[cfg(feature = "native-tls")]
        {
            let options = TlsOptions::default().with_backend(TlsBackend::NativeTls);
            assert!(matches!(Tls::new(&options), Ok(Tls::Native(_))));
        }
    }

    #[test]
    fn refusals_come_from_the_shared_builders() {
        let options = TlsOptions::default().without_webpki_roots();
        assert!(matches!(Tls::new(&options), Err(TlsError::NoRoots)));
    }
}
