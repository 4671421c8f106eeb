//! Authentication failures told apart from errors: a refusal before joining stops a fixed
//! token, a refreshing source retries a bounded number of times, and an error packet on a
//! joined connection is only an event.

use std::time::SystemTime;

use crate::support::spaces::{OPEN, SpacesHarness};
use spaces_socket::spaces::Input;
use spaces_socket::spaces::{SpacesEvent, Token, TokenProvider, token_fn};

const REFUSAL: &str =
    r#"44/chat,{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#;

/// A token source that mints `t1`, `t2`, … (it refreshes).
fn minting() -> impl TokenProvider {
    let mut n = 0;
    token_fn(move |_| {
        n += 1;
        Ok(Token::jwt(format!("t{n}")))
    })
}

/// Runs the session's timers until it asks for a token, answers it from `tokens`, then opens
/// the websocket and feeds the open packet; returns the token the attempt carried.
fn next_attempt(h: &mut SpacesHarness, tokens: &mut dyn TokenProvider) -> String {
    for _ in 0..200 {
        h.drain();
        if h.token_requests.pop().is_some() {
            let token = tokens.token(SystemTime::UNIX_EPOCH).expect("a token");
            let refreshes = tokens.refreshes();
            h.put(Input::Token {
                token: &token,
                refreshes,
            });
            let url = h.take_open_url().expect("an Open after the token");
            h.put(Input::Opened);
            h.put(Input::Text(OPEN));
            let token = url.split("token=").nth(1).unwrap_or_default();
            return token.split('&').next().unwrap_or_default().to_owned();
        }
        h.advance(500);
    }
    panic!("no connection attempt");
}

#[test]
fn a_fixed_token_refused_before_joining_closes_the_session() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.connect(h.now);
    h.put(Input::Token {
        token: &Token::jwt("fixed"),
        refreshes: false,
    });
    h.put(Input::Opened);
    h.put(Input::Text(OPEN));
    h.take_events();
    h.feed(REFUSAL);
    let events = h.take_events();
    assert!(
        matches!(&events[0], SpacesEvent::AuthFailed(f) if f.message == "jwt expired"),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(SpacesEvent::Closed)),
        "{events:?}"
    );
    assert!(h.client.is_closed());
}

/// Issue 16 (2): a fixed token stays fixed behind the wrappers a program puts it in (a box,
/// a box of a box, a `&mut`): the first refusal ends the session, no `AuthRetrying`.
#[test]
fn a_boxed_or_borrowed_fixed_token_refused_is_not_retried() {
    let boxed: Box<dyn TokenProvider> = Box::new(Token::oauth("BAD"));
    let mut wrapped = Box::new(boxed);
    let mut plain = Token::oauth("BAD");
    let mut borrowed = &mut plain;
    let providers: [&mut dyn TokenProvider; 2] = [&mut wrapped, &mut borrowed];
    for tokens in providers {
        let mut h = SpacesHarness::new(|_| {});
        h.client.connect(h.now);
        next_attempt(&mut h, tokens);
        h.take_events();
        h.feed(REFUSAL);
        let events = h.take_events();
        assert!(
            matches!(&events[0], SpacesEvent::AuthFailed(f) if f.message == "jwt expired"),
            "{events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, SpacesEvent::AuthRetrying { .. })),
            "{events:?}"
        );
        assert!(h.client.is_closed(), "{events:?}");
    }
}

#[test]
fn a_refreshing_token_source_retries_with_fresh_tokens_then_gives_up() {
    let mut h = SpacesHarness::new(|c| c.auth_retries = 2);
    let mut tokens = minting();
    h.client.connect(h.now);
    let mut carried = Vec::new();
    let mut retries = Vec::new();
    for _ in 0..3 {
        carried.push(next_attempt(&mut h, &mut tokens));
        h.take_events();
        h.feed(REFUSAL);
        for event in h.take_events() {
            match event {
                SpacesEvent::AuthRetrying { retry, .. } => retries.push(retry),
                SpacesEvent::AuthFailed(_) => retries.push(0),
                _ => {}
            }
        }
    }
    assert_eq!(
        carried,
        ["t1", "t2", "t3"],
        "a fresh token for every attempt"
    );
    assert_eq!(retries, [1, 2, 0], "two retries, then it gives up");
    assert!(h.client.is_closed());
}

#[test]
fn a_successful_join_resets_the_retry_budget() {
    let mut h = SpacesHarness::new(|c| c.auth_retries = 1);
    let mut tokens = minting();
    h.client.connect(h.now);
    next_attempt(&mut h, &mut tokens);
    h.feed(REFUSAL);
    next_attempt(&mut h, &mut tokens);
    h.feed("40/chat");
    assert!(h.client.is_connected());
    h.put(Input::Closed { error: None });
    next_attempt(&mut h, &mut tokens);
    h.take_events();
    h.feed(REFUSAL);
    let events = h.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SpacesEvent::AuthRetrying { retry: 1, .. })),
        "{events:?}"
    );
}

#[test]
fn an_error_packet_after_joining_is_an_event_and_the_connection_stays() {
    let mut h = SpacesHarness::subscribed(|_| {});
    h.feed(r#"44/chat,{"message":"slow down","code":"rate"}"#);
    let events = h.take_events();
    assert!(
        matches!(&events[..], [SpacesEvent::ServerError(e)] if e.message == "slow down" && e.code.as_deref() == Some("rate")),
        "{events:?}"
    );
    assert!(h.client.is_connected());
    assert!(h.take_texts().is_empty(), "nothing closed, nothing re-sent");
}

#[test]
fn an_http_401_or_403_on_the_upgrade_refuses_the_credentials() {
    for status in [401, 403] {
        let mut h = SpacesHarness::new(|_| {});
        h.client.connect(h.now);
        h.put(Input::Token {
            token: &Token::jwt("fixed"),
            refreshes: false,
        });
        h.take_open_url().expect("an Open");
        h.take_events();
        h.put(Input::UpgradeRefused { status });
        let events = h.take_events();
        assert!(
            matches!(&events[0], SpacesEvent::AuthFailed(f) if f.code.as_deref() == Some(&*status.to_string())),
            "{status}: {events:?}"
        );
        assert!(h.client.is_closed());
    }
    // Another status is an ordinary failed attempt: reconnection goes on.
    let mut h = SpacesHarness::new(|_| {});
    h.client.connect(h.now);
    h.put(Input::Token {
        token: &Token::jwt("fixed"),
        refreshes: false,
    });
    h.take_open_url().expect("an Open");
    h.put(Input::UpgradeRefused { status: 502 });
    let events = h.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SpacesEvent::ConnectFailed { .. })),
        "{events:?}"
    );
    assert!(!h.client.is_closed());
}
