//! Confirmation that does not depend on typing the whole echo, and the delivery policy for a
//! message whose connection drops before its echo.

use std::time::Duration;

use crate::support::spaces::{SpacesHarness, echo_of, loopback_of};
use spaces_socket::spaces::{Delivery, SendFailure, SendId, SendMessage, SpacesEvent};

/// The frame's SEND_MESSAGE payload with `edit` applied, echoed as MESSAGE_SENT.
fn echo_edited(frame: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let echo = echo_of(frame, "m1");
    let json = echo.trim_start_matches("42/chat,");
    let mut v: serde_json::Value = serde_json::from_str(json).expect("echo json");
    edit(&mut v[1]);
    format!("42/chat,{v}")
}

fn confirmed(events: &[SpacesEvent]) -> Vec<SendId> {
    events
        .iter()
        .filter_map(|e| match e {
            SpacesEvent::Confirmed { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn failures(events: &[SpacesEvent]) -> Vec<(SendId, SendFailure)> {
    events
        .iter()
        .filter_map(|e| match e {
            SpacesEvent::SendFailed { id, failure, .. } => Some((*id, failure.clone())),
            _ => None,
        })
        .collect()
}

fn sends(texts: &[String]) -> usize {
    texts
        .iter()
        .filter(|t| t.starts_with(r#"42/chat,["SEND_MESSAGE""#))
        .count()
}

#[test]
fn an_echo_with_fields_of_unexpected_types_still_confirms_and_keeps_them_raw() {
    let mut h = SpacesHarness::subscribed(|_| {});
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "hi"))
        .unwrap();
    let frame = h.take_texts().remove(0);
    h.feed(&echo_edited(&frame, |m| {
        m["version"] = serde_json::json!(3);
        m["mentions"] = serde_json::json!({"u2": true});
        m["content"]["assignees"] = serde_json::json!(["u1", "u2"]);
    }));
    let events = h.take_events();
    let [SpacesEvent::Confirmed { id: got, message }] = &events[..] else {
        panic!("expected only our confirmation: {events:?}");
    };
    assert_eq!(*got, id);
    assert_eq!(message.version, None);
    assert_eq!(message.extra["version"], serde_json::json!(3));
    assert_eq!(message.extra["mentions"], serde_json::json!({"u2": true}));
    let content = message.content.as_ref().expect("content");
    assert_eq!(content.body_text.as_deref(), Some("hi"));
    assert_eq!(content.extra["assignees"], serde_json::json!(["u1", "u2"]));
}

#[test]
fn an_echo_without_loopback_metadata_confirms_the_oldest_message_with_its_text() {
    let mut h = SpacesHarness::subscribed(|_| {});
    let a = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "same & <text>"))
        .unwrap();
    let b = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "same & <text>"))
        .unwrap();
    let frames = h.take_texts();
    let strip = |m: &mut serde_json::Value| {
        m.as_object_mut().unwrap().remove("loopbackMetadata");
        // What a server that renders HTML would echo.
        m["content"]["bodyText"] = serde_json::json!("<p>same &amp; &lt;text&gt;</p>");
    };
    // Someone else's message in another space with the same text is not ours.
    h.server_event(
        "MESSAGE_SENT",
        r#"{"_id":"x","category":"chat","topicId":"s2","content":{"bodyText":"same & <text>"}}"#,
    );
    h.feed(&echo_edited(&frames[1], strip));
    h.feed(&echo_edited(&frames[0], strip));
    let events = h.take_events();
    assert!(matches!(&events[0], SpacesEvent::Message(m) if m.id.as_deref() == Some("x")));
    assert_eq!(confirmed(&events), vec![a, b], "oldest first: {events:?}");
    assert_eq!(events.len(), 3, "{events:?}");
}

#[test]
fn at_most_once_fails_a_written_message_on_a_drop_and_never_writes_it_again() {
    let mut h = SpacesHarness::subscribed(|c| c.delivery = Delivery::AtMostOnce);
    let written = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "once"))
        .unwrap();
    assert_eq!(sends(&h.take_texts()), 1);
    h.drop_connection();
    let events = h.take_events();
    assert_eq!(
        failures(&events),
        vec![(written, SendFailure::MaybeDelivered)]
    );
    h.connect_with("t");
    h.confirm_subscription("s1");
    assert_eq!(sends(&h.take_texts()), 0, "never written twice");
    assert_eq!(h.client.unconfirmed(), 0);
}

#[test]
fn at_least_once_re_sends_up_to_the_limit_then_reports_it_may_be_delivered() {
    let mut h = SpacesHarness::subscribed(|c| {
        c.delivery = Delivery::AtLeastOnce { max_resends: 1 };
    });
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "again"))
        .unwrap();
    assert_eq!(sends(&h.take_texts()), 1);
    h.drop_connection();
    h.connect_with("t");
    h.confirm_subscription("s1");
    assert_eq!(
        sends(&h.take_texts()),
        1,
        "re-sent once after resubscribing"
    );
    assert!(failures(&h.take_events()).is_empty());
    h.drop_connection();
    assert_eq!(
        failures(&h.take_events()),
        vec![(id, SendFailure::MaybeDelivered)]
    );
    h.connect_with("t");
    h.confirm_subscription("s1");
    assert_eq!(sends(&h.take_texts()), 0, "the limit holds");
}

