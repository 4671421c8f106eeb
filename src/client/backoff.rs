//! Reconnection delays with backo2 1.0.2's exact schedule (socket.io-client 2.0.4), saturating
//! instead of overflowing.

use std::time::Duration;

use crate::rng::Rng;

/// `min · 2^attempts`, then jitter: one uniform draw `r` picks both the size
/// (`floor(r · jitter · ms)`) and the sign (`floor(r · 10)` even → subtract), capped at `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min_ms: u64,
    max_ms: u64,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration, jitter: f64) -> Self {
        // backo2 accepts a jitter only in (0, 1]; anything else means "no jitter".
        let jitter = if jitter > 0.0 && jitter <= 1.0 {
            jitter
        } else {
            0.0
        };
        Self {
            min_ms: duration_ms(min),
            max_ms: duration_ms(max),
            jitter,
            attempts: 0,
        }
    }

    /// Attempts made since the last reset (the first delay is for attempt 1).
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The next delay; counts one more attempt.
    pub(crate) fn next_delay(&mut self, rng: &mut Rng) -> Duration {
        let exp = self.attempts.min(63);
        self.attempts = self.attempts.saturating_add(1);
        // JS computes in doubles; saturate where it would reach Infinity/NaN and wrap to 0 ms.
        let ms = (self.min_ms as f64) * 2f64.powi(exp as i32);
        let ms = if self.jitter > 0.0 {
            let r = rng.next_f64();
            let deviation = (r * self.jitter * ms).floor();
            if ((r * 10.0).floor() as u64).is_multiple_of(2) {
                ms - deviation
            } else {
                ms + deviation
            }
        } else {
            ms
        };
        let capped = ms.min(self.max_ms as f64).max(0.0);
        Duration::from_millis(capped as u64)
    }

    /// The bounds a delay for `attempt` (1-based) must fall in: `[d·(1−j), min(d·(1+j), max)]`
    /// with `d = min · 2^(attempt−1)`. Used by tests and the simulation's invariants.
    pub(crate) fn bounds(&self, attempt: u32) -> (Duration, Duration) {
        let exp = attempt.saturating_sub(1).min(63);
        let d = (self.min_ms as f64) * 2f64.powi(exp as i32);
        let lo = (d - (d * self.jitter).floor()).min(self.max_ms as f64);
        let hi = (d + (d * self.jitter).floor()).min(self.max_ms as f64);
        (
            Duration::from_millis(lo.max(0.0) as u64),
            Duration::from_millis(hi.max(0.0) as u64),
        )
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Backoff {
        Backoff::new(
            Duration::from_millis(1000),
            Duration::from_millis(5000),
            0.5,
        )
    }

    #[test]
    fn delays_stay_within_backo2_bounds_for_many_seeds() {
        for seed in 0..500 {
            let mut rng = Rng::new(seed);
            let mut b = defaults();
            for attempt in 1..=12 {
                let d = b.next_delay(&mut rng);
                let (lo, hi) = b.bounds(attempt);
                assert!(
                    d >= lo && d <= hi,
                    "seed {seed} attempt {attempt}: {d:?} not in {lo:?}..={hi:?}"
                );
            }
        }
    }

    #[test]
    fn documented_default_ranges() {
        let b = defaults();
        let ms = |a| {
            let (lo, hi) = b.bounds(a);
            (lo.as_millis(), hi.as_millis())
        };
        assert_eq!(ms(1), (500, 1500));
        assert_eq!(ms(2), (1000, 3000));
        assert_eq!(ms(3), (2000, 5000));
        assert_eq!(ms(4), (4000, 5000));
        assert_eq!(ms(5), (5000, 5000));
    }

    #[test]
    fn saturates_instead_of_wrapping_to_zero_after_thousands_of_attempts() {
        let mut rng = Rng::new(3);
        let mut b = defaults();
        for _ in 0..2000 {
            let d = b.next_delay(&mut rng);
            assert!(d >= Duration::from_millis(500));
        }
        assert_eq!(b.attempts(), 2000);
        b.reset();
        assert_eq!(b.attempts(), 0);
    }

    #[test]
    fn no_jitter_gives_exact_doubling() {
        let mut rng = Rng::new(1);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000), 0.0);
        let got: Vec<u128> = (0..6).map(|_| b.next_delay(&mut rng).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }
}
