//! `bench`: the fan-out and idle workloads of issue 10 through the library's public runtime
//! API (`connect`, `subscribe`, `send_message`, `next_event`), on any of its runtimes.
//!
//! ```sh
//! cargo build --release --example bench
//! target/release/examples/bench --clients 10 --messages 5000 --runtime smol
//! target/release/examples/bench --idle 1000 --url http://127.0.0.1:PORT/chat
//! ```
//!
//! The blocking runtime runs one thread per connection, smol and async-std one task per
//! connection. The client-side rate guard is off (`SpacesConfig::rate_limit`), since the
//! workload sends far more than the documented 200 events a minute. `bench_floor` runs the
//! same workloads with no library at all, `tests/peer/bench-client.js` with the official
//! socket.io-client, and `benches/compare` runs all of them against one server. See
//! `--help` (in `args.rs`) for the options and the JSON line printed.

mod args;
mod emulator;
mod measure;
mod run;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use smol::channel;
use smol::future;
use spaces_socket::spaces::{Content, SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_smol::{Client, Error, Options};

use args::{Args, CONNECTING_AT_ONCE, FANOUT_SPACE, FanOutSize, Runtime, Workload, idle_space};
use measure::{FanOut, IDLE_SETTLE, Idle, Received, cpu_time, latency_since};
use run::await_ready;

/// Stack of each blocking connection's thread: enough for the client, small enough for
/// 10,000 of them (only the pages touched count as memory anyway).
const THREAD_STACK: usize = 256 << 10;

fn main() -> ExitCode {
    run::main("bench", |_| Ok(()), workload)
}

fn workload(args: &Args, url: &str) -> Result<String, String> {
    let setup = Setup::new(args, url)?;
    match (args.runtime, args.workload) {
        (Runtime::Blocking, Workload::FanOut(size)) => fan_out_blocking(&setup, size),
        (Runtime::Blocking, Workload::Idle { connections }) => idle_blocking(&setup, connections),
        (Runtime::Smol, _) => smol::block_on(run_async::<Smol>(setup)),
        (Runtime::AsyncStd, _) => async_std::task::block_on(run_async::<AsyncStd>(setup)),
    }
}

/// What every connection is made from.
#[derive(Clone)]
struct Setup {
    config: SpacesConfig,
    token: Token,
    runtime: &'static str,
    workload: Workload,
    deadline: Instant,
}

impl Setup {
    fn new(args: &Args, url: &str) -> Result<Self, String> {
        let mut config = SpacesConfig::new(url).map_err(|e| format!("bad --url: {e}"))?;
        // The bench sends far more than the documented 200 events a minute on purpose.
        config.rate_limit = u32::MAX;
        let token = match args.token_type {
            "oauth" => Token::oauth(args.token.clone()),
            _ => Token::jwt(args.token.clone()),
        };
        let runtime = match args.runtime {
            Runtime::Blocking => "blocking",
            Runtime::Smol => "smol",
            Runtime::AsyncStd => "async-std",
        };
        Ok(Self {
            config,
            token,
            runtime,
            workload: args.workload,
            deadline: Instant::now() + args.timeout,
        })
    }

    /// The time left before `--timeout`, or why there is none.
    fn remaining(&self, doing: &str) -> Result<Duration, String> {
        run::remaining(self.deadline, doing)
    }
}

impl Setup {
    /// A fan-out starting now: client 0 is told to send next.
    fn fan_out(&self, size: FanOutSize) -> FanOut {
        FanOut {
            client: "spaces-socket",
            runtime: self.runtime,
            size,
            start: (Instant::now(), cpu_time()),
        }
    }
}

/// One connection's part of the fan-out: what it received, and for client 0 what it sent.
struct Tally {
    messages: usize,
    window: usize,
    /// Client 0: messages sent so far; `None` for the others.
    sent: Option<usize>,
    /// One latency (ns) per message received (client 0: per echo).
    latencies: Vec<u64>,
}

impl Tally {
    fn new(index: usize, size: FanOutSize) -> Self {
        let FanOutSize {
            messages, window, ..
        } = size;
        Self {
            messages,
            window,
            sent: (index == 0).then_some(0),
            latencies: Vec::with_capacity(messages),
        }
    }

    fn done(&self) -> bool {
        self.latencies.len() >= self.messages
    }

    /// The next message client 0 may send now: fewer than `window` unconfirmed.
    fn next_send(&mut self) -> Option<SendMessage> {
        let sent = self.sent.as_mut()?;
        if *sent >= self.messages || *sent - self.latencies.len() >= self.window {
            return None;
        }
        let (text, ts) = measure::body(*sent);
        *sent += 1;
        let mut content = Content::text(text);
        content.extra.insert("ts".to_owned(), ts.into());
        let mut message = SendMessage::chat(FANOUT_SPACE, "");
        message.content = content;
        Some(message)
    }

    fn on_event(&mut self, event: SpacesEvent) -> Result<(), String> {
        let message = match event {
            SpacesEvent::Message(message) | SpacesEvent::Confirmed { message, .. } => message,
            other => return check(other),
        };
        let ts = message.content.as_ref().and_then(|c| c.extra.get("ts"));
        if let Some(latency) = ts.and_then(|ts| latency_since(ts.as_str()?)) {
            self.latencies.push(latency);
        }
        Ok(())
    }

    fn progress(&self) -> String {
        format!("{} of {} messages", self.latencies.len(), self.messages)
    }
}

/// The events that end a run early.
fn check(event: SpacesEvent) -> Result<(), String> {
    match event {
        SpacesEvent::SendFailed { failure, .. } => Err(format!("a message failed: {failure:?}")),
        SpacesEvent::SubscribeFailed { space, error } => {
            Err(format!("subscribing to {space} failed: {error}"))
        }
        SpacesEvent::AuthFailed(failure) => Err(format!("authentication failed: {failure:?}")),
        SpacesEvent::Closed | SpacesEvent::ReconnectFailed => Err("the session ended".to_owned()),
        _ => Ok(()),
    }
}

/// Whether `event` is the subscription to `space` a connection waits for.
fn subscribed(event: SpacesEvent, space: &str) -> Result<bool, String> {
    match event {
        SpacesEvent::Subscribed { space: s } => Ok(s == space),
        other => check(other).map(|()| false),
    }
}

fn fan_out_blocking(setup: &Setup, size: FanOutSize) -> Result<String, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let mut go_rx = Some(go_rx);
    let mut threads = Vec::with_capacity(size.clients);
    for index in 0..size.clients {
        let (setup, ready, go) = (setup.clone(), ready_tx.clone(), go_rx.take());
        let tally = Tally::new(index, size);
        let thread = thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || fan_out_connection(&setup, tally, &ready, go))
            .map_err(|e| format!("cannot start thread {index}: {e}"))?;
        threads.push(thread);
    }
    await_ready(&ready_rx, setup.deadline, size.clients)?;
    let run = setup.fan_out(size);
    let _ = go_tx.send(());
    run.line(threads.into_iter().map(|t| {
        t.join()
            .unwrap_or_else(|_| Err("a connection's thread panicked".into()))
    }))
}

