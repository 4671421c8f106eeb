//! Shrinking a failing run's faults: [`shrink`] reduces a schedule to a few faults that still
//! make the run fail (delta debugging, then shorter windows), and [`FaultPicks`] names the
//! reduced schedule so that [`Builder::only_faults`](crate::Builder::only_faults) replays it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::plan::Fault;

/// Most runs one [`shrink`] may take.
pub const MAX_SHRINK_RUNS: u32 = 2_000;

/// One fault kept from a schedule, maybe with a shorter window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pick {
    index: usize,
    window: Option<Duration>,
}

/// Which faults of a run's schedule to keep (by their place in it, as
/// [`Sim::faults`](crate::Sim::faults) lists them), each maybe with a shorter window. Written
/// `3,7/1500` (faults 3 and 7, the latter's window shortened to 1,500 ms; `-` for none), so a
/// command line can replay it.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Fault, FaultPicks};
///
/// let schedule = vec![
///     (Duration::from_secs(1), Fault::Silent { duration: Duration::from_secs(9) }),
///     (Duration::from_secs(2), Fault::Slow { duration: Duration::from_secs(5), factor: 4 }),
/// ];
/// let picks: FaultPicks = "0/1500".parse()?;
/// assert_eq!(
///     picks.apply(&schedule),
///     vec![(Duration::from_secs(1), Fault::Silent { duration: Duration::from_millis(1500) })],
/// );
/// assert_eq!(picks.to_string(), "0/1500");
/// # Ok::<(), spaces_socket_sim::BadFaultPicks>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultPicks {
    picks: Vec<Pick>,
}

impl FaultPicks {
    /// Every fault of a schedule of `len`, unchanged.
    pub fn all(len: usize) -> Self {
        Self {
            picks: (0..len)
                .map(|index| Pick {
                    index,
                    window: None,
                })
                .collect(),
        }
    }

    /// How many faults are kept.
    pub fn len(&self) -> usize {
        self.picks.len()
    }

    /// No fault is kept.
    pub fn is_empty(&self) -> bool {
        self.picks.is_empty()
    }

    /// The kept faults of `schedule`, with their windows shortened; picks past its end are
    /// left out.
    pub fn apply(&self, schedule: &[(Duration, Fault)]) -> Vec<(Duration, Fault)> {
        self.picks
            .iter()
            .filter_map(|p| {
                let (at, fault) = schedule.get(p.index)?;
                let fault = match p.window {
                    Some(w) => fault.with_duration(w),
                    None => fault.clone(),
                };
                Some((*at, fault))
            })
            .collect()
    }

    fn without(&self, from: usize, to: usize) -> Self {
        let mut picks = self.picks.clone();
        picks.drain(from..to);
        Self { picks }
    }
}

impl fmt::Display for FaultPicks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.picks.is_empty() {
            return f.write_str("-");
        }
        for (k, p) in self.picks.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", p.index)?;
            if let Some(w) = p.window {
                write!(f, "/{}", w.as_millis())?;
            }
        }
        Ok(())
    }
}

/// A [`FaultPicks`] that does not parse: not `-`, nor `index[/ms],…` with increasing indices.
///
/// ```
/// use spaces_socket_sim::FaultPicks;
///
/// assert!("3,1".parse::<FaultPicks>().is_err()); // not in increasing order
/// assert!("two".parse::<FaultPicks>().is_err());
/// assert!("-".parse::<FaultPicks>().is_ok_and(|p| p.is_empty()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFaultPicks(pub String);

impl fmt::Display for BadFaultPicks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a fault list (`-`, or `index[/window ms],…` in increasing order)",
            self.0
        )
    }
}

impl std::error::Error for BadFaultPicks {}

impl FromStr for FaultPicks {
    type Err = BadFaultPicks;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFaultPicks(s.to_owned());
        let s = s.trim();
        if s == "-" {
            return Ok(Self::default());
        }
        let mut picks: Vec<Pick> = Vec::new();
        for part in s.split(',') {
            let (index, window) = match part.split_once('/') {
                Some((i, w)) => (i, Some(w)),
                None => (part, None),
            };
            let index: usize = index.trim().parse().map_err(|_| bad())?;
            let window = match window {
                Some(w) => Some(Duration::from_millis(w.trim().parse().map_err(|_| bad())?)),
                None => None,
            };
            if picks.last().is_some_and(|p| p.index >= index) {
                return Err(bad());
            }
            picks.push(Pick { index, window });
        }
        Ok(Self { picks })
    }
}

