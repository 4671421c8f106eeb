//! Auth failures, refused subscriptions, server rejections and client-side limits each give
//! a clear, typed outcome; nothing is dropped silently.

use std::time::Duration;

use crate::support::spaces::{SpacesHarness, loopback_of};
use spaces_socket::spaces::Input;
use spaces_socket::spaces::{SendError, SendFailure, SendMessage, SpacesEvent};

fn subscribed(tweak: impl FnOnce(&mut spaces_socket::spaces::SpacesConfig)) -> SpacesHarness {
    SpacesHarness::subscribed(tweak)
}

#[test]
fn an_expired_jwt_is_an_authentication_failure_that_closes_the_session() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.subscribe(h.now, "s1", None);
    h.client.connect(h.now);
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "queued"))
        .unwrap();
    h.put(Input::Token {
        token: &spaces_socket::spaces::Token::jwt("old"),
        refreshes: false,
    });
    h.put(Input::Opened);
    h.feed(crate::support::spaces::OPEN);
    h.feed(
        r#"44/chat,{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#,
    );
    let e = h.take_events();
    let auth = e.iter().find_map(|e| match e {
        SpacesEvent::AuthFailed(a) => Some(a.clone()),
        _ => None,
    });
    let auth = auth.expect("auth failure reported");
    assert_eq!(auth.message, "jwt expired");
    assert_eq!(auth.code.as_deref(), Some("invalid_token"));
    assert!(e.iter().any(|e| matches!(e, SpacesEvent::SendFailed { id: i, failure: SendFailure::Closed, .. } if *i == id)));
    assert!(matches!(e.last(), Some(SpacesEvent::Closed)));
    assert!(h.client.is_closed());
}

#[test]
fn oversize_payloads_are_refused_before_sending() {
    let mut h = subscribed(|_| {});
    let big = "x".repeat(16 * 1024);
    let err = h
        .client
        .send_message(h.now, SendMessage::chat("s1", big))
        .unwrap_err();
    assert!(
        matches!(err, SendError::TooLarge { limit: 16384, size } if size > 16384),
        "{err:?}"
    );
    assert!(h.take_texts().is_empty());
    assert_eq!(h.client.unconfirmed(), 0);
}

/// Times (ms since the start) at which SEND_MESSAGE or SUBSCRIBE_CHANNEL frames went out.
fn emitted_at(h: &mut SpacesHarness, into: &mut Vec<u64>) {
    let at = h.at();
    into.extend(
        h.take_texts()
            .iter()
            .filter(|t| t.starts_with("42/chat,"))
            .map(|_| at),
    );
}

#[test]
fn events_over_the_rate_limit_wait_their_turn_instead_of_bursting() {
    let mut h = SpacesHarness::new(|c| {
        c.rate_limit = 3;
        c.rate_window = Duration::from_secs(10);
    });
    h.client.subscribe(h.now, "s1", None);
    h.client.connect(h.now);
    h.connect_with("t");
    h.confirm_subscription("s1");
    let mut sent = Vec::new();
    emitted_at(&mut h, &mut sent); // the SUBSCRIBE_CHANNEL counts too
    for i in 0..4 {
        h.advance(1000);
        h.client
            .send_message(h.now, SendMessage::chat("s1", format!("{i}")))
            .expect("never refused for the rate alone");
        emitted_at(&mut h, &mut sent);
    }
    for _ in 0..30 {
        h.advance(500);
        emitted_at(&mut h, &mut sent);
    }
    assert_eq!(sent, [0, 1000, 2000, 10_000, 11_000], "{sent:?}");
    for (i, t) in sent.iter().enumerate() {
        let in_window = sent[i..].iter().filter(|u| **u < t + 10_000).count();
        assert!(
            in_window <= 3,
            "{in_window} events in the window from {t} ms"
        );
    }
}

#[test]
fn rate_limited_is_returned_only_when_the_queue_is_full_with_a_retry_time() {
    let mut h = subscribed(|c| {
        c.rate_limit = 1;
        c.rate_window = Duration::from_secs(10);
        c.max_held = 2;
    });
    h.advance(1000);
    for text in ["a", "b"] {
        h.client
            .send_message(h.now, SendMessage::chat("s1", text))
            .expect("queued behind the rate window");
    }
    let err = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "c"))
        .unwrap_err();
    assert_eq!(
        err,
        SendError::RateLimited {
            retry_after: Duration::from_secs(9)
        }
    );
    h.advance(9000);
    let texts = h.take_texts();
    let a = texts
        .iter()
        .find(|t| t.contains(r#""bodyText":"a""#))
        .expect("the first waiting message left");
    h.feed(&crate::support::spaces::echo_of(a, "m1"));
    assert!(
        h.client
            .send_message(h.now, SendMessage::chat("s1", "c"))
            .is_ok()
    );
}

#[test]
fn the_offline_queue_is_bounded() {
    let mut h = subscribed(|c| c.max_held = 2);
    h.put(Input::Closed { error: None });
    h.drain();
    h.client
        .send_message(h.now, SendMessage::chat("s1", "a"))
        .unwrap();
    h.client
        .send_message(h.now, SendMessage::chat("s1", "b"))
        .unwrap();
    let err = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "c"))
        .unwrap_err();
    assert_eq!(err, SendError::QueueFull { limit: 2 });
}

