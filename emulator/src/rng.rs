//! A small seeded pseudo-random generator, so every random choice the emulator (and the
//! simulations built on it) makes is reproducible from a seed.
//!
//! It is the same SplitMix64 as the client core's private generator; the core does not export
//! its own, so this crate carries one.

use std::time::Duration;

/// SplitMix64: tiny, fast, and good enough for ids and simulated faults; **not** for
/// cryptography.
///
/// Create one with [`Rng::new`], draw with [`next_u64`](Rng::next_u64) or
/// [`next_f64`](Rng::next_f64), and hand an independent stream to a sub-component with
/// [`fork`](Rng::fork), so adding draws in one component does not shift another's. The
/// helpers [`range`](Rng::range), [`index`](Rng::index), [`chance`](Rng::chance),
/// [`ms`](Rng::ms), [`log_ms`](Rng::log_ms) and [`pick`](Rng::pick) draw the shapes a
/// simulation needs.
#[derive(Debug, Clone)]
pub struct Rng {
    /// The client core's own SplitMix64 (the one behind its reconnection jitter).
    inner: spaces_socket::rng::Rng,
}

impl Rng {
    /// A generator whose whole sequence is determined by `seed`. Then draw with
    /// [`next_u64`](Self::next_u64).
    pub fn new(seed: u64) -> Self {
        Self {
            inner: spaces_socket::rng::Rng::new(seed),
        }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `[0, 1)`, like JavaScript's `Math.random()`.
    pub fn next_f64(&mut self) -> f64 {
        self.inner.next_f64()
    }

    /// A new generator seeded from this one's next draw: its sequence depends only on this
    /// generator's state now, and drawing from either afterwards does not affect the other.
    /// Use it to give each component of a simulation its own stream.
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }

    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`; modulo bias is irrelevant at simulation
    /// sizes).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.next_u64() % span,
            None => self.next_u64(),
        }
    }

    /// A uniform index below `n` (0 when `n` is 0), e.g. to pick a participant.
    pub fn index(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
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

    /// One of `items`, uniformly. Panics if `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
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
}
