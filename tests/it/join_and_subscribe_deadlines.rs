//! Deadlines for the namespace's answer and for each subscription's answer, so nothing waits
//! forever on a server that stays silent.

use crate::support::spaces::{OPEN, SpacesHarness};
use spaces_socket::client::ConnectFailure;
use spaces_socket::spaces::Input;
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};

#[test]
fn a_namespace_that_never_answers_its_connect_drops_the_connection_for_another_attempt() {
    let mut h = SpacesHarness::new(|c| c.join_timeout = std::time::Duration::from_secs(5));
    h.client.connect(h.now);
    h.put(Input::Token {
        token: &Token::jwt("t"),
        refreshes: false,
    });
    h.put(Input::Opened);
    h.put(Input::Text(OPEN));
    h.take_events();
    h.advance(4_900);
    assert!(h.take_events().is_empty(), "still waiting");
    h.advance(200);
    let events = h.take_events();
    assert!(
        matches!(
            &events[0],
            SpacesEvent::ConnectFailed {
                failure: ConnectFailure::NamespaceTimeout
            }
        ),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SpacesEvent::Reconnecting { .. })),
        "{events:?}"
    );
    assert!(!h.client.is_closed(), "it tries again");
}

#[test]
fn an_unanswered_subscription_is_reported_and_requested_again_on_the_next_connection() {
    let mut h = SpacesHarness::new(|c| c.subscribe_timeout = std::time::Duration::from_secs(3));
    h.client.subscribe(h.now, "s1", None);
    h.client.connect(h.now);
    h.connect_with("t");
    let first = h.take_texts();
    assert!(first.iter().any(|t| t.contains("SUBSCRIBE_CHANNEL")));
    h.client
        .send_message(h.now, SendMessage::chat("s1", "held"))
        .unwrap();
    h.take_events();
    h.advance(3_100);
    let events = h.take_events();
    assert!(
        matches!(&events[..], [SpacesEvent::SubscribeTimedOut { space }] if space == "s1"),
        "{events:?}"
    );
    assert_eq!(h.client.unconfirmed(), 1, "the message stays held");
    assert!(
        h.take_texts().is_empty(),
        "not sent without the subscription"
    );
    h.drop_connection();
    h.connect_with("t");
    let again = h.take_texts();
    assert!(
        again.iter().any(|t| t.contains("SUBSCRIBE_CHANNEL")),
        "{again:?}"
    );
    h.confirm_subscription("s1");
    assert!(
        h.take_texts()
            .iter()
            .any(|t| t.starts_with(r#"42/chat,["SEND_MESSAGE""#))
    );
}
