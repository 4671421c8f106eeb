//! `replay`: a recording (`chat --record FILE`) played back against the core. The checked-in
//! fixture is a real session (chat against the Node socket.io 2.0.4 server, cut by the server
//! and reconnected), the way a user's file becomes a regression test.

use spaces_socket_emulator::replay::{Mismatch, ReplayError, replay};

/// chat --record through a server-side cut: subscribe (with a PIN), send, cut, reconnect,
/// resubscribe, send, close.
const FIXTURE: &str = include_str!("../fixtures/chat-reconnect.jsonl");

/// The fixture with the first line that contains `find` changed by `edit`, and that line's
/// number (from 1).
fn edited(find: &str, edit: impl Fn(&str) -> String) -> (String, usize) {
    let index = FIXTURE.lines().position(|l| l.contains(find));
    let index = index.unwrap_or_else(|| panic!("no line with {find:?} in the fixture"));
    let lines: Vec<String> = FIXTURE
        .lines()
        .enumerate()
        .map(|(i, l)| if i == index { edit(l) } else { l.to_owned() })
        .collect();
    (lines.join("\n"), index + 1)
}

/// The number (from 1) of the first line after `after` that contains `find`.
fn line_of(text: &str, after: usize, find: &str) -> usize {
    let found = text
        .lines()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l.contains(find));
    found
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no {find:?}"))
}

#[test]
fn a_checked_in_recording_replays_to_the_same_events() {
    let replayed = replay(FIXTURE).expect("a replayable recording");
    assert_eq!(replayed.mismatch, None);
    let recorded: Vec<serde_json::Value> = FIXTURE
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .filter(|l| l["kind"] == "event")
        .map(|l| l["event"].clone())
        .collect();
    assert_eq!(replayed.events, recorded);
    let names: Vec<&str> = replayed
        .events
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    let expected = [
        "Connected",
        "Subscribed",
        "Confirmed",
        "Disconnected",
        "Reconnecting",
        "Connected",
        "Subscribed",
        "Confirmed",
    ];
    assert_eq!(names, expected);
    let opens = replayed.frames.iter().filter(|f| f.get("open").is_some());
    assert_eq!(opens.count(), 2);
}

#[test]
fn redacted_session_ids_tokens_and_pins_still_replay() {
    // What the recorder hid, the core never needed back.
    for hidden in [
        r#"\"sid\":\"<redacted>\""#,
        "token=<redacted>",
        r#""password":"<redacted>""#,
    ] {
        assert!(FIXTURE.contains(hidden), "the fixture has no {hidden}");
    }
    // Nor does it need the placeholder itself: any other value replays the same.
    let other = FIXTURE.replace(r#"\"sid\":\"<redacted>\""#, r#"\"sid\":\"another\""#);
    assert_eq!(replay(&other).expect("replayable").mismatch, None);
}

#[test]
fn an_edited_incoming_frame_is_reported_at_the_first_line_that_differs() {
    let (text, edited_line) = edited(
        r#"MESSAGE_SENT\",{\"category\":\"chat\",\"content\":{\"bodyText\":\"after"#,
        |l| l.replace("after the cut", "changed by hand"),
    );
    let mismatch = replay(&text)
        .expect("replayable")
        .mismatch
        .expect("a mismatch");
    // The echo still confirms message 1 (by its loopbackMetadata), with another text.
    assert_eq!(mismatch.line, line_of(&text, edited_line, "\"Confirmed\""));
    assert!(mismatch.recorded.contains("after the cut"), "{mismatch}");
    assert!(mismatch.replayed.contains("changed by hand"), "{mismatch}");
}

#[test]
fn a_refused_subscription_in_place_of_the_recorded_one_is_reported() {
    let (text, edited_line) = edited("CHANNEL_SUBSCRIBED", |l| {
        l.replace("CHANNEL_SUBSCRIBED", "SUBSCRIBE_CHANNEL_FAILED")
    });
    let mismatch = replay(&text)
        .expect("replayable")
        .mismatch
        .expect("a mismatch");
    assert_eq!(mismatch.line, edited_line + 1, "{mismatch}");
    assert!(mismatch.recorded.contains("Subscribed"), "{mismatch}");
    assert!(mismatch.replayed.contains("SubscribeFailed"), "{mismatch}");
}

#[test]
fn an_event_the_core_no_longer_produces_is_reported_as_null() {
    // Without the namespace's CONNECT answer, `/chat` is never connected.
    let (text, removed) = edited(r#""kind":"in","text":"40/chat,""#, |_| String::new());
    let mismatch = replay(&text)
        .expect("replayable")
        .mismatch
        .expect("a mismatch");
    assert_eq!(mismatch.line, line_of(&text, removed, "\"Connected\""));
    assert_eq!(mismatch.replayed, "null", "{mismatch}");
    let Mismatch { recorded, .. } = mismatch;
    assert!(recorded.contains("Connected"), "{recorded}");
}

#[test]
fn what_is_not_a_replayable_recording_is_refused_by_name() {
    assert!(matches!(replay(""), Err(ReplayError::Header(_))));
    assert!(matches!(
        replay("{\"format\":\"other\"}"),
        Err(ReplayError::Header(_))
    ));
    let v3 = FIXTURE.replacen("\"version\":1", "\"version\":3", 1);
    assert_eq!(replay(&v3), Err(ReplayError::Version(3)));
    let v0 = FIXTURE.replacen("\"version\":1", "\"version\":0", 1);
    assert_eq!(replay(&v0), Err(ReplayError::Version(0)));
    let (gap, line) = edited("\"kind\":\"timeout\"", |_| {
        r#"{"kind":"dropped","lines":3}"#.to_owned()
    });
    assert_eq!(
        replay(&gap),
        Err(ReplayError::Incomplete { line, dropped: 3 })
    );
    let (garbage, line) = edited("\"kind\":\"opened\"", |_| "not json".to_owned());
    assert!(matches!(replay(&garbage), Err(ReplayError::Line { line: l, .. }) if l == line));
    let (unknown, line) = edited("\"kind\":\"opened\"", |l| l.replace("opened", "teleported"));
    assert!(matches!(replay(&unknown), Err(ReplayError::Line { line: l, .. }) if l == line));
}