fn fan_out_connection(
    setup: &Setup,
    mut tally: Tally,
    ready: &mpsc::Sender<Result<(), String>>,
    go: Option<mpsc::Receiver<()>>,
) -> Received {
    let client = subscribe_blocking(setup, FANOUT_SPACE);
    let _ = ready.send(client.as_ref().map(|_| ()).map_err(Clone::clone));
    let mut client = client?;
    if let Some(go) = go {
        go.recv_timeout(setup.remaining("waiting to start")?)
            .map_err(|_| "the run was called off")?;
    }
    while !tally.done() {
        while let Some(message) = tally.next_send() {
            client.send_message(message).map_err(|e| e.to_string())?;
        }
        let left = setup
            .remaining("")
            .map_err(|_| format!("timed out with {}", tally.progress()))?;
        if let Some(event) = client.next_event(Some(left)) {
            tally.on_event(event)?;
        }
    }
    let done = Instant::now();
    client.close();
    Ok((tally.latencies, done))
}

/// A blocking connection subscribed to `space`.
fn subscribe_blocking(
    setup: &Setup,
    space: &str,
) -> Result<spaces_socket_blocking::Client, String> {
    let connect = spaces_socket_blocking::connect;
    let mut client = connect(
        setup.config.clone(),
        setup.token.clone(),
        Options::default(),
    )
    .map_err(|e| e.to_string())?;
    client.subscribe(space, None).map_err(|e| e.to_string())?;
    loop {
        let left = setup.remaining("subscribing")?;
        if let Some(event) = client.next_event(Some(left))
            && subscribed(event, space)?
        {
            return Ok(client);
        }
    }
}

fn idle_blocking(setup: &Setup, connections: usize) -> Result<String, String> {
    let mut idle = Idle::start("spaces-socket", setup.runtime, connections);
    let (ready_tx, ready_rx) = mpsc::channel();
    for index in 0..connections {
        if index >= CONNECTING_AT_ONCE {
            await_ready(&ready_rx, setup.deadline, 1)?;
        }
        let (setup, ready) = (setup.clone(), ready_tx.clone());
        thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let client = subscribe_blocking(&setup, &idle_space(index));
                let _ = ready.send(client.as_ref().map(|_| ()).map_err(Clone::clone));
                // Keep the heartbeat going (and take the presence events) until the process exits.
                if let Ok(mut client) = client {
                    while !client.is_closed() {
                        client.next_event(Some(Duration::from_secs(5)));
                    }
                }
            })
            .map_err(|e| format!("cannot start thread {index}: {e}"))?;
    }
    await_ready(
        &ready_rx,
        setup.deadline,
        connections.min(CONNECTING_AT_ONCE),
    )?;
    idle.connected();
    thread::sleep(IDLE_SETTLE);
    // The threads are left running: the process exits after printing.
    Ok(idle.line())
}

/// What the async workloads need from an executor.
trait Executor: 'static {
    /// Runs `task` concurrently; the returned future resolves to its output.
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>>;
    /// This runtime's `connect`.
    fn connect(config: SpacesConfig, token: Token) -> Result<Client, Error>;
}

