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
