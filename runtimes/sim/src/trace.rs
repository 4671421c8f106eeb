//! The record of a run: every frame, event, command and fault with its virtual time, hashed as
//! it happens ([`TraceHash`]) and, when kept, as lines ([`Trace`]).

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::time::Duration;

/// FNV-1a, 64 bits: a stable hash of a run's trace (std's hashers promise no stability, and
/// hashes are compared across runs and builds). Two runs of one seed give one hash.
///
/// ```
/// use spaces_socket_sim::TraceHash;
///
/// let mut a = TraceHash::default();
/// a.write(b"ab");
/// a.write(b"c");
/// let mut b = TraceHash::default();
/// b.write(b"a");
/// b.write(b"bc");
/// assert_ne!(a.finish(), b.finish(), "the split between writes counts");
/// ```
#[derive(Debug, Clone)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    /// Mixes `bytes` in, then a separator (so that `("ab","c")` and `("a","bc")` differ).
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The lines of a run, each `"<virtual seconds> <what>"`: commands, events, faults, and every
/// frame in both directions. Kept when [`Builder::keep_trace`](crate::Builder::keep_trace) is
/// on; read it with [`Sim::trace`](crate::Sim::trace) and print it with `Display`. The same seed
/// prints the same trace, byte for byte.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// world.keep_trace(true);
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(3))?;
/// let trace = sim.trace();
/// assert!(!trace.is_empty());
/// assert!(trace.to_string().contains("bob message"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    lines: Vec<String>,
}

impl Trace {
    /// Every line, in order.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No line yet (or the trace is not kept).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Lines kept for a failure message.
pub(crate) const TAIL: usize = 60;

/// The trace being written: the hash, the last [`TAIL`] lines, and every line when kept.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) hash: TraceHash,
    pub(crate) keep: bool,
    pub(crate) trace: Trace,
    pub(crate) tail: VecDeque<String>,
    pub(crate) line: String,
}

impl Recorder {
    /// A hashed line: it is part of the run's identity.
    pub(crate) fn line(&mut self, at: Duration, what: fmt::Arguments<'_>) {
        self.line.clear();
        let _ = write!(self.line, "{:>9.3} {what}", at.as_secs_f64());
        self.hash.write(self.line.as_bytes());
        let line = std::mem::take(&mut self.line);
        self.push(line);
    }

    /// A line for the kept trace and the tail only, not hashed (frames are hashed as bytes,
    /// so the hash does not depend on whether the trace is kept).
    pub(crate) fn show(&mut self, at: Duration, what: fmt::Arguments<'_>) {
        if self.keep {
            self.push(format!("{:>9.3} {what}", at.as_secs_f64()));
        }
    }

    /// Whether [`show`](Self::show) lines are wanted (to skip formatting them otherwise).
    pub(crate) fn showing(&self) -> bool {
        self.keep
    }

    fn push(&mut self, line: String) {
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        if self.keep {
            self.trace.lines.push(line.clone());
        }
        self.tail.push_back(line);
    }
}
