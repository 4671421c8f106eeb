//! What the benches measure, the same way for `bench` and `bench_floor`: process CPU time,
//! memory from `/proc/self/status`, latency from the send time carried in each message, and
//! the one JSON line each run prints.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// What a fan-out run measured.
pub(crate) struct FanOut {
    pub(crate) client: &'static str,
    pub(crate) runtime: &'static str,
    pub(crate) clients: usize,
    pub(crate) messages: usize,
    pub(crate) window: usize,
    /// One latency (ns) per delivery, over all clients.
    pub(crate) latencies: Vec<u64>,
    /// From the first send to the last delivery.
    pub(crate) elapsed: Duration,
    /// Process CPU over the same span (plus the closing of the connections).
    pub(crate) cpu: Duration,
}

impl FanOut {
    /// The JSON line (fixed key order, so runs diff well).
    pub(crate) fn line(mut self) -> String {
        self.latencies.sort_unstable();
        let secs = self.elapsed.as_secs_f64();
        let deliveries = self.latencies.len();
        format!(
            "{{\"client\":\"{}\",\"runtime\":\"{}\",\"clients\":{},\"messages\":{},\"window\":{},\
             \"deliveries\":{deliveries},\"secs\":{secs:.3},\"deliveries_per_s\":{:.0},\
             \"cpu_s\":{:.3},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"rss_mb\":{:.1}}}",
            self.client,
            self.runtime,
            self.clients,
            self.messages,
            self.window,
            deliveries as f64 / secs.max(1e-9),
            self.cpu.as_secs_f64(),
            percentile_ms(&self.latencies, 50),
            percentile_ms(&self.latencies, 99),
            status_kib("VmHWM") as f64 / 1024.0,
        )
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

/// What an idle run measured.
pub(crate) struct Idle {
    pub(crate) client: &'static str,
    pub(crate) runtime: &'static str,
    pub(crate) connections: usize,
    /// From the first connect to the last subscription.
    pub(crate) elapsed: Duration,
    /// Process CPU over the same span.
    pub(crate) cpu: Duration,
    /// `VmRSS` before the first connection, KiB.
    pub(crate) rss_before_kib: u64,
}

impl Idle {
    /// The JSON line; memory is read now (call it once the connections have settled).
    pub(crate) fn line(self) -> String {
        let grown = status_kib("VmRSS").saturating_sub(self.rss_before_kib);
        format!(
            "{{\"client\":\"{}\",\"runtime\":\"{}\",\"connections\":{},\"connect_secs\":{:.3},\
             \"cpu_s\":{:.3},\"rss_mb\":{:.1},\"kib_per_conn\":{:.1}}}",
            self.client,
            self.runtime,
            self.connections,
            self.elapsed.as_secs_f64(),
            self.cpu.as_secs_f64(),
            status_kib("VmHWM") as f64 / 1024.0,
            grown as f64 / self.connections.max(1) as f64,
        )
    }
}

/// How long the idle runs let the connections settle (presence storms, buffers) before
/// reading memory.
pub(crate) const IDLE_SETTLE: Duration = Duration::from_secs(2);
