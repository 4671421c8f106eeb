//! How a bench program runs, the same for `bench` and `bench_floor`: the command line, the
//! embedded emulator when there is no `--url`, the one line printed, the exit status, and
//! the deadline every wait is bounded by.

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::args::{Args, HELP};
use crate::emulator;

/// The whole program: `workload` gets the arguments and the server URL and returns the JSON
/// line; `program` names it in messages. Exit status 0 done, 1 failure, 2 usage error.
pub(crate) fn main(
    program: &str,
    check: impl FnOnce(&Args) -> Result<(), String>,
    workload: impl FnOnce(&Args, &str) -> Result<String, String>,
) -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(emulator::SERVE_FLAG) {
        return emulator::serve();
    }
    let args = match Args::parse(std::env::args().skip(1)).and_then(|args| {
        args.as_ref().map(check).transpose()?;
        Ok(args)
    }) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("{program}: {problem} (see --help)");
            return ExitCode::from(2);
        }
    };
    let (_server, url) = match &args.url {
        Some(url) => (None, url.clone()),
        None => match emulator::Embedded::start() {
            Ok((server, url)) => (Some(server), url),
            Err(problem) => {
                eprintln!("{program}: {problem}");
                return ExitCode::FAILURE;
            }
        },
    };
    match workload(&args, &url) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("{program}: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// The time left before `deadline` (from `--timeout`), or why there is none.
pub(crate) fn remaining(deadline: Instant, doing: &str) -> Result<Duration, String> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(format!("timed out {doing}")),
    }
}

/// Waits for `count` connections to report that they are subscribed, or for the first
/// failure.
pub(crate) fn await_ready(
    ready: &mpsc::Receiver<Result<(), String>>,
    deadline: Instant,
    count: usize,
) -> Result<(), String> {
    let doing = "waiting for the connections to subscribe";
    for _ in 0..count {
        match ready.recv_timeout(remaining(deadline, doing)?) {
            Ok(outcome) => outcome?,
            Err(_) => return Err(format!("timed out {doing}")),
        }
    }
    Ok(())
}
