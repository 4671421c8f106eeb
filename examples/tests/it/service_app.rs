//! `examples/service_app` mints a JWT from a key file and posts one message, against the real
//! Node socket.io 2.0.4 server; bad inputs end with a one-line reason.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(crate::support::example_binary("service_app"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the service_app example")
}

#[test]
fn posts_one_message_with_a_minted_jwt_and_reports_the_confirmation() {
    let mut peer = crate::support::spaces_server_with(
        crate::support::SIO_2_0_4,
        25_000,
        60_000,
        &["--log-frames"],
    );
    let url = peer.url("/chat");
    let key = "../tests/fixtures/test-service-key.json";
    let out = run(&[
        "--key",
        key,
        "--space",
        "s1",
        "--text",
        "from a bot",
        "--url",
        &url,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("confirmed: message "), "{stdout}");
    // The handshake carried a three-part JWT as tokenType=jwt.
    let frames = peer.frames();
    let connect = frames
        .iter()
        .find(|f| f.dir == "in" && f.data.starts_with("40/chat?"))
        .expect("the CONNECT frame");
    let token = connect
        .data
        .split(['?', '&', ','])
        .find_map(|p| p.strip_prefix("token="))
        .expect("a token in the CONNECT query");
    assert!(connect.data.contains("tokenType=jwt"), "{}", connect.data);
    assert_eq!(token.split('.').count(), 3, "{token}");
}

#[test]
fn a_missing_key_file_or_a_refused_space_ends_with_one_line() {
    let peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let out = run(&["--key", "no/such/key.json", "--space", "s1", "--url", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim().lines().count() == 1 && stderr.contains("cannot read key file"),
        "{stderr}"
    );

    let key = "../tests/fixtures/test-service-key.json";
    let out = run(&["--key", key, "--space", "forbidden1", "--url", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
