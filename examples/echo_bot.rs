//! `echo_bot`: a bot that answers every chat message of someone else with `echo: <text>`, and
//! never itself. The bot is [`EchoBot`] (`examples/echo.rs`), the very type the simulation
//! tests (`bot_sim`); this file only picks a runtime and hands it the bot: `client.run(bot)`
//! is the same call on every runtime.
//!
//! With no `--url` it starts the embedded Spaces emulator on 127.0.0.1 with a demo user who
//! says a few lines, shows the exchange, and closes once every line was answered:
//!
//! ```sh
//! cargo run --example echo_bot
//! cargo run --example echo_bot -- --runtime smol
//! cargo run --example echo_bot -- --url wss://spacesapis-socket.avayacloud.com/chat \
//!     --token-type jwt --token "$SPACES_TOKEN" --space SPACE_ID
//! ```
//!
//! Options: `--url URL`, `--token TOKEN` (or env `SPACES_TOKEN`), `--token-type jwt|oauth`,
//! `--service-key FILE`, `--space ID`, `--runtime blocking|smol|async-std`, `--for SECS` (stop
//! after that long; default: until the demo is over, or forever with `--url`), `--help`.
//! Exit status: 0 done, 1 failure (refused credentials, a failed subscription), 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use spaces_socket::bot::{Bot, Ctx};
use spaces_socket::spaces::{
    DEFAULT_SERVICE_TOKEN_TTL, ServiceKey, ServiceKeyProvider, SpacesConfig, SpacesEvent, Token,
    TokenProvider,
};
use spaces_socket_emulator::listener::EmulatorServer;
use spaces_socket_emulator::{DemoAuth, EmulatorConfig, EmulatorEvent, SpaceInfo, User};
use spaces_socket_examples::echo::EchoBot;

const HELP: &str = "\
usage: echo_bot [--url URL] [--token TOKEN | --service-key FILE] [--token-type jwt|oauth]
                [--space ID] [--runtime blocking|smol|async-std] [--for SECS]

Answers every chat message of someone else in --space with \"echo: <text>\", never its own.
With no --url it runs an embedded emulator with a demo user instead, and exits once every
line of the demo user was answered.
";
/// The demo's space, bot token and user, and what the user says.
const DEMO_SPACE: &str = "demo";
const DEMO_BOT_TOKEN: &str = "echo-bot";
const DEMO_LINES: [&str; 3] = ["hello, bot", "can you hear me?", "bye"];

/// The echo bot with a narrator: prints what it sees, then lets [`EchoBot`] act. A bot wrapping
/// a bot is all it takes to add behaviour.
struct Narrated {
    bot: EchoBot,
    failure: Option<String>,
    /// The demo: close once this many answers are confirmed.
    close_after: Option<usize>,
}

impl Bot for Narrated {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.bot.on_start(ctx);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        let text = |m: &spaces_socket::spaces::MessageSent| {
            let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
            text.unwrap_or("").escape_debug().to_string()
        };
        match event {
            SpacesEvent::Connected => eprintln!("echo_bot: connected"),
            SpacesEvent::Subscribed { space } => eprintln!("echo_bot: answering in {space}"),
            SpacesEvent::Message(m) => {
                let who = m.sender.as_ref().and_then(|s| s.id.as_deref());
                println!("{}: {}", who.unwrap_or("?").escape_debug(), text(m));
            }
            SpacesEvent::OwnMessage(m) => println!("(our own user, elsewhere: {})", text(m)),
            SpacesEvent::Confirmed { message, .. } => println!("bot: {}", text(message)),
            SpacesEvent::AuthFailed(refusal) => {
                self.failure = Some(format!("authentication failed: {}", refusal.message));
            }
            SpacesEvent::SubscribeFailed { space, error } => {
                self.failure = Some(format!("cannot subscribe to {space}: {error}"));
                ctx.close();
            }
            _ => {}
        }
        self.bot.on_event(ctx, event);
        if self.close_after.is_some_and(|n| self.bot.answered() >= n) {
            self.close_after = None;
            ctx.close();
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        self.bot.on_timer(ctx, timer);
    }
}

struct Options {
    url: Option<String>,
    token: Option<String>,
    oauth: bool,
    service_key: Option<PathBuf>,
    space: Option<String>,
    runtime: String,
    run_for: Option<Duration>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        url: None,
        token: std::env::var("SPACES_TOKEN").ok().filter(|t| !t.is_empty()),
        oauth: false,
        service_key: None,
        space: None,
        runtime: "blocking".to_owned(),
        run_for: None,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => o.url = Some(value()?),
            "--token" => o.token = Some(value()?),
            "--token-type" => {
                o.oauth = match value()?.as_str() {
                    "jwt" => false,
                    "oauth" => true,
                    _ => return Err("--token-type is jwt or oauth".into()),
                }
            }
            "--service-key" => o.service_key = Some(value()?.into()),
            "--space" => o.space = Some(value()?),
            "--runtime" => {
                o.runtime = value()?;
                if !["blocking", "smol", "async-std"].contains(&o.runtime.as_str()) {
                    return Err("--runtime is blocking, smol or async-std".into());
                }
            }
            "--for" => {
                let secs = value()?.parse().map_err(|_| "--for takes whole seconds")?;
                o.run_for = Some(Duration::from_secs(secs));
            }
            "-h" | "--help" => return Ok(None),
            _ => {
                return Err(format!(
                    "unknown argument {:?}",
                    arg.escape_debug().to_string()
                ));
            }
        }
    }
    Ok(Some(o))
}

