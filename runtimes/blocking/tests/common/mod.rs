//! Helpers shared by this crate's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use spaces_socket::spaces::SpacesEvent;
use spaces_socket_blocking::SpacesClient;

/// The longest any test here waits for something decisive.
pub const BOUND: Duration = Duration::from_secs(10);

/// Events until `pred` matches or the session closes, within [`BOUND`].
pub fn events_until(c: &mut SpacesClient, pred: impl Fn(&SpacesEvent) -> bool) -> Vec<SpacesEvent> {
    let deadline = Instant::now() + BOUND;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "nothing decisive within {BOUND:?}: {seen:#?}"
        );
        match c.next_event(Some(left)) {
            Some(e) => {
                let done = pred(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            }
            None if c.is_closed() => return seen,
            None => {}
        }
    }
}
