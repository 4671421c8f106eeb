//! The `native-tls` backend (`--features native-tls`) against a loopback `wss://` server whose
//! certificate comes from a private CA: trusted once the CA is in `extra_roots_pem`, refused
//! with a certificate error without it (certificate checks are on), and an unusable extra root
//! is a typed error at start.
//!
//! The server is rustls (futures-rustls, a dependency already) with the root crate's fixtures
//! `tests/fixtures/tls-test-*` (see `tls_with_a_private_ca.rs`): a CA, and a leaf for
//! `DNS:localhost, IP:127.0.0.1` signed by it. It speaks just enough Engine.IO and Socket.IO
//! to let the session connect.
#![cfg(feature = "native-tls")]

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use async_net::TcpListener;
use async_tungstenite::tungstenite::Message;
use futures_lite::{StreamExt, future};
use futures_rustls::TlsAcceptor;
use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer};
use futures_rustls::rustls::{ServerConfig, crypto};
use spaces_socket::client::ConnectFailure;
use spaces_socket::spaces::{SpacesConfig, SpacesEvent, Token};
use spaces_socket_async_io::{Client, Error, Options, TlsBackend, TlsError, TlsOptions};

use crate::support::fixture;

const OPEN: &str = r#"0{"sid":"tls-test","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;
const TOKEN: &str = "s3cr3t-native-token";
/// Longest wait for any one step.
const BOUND: Duration = Duration::from_secs(15);

/// Serves one TLS connection on a free loopback port: the websocket upgrade, the Engine.IO
/// open packet, then `40/chat` in answer to the client's `/chat` CONNECT. Returns the port and
/// a channel that gets the CONNECT frame, or why the connection failed.
fn serve_once() -> (u16, mpsc::Receiver<Result<String, String>>) {
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
    let listener = async_io::block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        async_io::block_on(async move {
            let saw = async {
                let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
                let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
                let mut ws = async_tungstenite::accept_async(tls)
                    .await
                    .map_err(|e| e.to_string())?;
                ws.send(Message::text(OPEN))
                    .await
                    .map_err(|e| e.to_string())?;
                ws.send(Message::text("40"))
                    .await
                    .map_err(|e| e.to_string())?;
                while let Some(message) = ws.next().await {
                    if let Message::Text(text) = message.map_err(|e| e.to_string())?
                        && text.starts_with("40/chat")
                    {
                        ws.send(Message::text("40/chat"))
                            .await
                            .map_err(|e| e.to_string())?;
                        let connect = text.to_string();
                        // Keep the socket open until the client closes it.
                        while let Some(Ok(_)) = ws.next().await {}
                        return Ok(connect);
                    }
                }
                Err("the client left before its /chat CONNECT".to_owned())
            };
            let _ = tx.send(saw.await);
        });
    });
    (port, rx)
}

/// Starts a session with the native-tls backend, one connection attempt only (a refused
/// certificate must end the session rather than retry), its driver on a thread of its own.
fn start(url: &str, extra_roots_pem: Vec<Vec<u8>>) -> Client {
    let mut config = SpacesConfig::new(url).expect("url");
    config.client.reconnection = false;
    let mut options = Options::default();
    options.connect_timeout = Duration::from_secs(5);
    options.tls.backend = TlsBackend::NativeTls;
    options.tls.extra_roots_pem = extra_roots_pem;
    let (client, driver) =
        spaces_socket_async_io::start(config, Token::jwt(TOKEN), options).expect("session builds");
    thread::spawn(move || async_io::block_on(driver));
    client
}

/// Events until `pred` matches or the events end, within [`BOUND`].
async fn events_until(client: &Client, pred: impl Fn(&SpacesEvent) -> bool) -> Vec<SpacesEvent> {
    let mut seen = Vec::new();
    let collect = async {
        while let Some(event) = client.next_event().await {
            let done = pred(&event);
            seen.push(event);
            if done {
                break;
            }
        }
    };
    let timeout = async {
        async_io::Timer::after(BOUND).await;
    };
    future::or(collect, timeout).await;
    seen
}

#[test]
fn native_tls_trusts_the_private_ca_given_in_extra_roots_pem() {
    let (port, server) = serve_once();
    let ca = fixture("tls-test-ca.pem");
    let client = start(&format!("wss://localhost:{port}/chat"), vec![ca]);
    async_io::block_on(async {
        let seen = events_until(&client, |e| matches!(e, SpacesEvent::Connected)).await;
        assert!(
            matches!(seen.last(), Some(SpacesEvent::Connected)),
            "not connected over native TLS: {seen:#?}"
        );
        client.close().await;
        let saw = server
            .recv_timeout(BOUND)
            .expect("the server reports within the bound");
        assert_eq!(
            saw.as_deref(),
            Ok(format!("40/chat?tokenType=jwt&token={TOKEN},").as_str())
        );
    });
}

#[test]
fn native_tls_without_the_private_ca_refuses_the_certificate() {
    let (port, _server) = serve_once();
    let client = start(&format!("wss://localhost:{port}/chat"), Vec::new());
    async_io::block_on(async {
        let seen = events_until(&client, |e| matches!(e, SpacesEvent::Closed)).await;
        let reason = seen
            .iter()
            .find_map(|e| match e {
                SpacesEvent::ConnectFailed {
                    failure: ConnectFailure::Transport(reason),
                } => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no ConnectFailed(Transport): {seen:#?}"));
        assert!(
            reason.starts_with("TLS handshake with localhost failed:")
                && reason.contains("certificate"),
            "the reason names the certificate problem: {reason}"
        );
        assert!(
            !reason.contains(TOKEN),
            "the reason leaks the token: {reason}"
        );
        eprintln!("refused as expected: {reason}");
        assert!(
            !seen.iter().any(|e| matches!(e, SpacesEvent::Connected)),
            "{seen:#?}"
        );
        // The session has ended by itself, so close() returns at once.
        future::or(client.close(), async {
            async_io::Timer::after(BOUND).await;
            panic!("close() after the session ended did not return");
        })
        .await;
        assert!(client.is_closed());
    });
}

#[test]
fn native_tls_refuses_an_unusable_extra_root_at_start() {
    for (pem, what) in [
        (&b"no pem here"[..], "no certificate block"),
        (
            &b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..],
            "not a certificate",
        ),
    ] {
        let mut tls = TlsOptions::default();
        tls.backend = TlsBackend::NativeTls;
        tls.extra_roots_pem = vec![pem.to_vec()];
        let mut options = Options::default();
        options.tls = tls;
        let config = SpacesConfig::new("wss://localhost:9/chat").expect("url");
        match spaces_socket_async_io::start(config, Token::jwt(TOKEN), options) {
            Err(Error::Tls(TlsError::BadRoot { index: 0, .. })) => {}
            Err(e) => panic!("{what}: unexpected error {e}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}
