//! An HTTP 401 or 403 answer to the websocket upgrade refuses the credentials, like a
//! `44/chat` before joining: a fixed token ends the session with `AuthFailed`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use crate::support::{BOUND, drain_until_closed};
use spaces_socket::spaces::{SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::{Options, connect};

/// A server that answers every upgrade request with `status`.
fn refusing_server(status: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for tcp in listener.incoming().take(8) {
            let Ok(mut tcp) = tcp else { return };
            let _ = tcp.set_read_timeout(Some(BOUND));
            let mut request = [0u8; 4096];
            let _ = tcp.read(&mut request);
            let answer =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tcp.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn an_http_401_or_403_on_the_upgrade_ends_a_fixed_token_session_with_auth_failed() {
    for (status, code) in [("401 Unauthorized", "401"), ("403 Forbidden", "403")] {
        let port = refusing_server(status);
        let config = SpacesConfig::new(&format!("http://127.0.0.1:{port}/chat")).expect("url");
        let mut client =
            connect(config, Token::jwt("fixed"), Options::default()).expect("client builds");
        let events = drain_until_closed(&mut client, "client", BOUND);
        assert!(
            events.iter().any(
                |e| matches!(e, SpacesEvent::AuthFailed(f) if f.code.as_deref() == Some(code))
            ),
            "{status}: {events:#?}"
        );
        assert!(client.is_closed());
    }
}
