//! Why a run stops early: [`SimError`], and the bounds that stop a run going astray.

use std::fmt;
use std::time::Duration;

/// Most messages one direction of one link may hold in flight before the run is stopped
/// ([`SimErrorKind::Model`]): bounded memory.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Most steps at one virtual instant before the run is declared live-locked (a timer that
/// never clears itself, or two machines answering each other forever).
pub const MAX_STEPS_PER_INSTANT: u64 = 50_000;
/// Most steps in one run.
pub const MAX_STEPS: u64 = 20_000_000;

/// What kind of failure stopped a run.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimErrorKind {
    /// An [`Observer`](crate::Observer) hook returned an error: a checked property does not hold.
    Violation,
    /// A machine did something the network cannot carry: writing with no websocket open,
    /// the emulator writing to a closed connection or refusing a well-formed connect, an
    /// in-flight queue past [`MAX_IN_FLIGHT`].
    Model,
    /// More than [`MAX_STEPS_PER_INSTANT`] steps at one virtual instant.
    LiveLock,
    /// More than [`MAX_STEPS`] steps in the run.
    TooManySteps,
}

/// A run stopped early. `Display` gives the seed, the virtual time, what happened and the last
/// trace lines; replay the seed to see the whole trace
/// ([`Builder::keep_trace`](crate::Builder::keep_trace)).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// The run's seed.
    pub seed: u64,
    /// Virtual time of the failure.
    pub at: Duration,
    /// What kind.
    pub kind: SimErrorKind,
    /// What happened.
    pub what: String,
    /// The last trace lines before it.
    pub tail: Vec<String>,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {:?} at {:.3}s: {}\nlast trace lines:\n{}",
            self.seed,
            self.kind,
            self.at.as_secs_f64(),
            self.what,
            self.tail.join("\n")
        )
    }
}

impl std::error::Error for SimError {}
