//! The harness's own seeded PRNG (SplitMix64): every random choice of a run derives from the
//! run's seed, so one seed reproduces one run exactly.

use std::time::Duration;

/// SplitMix64. Not for cryptography; good enough to pick faults and latencies.
#[derive(Debug, Clone)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An independent stream, so that drawing more from one part of the harness does not shift
    /// the choices of another.
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }

    /// Uniform in `lo..=hi` (modulo bias is irrelevant at these sizes).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform index below `n` (0 when `n` is 0).
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

    /// Roughly log-uniform in `lo..=hi` milliseconds: small values are as likely as large ones,
    /// so both fast and slow networks get runs.
    pub fn log_ms(&mut self, lo: u64, hi: u64) -> Duration {
        let lo = lo.max(1);
        let mut top = lo;
        let mut steps = Vec::new();
        while top < hi {
            steps.push(top);
            top = top.saturating_mul(2);
        }
        steps.push(hi);
        let i = self.index(steps.len());
        let upper = steps[i];
        let lower = if i == 0 { lo } else { steps[i - 1] };
        self.ms(lower, upper)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

/// FNV-1a, 64 bits: a stable hash of the event trace (std's hashers make no promise of
/// stability, and we compare hashes across runs).
#[derive(Debug, Clone)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    /// Mixes `bytes` in.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}
