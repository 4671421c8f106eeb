//! A refused token ends the session: `AuthFailed`, then `Closed`, then the events end, and
//! every command says `Error::Closed`.

use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_async_io::{Error, Options};

use crate::on_smol;
use crate::support::{STEP, expect_event, peer, test_config, within};

#[test]
fn an_expired_token_ends_the_session_with_auth_failed() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let config = test_config(&peer.url("/chat"));
    let client = on_smol(config, Token::jwt("expired"), Options::default());
    smol::block_on(async {
        let failed = expect_event(&client, "AuthFailed", |e| {
            matches!(e, SpacesEvent::AuthFailed(_))
        })
        .await;
        let SpacesEvent::AuthFailed(failure) = failed else {
            unreachable!("matched above")
        };
        assert_eq!(failure.message, "jwt expired");
        assert_eq!(failure.code.as_deref(), Some("invalid_token"));
        expect_event(&client, "Closed", |e| matches!(e, SpacesEvent::Closed)).await;
        assert!(
            within("the end of the events", STEP, client.next_event())
                .await
                .is_none()
        );

        // The driver has ended: every call says so at once, close() returns at once.
        within("close() on an ended session", STEP, client.close()).await;
        assert!(client.is_closed());
        assert_eq!(client.subscribe("s1", None), Err(Error::Closed));
        assert_eq!(
            client.send_message(SendMessage::chat("s1", "x")),
            Err(Error::Closed)
        );
    });
}

#[test]
fn an_http_401_on_the_upgrade_ends_a_fixed_token_session_with_auth_failed() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(4) {
            let Ok(mut tcp) = tcp else { return };
            let _ = tcp.set_read_timeout(Some(STEP));
            let _ = tcp.read(&mut [0u8; 4096]);
            let answer =
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = tcp.write_all(answer.as_bytes());
        }
    });
    let config = test_config(&format!("http://127.0.0.1:{port}/chat"));
    let client = on_smol(config, Token::jwt("fixed"), Options::default());
    smol::block_on(async {
        let failed = expect_event(&client, "AuthFailed", |e| {
            matches!(e, SpacesEvent::AuthFailed(_))
        })
        .await;
        assert!(
            matches!(&failed, SpacesEvent::AuthFailed(f) if f.code.as_deref() == Some("401")),
            "{failed:?}"
        );
        expect_event(&client, "Closed", |e| matches!(e, SpacesEvent::Closed)).await;
    });
}
