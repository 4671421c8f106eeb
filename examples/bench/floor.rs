//! `bench_floor`: the workloads of `bench` with no library, the floor the library is measured
//! against: hard-coded Engine.IO/Socket.IO frames over plain websockets, `serde_json::Value`
//! for what arrives. Same command line and JSON line as `bench`, with `"client":"floor"`.
//!
//! The fan-out runs blocking `tungstenite`, one thread per connection; `--idle` runs
//! `async-tungstenite` tasks on smol with a 4 KiB read buffer (thousands of threads would
//! measure thread stacks, not websockets). Plain `ws://` (`http://`) URLs only.
//!
//! Per connection: read the open packet (`0{…pingInterval…}`), send
//! `40/chat?tokenType=…&token=…,`, wait for `40/chat`, send `SUBSCRIBE_CHANNEL`, wait for
//! `CHANNEL_SUBSCRIBED`; then ping (`2`) every `pingInterval`; client 0 sends
//! `SEND_MESSAGE`s, every client counts `MESSAGE_SENT`s.

mod args;
mod emulator;
mod measure;
mod run;

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use serde_json::Value;
use smol::future;
use smol::stream::StreamExt as _;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use args::{Args, CONNECTING_AT_ONCE, FANOUT_SPACE, FanOutSize, Runtime, Workload, idle_space};
use measure::{FanOut, IDLE_SETTLE, Idle, Received, cpu_time, latency_since};

/// The read buffer of the idle connections (tungstenite's default is 128 KiB).
const IDLE_READ_BUFFER: usize = 4 << 10;

fn main() -> ExitCode {
    let check = |args: &Args| match args.runtime {
        Runtime::Blocking => Ok(()),
        _ => Err("the floor has its own runtime; no --runtime".to_owned()),
    };
    run::main("bench_floor", check, |args, url| {
        let target = Target::new(args, url)?;
        match args.workload {
            Workload::FanOut(size) => fan_out(&target, size),
            Workload::Idle { connections } => smol::block_on(idle(&target, connections)),
        }
    })
}

/// Where and how every connection connects.
#[derive(Clone)]
struct Target {
    /// `host:port`.
    authority: String,
    /// `ws://host:port/socket.io/?EIO=3&transport=websocket`.
    ws_url: String,
    /// `40/chat?tokenType=…&token=…,`.
    join: String,
    deadline: Instant,
}

