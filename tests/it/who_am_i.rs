//! Who am I: the session learns its own user from the first echo that carries its tag (or from
//! `SpacesConfig::user_id`), and then tells messages of its own user from other connections
//! (`SpacesEvent::OwnMessage`) from everyone else's; a bot built on it never answers itself.

use spaces_socket::bot::{Bot, Ctx, Host};
use spaces_socket::spaces::{SendMessage, SpacesEvent};

use crate::support::spaces::{SpacesHarness, echo_of};

/// A MESSAGE_SENT in `s1` from `sender` with `text`, as another connection would cause it.
fn message_from(h: &mut SpacesHarness, id: &str, sender: &str, text: &str) {
    h.server_event(
        "MESSAGE_SENT",
        &format!(
            r#"{{"_id":"{id}","category":"chat","topicId":"s1","sender":{{"_id":"{sender}","type":"user"}},"content":{{"bodyText":"{text}"}}}}"#
        ),
    );
}

/// What kind of message event each one is: `Message`, `OwnMessage`, `Confirmed`.
fn kinds(events: &[SpacesEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            SpacesEvent::Message(_) => Some("Message"),
            SpacesEvent::OwnMessage(_) => Some("OwnMessage"),
            SpacesEvent::Confirmed { .. } => Some("Confirmed"),
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_echo_with_our_tag_names_our_user_and_it_survives_reconnects() {
    let mut h = SpacesHarness::subscribed(|_| {});
    // Before we know who we are, our user's other connection looks like anyone else.
    message_from(&mut h, "a", "u1", "from my phone");
    assert_eq!(h.client.me(), None);
    h.client
        .send_message(h.now, SendMessage::chat("s1", "hi"))
        .unwrap();
    let frame = h.take_texts().remove(0);
    h.feed(&echo_of(&frame, "m1")); // sender u1, with our loopbackMetadata
    assert_eq!(h.client.me(), Some("u1"));
    message_from(&mut h, "b", "u1", "from my phone again");
    message_from(&mut h, "c", "u2", "from someone else");
    let events = h.take_events();
    assert_eq!(
        kinds(&events),
        ["Message", "Confirmed", "OwnMessage", "Message"],
        "{events:?}"
    );
    h.drop_connection();
    h.connect_with("t");
    assert_eq!(h.client.me(), Some("u1"), "kept across a reconnection");
}

#[test]
fn an_echo_matched_only_by_its_text_confirms_but_does_not_name_us() {
    let mut h = SpacesHarness::subscribed(|_| {});
    h.client
        .send_message(h.now, SendMessage::chat("s1", "same words"))
        .unwrap();
    h.take_texts();
    // A server that drops loopbackMetadata: the echo is matched by space and text, which an
    // identical message of someone else could match too.
    message_from(&mut h, "m1", "u9", "same words");
    assert_eq!(kinds(&h.take_events()), ["Confirmed"]);
    assert_eq!(h.client.me(), None);
}

#[test]
fn a_configured_user_id_marks_our_other_connections_before_we_send_anything() {
    let mut h = SpacesHarness::subscribed(|c| c.user_id = Some("u1".into()));
    assert_eq!(h.client.me(), Some("u1"));
    message_from(&mut h, "a", "u1", "from my phone");
    message_from(&mut h, "b", "u2", "from someone else");
    let events = h.take_events();
    assert_eq!(kinds(&events), ["OwnMessage", "Message"], "{events:?}");
    let SpacesEvent::OwnMessage(own) = &events[0] else {
        unreachable!()
    };
    assert!(h.client.is_own(own));
}

/// Answers every `Message` with "echo: <text>" and counts what it skipped as its own.
#[derive(Default)]
struct Echo {
    skipped_own: usize,
}

impl Bot for Echo {
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        match event {
            SpacesEvent::Message(m) => {
                let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
                let _ = ctx.send_text("s1", &format!("echo: {}", text.unwrap_or("")));
            }
            SpacesEvent::OwnMessage(m) if ctx.is_own(m) => self.skipped_own += 1,
            _ => {}
        }
    }
}

#[test]
fn an_echo_bot_with_its_user_configured_never_answers_itself() {
    let mut h = SpacesHarness::subscribed(|c| c.user_id = Some("bot".into()));
    let mut host = Host::new(Echo::default(), 1);
    host.start(&mut h.client, h.now);
    message_from(&mut h, "a", "bot", "said by my other instance");
    message_from(&mut h, "b", "alice", "hello");
    for event in h.take_events() {
        host.handle_event(&mut h.client, h.now, &event);
    }
    let sent = h.take_texts();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains(r#""bodyText":"echo: hello""#), "{sent:?}");
    assert_eq!(host.bot().skipped_own, 1);
}