fn tokens(o: &Options) -> Result<Box<dyn TokenProvider>, String> {
    if let Some(path) = &o.service_key {
        let json = std::fs::read_to_string(path).map_err(|e| format!("--service-key: {e}"))?;
        let key = ServiceKey::from_json(&json).map_err(|e| format!("--service-key: {e}"))?;
        let minter = ServiceKeyProvider::new(key, DEFAULT_SERVICE_TOKEN_TTL);
        return Ok(Box::new(minter.map_err(|e| e.to_string())?));
    }
    let token = o
        .token
        .clone()
        .ok_or("pass --token, SPACES_TOKEN or --service-key")?;
    Ok(Box::new(if o.oauth {
        Token::oauth(token)
    } else {
        Token::jwt(token)
    }))
}

/// Runs `bot` on the runtime named `runtime` until `stop` says so (or the session ends). The
/// one line that differs between runtimes is how `client.run(bot)` is awaited.
fn run(
    runtime: &str,
    config: SpacesConfig,
    tokens: Box<dyn TokenProvider>,
    bot: Narrated,
    stop: mpsc::Receiver<()>,
) -> Result<Narrated, String> {
    let options = spaces_socket_blocking::Options::default();
    let stop_on = |shutdown: Box<dyn Fn() + Send>| {
        std::thread::spawn(move || {
            let _ = stop.recv();
            shutdown();
        })
    };
    let bot = match runtime {
        "blocking" => {
            let mut client = spaces_socket_blocking::connect(config, tokens, options)
                .map_err(|e| e.to_string())?;
            let shutdown = client.shutdown_handle();
            stop_on(Box::new(move || shutdown.shutdown()));
            client.run(bot)
        }
        "smol" => {
            let client =
                spaces_socket_smol::connect(config, tokens, options).map_err(|e| e.to_string())?;
            let shutdown = client.shutdown_handle();
            stop_on(Box::new(move || shutdown.shutdown()));
            smol::block_on(client.run(bot))
        }
        "async-std" => {
            let client = spaces_socket_async_std::connect(config, tokens, options)
                .map_err(|e| e.to_string())?;
            let shutdown = client.shutdown_handle();
            stop_on(Box::new(move || shutdown.shutdown()));
            async_std::task::block_on(client.run(bot))
        }
        other => {
            return Err(format!(
                "unknown --runtime {other:?}: blocking, smol or async-std"
            ));
        }
    };
    Ok(bot)
}

/// The embedded emulator with a demo user who says [`DEMO_LINES`] once the bot is subscribed.
fn demo() -> Result<EmulatorServer, String> {
    let mut config = EmulatorConfig::default();
    let space = SpaceInfo::new("Echo demo");
    config.spaces.insert(DEMO_SPACE.to_owned(), space);
    let server = EmulatorServer::start("127.0.0.1:0", config, Box::new(DemoAuth))
        .map_err(|e| format!("cannot start the embedded emulator: {e}"))?;
    let (handle, events) = (server.handle(), server.events());
    std::thread::spawn(move || {
        let subscribed = events
            .iter()
            .any(|e| matches!(e, EmulatorEvent::Subscribed { .. }));
        let alice = User::named("alice", "Alice");
        for line in DEMO_LINES.iter().filter(|_| subscribed) {
            handle.say(DEMO_SPACE, &alice, line);
        }
    });
    Ok(server)
}

fn main() -> ExitCode {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(reason) => {
            eprintln!("echo_bot: {reason} (see --help)");
            return ExitCode::from(2);
        }
    };
    match echo(opts) {
        Ok(answered) => {
            eprintln!("echo_bot: done, {answered} message(s) answered");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("echo_bot: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn echo(mut opts: Options) -> Result<usize, String> {
    let (stop, stopped) = mpsc::channel();
    let server = match opts.url {
        Some(_) => None,
        None => {
            let server = demo()?;
            opts.url = Some(server.url());
            opts.space.get_or_insert_with(|| DEMO_SPACE.to_owned());
            (opts.token, opts.service_key) = (Some(DEMO_BOT_TOKEN.to_owned()), None);
            opts.run_for.get_or_insert(Duration::from_secs(30));
            Some(server)
        }
    };
    if let Some(limit) = opts.run_for {
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            let _ = stop.send(());
        });
    }
    let space = opts
        .space
        .as_deref()
        .ok_or("--space is required with --url")?;
    let url = opts.url.as_deref().unwrap_or_default();
    let config = SpacesConfig::new(url).map_err(|e| format!("bad --url: {e}"))?;
    let bot = Narrated {
        bot: EchoBot::new(space),
        failure: None,
        close_after: server.as_ref().map(|_| DEMO_LINES.len()),
    };
    eprintln!("echo_bot: connecting to {url} ({} runtime)", opts.runtime);
    let bot = run(&opts.runtime, config, tokens(&opts)?, bot, stopped)?;
    if let Some(server) = server {
        server.stop();
    }
    match bot.failure {
        Some(failure) => Err(failure),
        None => Ok(bot.bot.answered()),
    }
}
