//! `wss://` through a TLS-terminating proxy in front of the Node server, with a certificate
//! from a private CA: trusted once the CA is added with `TlsOptions::extra_roots_pem`, refused
//! without it (certificate checks are on).
//!
//! Fixtures (`tests/fixtures/tls-test-*`, P-256, valid until 2126) were made with openssl:
//! a CA (`basicConstraints=critical,CA:TRUE`, `keyUsage=keyCertSign,cRLSign`) and a leaf for
//! `DNS:localhost, IP:127.0.0.1` (`extendedKeyUsage=serverAuth`) signed by it; the leaf key
//! is PKCS#8.
use std::sync::Arc;

use futures_lite::{future, io};
use futures_rustls::TlsAcceptor;
use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer};
use futures_rustls::rustls::{ServerConfig, crypto};
use spaces_socket::client::ConnectFailure;
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::on_smol;
use crate::support::{STEP, expect_event, fixture, peer, subscribe, test_config, within};

/// Accepts TLS on a free loopback port and relays the plaintext to `backend_port`; returns
/// the port. Runs on smol's executor until the test process ends.
fn tls_proxy(backend_port: u16) -> u16 {
    let leaf = fixture("tls-test-localhost.pem");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&leaf)
        .collect::<Result<_, _>>()
        .expect("leaf certificate fixture");
    let key = fixture("tls-test-localhost.key");
    let key = PrivateKeyDer::from_pem_slice(&key).expect("leaf key fixture");
    let config =
        ServerConfig::builder_with_provider(Arc::new(crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener =
        smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind the proxy");
    let port = listener.local_addr().expect("proxy address").port();
    smol::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            smol::spawn(async move {
                // A client that refuses our certificate ends here.
                let Ok(tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(backend) = smol::net::TcpStream::connect(("127.0.0.1", backend_port)).await
                else {
                    return;
                };
                let (from_client, to_client) = io::split(tls);
                let upstream = io::copy(from_client, backend.clone());
                let downstream = io::copy(backend, to_client);
                let _ = future::or(upstream, downstream).await;
            })
            .detach();
        }
    })
    .detach();
    port
}

#[test]
fn a_private_ca_added_to_the_roots_is_trusted() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let port = tls_proxy(peer.port());
    let mut options = Options::default();
    options.tls.extra_roots_pem = vec![fixture("tls-test-ca.pem")];
    let url = format!("https://localhost:{port}/chat");
    let client = on_smol(test_config(&url), Token::jwt("alice"), options);
    smol::block_on(async {
        subscribe(&client, "s1").await;
        let id = client
            .send_message(SendMessage::chat("s1", "over tls"))
            .expect("accepted");
        expect_event(
            &client,
            "Confirmed over TLS",
            |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
        )
        .await;
        within("close()", STEP, client.close()).await;
    });
}

#[test]
fn without_the_private_ca_the_certificate_is_refused() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let port = tls_proxy(peer.port());
    let url = format!("https://localhost:{port}/chat");
    let client = on_smol(test_config(&url), Token::jwt("alice"), Options::default());
    smol::block_on(async {
        let failed = expect_event(&client, "ConnectFailed for an unknown issuer", |e| {
            matches!(e, SpacesEvent::ConnectFailed { .. })
        })
        .await;
        let SpacesEvent::ConnectFailed {
            failure: ConnectFailure::Transport(reason),
        } = failed
        else {
            panic!("expected a transport failure, got {failed:?}");
        };
        assert!(
            reason.contains("TLS handshake") && reason.contains("certificate"),
            "{reason}"
        );
        assert!(
            !reason.contains("token"),
            "the reason must not carry the URL: {reason}"
        );
        within("close()", STEP, client.close()).await;
        expect_event(&client, "Closed", |e| matches!(e, SpacesEvent::Closed)).await;
    });
}
