//! Deterministic identifiers and timestamps for the emulator: everything comes from the seed
//! and a counter, and times from a configured base epoch plus the `Instant`s passed in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::rng::Rng;

/// Generates the emulator's ids from one seeded stream.
#[derive(Debug)]
pub(super) struct Ids {
    rng: Rng,
    counter: u32,
}

impl Ids {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            counter: 0,
        }
    }

    fn next_count(&mut self) -> u32 {
        self.counter = self.counter.wrapping_add(1);
        self.counter
    }

    /// An engine.io session id: like `base64id`, 15 bytes (11 random, then a 4-byte sequence
    /// number so ids never repeat) as 20 base64url characters.
    pub(super) fn sid(&mut self) -> String {
        let mut bytes = [0u8; 15];
        let (random, seq) = bytes.split_at_mut(11);
        let r = self.rng.next_u64().to_be_bytes();
        let r2 = self.rng.next_u64().to_be_bytes();
        for (dst, src) in random.iter_mut().zip(r.iter().chain(r2.iter())) {
            *dst = *src;
        }
        seq.copy_from_slice(&self.next_count().to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A MongoDB-ObjectId-shaped id (24 lowercase hex characters): 8 seeded random bytes, then
    /// a 4-byte counter, so ids are unique and reproducible.
    pub(super) fn object_id(&mut self) -> String {
        let mut out = String::with_capacity(24);
        push_hex(&mut out, &self.rng.next_u64().to_be_bytes());
        push_hex(&mut out, &self.next_count().to_be_bytes());
        out
    }

    /// A UUID-shaped socket session id (`8-4-4-4-12` hex, version 4 bits set).
    pub(super) fn session_id(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let mut out = String::with_capacity(36);
        for (i, chunk) in [
            &bytes[..4],
            &bytes[4..6],
            &bytes[6..8],
            &bytes[8..10],
            &bytes[10..],
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push('-');
            }
            push_hex(&mut out, chunk);
        }
        out
    }

    /// A device-topic-session id for CHANNEL_SUBSCRIBED (decimal, like the docs' `"1234"`).
    pub(super) fn dtsid(&mut self) -> String {
        (1000 + u64::from(self.next_count())).to_string()
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// Formats milliseconds since the Unix epoch as JavaScript's `Date#toISOString` does
/// (`2021-06-30T00:00:00.000Z`). Years past 9999 are clamped to 9999-12-31T23:59:59.999Z.
pub(super) fn iso8601(unix_ms: u64) -> String {
    const MAX_MS: u64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let unix_ms = unix_ms.min(MAX_MS);
    let days = unix_ms / 86_400_000;
    let ms_of_day = unix_ms % 86_400_000;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_javascript() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // new Date(1498500595839).toISOString()
        assert_eq!(iso8601(1_498_500_595_839), "2017-06-26T18:09:55.839Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(u64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn ids_have_their_shapes_and_repeat_per_seed() {
        let mut a = Ids::new(9);
        let mut b = Ids::new(9);
        let sid = a.sid();
        assert_eq!(sid.len(), 20);
        assert_eq!(sid, b.sid());
        let oid = a.object_id();
        assert_eq!(oid.len(), 24);
        assert!(
            oid.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(oid, a.object_id());
        let uuid = a.session_id();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
    }
}
