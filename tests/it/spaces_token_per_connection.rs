//! Every (re)connection asks for a fresh token and carries it in the handshake URL and the
//! `/chat` CONNECT query; tokens never reach `Debug` output.

use crate::support::spaces::SpacesHarness;
use spaces_socket::spaces::Input;
use spaces_socket::spaces::{SpacesEvent, Token};

#[test]
fn each_connection_uses_the_token_given_for_it() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.connect(h.now);
    assert!(h.take_events().is_empty());
    assert_eq!(h.token_requests, [0]);
    assert_eq!(h.take_open_url(), None, "nothing opens before the token");
    h.put(Input::Token {
        token: &Token::jwt("first.jwt.token"),
        refreshes: false,
    });
    assert_eq!(
        h.take_open_url().unwrap(),
        "ws://127.0.0.1:9/socket.io/?tokenType=jwt&token=first.jwt.token&EIO=3&transport=websocket"
    );
    h.put(Input::Opened);
    h.feed(crate::support::spaces::OPEN);
    assert_eq!(
        h.take_texts(),
        vec!["40/chat?tokenType=jwt&token=first.jwt.token,"]
    );
    h.feed("40/chat");
    assert!(h.client.is_connected());

    h.drop_connection();
    h.put(Input::Token {
        token: &Token::oauth("second"),
        refreshes: false,
    });
    let url = h.take_open_url().unwrap();
    assert!(url.contains("tokenType=oauth&token=second&EIO=3"), "{url}");
}

#[test]
fn a_token_error_fails_the_attempt_and_retries_later() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.connect(h.now);
    h.take_events();
    let err = spaces_socket::spaces::AuthError::Provider("key file unreadable".into());
    h.put(Input::TokenFailed(&err));
    let e = h.take_events();
    assert!(
        e.iter()
            .any(|e| matches!(e, SpacesEvent::ConnectFailed { .. }))
    );
    h.advance(2_000);
    assert!(h.token_requests.contains(&1), "{:?}", h.token_requests);
}

#[test]
fn tokens_and_session_ids_never_appear_in_debug_output() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.connect(h.now);
    h.connect_with("SECRET_TOKEN_VALUE");
    h.client.subscribe(h.now, "s1", Some("PIN_9876"));
    h.drain();
    let shown = format!("{:?} {:?} {:?}", h.client, h.transmits, h.events);
    for secret in ["SECRET_TOKEN_VALUE", "SID_SECRET", "PIN_9876"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}
