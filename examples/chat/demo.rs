//! The offline demo: the Spaces emulator on a loopback port and a participant who answers.

use std::thread::JoinHandle;

use spaces_socket_emulator::listener::EmulatorServer;
use spaces_socket_emulator::{DemoAuth, EmulatorConfig, SpaceInfo, User};

/// The space the demo joins when no `--space` is given.
pub(crate) const DEMO_SPACE: &str = "demo";
/// The demo participant's user id (`sender._id` of its answers).
pub(crate) const BOT_ID: &str = "demo-bot";

/// The demo participant's answer to `text` ends with this, then `text`.
pub(crate) const ANSWER_MARK: &str = "You said: ";

pub(crate) struct Demo {
    server: EmulatorServer,
    bot: Option<JoinHandle<()>>,
}

impl Demo {
    /// Starts the emulator with a `demo` space and a participant (server side) who answers
    /// every message posted there by someone else.
    pub(crate) fn start() -> Result<Self, String> {
        let mut config = EmulatorConfig::default();
        config
            .spaces
            .insert(DEMO_SPACE.to_owned(), SpaceInfo::new("Demo space"));
        let server = EmulatorServer::start("127.0.0.1:0", config, Box::new(DemoAuth))
            .map_err(|e| format!("cannot start the embedded emulator: {e}"))?;
        let handle = server.handle();
        let messages = server.messages();
        let bot = std::thread::spawn(move || {
            let me = User::named(BOT_ID, "Demo Bot");
            // Ends when the server stops and drops the channel.
            for m in messages {
                if m.from_server || m.sender.id == BOT_ID {
                    continue;
                }
                let reply = format!("Hi {}! {ANSWER_MARK}{}", m.sender.displayname, m.text);
                handle.say(&m.space, &me, &reply);
            }
        });
        Ok(Self {
            server,
            bot: Some(bot),
        })
    }

    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    pub(crate) fn stop(mut self) {
        let bot = self.bot.take();
        self.server.stop();
        if let Some(bot) = bot {
            let _ = bot.join();
        }
    }
}
