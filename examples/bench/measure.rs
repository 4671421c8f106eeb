//! What the benches measure, the same way for `bench` and `bench_floor`: process CPU time,
//! memory from `/proc/self/status`, latency from the send time carried in each message, and
//! the one JSON line each run prints.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::args::FanOutSize;

/// CPU time of this whole process so far (user + system, every thread, finished ones too).
pub(crate) fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A `/proc/self/status` memory field in KiB (`VmHWM`: peak resident set; `VmRSS`: now);
/// 0 where there is no procfs.
pub(crate) fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Wall-clock nanoseconds since the Unix epoch: the `ts` a message carries, comparable
/// across processes on one machine.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The latency of a message stamped `ts` (nanoseconds as text), received now.
pub(crate) fn latency_since(ts: &str) -> Option<u64> {
    let sent: u64 = ts.parse().ok()?;
    Some(now_ns().saturating_sub(sent))
}

/// The chat content every client sends: `{"bodyText":"m<i>","ts":"<send time ns>"}`.
pub(crate) fn body(index: usize) -> (String, String) {
    (format!("m{index}"), now_ns().to_string())
}

/// What one fan-out connection hands back: its latencies (ns) and when it had them all.
pub(crate) type Received = Result<(Vec<u64>, Instant), String>;

/// What a fan-out run measured.
pub(crate) struct FanOut {
    pub(crate) client: &'static str,
    pub(crate) runtime: &'static str,
    pub(crate) size: FanOutSize,
    /// When client 0 was told to start sending, and the process CPU time then.
    pub(crate) start: (Instant, Duration),
}

impl FanOut {
    /// The JSON line (fixed key order, so runs diff well) from every connection's result
    /// (in client order), or the first failure. The CPU time counts up to now, so the
    /// closing of the connections too.
    pub(crate) fn line(
        self,
        results: impl IntoIterator<Item = Received>,
    ) -> Result<String, String> {
        let (start, cpu_start) = self.start;
        let FanOutSize {
            clients,
            messages,
            window,
        } = self.size;
        let mut latencies = Vec::with_capacity(clients * messages);
        let mut end = start;
        for (index, result) in results.into_iter().enumerate() {
            let (received, done) = result.map_err(|e| format!("client {index}: {e}"))?;
            latencies.extend(received);
            end = end.max(done);
        }
        let cpu = cpu_time().saturating_sub(cpu_start);
        latencies.sort_unstable();
        let secs = (end - start).as_secs_f64();
        let deliveries = latencies.len();
        Ok(format!(
            "{{\"client\":\"{}\",\"runtime\":\"{}\",\"clients\":{clients},\"messages\":{messages},\
             \"window\":{window},\"deliveries\":{deliveries},\"secs\":{secs:.3},\
             \"deliveries_per_s\":{:.0},\"cpu_s\":{:.3},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\
             \"rss_mb\":{:.1}}}",
            self.client,
            self.runtime,
            deliveries as f64 / secs.max(1e-9),
            cpu.as_secs_f64(),
            percentile_ms(&latencies, 50),
            percentile_ms(&latencies, 99),
            status_kib("VmHWM") as f64 / 1024.0,
        ))
    }
}

/// Nearest-rank percentile of sorted nanoseconds, in milliseconds.
fn percentile_ms(sorted: &[u64], pct: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted[rank - 1] as f64 / 1e6
}

/// An idle run being measured: [`Idle::start`] before the first connection,
/// [`Idle::connected`] once the last is subscribed, then [`Idle::line`] after
/// [`IDLE_SETTLE`].
pub(crate) struct Idle {
    client: &'static str,
    runtime: &'static str,
    connections: usize,
    /// `VmRSS` before the first connection, KiB.
    rss_before_kib: u64,
    /// When the first connection started, and the process CPU time then.
    start: (Instant, Duration),
    /// From the first connect to the last subscription, and the CPU time it took.
    connected: (Duration, Duration),
}

impl Idle {
    /// Starts the clocks and reads the memory before the first connection.
    pub(crate) fn start(client: &'static str, runtime: &'static str, connections: usize) -> Self {
        Self {
            client,
            runtime,
            connections,
            rss_before_kib: status_kib("VmRSS"),
            start: (Instant::now(), cpu_time()),
            connected: (Duration::ZERO, Duration::ZERO),
        }
    }

    /// Stops the clocks: every connection is subscribed.
    pub(crate) fn connected(&mut self) {
        let (start, cpu_start) = self.start;
        self.connected = (start.elapsed(), cpu_time().saturating_sub(cpu_start));
    }

    /// The JSON line; memory is read now (call it once the connections have settled).
    pub(crate) fn line(&self) -> String {
        let grown = status_kib("VmRSS").saturating_sub(self.rss_before_kib);
        format!(
            "{{\"client\":\"{}\",\"runtime\":\"{}\",\"connections\":{},\"connect_secs\":{:.3},\
             \"cpu_s\":{:.3},\"rss_mb\":{:.1},\"kib_per_conn\":{:.1}}}",
            self.client,
            self.runtime,
            self.connections,
            self.connected.0.as_secs_f64(),
            self.connected.1.as_secs_f64(),
            status_kib("VmHWM") as f64 / 1024.0,
            grown as f64 / self.connections.max(1) as f64,
        )
    }
}

/// How long the idle runs let the connections settle (presence storms, buffers) before
/// reading memory.
pub(crate) const IDLE_SETTLE: Duration = Duration::from_secs(2);
