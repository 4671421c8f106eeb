//! The offline demo: the Spaces emulator on a loopback port and a participant who answers, a
//! [`Bot`] run by the blocking runtime like any bot of yours.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use spaces_socket::bot::{Bot, Ctx};
use spaces_socket::spaces::{SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::{Options, Shutdown};
use spaces_socket_emulator::listener::EmulatorServer;
use spaces_socket_emulator::{DemoAuth, EmulatorConfig, EmulatorEvent, SpaceInfo};

/// The space the demo joins when no `--space` is given.
pub(crate) const DEMO_SPACE: &str = "demo";
/// The demo participant's user id (`sender._id` of its answers; its token on the emulator).
pub(crate) const BOT_ID: &str = "demo-bot";

/// The demo participant's answer to `text` ends with this, then `text`.
pub(crate) const ANSWER_MARK: &str = "You said: ";

/// How long the participant may take to join before the demo gives up.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers every chat message of someone else in the demo space.
struct Participant;

impl Bot for Participant {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe(DEMO_SPACE);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        // Its own answers come back as `Confirmed`, never as `Message`.
        if let SpacesEvent::Message(m) = event {
            let name = m.sender.as_ref().and_then(|s| s.displayname.as_deref());
            let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
            let reply = format!(
                "Hi {}! {ANSWER_MARK}{}",
                name.unwrap_or("there"),
                text.unwrap_or("")
            );
            let _ = ctx.send_text(DEMO_SPACE, &reply);
        }
    }
}

pub(crate) struct Demo {
    server: EmulatorServer,
    participant: Option<(Shutdown, JoinHandle<()>)>,
}

impl Demo {
    /// Starts the emulator with a `demo` space and the participant, and waits until it has
    /// joined the space (so it hears the first line).
    pub(crate) fn start() -> Result<Self, String> {
        let mut config = EmulatorConfig::default();
        config
            .spaces
            .insert(DEMO_SPACE.to_owned(), SpaceInfo::new("Demo space"));
        let server = EmulatorServer::start("127.0.0.1:0", config, Box::new(DemoAuth))
            .map_err(|e| format!("cannot start the embedded emulator: {e}"))?;
        let events = server.events();
        let config = SpacesConfig::new(&server.url()).map_err(|e| e.to_string())?;
        let token = Token::jwt(BOT_ID);
        let mut client = spaces_socket_blocking::connect(config, token, Options::default())
            .map_err(|e| format!("cannot start the demo participant: {e}"))?;
        let shutdown = client.shutdown_handle();
        let run = std::thread::spawn(move || {
            client.run(Participant);
        });
        let demo = Self {
            server,
            participant: Some((shutdown, run)),
        };
        let joined = |e: &EmulatorEvent| matches!(e, EmulatorEvent::Subscribed { user, .. } if user.id == BOT_ID);
        loop {
            match events.recv_timeout(JOIN_TIMEOUT) {
                Ok(e) if joined(&e) => return Ok(demo),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    demo.stop();
                    return Err("the demo participant did not join".into());
                }
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    pub(crate) fn stop(mut self) {
        if let Some((shutdown, run)) = self.participant.take() {
            shutdown.shutdown();
            let _ = run.join();
        }
        self.server.stop();
    }
}
