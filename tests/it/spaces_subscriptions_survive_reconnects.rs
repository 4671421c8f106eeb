//! Wanted spaces are subscribed on every connection, and messages wait for their space.

use crate::support::spaces::{SpacesHarness, echo_of};
use spaces_socket::spaces::{SendMessage, SpacesEvent};

fn subscribe_frame(space: &str) -> String {
    format!(r#"42/chat,["SUBSCRIBE_CHANNEL",{{"channel":{{"_id":"{space}","type":"topic"}}}}]"#)
}

#[test]
fn subscriptions_are_replayed_after_every_reconnect() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.subscribe(h.now, "s1", None);
    h.client.subscribe(h.now, "s2", None);
    h.client.connect(h.now);
    h.connect_with("t");
    let sent = h.take_texts();
    assert!(
        sent.ends_with(&[subscribe_frame("s1"), subscribe_frame("s2")]),
        "{sent:?}"
    );
    h.confirm_subscription("s1");
    assert!(h.client.is_subscribed("s1"));
    for round in 0..3 {
        h.drop_connection();
        assert!(!h.client.is_subscribed("s1"));
        h.connect_with("t");
        let sent = h.take_texts();
        assert!(
            sent.ends_with(&[subscribe_frame("s1"), subscribe_frame("s2")]),
            "round {round}: {sent:?}"
        );
    }
}

#[test]
fn messages_sent_offline_are_delivered_in_order_after_resubscription() {
    let mut h = SpacesHarness::subscribed(|_| {});
    h.drop_connection();
    let ids: Vec<_> = (0..4)
        .map(|i| {
            h.client
                .send_message(h.now, SendMessage::chat("s1", format!("line {i}")))
                .unwrap()
        })
        .collect();
    assert_eq!(h.client.unconfirmed(), 4);
    h.connect_with("t");
    let before = h.take_texts();
    assert!(
        !before.iter().any(|f| f.contains("SEND_MESSAGE")),
        "held until subscribed: {before:?}"
    );
    h.confirm_subscription("s1");
    let sends = h.take_texts();
    assert_eq!(sends.len(), 4);
    for (i, f) in sends.iter().enumerate() {
        assert!(f.contains(&format!("line {i}")), "order: {sends:?}");
    }
    for (i, f) in sends.iter().enumerate() {
        h.feed(&echo_of(f, &format!("m{i}")));
    }
    let confirmed: Vec<_> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            SpacesEvent::Confirmed { id, message } => Some((id, message.id.clone())),
            _ => None,
        })
        .collect();
    let expected: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, Some(format!("m{i}"))))
        .collect();
    assert_eq!(confirmed, expected);
    assert_eq!(h.client.unconfirmed(), 0);
}

#[test]
fn a_message_in_flight_when_the_link_drops_is_sent_again_and_confirmed_once() {
    let mut h = SpacesHarness::subscribed(|_| {});
    let id = h
        .client
        .send_message(h.now, SendMessage::chat("s1", "hi"))
        .unwrap();
    let first = h.take_texts();
    assert_eq!(first.len(), 1);
    h.drop_connection();
    h.connect_with("t");
    h.take_texts();
    h.confirm_subscription("s1");
    let again = h.take_texts();
    assert_eq!(again, first, "same frame, same loopbackMetadata");
    h.feed(&echo_of(&again[0], "m1"));
    h.feed(&echo_of(&again[0], "m1"));
    let e = h.take_events();
    let confirmations = e
        .iter()
        .filter(|e| matches!(e, SpacesEvent::Confirmed { id: i, .. } if *i == id))
        .count();
    assert_eq!(confirmations, 1);
}