impl Target {
    fn new(args: &Args, url: &str) -> Result<Self, String> {
        let rest = ["http://", "ws://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or("the floor speaks plain ws:// (http://) only")?;
        let authority = rest.split('/').next().unwrap_or_default().to_owned();
        Ok(Self {
            ws_url: format!("ws://{authority}/socket.io/?EIO=3&transport=websocket"),
            authority,
            join: format!(
                "40/chat?tokenType={}&token={},",
                args.token_type,
                query_escape(&args.token)
            ),
            deadline: Instant::now() + args.timeout,
        })
    }

    fn remaining(&self, doing: &str) -> Result<Duration, String> {
        run::remaining(self.deadline, doing)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The subscription request for `space`.
fn subscribe_frame(space: &str) -> String {
    format!(r#"42/chat,["SUBSCRIBE_CHANNEL",{{"channel":{{"_id":"{space}","type":"topic"}}}}]"#)
}

/// What one received text frame means to the bench.
enum Frame {
    /// `0{…}`: the Engine.IO open packet, with its `pingInterval`.
    Open(Duration),
    /// `40/chat`: the namespace is joined.
    Joined,
    /// `42/chat,[name, payload]`.
    Event(String, Value),
    /// Anything else harmless (pongs, the root `40`).
    Other,
}

fn parse(text: &str) -> Result<Frame, String> {
    if let Some(open) = text.strip_prefix('0') {
        let open: Value =
            serde_json::from_str(open).map_err(|e| format!("bad open packet: {e}"))?;
        let ms = open["pingInterval"].as_u64().unwrap_or(25_000);
        return Ok(Frame::Open(Duration::from_millis(ms)));
    }
    if text == "40/chat" || text == "40/chat," {
        return Ok(Frame::Joined);
    }
    if let Some(args) = text.strip_prefix("42/chat,") {
        let mut args: Value = serde_json::from_str(args).map_err(|e| format!("bad event: {e}"))?;
        let name = args[0].as_str().unwrap_or_default().to_owned();
        // `get_mut`, not `[1]`: indexing a short array mutably would panic.
        let payload = args.get_mut(1).map(Value::take).unwrap_or_default();
        return Ok(Frame::Event(name, payload));
    }
    if text.starts_with("44/chat") || text.starts_with("41/chat") || text.starts_with('1') {
        return Err(format!("the server ended the session: {text}"));
    }
    Ok(Frame::Other)
}

/// Whether `frame` is the subscription to `space`; a refusal is an error.
fn is_subscribed(frame: &Frame, space: &str) -> Result<bool, String> {
    match frame {
        Frame::Event(name, payload) if name == "CHANNEL_SUBSCRIBED" => {
            Ok(payload["channel"]["_id"].as_str() == Some(space))
        }
        Frame::Event(name, payload) if name.ends_with("_FAILED") => {
            Err(format!("{name}: {}", payload["error"]))
        }
        _ => Ok(false),
    }
}

/// The latency of a MESSAGE_SENT in the fan-out space.
fn delivery(frame: &Frame) -> Option<u64> {
    match frame {
        Frame::Event(name, payload) if name == "MESSAGE_SENT" => {
            if payload["topicId"].as_str() != Some(FANOUT_SPACE) {
                return None;
            }
            latency_since(payload["content"]["ts"].as_str()?)
        }
        _ => None,
    }
}

/// A blocking connection with its heartbeat.
struct Conn {
    ws: WebSocket<TcpStream>,
    ping_every: Duration,
    next_ping: Instant,
}

impl Conn {
    /// Connects, joins `/chat` and subscribes to `space`, all within `--timeout`.
    fn open(target: &Target, space: &str) -> Result<Self, String> {
        let addr = target
            .authority
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| format!("cannot resolve {}", target.authority))?;
        let left = target.remaining("connecting")?;
        let tcp =
            TcpStream::connect_timeout(&addr, left).map_err(|e| format!("connect failed: {e}"))?;
        // Bounds the upgrade; `read` sets its own timeouts afterwards.
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        let (ws, _) = tungstenite::client(target.ws_url.as_str(), tcp)
            .map_err(|e| format!("websocket upgrade failed: {e}"))?;
        let mut conn = Self {
            ws,
            ping_every: Duration::from_secs(25),
            next_ping: Instant::now(),
        };
        loop {
            let text = conn.read(target)?;
            match parse(&text)? {
                Frame::Open(every) => {
                    conn.ping_every = every;
                    conn.next_ping = Instant::now() + every;
                    conn.send(target.join.clone())?;
                }
                Frame::Joined => conn.send(subscribe_frame(space))?,
                frame if is_subscribed(&frame, space)? => return Ok(conn),
                _ => {}
            }
        }
    }

    fn send(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .map_err(|e| format!("write failed: {e}"))
    }

    /// The next text frame, pinging when due meanwhile.
    fn read(&mut self, target: &Target) -> Result<String, String> {
        loop {
            target.remaining("reading")?;
            let now = Instant::now();
            if now >= self.next_ping {
                self.send("2".to_owned())?;
                self.next_ping = now + self.ping_every;
            }
            let wait = (self.next_ping - now).min(target.remaining("reading")?);
            let wait = wait.max(Duration::from_millis(1));
            let _ = self.ws.get_mut().set_read_timeout(Some(wait));
            match self.ws.read() {
                Ok(Message::Text(text)) => return Ok(text.as_str().to_owned()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
    }
}

fn fan_out(target: &Target, size: FanOutSize) -> Result<String, String> {
    let FanOutSize {
        clients,
        messages,
        window,
    } = size;
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let mut go_rx = Some(go_rx);
    let mut threads = Vec::with_capacity(clients);
    for index in 0..clients {
        let (target, ready, go) = (target.clone(), ready_tx.clone(), go_rx.take());
        let thread = thread::Builder::new()
            .spawn(move || -> Received {
                let conn = Conn::open(&target, FANOUT_SPACE);
                let _ = ready.send(conn.as_ref().map(|_| ()).map_err(Clone::clone));
                let mut conn = conn?;
                if let Some(go) = go {
                    go.recv_timeout(target.remaining("waiting to start")?)
                        .map_err(|_| "the run was called off")?;
                }
                let mut sent = 0;
                let sender = index == 0;
                let mut latencies = Vec::with_capacity(messages);
                while latencies.len() < messages {
                    if sender {
                        while sent < messages && sent - latencies.len() < window {
                            let (text, ts) = measure::body(sent);
                            let frame = format!(
                                r#"42/chat,["SEND_MESSAGE",{{"category":"chat","content":{{"bodyText":"{text}","ts":"{ts}"}},"topicId":"{FANOUT_SPACE}","loopbackMetadata":"floor-{sent}"}}]"#
                            );
                            conn.ws
                                .write(Message::text(frame))
                                .map_err(|e| format!("write failed: {e}"))?;
                            sent += 1;
                        }
                        conn.ws.flush().map_err(|e| format!("write failed: {e}"))?;
                    }
                    let text = conn.read(&target).map_err(|e| {
                        format!("{e} with {} of {messages} messages", latencies.len())
                    })?;
                    latencies.extend(delivery(&parse(&text)?));
                }
                let done = Instant::now();
                let _ = conn.ws.close(None);
                let _ = conn.ws.flush();
                Ok((latencies, done))
            })
            .map_err(|e| format!("cannot start thread {index}: {e}"))?;
        threads.push(thread);
    }
    run::await_ready(&ready_rx, target.deadline, clients)?;
    let run = FanOut {
        client: "floor",
        runtime: "tungstenite",
        size,
        start: (Instant::now(), cpu_time()),
    };
    let _ = go_tx.send(());
    run.line(threads.into_iter().map(|thread| {
        thread
            .join()
            .unwrap_or_else(|_| Err("its thread panicked".into()))
    }))
}

type AsyncWs = WebSocketStream<smol::net::TcpStream>;

/// An async connection joined and subscribed to `space`, with its ping interval.
async fn open_async(target: &Target, space: &str) -> Result<(AsyncWs, Duration), String> {
    let tcp = smol::net::TcpStream::connect(target.authority.as_str())
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let config = WebSocketConfig::default().read_buffer_size(IDLE_READ_BUFFER);
    let request = target.ws_url.as_str();
    let (mut ws, _) = async_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .map_err(|e| format!("websocket connect failed: {e}"))?;
    let mut ping_every = Duration::from_secs(25);
    loop {
        let text = match ws.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read failed: {e}")),
            None => return Err("the server closed the connection".into()),
        };
        let reply = match parse(text.as_str())? {
            Frame::Open(every) => {
                ping_every = every;
                target.join.clone()
            }
            Frame::Joined => subscribe_frame(space),
            frame if is_subscribed(&frame, space)? => return Ok((ws, ping_every)),
            _ => continue,
        };
        ws.send(Message::text(reply))
            .await
            .map_err(|e| format!("write failed: {e}"))?;
    }
}

/// Keeps an idle connection alive: pings every `every`, reads (and drops) what arrives.
async fn keep_alive(mut ws: AsyncWs, every: Duration) {
    let mut next_ping = Instant::now() + every;
    loop {
        let read = async { Some(ws.next().await) };
        let timer = async {
            smol::Timer::at(next_ping).await;
            None
        };
        match future::or(read, timer).await {
            Some(Some(Ok(_))) => {}
            Some(_) => return,
            None => {
                next_ping += every;
                if ws.send(Message::text("2")).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn idle(target: &Target, connections: usize) -> Result<String, String> {
    let mut idle = Idle::start("floor", "async-tungstenite", connections);
    let (ready_tx, ready_rx) = smol::channel::unbounded::<Result<(), String>>();
    let await_one = || async {
        let ready = async { ready_rx.recv().await.map_err(|e| e.to_string())? };
        let deadline = target.deadline;
        let late = async move {
            smol::Timer::at(deadline).await;
            Err("timed out waiting for the connections to subscribe".to_owned())
        };
        future::or(ready, late).await
    };
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        if index >= CONNECTING_AT_ONCE {
            await_one().await?;
        }
        let (target, ready) = (target.clone(), ready_tx.clone());
        tasks.push(smol::spawn(async move {
            let opened = open_async(&target, &idle_space(index)).await;
            let _ = ready
                .send(opened.as_ref().map(|_| ()).map_err(Clone::clone))
                .await;
            if let Ok((ws, every)) = opened {
                keep_alive(ws, every).await;
            }
        }));
    }
    for _ in 0..connections.min(CONNECTING_AT_ONCE) {
        await_one().await?;
    }
    idle.connected();
    smol::Timer::after(IDLE_SETTLE).await;
    let line = idle.line();
    drop(tasks);
    Ok(line)
}
