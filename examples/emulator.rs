//! Runs the Spaces emulator on a loopback port until killed.
//!
//! ```text
//! cargo run --example emulator -- --port 0 [--ping-interval MS] [--ping-timeout MS]
//!     [--no-comma] [--no-root-connect] [--closed-spaces] [--space ID[:TITLE[:PIN]]]...
//!     [--seed N] [--echo-bot]
//! ```
//!
//! The first line on stdout is the Socket.IO URL (`http://127.0.0.1:PORT/chat`); joins,
//! subscriptions and messages are logged to stderr. Tokens are trusted (see `DemoAuth`):
//! `token=alice` logs in as `alice`, `token=expired` is refused.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use spaces_socket_emulator::listener::EmulatorServer;
use spaces_socket_emulator::{DemoAuth, EmulatorConfig, EmulatorEvent, SpaceInfo, User};

const USAGE: &str = "usage: emulator [--port N] [--ping-interval MS] [--ping-timeout MS] \
[--no-comma] [--no-root-connect] [--closed-spaces] [--space ID[:TITLE[:PIN]]]... [--seed N] \
[--echo-bot]";

struct Options {
    port: u16,
    config: EmulatorConfig,
    echo_bot: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        config: EmulatorConfig::default(),
        echo_bot: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let millis = |v: String, name: &str| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{name}: not a number of milliseconds: {v:?}"))
        };
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                options.port = v.parse().map_err(|_| format!("--port: bad port {v:?}"))?;
            }
            "--ping-interval" => {
                options.config.ping_interval =
                    millis(value("--ping-interval")?, "--ping-interval")?;
            }
            "--ping-timeout" => {
                options.config.ping_timeout = millis(value("--ping-timeout")?, "--ping-timeout")?;
            }
            "--seed" => {
                let v = value("--seed")?;
                options.config.seed = v.parse().map_err(|_| format!("--seed: bad number {v:?}"))?;
            }
            "--space" => {
                let v = value("--space")?;
                let mut parts = v.splitn(3, ':');
                let id = parts.next().unwrap_or_default().to_owned();
                if id.is_empty() {
                    return Err("--space needs an id".into());
                }
                let title = parts.next().map_or_else(|| id.clone(), str::to_owned);
                let password = parts.next().map(str::to_owned);
                options
                    .config
                    .spaces
                    .insert(id, SpaceInfo { title, password });
            }
            "--no-comma" => options.config.namespace_comma = false,
            "--no-root-connect" => options.config.send_root_connect = false,
            "--closed-spaces" => options.config.open_spaces = false,
            "--echo-bot" => options.echo_bot = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match EmulatorServer::start(
        &format!("127.0.0.1:{}", options.port),
        options.config,
        Box::new(DemoAuth),
    ) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let events = server.events();
    println!("{}", server.url());
    if std::io::stdout().flush().is_err() {
        return ExitCode::FAILURE;
    }
    eprintln!("emulator listening on {}", server.url());

    let bot = User::named("echo-bot", "Echo Bot");
    // The server runs until the process is killed; the receiver only ends if it stops.
    for event in events {
        match event {
            EmulatorEvent::Connected { conn } => eprintln!("[{}] connected", conn.0),
            EmulatorEvent::Joined { conn, user } => {
                eprintln!("[{}] joined as {} ({})", conn.0, user.id, user.displayname);
            }
            EmulatorEvent::AuthFailed { conn, rejection } => {
                eprintln!(
                    "[{}] refused: {} ({})",
                    conn.0, rejection.message, rejection.code
                );
            }
            EmulatorEvent::Subscribed { conn, space, user } => {
                eprintln!("[{}] {} subscribed to {space}", conn.0, user.id);
            }
            EmulatorEvent::Unsubscribed { conn, space, user } => {
                eprintln!("[{}] {} unsubscribed from {space}", conn.0, user.id);
            }
            EmulatorEvent::Left { conn, user, .. } => eprintln!("[{}] {} left", conn.0, user.id),
            EmulatorEvent::MessageSent {
                conn,
                space,
                sender,
                text,
                ..
            } => {
                eprintln!("[{space}] {}: {text}", sender.displayname);
                if options.echo_bot && conn.is_some() {
                    server.say(&space, &bot, &format!("echo: {text}"));
                }
            }
            EmulatorEvent::Closed { conn, reason } => {
                eprintln!("[{}] closed ({reason:?})", conn.0);
            }
            other => eprintln!("{other:?}"),
        }
    }
    ExitCode::SUCCESS
}
