//! The command line shared by `bench` and `bench_floor` (and mirrored by
//! `tests/peer/bench-client.js`), so the three measure the same workload.

use std::time::Duration;

/// What `--help` prints.
pub(crate) const HELP: &str = "\
usage: bench [--url URL] [--token-type jwt|oauth] [--token TOKEN]
             [--runtime blocking|smol|async-std] [--timeout SECS]
             ([--clients N] [--messages M] [--window W] | --idle N)

Fan-out (default): N connections subscribe to space `bench`; client 0 sends M chat messages
keeping at most W unconfirmed (paced by its own echoes); every client must receive all M.
Prints one JSON line: client, runtime, clients, messages, window, deliveries, secs,
deliveries_per_s, cpu_s, p50_ms, p99_ms, rss_mb.
--idle N opens N subscribed connections (spread over 50 spaces) instead and prints
client, runtime, connections, connect_secs, cpu_s, rss_mb, kib_per_conn.
With no --url the embedded emulator runs in a child process (its CPU and memory are not
counted). Exit status: 0 done, 1 failure (missing deliveries, timeout), 2 usage error.

defaults: --token-type jwt --token bench --runtime blocking --timeout 120
          --clients 10 --messages 5000 --window 64
";

/// The options; each takes a value.
const FLAGS: [&str; 9] = [
    "--url",
    "--token",
    "--token-type",
    "--runtime",
    "--timeout",
    "--clients",
    "--messages",
    "--window",
    "--idle",
];

/// The space of the fan-out workload.
pub(crate) const FANOUT_SPACE: &str = "bench";
/// How many spaces the idle connections are spread over (`idle-0` … `idle-49`).
pub(crate) const IDLE_SPACES: usize = 50;
/// Most connections being opened at once in `--idle` (the same in every client), so that
/// thousands of connections do not all hit the server's accept queue in the same instant.
pub(crate) const CONNECTING_AT_ONCE: usize = 200;

/// Which runtime drives the connections (the floor has only its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Blocking,
    Smol,
    AsyncStd,
}

/// The size of a fan-out: `clients` connections, `messages` from client 0, at most `window`
/// unconfirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FanOutSize {
    pub(crate) clients: usize,
    pub(crate) messages: usize,
    pub(crate) window: usize,
}

/// The workload to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    FanOut(FanOutSize),
    /// `connections` subscribed connections, nothing sent.
    Idle {
        connections: usize,
    },
}

/// The parsed command line.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    /// `None`: start the embedded emulator.
    pub(crate) url: Option<String>,
    /// `jwt` or `oauth`.
    pub(crate) token_type: &'static str,
    pub(crate) token: String,
    pub(crate) runtime: Runtime,
    pub(crate) timeout: Duration,
    pub(crate) workload: Workload,
}

impl Args {
    /// Parses the arguments after the program name; `Ok(None)` for `--help`.
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let (mut clients, mut messages, mut window, mut idle) = (10, 5000, 64, None);
        let mut parsed = Self {
            url: None,
            token_type: "jwt",
            token: "bench".to_owned(),
            runtime: Runtime::Blocking,
            timeout: Duration::from_secs(120),
            workload: Workload::Idle { connections: 0 },
        };
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                return Ok(None);
            }
            if !FLAGS.contains(&flag.as_str()) {
                return Err(format!("unknown argument {flag:?}"));
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let count = || match value.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{flag} needs a positive number, got {value:?}")),
            };
            match flag.as_str() {
                "--url" => parsed.url = Some(value.clone()),
                "--token" => parsed.token = value.clone(),
                "--token-type" => {
                    parsed.token_type = match value.as_str() {
                        "jwt" => "jwt",
                        "oauth" => "oauth",
                        _ => return Err(format!("--token-type is jwt or oauth, not {value:?}")),
                    }
                }
                "--runtime" => {
                    parsed.runtime = match value.as_str() {
                        "blocking" => Runtime::Blocking,
                        "smol" => Runtime::Smol,
                        "async-std" => Runtime::AsyncStd,
                        _ => return Err(format!("unknown --runtime {value:?}")),
                    }
                }
                "--timeout" => parsed.timeout = Duration::from_secs(count()? as u64),
                "--clients" => clients = count()?,
                "--messages" => messages = count()?,
                "--window" => window = count()?,
                "--idle" => idle = Some(count()?),
                _ => return Err(format!("unknown argument {flag:?}")),
            }
        }
        parsed.workload = match idle {
            Some(connections) => Workload::Idle { connections },
            None => Workload::FanOut(FanOutSize {
                clients,
                messages,
                window,
            }),
        };
        Ok(Some(parsed))
    }
}

/// The space of idle connection `index`.
pub(crate) fn idle_space(index: usize) -> String {
    format!("idle-{}", index % IDLE_SPACES)
}
