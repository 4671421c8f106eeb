//! A small seeded pseudo-random generator: every random choice the session makes (reconnect
//! jitter, its loopback tag) and every one a [`Bot`](crate::bot::Bot) makes through
//! [`Ctx::rng`](crate::bot::Ctx::rng) is reproducible from a seed, so a simulation replays.

use std::time::Duration;

/// SplitMix64: tiny, fast, and good enough for jitter and simulated choices; **not** for
/// cryptography.
///
/// Create one with [`Rng::new`], draw with [`next_u64`](Rng::next_u64) or the helpers
/// ([`range`](Rng::range), [`index`](Rng::index), [`chance`](Rng::chance), [`ms`](Rng::ms),
/// [`pick`](Rng::pick)), and hand an independent stream to a sub-component with
/// [`fork`](Rng::fork).
///
/// ```
/// use spaces_socket::rng::Rng;
///
/// let mut a = Rng::new(7);
/// let mut b = Rng::new(7);
/// assert_eq!(a.range(1, 6), b.range(1, 6)); // same seed, same draws
/// assert!((300..=3_000).contains(&a.ms(300, 3_000).as_millis()));
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, like JavaScript's `Math.random()`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A new generator seeded from this one's next draw: drawing from either afterwards does
    /// not affect the other.
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }

    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`; the modulo bias is negligible here).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.next_u64() % span,
            None => self.next_u64(),
        }
    }

    /// A uniform index below `n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            n => (self.next_u64() % n as u64) as usize,
        }
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den.max(1) < num
    }

    /// A duration uniform in `lo..=hi` milliseconds.
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.range(lo, hi))
    }

    /// A duration roughly log-uniform in `lo..=hi` milliseconds: small values are as likely as
    /// large ones, so both fast and slow networks get drawn.
    pub fn log_ms(&mut self, lo: u64, hi: u64) -> Duration {
        let lo = lo.max(1);
        let mut steps = Vec::new();
        let mut top = lo;
        while top < hi {
            steps.push(top);
            top = top.saturating_mul(2);
        }
        steps.push(hi.max(lo));
        let i = self.index(steps.len());
        let lower = if i == 0 { lo } else { steps[i - 1] };
        self.ms(lower, steps[i])
    }

    /// One of `items`, uniformly; `None` when it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.index(items.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence_and_unit_interval() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn helpers_stay_in_their_bounds() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            assert!((5..=9).contains(&r.range(5, 9)));
            assert!(r.index(4) < 4);
        }
        assert_eq!(r.range(9, 5), 9);
        assert_eq!(r.index(0), 0);
        assert!(!r.chance(0, 10) && r.chance(10, 10));
        assert_eq!(r.pick::<u8>(&[]), None);
        assert_eq!(r.pick(&[4]), Some(&4));
    }

    #[test]
    fn forks_are_reproducible_and_independent() {
        let mut a = Rng::new(3);
        let mut b = Rng::new(3);
        let mut fa = a.fork();
        let mut fb = b.fork();
        // Same parent state, same fork.
        assert_eq!(fa.next_u64(), fb.next_u64());
        // Drawing from the fork does not move the parent.
        for _ in 0..10 {
            fa.next_u64();
        }
        assert_eq!(a.next_u64(), b.next_u64());
        // A fork is not the parent's own continuation.
        let mut c = Rng::new(3);
        let mut fc = c.fork();
        assert_ne!(fc.next_u64(), c.next_u64());
    }

    #[test]
    fn log_ms_stays_in_its_bounds_and_draws_small_and_large() {
        let mut r = Rng::new(5);
        let draws: Vec<u128> = (0..1000).map(|_| r.log_ms(1, 150).as_millis()).collect();
        assert!(draws.iter().all(|ms| (1..=150).contains(ms)), "{draws:?}");
        assert!(draws.iter().any(|ms| *ms <= 2) && draws.iter().any(|ms| *ms >= 75));
    }
}
