//! `Args`: event arguments copied out of a frame once, kept as raw JSON until asked for.

use serde::Deserialize;
use serde_json::value::RawValue;
use spaces_socket::socket::{Args, DecodeError, decode};

#[derive(Debug, Deserialize, PartialEq)]
struct Message<'a> {
    #[serde(rename = "topicId")]
    topic_id: &'a str,
    n: u32,
}

#[test]
fn arguments_of_a_decoded_event_are_owned_and_lazy() {
    let frame =
        String::from(r#"2/chat,3["MESSAGE_SENT", {"topicId":"t1","n":2} ,"x\"y",[1,2],null]"#);
    let args = {
        let packet = decode(&frame).expect("event");
        // Everything after the event name, as the client hands it to users.
        Args::from_elements(packet.elements().get(1..).unwrap_or_default())
    };
    drop(frame); // the arguments outlive the frame

    assert_eq!(args.len(), 4);
    assert!(!args.is_empty());
    assert_eq!(args.get(0), Some(r#"{"topicId":"t1","n":2}"#));
    assert_eq!(args.get(1), Some(r#""x\"y""#));
    assert_eq!(args.get(3), Some("null"));
    assert_eq!(args.get(4), None);
    assert_eq!(
        args.iter().collect::<Vec<_>>(),
        [r#"{"topicId":"t1","n":2}"#, r#""x\"y""#, "[1,2]", "null"]
    );
    // Whitespace between elements is dropped, element text is kept byte for byte.
    assert_eq!(
        args.to_json(),
        r#"[{"topicId":"t1","n":2},"x\"y",[1,2],null]"#
    );
    assert_eq!(args.as_json(), args.to_json());

    assert_eq!(
        args.parse::<Message<'_>>(0).expect("typed"),
        Message {
            topic_id: "t1",
            n: 2
        }
    );
    assert_eq!(args.parse::<String>(1).expect("owned string"), "x\"y");
    assert_eq!(args.parse::<Vec<u8>>(2).expect("array"), [1, 2]);
    assert_eq!(args.parse::<Option<u8>>(3).expect("null"), None);
    assert!(args.parse::<u8>(1).is_err());
    let missing = args.parse::<u8>(9).expect_err("no such argument");
    assert!(missing.to_string().contains('9'), "{missing}");
}

#[test]
fn from_json_validates_and_splits() {
    let args = Args::from_json(" [ 1 , {\"a\" : [true]} ] ").expect("array");
    assert_eq!(args.iter().collect::<Vec<_>>(), ["1", "{\"a\" : [true]}"]);
    assert_eq!(args.to_json(), "[1,{\"a\" : [true]}]");
    assert_eq!(Args::from_elements(&[]).to_json(), "[]");
    let empty = Args::from_json("[]").expect("empty array");
    assert!(empty.is_empty());
    assert_eq!(empty, Args::from_elements(&[]));

    assert_eq!(Args::from_json(r#"{"a":1}"#), Err(DecodeError::NotAnArray));
    assert_eq!(Args::from_json(""), Err(DecodeError::MissingPayload));
    for bad in ["[1,", "[1]x", "[01]", "nope", "  "] {
        assert!(
            matches!(Args::from_json(bad), Err(DecodeError::BadJson(_))),
            "{bad}"
        );
    }
}

#[test]
fn from_elements_accepts_elements_from_any_source() {
    let a = RawValue::from_string("\"a\"".to_owned()).expect("valid");
    let b: &RawValue = serde_json::from_str("{\"b\":2}").expect("valid");
    let args = Args::from_elements(&[&a, b]);
    assert_eq!(args.to_json(), r#"["a",{"b":2}]"#);
    assert_eq!(args.clone(), args);
    assert_ne!(args, Args::from_elements(&[b]));
}

#[test]
fn debug_prints_the_json() {
    let args = Args::from_json(r#"["x",1]"#).expect("array");
    assert_eq!(format!("{args:?}"), r#"Args(["x",1])"#);
}