#[test]
fn sending_to_a_space_not_subscribed_is_refused() {
    let mut h = subscribed(|_| {});
    let err = h
        .client
        .send_message(h.now, SendMessage::chat("other", "a"))
        .unwrap_err();
    assert_eq!(err, SendError::NotSubscribed("other".into()));
}

#[test]
fn a_server_rejection_is_reported_for_that_message() {
    let mut h = subscribed(|_| {});
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "a"))
        .unwrap();
    let frame = h.take_texts().remove(0);
    let lb = loopback_of(&frame);
    h.server_event(
        "SEND_MESSAGE_FAILED",
        &format!(r#"{{"topicId":"s1","category":"chat","content":{{"bodyText":"a"}},"loopbackMetadata":"{lb}","error":"not.authorized.by.topic.policy"}}"#),
    );
    let e = h.take_events();
    assert!(
        matches!(&e[..], [SpacesEvent::SendFailed { id: i, failure: SendFailure::Rejected(err), .. }] if *i == id && err.contains("not.authorized")),
        "{e:?}"
    );
    assert_eq!(h.client.unconfirmed(), 0);
}

#[test]
fn a_refused_subscription_fails_the_messages_held_for_it() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.subscribe(h.now, "locked", Some("0000"));
    h.client.connect(h.now);
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("locked", "a"))
        .unwrap();
    h.connect_with("t");
    h.server_event(
        "SUBSCRIBE_CHANNEL_FAILED",
        r#"{"channel":{"_id":"locked","type":"topic"},"error":{"code":"wrong.password","message":"bad PIN"}}"#,
    );
    let e = h.take_events();
    assert!(e.iter().any(|e| matches!(e, SpacesEvent::SendFailed { id: i, failure: SendFailure::SubscriptionFailed, .. } if *i == id)));
    assert!(e.iter().any(|e| matches!(e, SpacesEvent::SubscribeFailed { space, error } if space == "locked" && error.contains("wrong.password"))));
    assert!(!h.take_texts().iter().any(|f| f.contains("SEND_MESSAGE")));
}

#[test]
fn unsubscribing_fails_held_messages_and_tells_the_server() {
    let mut h = subscribed(|_| {});
    h.client.subscribe(h.now, "s2", None);
    h.take_texts();
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s2", "held"))
        .unwrap();
    h.client.unsubscribe(h.now, "s2");
    let sent = h.take_texts();
    assert_eq!(
        sent,
        vec![r#"42/chat,["UNSUBSCRIBE_CHANNEL",{"channel":{"_id":"s2","type":"topic"}}]"#]
    );
    let e = h.take_events();
    assert!(e.iter().any(|e| matches!(e, SpacesEvent::SendFailed { id: i, failure: SendFailure::Unsubscribed, .. } if *i == id)));
}

#[test]
fn with_a_confirm_timeout_a_message_without_its_echo_fails_as_unconfirmed() {
    let mut h = subscribed(|c| c.confirm_timeout = Some(Duration::from_secs(5)));
    let lost = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "lost"))
        .unwrap();
    h.advance(1000);
    let echoed = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "ok"))
        .unwrap();
    let frames = h.take_texts();
    h.feed(&crate::support::spaces::echo_of(&frames[1], "m2"));
    h.advance(3999);
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, SpacesEvent::SendFailed { .. })),
        "not before five seconds"
    );
    h.advance(1);
    let e = h.take_events();
    let failed: Vec<_> = e
        .iter()
        .filter_map(|e| match e {
            SpacesEvent::SendFailed { id, failure, .. } => Some((*id, failure.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![(lost, SendFailure::Unconfirmed)]);
    assert_ne!(lost, echoed);
    assert_eq!(h.client.unconfirmed(), 0);
}

#[test]
fn without_a_confirm_timeout_a_message_waits_for_its_echo() {
    let mut h = subscribed(|_| {});
    h.client
        .send_message(h.now, SendMessage::chat("s1", "slow"))
        .unwrap();
    h.advance(20_000);
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, SpacesEvent::SendFailed { .. }))
    );
    assert_eq!(h.client.unconfirmed(), 1);
}

/// Settings the session owns are refused with a reason, never silently overwritten.
#[test]
fn settings_the_session_owns_are_refused_not_overwritten() {
    use spaces_socket::client::ConfigError;
    use spaces_socket::spaces::{Spaces, SpacesConfig};
    let config = || SpacesConfig::new("http://127.0.0.1:9/chat").expect("config");
    let refused = |c: SpacesConfig, what: &str| match Spaces::new(c) {
        Err(ConfigError::BadOption(reason)) => assert!(reason.contains(what), "{reason}"),
        other => panic!("{what}: {other:?}"),
    };
    let mut c = config();
    c.client.namespace = "/other".to_owned();
    refused(c, "client.namespace");
    let mut c = config();
    c.client.fresh_query_per_connection = false;
    refused(c, "client.fresh_query_per_connection");
    let mut c = config();
    c.client.max_attachments = 3;
    refused(c, "client.max_attachments");
    // With binary events the attachment limit is the user's; 0 says what the session does.
    let mut c = config();
    c.client.max_attachments = 3;
    c.binary_events = true;
    assert!(Spaces::new(c).is_ok());
    let mut c = config();
    c.client.max_attachments = 0;
    assert!(Spaces::new(c).is_ok());
}