#[test]
fn a_message_whose_echo_never_comes_fails_after_the_default_confirm_timeout() {
    let mut h = SpacesHarness::subscribed(|_| {});
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "lost"))
        .unwrap();
    h.take_texts();
    h.advance(59_000);
    assert!(failures(&h.take_events()).is_empty());
    h.advance(Duration::from_secs(2).as_millis() as u64);
    assert_eq!(
        failures(&h.take_events()),
        vec![(id, SendFailure::Unconfirmed)]
    );
}

/// A message re-sent after a drop exists twice at the server: the original (accepted on the
/// dead connection) and the resend. Their copies come back in either order.
fn resent_message(h: &mut SpacesHarness, text: &str) -> (SendId, String) {
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", text))
        .unwrap();
    h.take_texts();
    h.drop_connection();
    h.connect_with("t");
    h.confirm_subscription("s1");
    let resend = h
        .take_texts()
        .into_iter()
        .find(|t| t.starts_with(r#"42/chat,["SEND_MESSAGE""#))
        .expect("the resend");
    h.take_events();
    (id, resend)
}

/// `frame`'s echo as another socket gets it: no `loopbackMetadata`.
fn broadcast_of(frame: &str, id: &str) -> String {
    echo_edited(frame, |m| {
        m.as_object_mut().unwrap().remove("loopbackMetadata");
        m["_id"] = serde_json::json!(id);
    })
}

fn messages(events: &[SpacesEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, SpacesEvent::Message(_)))
        .count()
}

#[test]
fn our_echo_after_the_original_copy_confirmed_a_resend_is_not_someone_elses_message() {
    // Seed 38803 of the 100,000-seed sweep: the original's broadcast (no loopbackMetadata)
    // reaches the new connection first and confirms; then the resend's own echo arrives.
    let mut h = SpacesHarness::subscribed(|_| {});
    let (id, resend) = resent_message(&mut h, "twice");
    h.feed(&broadcast_of(&resend, "m-original"));
    h.feed(&echo_of(&resend, "m-resend"));
    let events = h.take_events();
    assert_eq!(confirmed(&events), vec![id]);
    assert_eq!(
        messages(&events),
        0,
        "our own echo came back as a Message: {events:?}"
    );
}

#[test]
fn the_original_copy_after_our_echo_confirmed_a_resend_is_not_someone_elses_message() {
    let mut h = SpacesHarness::subscribed(|_| {});
    let (id, resend) = resent_message(&mut h, "twice");
    h.feed(&echo_of(&resend, "m-resend"));
    h.feed(&broadcast_of(&resend, "m-original"));
    let events = h.take_events();
    assert_eq!(confirmed(&events), vec![id]);
    assert_eq!(
        messages(&events),
        0,
        "the late original came back as a Message: {events:?}"
    );
}

#[test]
fn both_copies_of_a_resend_from_a_server_that_drops_loopback_metadata_confirm_once() {
    // Seeds 63282 and 99260: neither copy carries loopbackMetadata.
    let mut h = SpacesHarness::subscribed(|_| {});
    let (id, resend) = resent_message(&mut h, "twice");
    h.feed(&broadcast_of(&resend, "m-original"));
    h.feed(&broadcast_of(&resend, "m-resend"));
    let events = h.take_events();
    assert_eq!(confirmed(&events), vec![id]);
    assert_eq!(messages(&events), 0, "{events:?}");
}

#[test]
fn the_same_text_from_someone_else_after_a_resend_is_still_delivered() {
    let mut h = SpacesHarness::subscribed(|_| {});
    let (id, resend) = resent_message(&mut h, "ok");
    h.feed(&echo_of(&resend, "m-resend"));
    // Another user says the same thing: a different sender, so not a copy of ours.
    h.feed(&echo_edited(&resend, |m| {
        m.as_object_mut().unwrap().remove("loopbackMetadata");
        m["_id"] = serde_json::json!("m-other");
        m["sender"] = serde_json::json!({"_id": "u2", "type": "user"});
    }));
    let events = h.take_events();
    assert_eq!(confirmed(&events), vec![id]);
    assert_eq!(messages(&events), 1, "{events:?}");
}

#[test]
fn an_echo_tagged_by_another_session_is_a_message_not_our_confirmation() {
    // A server that echoes loopbackMetadata to every socket of the user: the same user's
    // other session, of this crate too, sends the same text with the same message number.
    let mut h = SpacesHarness::subscribed(|_| {});
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "hi"))
        .unwrap();
    let ours = h.take_texts().remove(0);
    let mut other = SpacesHarness::subscribed(|c| c.client.rng_seed = Some(12));
    other
        .client
        .send_message(other.now, SendMessage::chat("s1", "hi"))
        .unwrap();
    let theirs = other.take_texts().remove(0);
    assert_ne!(
        loopback_of(&ours),
        loopback_of(&theirs),
        "sessions share a tag"
    );
    h.feed(&echo_of(&theirs, "m-theirs"));
    h.feed(&echo_of(&ours, "m-ours"));
    let events = h.take_events();
    assert_eq!(messages(&events), 1, "{events:?}");
    assert_eq!(confirmed(&events), vec![id]);
}
