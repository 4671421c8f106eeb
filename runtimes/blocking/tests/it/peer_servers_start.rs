//! The Node test peers work: both real socket.io server versions start, and the official
//! socket.io-client 2.0.4 completes the Spaces chat scenario against each of them, which
//! validates `spaces-server.js` and `js-client.js` before the Rust client is tested against
//! them. An expired token must surface as the namespace `error` event.

use std::time::Duration;

use crate::support::peer::{
    SIO_1_7_3, SIO_2_0_4, SIO_VERSIONS, js_client_events, js_client_result, run_js_client,
    spaces_server,
};

const CLIENT_TIMEOUT_MS: &str = "8000";
const RUN_BOUND: Duration = Duration::from_secs(20);

#[test]
fn both_server_versions_start_and_answer_commands() {
    for sio in SIO_VERSIONS {
        let mut server = spaces_server(sio, 300, 1000);
        assert_ne!(server.port(), 0, "{sio}: no port");
        assert_eq!(
            server.url("/chat"),
            format!("http://127.0.0.1:{}/chat", server.port())
        );
        let stats = server.stats();
        assert_eq!(stats["connections"], 0, "{sio}: {stats}");
        assert_eq!(stats["subscriptions"], 0, "{sio}: {stats}");
        assert_eq!(stats["messages"], 0, "{sio}: {stats}");
        // `say` into an empty space reaches nobody but is counted.
        assert_eq!(server.command("say nowhere hi there"), "0", "{sio}");
        assert_eq!(server.stats()["messages"], 1, "{sio}");
        assert!(
            server
                .stderr()
                .contains(&format!("\"socket.io\":\"{sio}\"")),
            "{sio}: server did not report the expected socket.io version; stderr:\n{}",
            server.stderr()
        );
    }
}

fn official_client_scenario(sio: &str) {
    // A short ping interval so the client sees a pong well within its timeout.
    let mut server = spaces_server(sio, 300, 1000);
    let url = server.url("/chat");
    let (status, lines) = run_js_client(
        &[
            "--url",
            &url,
            "--token",
            "alice",
            "--token-type",
            "jwt",
            "--space",
            "s1",
            "--timeout",
            CLIENT_TIMEOUT_MS,
        ],
        RUN_BOUND,
    );
    assert_eq!(js_client_result(&lines), Some("ok"), "{sio}: {lines:#?}");
    assert!(status.success(), "{sio}: exit {status}: {lines:#?}");

    let events = js_client_events(&lines);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let pos = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("{sio}: no {name} event in {names:?}"))
    };
    assert!(
        pos("connect") < pos("CHANNEL_SUBSCRIBED"),
        "{sio}: {names:?}"
    );
    assert!(
        pos("CHANNEL_SUBSCRIBED") < pos("MESSAGE_SENT"),
        "{sio}: {names:?}"
    );
    assert!(
        pos("MESSAGE_SENT") < pos("CHANNEL_UNSUBSCRIBED"),
        "{sio}: {names:?}"
    );
    assert!(
        pos("pong") < pos("CHANNEL_UNSUBSCRIBED"),
        "{sio}: {names:?}"
    );

    let (_, subscribed) = &events[pos("CHANNEL_SUBSCRIBED")];
    assert_eq!(subscribed["channel"]["_id"], "s1", "{sio}: {subscribed}");
    assert_eq!(
        subscribed["channel"]["type"], "topic",
        "{sio}: {subscribed}"
    );
    assert!(subscribed["sessionId"].is_string(), "{sio}: {subscribed}");
    assert!(subscribed["dtsid"].is_string(), "{sio}: {subscribed}");

    // The client's own echo carries its loopbackMetadata and the server-assigned fields.
    let (_, echo) = &events[pos("MESSAGE_SENT")];
    assert!(
        echo["loopbackMetadata"]
            .as_str()
            .is_some_and(|m| m.starts_with("js-client-")),
        "{sio}: {echo}"
    );
    assert_eq!(echo["sender"]["_id"], "alice", "{sio}: {echo}");
    assert_eq!(echo["sender"]["type"], "user", "{sio}: {echo}");
    assert_eq!(echo["topicId"], "s1", "{sio}: {echo}");
    assert_eq!(echo["topicType"], "group", "{sio}: {echo}");
    assert_eq!(
        echo["content"]["bodyText"], "hello from js-client",
        "{sio}: {echo}"
    );
    assert!(
        echo["_id"].as_str().is_some_and(|id| id.len() == 24),
        "{sio}: {echo}"
    );
    assert!(
        echo["created"].as_str().is_some_and(|c| c.ends_with('Z')),
        "{sio}: {echo}"
    );

    // The server counted the message and sees the client gone.
    let stats = server.wait_for_stats(
        |s| s["connections"] == 0 && s["chatSockets"] == 0,
        Duration::from_secs(5),
    );
    assert_eq!(stats["messages"], 1, "{sio}: {stats}");
    assert_eq!(stats["subscriptions"], 0, "{sio}: {stats}");
}

#[test]
fn official_client_completes_the_scenario_against_socket_io_2_0_4() {
    official_client_scenario(SIO_2_0_4);
}

#[test]
fn official_client_completes_the_scenario_against_socket_io_1_7_3() {
    official_client_scenario(SIO_1_7_3);
}

#[test]
fn expired_token_yields_the_namespace_error_event() {
    for sio in SIO_VERSIONS {
        let server = spaces_server(sio, 300, 1000);
        let url = server.url("/chat");
        let (status, lines) = run_js_client(
            &[
                "--url",
                &url,
                "--token",
                "expired",
                "--space",
                "s1",
                "--timeout",
                "5000",
            ],
            RUN_BOUND,
        );
        assert_eq!(status.code(), Some(1), "{sio}: {lines:#?}");
        assert!(
            js_client_result(&lines).is_some_and(|r| r.starts_with("fail error")),
            "{sio}: {lines:#?}"
        );
        let events = js_client_events(&lines);
        assert!(
            !events.iter().any(|(n, _)| n == "connect"),
            "{sio}: must not connect with an expired token: {lines:#?}"
        );
        let (_, error) = events
            .iter()
            .find(|(n, _)| n == "error")
            .unwrap_or_else(|| panic!("{sio}: no error event: {lines:#?}"));
        assert_eq!(error["message"], "jwt expired", "{sio}: {error}");
        assert_eq!(error["code"], "invalid_token", "{sio}: {error}");
        assert_eq!(error["type"], "UnauthorizedError", "{sio}: {error}");
    }
}

#[test]
fn missing_token_yields_credentials_required() {
    let server = spaces_server(SIO_2_0_4, 300, 1000);
    let url = server.url("/chat");
    let (status, lines) = run_js_client(&["--url", &url, "--timeout", "5000"], RUN_BOUND);
    assert_eq!(status.code(), Some(1), "{lines:#?}");
    let events = js_client_events(&lines);
    let (_, error) = events
        .iter()
        .find(|(n, _)| n == "error")
        .unwrap_or_else(|| panic!("no error event: {lines:#?}"));
    assert_eq!(error["code"], "credentials_required", "{error}");
    assert_eq!(
        error["message"], "No Authorization header was found",
        "{error}"
    );
}
