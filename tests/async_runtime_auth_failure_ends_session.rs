//! A refused token ends the session: `AuthFailed`, then `Closed`, then the stream ends, and
//! the handles report `ClientClosed`.
mod async_support;
mod support;

use async_support::{STEP, expect_event, test_config, within};
use futures_lite::StreamExt;
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_smol::{ClientClosed, RuntimeSendError};

#[test]
fn an_expired_token_ends_the_session_with_auth_failed() {
    let peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
    let (handle, mut events) =
        spaces_socket_smol::connect(test_config(&peer.url("/chat")), Token::jwt("expired"))
            .expect("valid config");
    smol::block_on(async {
        let failed = expect_event(&mut events, "AuthFailed", |e| {
            matches!(e, SpacesEvent::AuthFailed(_))
        })
        .await;
        let SpacesEvent::AuthFailed(failure) = failed else {
            unreachable!("matched above")
        };
        assert_eq!(failure.message, "jwt expired");
        assert_eq!(failure.code.as_deref(), Some("invalid_token"));
        expect_event(&mut events, "Closed", |e| matches!(e, SpacesEvent::Closed)).await;
        assert!(
            within("the end of the stream", STEP, events.next())
                .await
                .is_none()
        );

        // The driver has ended: every call says so at once, close() returns at once.
        within("close() on an ended session", STEP, handle.close()).await;
        assert!(handle.is_closed());
        assert_eq!(handle.subscribe("s1", None).await, Err(ClientClosed));
        assert_eq!(
            handle.send_message(SendMessage::chat("s1", "x")).await,
            Err(RuntimeSendError::Closed(ClientClosed))
        );
    });
}
