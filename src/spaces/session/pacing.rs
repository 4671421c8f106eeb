//! The rate window: events wait for room under [`SpacesConfig::rate_limit`](super::SpacesConfig::rate_limit).

use std::time::Instant;

use super::*;

impl Spaces {
    /// Whether one more event fits the rate window at `now` (forgetting the ones it has left).
    pub(super) fn window_has_room(&mut self, now: Instant) -> bool {
        while self
            .emitted
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.rate_window)
        {
            self.emitted.pop_front();
        }
        settle(&mut self.emitted);
        self.emitted.len() < self.rate_limit as usize
    }

    /// Whether an event may go now: nothing waits before it and the window has room. If so,
    /// it is counted.
    pub(super) fn take_turn(&mut self, now: Instant) -> bool {
        if self.paced.is_empty() && self.window_has_room(now) {
            self.emitted.push_back(now);
            true
        } else {
            false
        }
    }

    /// When the next waiting event may leave.
    pub(super) fn next_release(&self, now: Instant) -> Option<Instant> {
        if self.paced.is_empty() {
            return None;
        }
        let full = self.emitted.len() >= self.rate_limit as usize;
        match self.emitted.front() {
            Some(oldest) if full => oldest.checked_add(self.rate_window),
            _ => Some(now),
        }
    }

    /// Sends waiting events while the window has room.
    pub(super) fn release_paced(&mut self, now: Instant) {
        while !self.paced.is_empty() && self.window_has_room(now) {
            let Some(paced) = self.paced.pop_front() else {
                break;
            };
            self.emitted.push_back(now);
            match paced {
                Paced::Message(out) => self.write_message(now, out),
                Paced::Event {
                    name,
                    payload,
                    subscribes,
                } => {
                    if let Some(w) = subscribes.and_then(|space| self.wanted.get_mut(&space)) {
                        w.state = SubState::Requested { since: now };
                    }
                    self.write_event(now, name, &*payload);
                }
            }
        }
        settle(&mut self.paced);
    }

    pub(super) fn paced_messages(&self) -> usize {
        self.paced
            .iter()
            .filter(|p| matches!(p, Paced::Message(_)))
            .count()
    }

    /// Takes the waiting messages that `which` picks back to the front of the held queue, in
    /// order (they were never written), and drops the other waiting events when the
    /// connection is gone (subscriptions are replayed, presence is momentary).
    pub(super) fn unpace_messages(&mut self, which: impl Fn(&Outgoing) -> bool) {
        let connected = self.chat_connected;
        let mut back = Vec::new();
        let mut kept = VecDeque::new();
        for paced in std::mem::take(&mut self.paced) {
            match paced {
                Paced::Message(o) if which(&o) => back.push(o),
                Paced::Event { .. } if !connected => {}
                other => kept.push_back(other),
            }
        }
        self.paced = kept;
        for o in back.into_iter().rev() {
            self.held.push_front(o);
        }
    }
}