#[test]
fn the_own_loopback_value_of_the_caller_is_restored_in_the_confirmation() {
    let mut h = SpacesHarness::subscribed(|_| {});
    h.take_events();
    let mut msg = SendMessage::chat("s1", "hi");
    msg.loopback_metadata = Some("mine".into());
    h.client.send_message(h.now, msg).unwrap();
    let f = h.take_texts();
    h.feed(&echo_of(&f[0], "m1"));
    let e = h.take_events();
    assert!(
        matches!(&e[..], [SpacesEvent::Confirmed { message, .. }] if message.loopback_metadata.as_deref() == Some("mine"))
    );
}

#[test]
fn others_messages_and_unknown_events_pass_through() {
    let mut h = SpacesHarness::new(|_| {});
    h.client.subscribe(h.now, "s1", None);
    h.client.connect(h.now);
    h.connect_with("t");
    h.take_events();
    h.server_event(
        "MESSAGE_SENT",
        r#"{"_id":"x","topicId":"s1","category":"chat","content":{"bodyText":"yo"},"brandNew":1}"#,
    );
    h.feed(r#"42/chat,["SOMETHING_NEW",{"a":[1,2]},"second"]"#);
    h.server_event("MESSAGE_SENT", r#""not an object""#);
    let e = h.take_events();
    assert!(matches!(&e[0], SpacesEvent::Message(m) if m.extra.get("brandNew").is_some()));
    assert!(
        matches!(&e[1], SpacesEvent::Unrecognized { name, args, malformed: false }
            if name == "SOMETHING_NEW" && args.to_json() == r#"[{"a":[1,2]},"second"]"#),
        "{e:?}"
    );
    assert!(
        matches!(&e[2], SpacesEvent::Unrecognized { name, malformed: true, .. } if name == "MESSAGE_SENT")
    );
}

#[test]
fn subscriptions_replayed_on_joining_go_out_at_once_over_a_full_rate_window() {
    // Seed 2396 of the 100,000-seed sweep: the window was full of the last connection's
    // events when the server came back, so the replayed SUBSCRIBE_CHANNELs waited half a
    // minute behind the pacer: joined, healthy-looking and deaf.
    let mut h = SpacesHarness::new(|c| {
        c.rate_limit = 3;
        c.rate_window = std::time::Duration::from_secs(60);
    });
    h.client.subscribe(h.now, "s1", None);
    h.client.subscribe(h.now, "s2", None);
    h.client.connect(h.now);
    h.connect_with("t");
    h.confirm_subscription("s1");
    h.confirm_subscription("s2");
    h.client
        .send_message(h.now, SendMessage::chat("s1", "fills the window"))
        .unwrap();
    let sent: Vec<String> = h
        .take_texts()
        .into_iter()
        .filter(|t| t.starts_with("42/chat,"))
        .collect();
    assert_eq!(sent.len(), 3, "two subscriptions and a message: {sent:?}");
    h.drop_connection();
    h.connect_with("t");
    let sent = h.take_texts();
    assert!(
        sent.ends_with(&[subscribe_frame("s1"), subscribe_frame("s2")]),
        "the subscriptions waited for the window: {sent:?}"
    );
    // They count in the window: the message re-sent after them waits for its turn.
    h.confirm_subscription("s1");
    assert!(h.client.is_subscribed("s1"));
    assert_eq!(h.take_texts(), Vec::<String>::new(), "the window is full");
    assert_eq!(h.client.paced(), 1);
}

#[test]
fn a_subscription_asked_for_while_connected_still_waits_for_the_rate_window() {
    let mut h = SpacesHarness::new(|c| {
        c.rate_limit = 1;
        c.rate_window = std::time::Duration::from_secs(10);
    });
    h.client.subscribe(h.now, "s1", None);
    h.client.connect(h.now);
    h.connect_with("t");
    h.confirm_subscription("s1");
    h.take_texts();
    h.client.subscribe(h.now, "s2", None);
    assert_eq!(h.take_texts(), Vec::<String>::new(), "paced");
    h.advance(10_000);
    assert_eq!(h.take_texts(), vec![subscribe_frame("s2")]);
}
