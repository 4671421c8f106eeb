//! The embedded emulator of a run without `--url`: the same program started again as a child
//! process with [`SERVE_FLAG`], so that the server's CPU time and memory are not counted as
//! the client's.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitCode, Stdio};

use spaces_socket_emulator::listener::{EmulatorServer, ListenerLimits};
use spaces_socket_emulator::{DemoAuth, EmulatorConfig};

/// The hidden first argument that makes the program serve the emulator instead.
pub(crate) const SERVE_FLAG: &str = "--serve-emulator";
/// Connections the embedded emulator accepts (the default 1024 is too few for `--idle`).
const MAX_CONNECTIONS: usize = 20_000;

/// The child side: serves on a loopback port, prints its URL, and stops when its stdin
/// closes (the parent exited or dropped its [`Embedded`]).
pub(crate) fn serve() -> ExitCode {
    let config = EmulatorConfig {
        max_connections: MAX_CONNECTIONS,
        ..EmulatorConfig::default()
    };
    let mut limits = ListenerLimits::default();
    limits.max_connections = MAX_CONNECTIONS;
    let server = match EmulatorServer::start_with_limits(
        "127.0.0.1:0",
        config,
        Box::new(DemoAuth),
        limits,
    ) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", server.url());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    server.stop();
    ExitCode::SUCCESS
}

/// The parent side: the running child, killed on drop.
pub(crate) struct Embedded {
    child: Child,
}

impl Embedded {
    /// Starts this program again with [`SERVE_FLAG`] and returns it with its URL.
    pub(crate) fn start() -> Result<(Self, String), String> {
        let exe = std::env::current_exe().map_err(|e| format!("no program path: {e}"))?;
        let mut child = Command::new(exe)
            .arg(SERVE_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the embedded emulator: {e}"))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let embedded = Self { child };
        match read {
            Some(Ok(n)) if n > 0 && line.starts_with("http") => {
                Ok((embedded, line.trim().to_owned()))
            }
            _ => Err("the embedded emulator did not print its URL".to_owned()),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