/// What [`shrink`] found.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Fault, shrink};
///
/// let schedule = vec![(Duration::from_secs(1), Fault::Silent { duration: Duration::from_secs(4) }); 6];
/// // Stands in for a run that fails whenever at least two faults are kept.
/// let shrunk = shrink(&schedule, |picks| picks.len() >= 2);
/// assert!(shrunk.still_fails);
/// assert_eq!((shrunk.before, shrunk.picks.len()), (6, 2));
/// assert!(shrunk.runs > 1);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    /// The reduced schedule, as picks from the original: replay it with
    /// [`Builder::only_faults`](crate::Builder::only_faults).
    pub picks: FaultPicks,
    /// Faults in the original schedule.
    pub before: usize,
    /// Runs taken.
    pub runs: u32,
    /// The reduced schedule still fails (false only when the original did not fail).
    pub still_fails: bool,
}

/// Reduces a failing run's fault `schedule` to a small one that still fails: `fails` runs the
/// world with the faults `picks` keeps ([`Builder::only_faults`](crate::Builder::only_faults))
/// and says whether the run still fails (any failure, or only the one you are after).
///
/// Delta debugging first (drop halves, then quarters… of the faults while the run keeps
/// failing, down to dropping them one by one), then each remaining fault's window is halved
/// while the run keeps failing. Every run is a full replay from the seed, so a fault dropped
/// early may change what follows; the result is a schedule that fails, checked by its own last
/// run, not a proof that each fault is needed. At most [`MAX_SHRINK_RUNS`] runs.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Fault, FaultPicks, shrink};
///
/// let at = |s| Duration::from_secs(s);
/// let schedule: Vec<(Duration, Fault)> = (0..10)
///     .map(|k| (at(k), Fault::Silent { duration: at(8) }))
///     .collect();
/// // Stands in for a run: it "fails" when fault 6 is kept with a window of at least 1 s.
/// let fails = |picks: &FaultPicks| {
///     picks.apply(&schedule).iter().any(|(t, f)| *t == at(6) && f.duration() >= at(1))
/// };
/// let shrunk = shrink(&schedule, fails);
/// assert!(shrunk.still_fails);
/// assert_eq!(shrunk.picks.to_string(), "6/1000");
/// ```
pub fn shrink(
    schedule: &[(Duration, Fault)],
    mut fails: impl FnMut(&FaultPicks) -> bool,
) -> Shrunk {
    let mut runs = 0u32;
    let mut try_run = |picks: &FaultPicks| {
        if runs >= MAX_SHRINK_RUNS {
            return false;
        }
        runs += 1;
        fails(picks)
    };
    let mut current = FaultPicks::all(schedule.len());
    if !try_run(&current) {
        return Shrunk {
            picks: current,
            before: schedule.len(),
            runs,
            still_fails: false,
        };
    }
    // ddmin on complements: drop one of `n` chunks at a time.
    let mut n = 2usize;
    while current.len() >= 2 {
        let len = current.len();
        let chunk = len.div_ceil(n);
        let mut reduced = false;
        let mut from = 0;
        while from < len {
            let to = (from + chunk).min(len);
            let candidate = current.without(from, to);
            if try_run(&candidate) {
                current = candidate;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
            from = to;
        }
        if !reduced {
            if n >= len {
                break;
            }
            n = (n * 2).min(len);
        }
    }
    // One by one, the last one too (a failure that needs no fault at all).
    let mut k = 0;
    while k < current.len() {
        let candidate = current.without(k, k + 1);
        if try_run(&candidate) {
            current = candidate;
        } else {
            k += 1;
        }
    }
    // Shorter windows: halve each while the run keeps failing.
    for k in 0..current.len() {
        let index = current.picks[k].index;
        let mut window = schedule[index].1.duration();
        while window >= Duration::from_millis(20) {
            let shorter = Duration::from_millis((window.as_millis() / 2) as u64);
            let mut candidate = current.clone();
            candidate.picks[k].window = Some(shorter);
            if !try_run(&candidate) {
                break;
            }
            current = candidate;
            window = shorter;
        }
    }
    Shrunk {
        picks: current,
        before: schedule.len(),
        runs,
        still_fails: true,
    }
}
