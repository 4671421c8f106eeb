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
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Observer, SimErrorKind, SimView};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// /// Fails the run at the first step past 2 s.
/// struct Deadline;
///
/// impl Observer for Deadline {
///     fn on_step(&mut self, sim: &SimView<'_>) -> Result<(), String> {
///         if sim.elapsed() > Duration::from_secs(2) {
///             return Err("too late".to_owned());
///         }
///         Ok(())
///     }
/// }
///
/// let mut world = Builder::new();
/// world.seed(3).observer(Deadline);
/// world.participant("bot", Quiet)?;
/// let error = world.run_for(Duration::from_secs(10)).unwrap_err();
/// assert_eq!(error.kind, SimErrorKind::Violation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Observer, SimErrorKind, SimView};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// /// Fails the run at the first step past 2 s.
/// struct Deadline;
///
/// impl Observer for Deadline {
///     fn on_step(&mut self, sim: &SimView<'_>) -> Result<(), String> {
///         if sim.elapsed() > Duration::from_secs(2) {
///             return Err("too late".to_owned());
///         }
///         Ok(())
///     }
/// }
///
/// let mut world = Builder::new();
/// world.seed(3).observer(Deadline);
/// world.participant("bot", Quiet)?;
/// let error = world.run_for(Duration::from_secs(10)).unwrap_err();
/// assert_eq!((error.seed, error.what.as_str()), (3, "too late"));
/// assert!(error.at > Duration::from_secs(2));
/// assert!(error.to_string().starts_with("seed 3: Violation"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
