//! Connects with a token, subscribes to one space and prints its events until closed.
//!
//! ```text
//! cargo run --example blocking -- --token <JWT> --space <SPACE_ID> [--url URL] [--oauth]
//! ```
//! `--url` defaults to production; a local server is `http://127.0.0.1:PORT/chat`.
use std::process::ExitCode;

use spaces_socket::spaces::{PRODUCTION_URL, SpacesConfig, Token};
use spaces_socket_blocking::{Options, connect};

fn main() -> ExitCode {
    let mut url = PRODUCTION_URL.to_owned();
    let (mut token, mut space, mut oauth) = (None, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = args.next().unwrap_or_default(),
            "--token" => token = args.next(),
            "--space" => space = args.next(),
            "--oauth" => oauth = true,
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let (Some(token), Some(space)) = (token, space) else {
        return usage("--token and --space are required");
    };
    let token = if oauth {
        Token::oauth(token)
    } else {
        Token::jwt(token)
    };
    let config = match SpacesConfig::new(&url) {
        Ok(c) => c,
        Err(e) => return usage(&format!("bad --url: {e}")),
    };
    let mut client = match connect(config, token, Options::default()) {
        Ok(c) => c,
        Err(e) => return usage(&e.to_string()),
    };
    if let Err(e) = client.subscribe(&space, None) {
        eprintln!("blocking: {e}");
        return ExitCode::FAILURE;
    }
    // Debug output of events never shows tokens, passwords or session ids.
    while let Some(event) = client.next_event(None) {
        println!("{event:?}");
    }
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("blocking: {problem}");
    eprintln!("usage: blocking --token TOKEN --space SPACE_ID [--url URL] [--oauth]");
    ExitCode::from(2)
}
