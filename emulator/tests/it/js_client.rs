//! The official `socket.io-client@2.0.4` (tests/peer/js-client.js) talks to our Rust emulator
//! unchanged: connect, subscribe, send, its own echo, ping/pong, unsubscribe. Node and
//! `tests/peer/node_modules` (`npm ci`) are required: without them these tests fail.

use std::time::Duration;

use spaces_socket_emulator::listener::EmulatorServer;

use crate::support;

fn emulator(namespace_comma: bool) -> EmulatorServer {
    support::start(|config| {
        config.ping_interval = Duration::from_millis(300);
        config.ping_timeout = Duration::from_millis(1000);
        config.namespace_comma = namespace_comma;
    })
}

fn run_scenario(server: &EmulatorServer, token: &str) -> Vec<String> {
    let url = server.url();
    let (status, lines) = support::run_js_client(
        &[
            "--url",
            &url,
            "--token",
            token,
            "--token-type",
            "jwt",
            "--space",
            "s1",
            "--timeout",
            "8000",
        ],
        Duration::from_secs(20),
    );
    assert!(status.code().is_some(), "js-client was killed: {lines:#?}");
    lines
}

#[test]
fn the_official_client_completes_the_chat_scenario() {
    for comma in [true, false] {
        let server = emulator(comma);
        let lines = run_scenario(&server, "alice");
        assert_eq!(
            support::js_client_result(&lines),
            Some("ok"),
            "comma={comma}: {lines:#?}"
        );
        let events = support::js_client_events(&lines);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "connect",
            "CHANNEL_SUBSCRIBED",
            "MESSAGE_SENT",
            "pong",
            "CHANNEL_UNSUBSCRIBED",
        ] {
            assert!(
                names.contains(&expected),
                "comma={comma}: no {expected} in {names:?}"
            );
        }
        let echo = &events.iter().find(|(n, _)| n == "MESSAGE_SENT").unwrap().1;
        assert_eq!(echo["topicId"], "s1");
        assert!(
            echo["loopbackMetadata"].is_string(),
            "own echo carries loopbackMetadata: {echo}"
        );
        assert_eq!(echo["sender"]["_id"], "alice");
    }
}

#[test]
fn an_expired_token_reaches_the_official_client_as_an_error_event() {
    let server = emulator(true);
    let lines = run_scenario(&server, "expired");
    assert_ne!(support::js_client_result(&lines), Some("ok"), "{lines:#?}");
    let events = support::js_client_events(&lines);
    let error = events
        .iter()
        .find(|(n, _)| n == "error")
        .map(|(_, d)| d.clone());
    let error = error.unwrap_or_else(|| panic!("no error event: {lines:#?}"));
    assert_eq!(error["message"], "jwt expired", "{error}");
    assert_eq!(error["code"], "invalid_token");
}
