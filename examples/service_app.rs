//! A service app: posts one chat message to a space with a service key and waits for the
//! server's confirmation.
//!
//! ```text
//! cargo run --example service_app -- --key service-key-XXX.json --space SPACE_ID \
//!     [--text "hello"] [--url URL]
//! ```
//! A fresh JWT is minted from the key for every connection (reconnections included). Exits 0
//! once the message is confirmed; otherwise prints one line saying why and exits 1 (2 for
//! bad arguments).
use std::process::ExitCode;
use std::time::{Duration, Instant};

use spaces_socket::spaces::{
    DEFAULT_SERVICE_TOKEN_TTL, PRODUCTION_URL, SendFailure, SendMessage, ServiceKey,
    ServiceKeyProvider, SpacesConfig, SpacesEvent,
};
use spaces_socket_blocking::{Options, connect};

/// How long to wait for the confirmation, connection included.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let mut url = PRODUCTION_URL.to_owned();
    let mut text = "Hello from a spaces-socket service app".to_owned();
    let (mut key_path, mut space) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => key_path = args.next(),
            "--space" => space = args.next(),
            "--text" => text = args.next().unwrap_or_default(),
            "--url" => url = args.next().unwrap_or_default(),
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let (Some(key_path), Some(space)) = (key_path, space) else {
        return usage("--key and --space are required");
    };
    match run(&key_path, &space, &text, &url) {
        Ok(message_id) => {
            println!("confirmed: message {message_id} in space {space}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("service_app: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// Posts `text` to `space`; the server's message id on success, a one-line reason otherwise.
fn run(key_path: &str, space: &str, text: &str, url: &str) -> Result<String, String> {
    let json = std::fs::read_to_string(key_path)
        .map_err(|e| format!("cannot read key file {key_path}: {e}"))?;
    let key = ServiceKey::from_json(&json).map_err(|e| format!("bad key file {key_path}: {e}"))?;
    let provider = ServiceKeyProvider::new(key, DEFAULT_SERVICE_TOKEN_TTL)
        .map_err(|e| format!("key provider: {e}"))?;
    let mut config = SpacesConfig::new(url).map_err(|e| format!("bad --url: {e}"))?;
    config.client.reconnection_attempts = Some(3);
    let mut client = connect(config, provider, Options::default()).map_err(|e| e.to_string())?;

    client.subscribe(space, None).map_err(|e| e.to_string())?;
    let id = client
        .send_message(SendMessage::chat(space, text))
        .map_err(|e| format!("message refused: {e}"))?;
    let give_up = Instant::now() + GIVE_UP_AFTER;
    let mut last_failure = String::from("no connection failure reported");
    let outcome = loop {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(format!(
                "no confirmation within {GIVE_UP_AFTER:?} (last: {last_failure})"
            ));
        }
        match client.next_event(Some(left)) {
            Some(SpacesEvent::Confirmed { id: got, message }) if got == id => {
                break Ok(message.id.unwrap_or_else(|| "(no id)".to_owned()));
            }
            // A failed subscription is reported next, with the server's reason.
            Some(SpacesEvent::SendFailed {
                id: got, failure, ..
            }) if got == id && failure != SendFailure::SubscriptionFailed => {
                break Err(format!(
                    "message not delivered: {failure:?} ({last_failure})"
                ));
            }
            Some(SpacesEvent::SubscribeFailed { error, .. }) => {
                break Err(format!("cannot subscribe to {space}: {error}"));
            }
            Some(SpacesEvent::AuthFailed(f)) => {
                break Err(format!("authentication failed: {}", f.message));
            }
            Some(SpacesEvent::ConnectFailed { failure }) => {
                last_failure = format!("connect failed: {failure:?}");
            }
            Some(SpacesEvent::Closed) => break Err(format!("connection closed ({last_failure})")),
            Some(_) | None => {}
        }
    };
    client.close();
    outcome
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("service_app: {problem}");
    eprintln!("usage: service_app --key service-key.json --space SPACE_ID [--text T] [--url URL]");
    ExitCode::from(2)
}
