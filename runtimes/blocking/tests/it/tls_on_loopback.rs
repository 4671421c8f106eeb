//! TLS with certificate checks on, against a loopback `wss://` server using a self-signed
//! certificate generated at test time: trusted through `extra_roots_pem`, refused (as a typed
//! `ConnectFailed`) without it or when the name does not match.

use crate::support::{BOUND, events_through as events_until};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use spaces_socket::client::ConnectFailure;
use spaces_socket::spaces::{SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::{Client, Options, TlsOptions, connect};
use tungstenite::Message;

const OPEN: &str = r#"0{"sid":"tls-test","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;

struct Cert {
    pem: String,
    config: Arc<rustls::ServerConfig>,
}

fn self_signed(names: &[&str]) -> Cert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server cert");
    Cert {
        pem: certified.cert.pem(),
        config: Arc::new(config),
    }
}

/// What the server thread saw on its single connection.
#[derive(Debug)]
enum ServerSaw {
    /// TLS and the upgrade succeeded; the `/chat` CONNECT frame that arrived.
    Connect(String),
    /// The connection failed: why.
    Failed(String),
}

/// Serves one `wss://127.0.0.1:PORT` connection: TLS, websocket upgrade, the Engine.IO open
/// packet, then `40/chat` in answer to the client's `/chat` CONNECT. Every read is bounded.
fn serve_once(cert: &Cert) -> (u16, mpsc::Receiver<ServerSaw>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = Arc::clone(&cert.config);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let saw = (|| -> Result<String, String> {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(BOUND))
                .map_err(|e| e.to_string())?;
            tcp.set_write_timeout(Some(BOUND))
                .map_err(|e| e.to_string())?;
            let conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
            let tls = rustls::StreamOwned::new(conn, tcp);
            let mut ws = tungstenite::accept(tls).map_err(|e| e.to_string())?;
            ws.send(Message::text(OPEN)).map_err(|e| e.to_string())?;
            ws.send(Message::text("40")).map_err(|e| e.to_string())?;
            loop {
                match ws.read().map_err(|e| e.to_string())? {
                    Message::Text(t) if t.starts_with("40/chat") => {
                        ws.send(Message::text("40/chat"))
                            .map_err(|e| e.to_string())?;
                        // Wait for the client's close so it is answered cleanly.
                        while ws.read().is_ok() {}
                        return Ok(t.to_string());
                    }
                    _ => {}
                }
            }
        })();
        let _ = tx.send(match saw {
            Ok(connect) => ServerSaw::Connect(connect),
            Err(e) => ServerSaw::Failed(e),
        });
    });
    (port, rx)
}

fn client(url: &str, tls: TlsOptions) -> Client {
    let mut config = SpacesConfig::new(url).expect("url");
    // One attempt only: a refused certificate must end the session rather than retry.
    config.client.reconnection = false;
    let mut options = Options::default();
    options.connect_timeout = Duration::from_secs(5);
    options.tls = tls;
    connect(config, Token::jwt("tls-user"), options).expect("client builds")
}

fn transport_failure(events: &[SpacesEvent]) -> Option<&str> {
    events.iter().find_map(|e| match e {
        SpacesEvent::ConnectFailed {
            failure: ConnectFailure::Transport(reason),
        } => Some(reason.as_str()),
        _ => None,
    })
}

#[test]
fn a_private_root_given_in_extra_roots_pem_is_trusted() {
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let (port, server) = serve_once(&cert);
    // The private root alone must be enough.
    let tls = TlsOptions::default()
        .with_extra_root(cert.pem.clone())
        .without_webpki_roots();
    let mut c = client(&format!("https://127.0.0.1:{port}/chat"), tls);
    let seen = events_until(&mut c, |e| matches!(e, SpacesEvent::Connected));
    assert!(
        matches!(seen.last(), Some(SpacesEvent::Connected)),
        "not connected over TLS: {seen:#?}"
    );
    c.close();
    assert!(c.is_closed());
    match server.recv_timeout(BOUND).expect("server thread reports") {
        ServerSaw::Connect(frame) => {
            assert_eq!(frame, "40/chat?tokenType=jwt&token=tls-user,");
        }
        other => panic!("server side: {other:?}"),
    }
}