struct Smol;

impl Executor for Smol {
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(smol::spawn(task))
    }
    fn connect(config: SpacesConfig, token: Token) -> Result<Client, Error> {
        spaces_socket_smol::connect(config, token, Options::default())
    }
}

struct AsyncStd;

impl Executor for AsyncStd {
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(async_std::task::spawn(task))
    }
    fn connect(config: SpacesConfig, token: Token) -> Result<Client, Error> {
        spaces_socket_async_std::connect(config, token, Options::default())
    }
}

/// `what`, unless `--timeout` comes first.
async fn bounded<T>(
    setup: &Setup,
    doing: &str,
    what: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let deadline = setup.deadline;
    future::or(what, async move {
        smol::Timer::at(deadline).await;
        Err(format!("timed out {doing}"))
    })
    .await
}

/// The next event of an async connection.
async fn next_event(client: &Client, setup: &Setup, doing: &str) -> Result<SpacesEvent, String> {
    let next = async {
        client
            .next_event()
            .await
            .ok_or_else(|| "the session ended".into())
    };
    bounded(setup, doing, next).await
}

/// An async connection subscribed to `space`.
async fn subscribe_async<E: Executor>(setup: &Setup, space: &str) -> Result<Client, String> {
    let client =
        E::connect(setup.config.clone(), setup.token.clone()).map_err(|e| e.to_string())?;
    client.subscribe(space, None).map_err(|e| e.to_string())?;
    while !subscribed(next_event(&client, setup, "subscribing").await?, space)? {}
    Ok(client)
}

async fn run_async<E: Executor>(setup: Setup) -> Result<String, String> {
    match setup.workload {
        Workload::FanOut(size) => {
            let (ready_tx, ready_rx) = channel::unbounded();
            let (go_tx, go_rx) = channel::bounded::<()>(1);
            let tasks: Vec<_> = (0..size.clients)
                .map(|index| {
                    let tally = Tally::new(index, size);
                    let go = (index == 0).then(|| go_rx.clone());
                    let task = fan_out_task::<E>(setup.clone(), tally, ready_tx.clone(), go);
                    E::spawn(task)
                })
                .collect();
            for _ in 0..size.clients {
                let ready = async { ready_rx.recv().await.map_err(|e| e.to_string())? };
                bounded(&setup, "waiting for the connections to subscribe", ready).await?;
            }
            let run = setup.fan_out(size);
            let _ = go_tx.send(()).await;
            let mut results = Vec::with_capacity(size.clients);
            for task in tasks {
                results.push(task.await);
            }
            run.line(results)
        }
        Workload::Idle { connections } => idle_async::<E>(&setup, connections).await,
    }
}

async fn fan_out_task<E: Executor>(
    setup: Setup,
    mut tally: Tally,
    ready: channel::Sender<Result<(), String>>,
    go: Option<channel::Receiver<()>>,
) -> Received {
    let client = subscribe_async::<E>(&setup, FANOUT_SPACE).await;
    let _ = ready
        .send(client.as_ref().map(|_| ()).map_err(Clone::clone))
        .await;
    let client = client?;
    if let Some(go) = go {
        let start = async { go.recv().await.map_err(|_| "the run was called off".into()) };
        bounded(&setup, "waiting to start", start).await?;
    }
    while !tally.done() {
        while let Some(message) = tally.next_send() {
            client.send_message(message).map_err(|e| e.to_string())?;
        }
        let doing = format!("with {}", tally.progress());
        tally.on_event(next_event(&client, &setup, &doing).await?)?;
    }
    let done = Instant::now();
    client.close().await;
    Ok((tally.latencies, done))
}

async fn idle_async<E: Executor>(setup: &Setup, connections: usize) -> Result<String, String> {
    let mut idle = Idle::start("spaces-socket", setup.runtime, connections);
    let (ready_tx, ready_rx) = channel::unbounded();
    let mut tasks = Vec::with_capacity(connections);
    let await_one = || async {
        let ready = async { ready_rx.recv().await.map_err(|e| e.to_string())? };
        bounded(setup, "waiting for the connections to subscribe", ready).await
    };
    for index in 0..connections {
        if index >= CONNECTING_AT_ONCE {
            await_one().await?;
        }
        let (setup, ready) = (setup.clone(), ready_tx.clone());
        tasks.push(E::spawn(async move {
            let client = subscribe_async::<E>(&setup, &idle_space(index)).await;
            let _ = ready
                .send(client.as_ref().map(|_| ()).map_err(Clone::clone))
                .await;
            // Take the presence events until the process exits (the driver keeps the heartbeat).
            if let Ok(client) = client {
                while client.next_event().await.is_some() {}
            }
        }));
    }
    for _ in 0..connections.min(CONNECTING_AT_ONCE) {
        await_one().await?;
    }
    idle.connected();
    smol::Timer::after(IDLE_SETTLE).await;
    let line = idle.line();
    // The tasks are dropped with the process.
    drop(tasks);
    Ok(line)
}
