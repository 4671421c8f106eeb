//! Exact bytes the real socket.io servers put on the wire, probed with a raw websocket.
//! Other tests and the codec rely on these facts:
//!
//! * open packet `0{"sid":"<20 chars>","upgrades":[],"pingInterval":N,"pingTimeout":M}`
//!   (this key order), then the root connect `40`, on both 2.0.4 and 1.7.3;
//! * the `/chat` connect ack is `40/chat,` on 2.0.4 but `40/chat` (no comma) on 1.7.3;
//! * `2` is answered with `3`;
//! * events come back as `42/chat,["NAME",{…}]`;
//! * namespace middleware errors are `44/chat,<err.data JSON>`.
//!
//! The server's own `--log-frames` record must agree with what the client saw.

use std::time::Duration;

use crate::support::peer::{SIO_1_7_3, SIO_2_0_4, SIO_VERSIONS, spaces_server_with};
use crate::support::raw_ws::{RawWs, chat_event, open_packet_sid};

const PING_INTERVAL_MS: u64 = 1500;
const PING_TIMEOUT_MS: u64 = 4000;

fn handshake_connect_ping_and_event(sio: &str, expected_chat_ack: &str) {
    let mut server = spaces_server_with(sio, PING_INTERVAL_MS, PING_TIMEOUT_MS, &["--log-frames"]);
    let url = server.ws_url("token=t1&tokenType=jwt");
    assert_eq!(
        url,
        format!(
            "ws://127.0.0.1:{}/socket.io/?token=t1&tokenType=jwt&EIO=3&transport=websocket",
            server.port()
        )
    );
    let mut ws = RawWs::connect(server.port(), &url);
    let mut received = Vec::new();
    let mut sent = Vec::new();

    let open = ws.recv_text();
    let sid =
        open_packet_sid(&open).unwrap_or_else(|| panic!("{sio}: not an open packet: {open:?}"));
    assert_eq!(sid.len(), 20, "{sio}: sid {sid:?}");
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{sio}: sid {sid:?}"
    );
    assert_eq!(
        open,
        format!(
            "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":{PING_INTERVAL_MS},\"pingTimeout\":{PING_TIMEOUT_MS}}}"
        ),
        "{sio}: open packet bytes"
    );
    received.push(open);

    let root = ws.recv_text();
    assert_eq!(root, "40", "{sio}: root connect");
    received.push(root);

    let connect = "40/chat?token=t1&tokenType=jwt,";
    ws.send(connect);
    sent.push(connect.to_owned());
    let ack = ws.recv_text();
    assert_eq!(ack, expected_chat_ack, "{sio}: /chat connect ack");
    received.push(ack);

    ws.send("2");
    sent.push("2".to_owned());
    let pong = ws.recv_text();
    assert_eq!(pong, "3", "{sio}: pong");
    received.push(pong);

    let subscribe = r#"42/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"s1","type":"topic"}}]"#;
    ws.send(subscribe);
    sent.push(subscribe.to_owned());
    let subscribed = ws.recv_text();
    assert!(
        subscribed.starts_with(
            r#"42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"s1","type":"topic"},"#
        ),
        "{sio}: {subscribed}"
    );
    let (name, payload) = chat_event(&subscribed).unwrap_or_else(|| panic!("{sio}: {subscribed}"));
    assert_eq!(name, "CHANNEL_SUBSCRIBED");
    assert!(payload["dtsid"].is_string(), "{sio}: {payload}");
    assert!(payload["sessionId"].is_string(), "{sio}: {payload}");
    received.push(subscribed);

    // The server's frame log holds exactly the same frames, in the same order.
    let expected_out = received.len();
    let expected_in = sent.len();
    let mut frames = Vec::new();
    for _ in 0..50 {
        frames = server.frames();
        let outs = frames.iter().filter(|f| f.dir == "out").count();
        let ins = frames.iter().filter(|f| f.dir == "in").count();
        if outs >= expected_out && ins >= expected_in {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(frames.iter().all(|f| f.sid == sid), "{sio}: {frames:#?}");
    let logged_out: Vec<&str> = frames
        .iter()
        .filter(|f| f.dir == "out")
        .map(|f| f.data.as_str())
        .collect();
    let logged_in: Vec<&str> = frames
        .iter()
        .filter(|f| f.dir == "in")
        .map(|f| f.data.as_str())
        .collect();
    assert_eq!(logged_out, received, "{sio}: server-logged out frames");
    assert_eq!(logged_in, sent, "{sio}: server-logged in frames");

    ws.close();
    let closed = server.wait_for_frame("close", |_| true, Duration::from_secs(5));
    assert!(closed.is_some(), "{sio}: server never logged the close");
}

#[test]
fn socket_io_2_0_4_frames_with_comma_after_chat_connect_ack() {
    handshake_connect_ping_and_event(SIO_2_0_4, "40/chat,");
}

#[test]
fn socket_io_1_7_3_frames_without_comma_after_chat_connect_ack() {
    handshake_connect_ping_and_event(SIO_1_7_3, "40/chat");
}

#[test]
fn namespace_auth_errors_are_error_packets_with_err_data() {
    for sio in SIO_VERSIONS {
        let server = spaces_server_with(sio, PING_INTERVAL_MS, PING_TIMEOUT_MS, &[]);
        let cases = [
            (
                "tokenType=jwt",
                r#"44/chat,{"message":"No Authorization header was found","code":"credentials_required","type":"UnauthorizedError"}"#,
            ),
            (
                "token=expired&tokenType=jwt",
                r#"44/chat,{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#,
            ),
            (
                "token=bad-sig&tokenType=oauth",
                r#"44/chat,{"message":"invalid signature","code":"invalid_token","type":"UnauthorizedError"}"#,
            ),
        ];
        for (query, expected) in cases {
            let mut ws = RawWs::connect(server.port(), &server.ws_url(query));
            let open = ws.recv_text();
            assert!(open_packet_sid(&open).is_some(), "{sio}: {open}");
            assert_eq!(ws.recv_text(), "40", "{sio} {query}");
            ws.send(&format!("40/chat?{query},"));
            assert_eq!(ws.recv_text(), expected, "{sio} {query}");
            // The engine.io connection stays open after a namespace auth failure.
            ws.send("2");
            assert_eq!(ws.recv_text(), "3", "{sio} {query}: engine still up");
            ws.close();
        }
    }
}

#[test]
fn unknown_namespace_is_refused_with_invalid_namespace() {
    for sio in SIO_VERSIONS {
        let server = spaces_server_with(sio, PING_INTERVAL_MS, PING_TIMEOUT_MS, &[]);
        let mut ws = RawWs::connect(server.port(), &server.ws_url("token=t1&tokenType=jwt"));
        let _open = ws.recv_text();
        assert_eq!(ws.recv_text(), "40", "{sio}");
        ws.send("40/nope?token=t1,");
        assert_eq!(ws.recv_text(), r#"44/nope,"Invalid namespace""#, "{sio}");
        ws.close();
    }
}

/// socket.io#3082 (fixed in 2.1.0): `Namespace#use` after `attach` drops the root `40` on
/// 2.0.4, while `/chat` still connects. `--late-middleware` reproduces it; 1.7.3 is immune.
#[test]
fn late_namespace_middleware_suppresses_the_root_connect_on_2_0_4_only() {
    for (sio, root_connect_sent, ack) in
        [(SIO_2_0_4, false, "40/chat,"), (SIO_1_7_3, true, "40/chat")]
    {
        let server = spaces_server_with(
            sio,
            PING_INTERVAL_MS,
            PING_TIMEOUT_MS,
            &["--late-middleware"],
        );
        let mut ws = RawWs::connect(server.port(), &server.ws_url("token=t1&tokenType=jwt"));
        let open = ws.recv_text();
        assert!(open_packet_sid(&open).is_some(), "{sio}: {open}");
        ws.send("40/chat?token=t1&tokenType=jwt,");
        let mut frames = vec![ws.recv_text()];
        if root_connect_sent {
            frames.push(ws.recv_text());
            assert_eq!(frames, ["40", ack], "{sio}");
        } else {
            assert_eq!(frames, [ack], "{sio}");
        }
        // Nothing else (in particular no late `40`) follows.
        ws.send("2");
        assert_eq!(ws.recv_text(), "3", "{sio}");
        ws.close();
    }
}