#[test]
fn an_unknown_issuer_is_refused_with_a_typed_connect_failure() {
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let (port, server) = serve_once(&cert);
    // Default TLS options: the public webpki roots only.
    let mut c = client(
        &format!("wss://127.0.0.1:{port}/chat"),
        TlsOptions::default(),
    );
    let seen = events_until(&mut c, |_| false);
    let reason = transport_failure(&seen)
        .unwrap_or_else(|| panic!("no ConnectFailed(Transport): {seen:#?}"));
    assert!(
        reason.starts_with("TLS handshake failed:") && reason.contains("UnknownIssuer"),
        "reason names the certificate problem: {reason}"
    );
    assert!(c.is_closed());
    assert!(!seen.iter().any(|e| matches!(e, SpacesEvent::Connected)));
    match server.recv_timeout(BOUND).expect("server thread reports") {
        // (tungstenite drops the stream on a handshake error, so rustls' queued alert is
        // never flushed: the server sees the connection end.)
        ServerSaw::Failed(why) => eprintln!("server saw: {why}"),
        other => panic!("the server must not have completed a session: {other:?}"),
    }
}

#[test]
fn a_trusted_certificate_for_another_name_is_refused() {
    let cert = self_signed(&["spaces.example.test"]);
    let (port, server) = serve_once(&cert);
    let tls = TlsOptions::default().with_extra_root(cert.pem.clone());
    let mut c = client(&format!("wss://127.0.0.1:{port}/chat"), tls);
    let seen = events_until(&mut c, |_| false);
    let reason = transport_failure(&seen)
        .unwrap_or_else(|| panic!("no ConnectFailed(Transport): {seen:#?}"));
    assert!(
        reason.starts_with("TLS handshake failed:") && reason.contains("not valid for name"),
        "{reason}"
    );
    match server.recv_timeout(BOUND).expect("server thread reports") {
        ServerSaw::Failed(why) => eprintln!("server saw: {why}"),
        other => panic!("the server must not have completed a session: {other:?}"),
    }
}

#[test]
fn a_malformed_extra_root_is_refused_when_building() {
    let tls = TlsOptions::default()
        .with_extra_root(&b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n"[..]);
    let config = SpacesConfig::new("wss://127.0.0.1:9/chat").expect("url");
    let mut options = Options::default();
    options.tls = tls;
    let err = connect(config, Token::jwt("t"), options).unwrap_err();
    assert!(
        matches!(
            err,
            spaces_socket_blocking::Error::Tls(spaces_socket_blocking::TlsError::BadRoot {
                index: 0,
                ..
            })
        ),
        "{err}"
    );
}

/// The same checks through the platform library (`--features native-tls`).
#[cfg(feature = "native-tls")]
mod native {
    use super::*;
    use spaces_socket_blocking::TlsBackend;

    #[test]
    fn native_tls_trusts_an_extra_root() {
        let cert = self_signed(&["localhost", "127.0.0.1"]);
        let (port, server) = serve_once(&cert);
        let tls = TlsOptions::default()
            .with_extra_root(cert.pem.clone())
            .with_backend(TlsBackend::NativeTls);
        let mut c = client(&format!("wss://127.0.0.1:{port}/chat"), tls);
        let seen = events_until(&mut c, |e| matches!(e, SpacesEvent::Connected));
        assert!(
            matches!(seen.last(), Some(SpacesEvent::Connected)),
            "not connected over native TLS: {seen:#?}"
        );
        c.close();
        assert!(matches!(
            server.recv_timeout(BOUND).expect("server thread reports"),
            ServerSaw::Connect(_)
        ));
    }

    #[test]
    fn native_tls_refuses_an_unknown_issuer() {
        let cert = self_signed(&["localhost", "127.0.0.1"]);
        let (port, _server) = serve_once(&cert);
        let tls = TlsOptions::default().with_backend(TlsBackend::NativeTls);
        let mut c = client(&format!("wss://127.0.0.1:{port}/chat"), tls);
        let seen = events_until(&mut c, |_| false);
        let reason = transport_failure(&seen)
            .unwrap_or_else(|| panic!("no ConnectFailed(Transport): {seen:#?}"));
        assert!(reason.contains("certificate"), "{reason}");
        assert!(c.is_closed());
    }
}
