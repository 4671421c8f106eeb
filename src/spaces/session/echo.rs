//! Telling our own echoes from others' messages: the `loopbackMetadata` tag, the fingerprint
//! of a message whose server dropped it, and the extra copies of a re-sent message.

use std::time::{Duration, Instant};

use super::*;

/// A message of ours confirmed while another copy of it may still come back: it was written
/// more than once (re-sent after a drop, its original perhaps delivered after all), and one
/// copy confirmed it. A later copy without `loopbackMetadata` that matches it is ours too.
#[derive(Debug)]
pub(super) struct Ghost {
    id: SendId,
    space: String,
    fingerprint: Fingerprint,
    /// The sender the confirming copy named: a copy from anyone else is not ours.
    sender: Option<String>,
    /// Copies that may still come back.
    copies: u32,
    /// When it is forgotten.
    until: Instant,
}

/// How long a re-sent message's extra copies are watched for: longer than a server keeps a
/// dead connection open (pingInterval + pingTimeout, 85 s on Spaces), whose late original is
/// what comes back.
pub(super) const GHOST_TTL: Duration = Duration::from_secs(180);
/// Most re-sent messages watched at once (the oldest is forgotten first).
pub(super) const MAX_GHOSTS: usize = 64;

/// What a MESSAGE_SENT is to this session.
pub(super) enum Echo {
    /// The echo of a message of ours on the wire: it confirms it.
    Confirms(Outgoing),
    /// A further echo of a message of ours already confirmed or failed: dropped.
    Settled(SendId),
    /// Someone else's message (or ours from another session).
    Foreign,
}

/// Category and text of a message, for matching an echo that lost its `loopbackMetadata`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Fingerprint {
    category: String,
    text: Option<String>,
}

impl Fingerprint {
    pub(super) fn of(category: &events::Category, content: Option<&events::Content>) -> Self {
        Self {
            category: category.as_str().to_owned(),
            text: content.and_then(|c| c.body_text.as_deref()).map(plain_text),
        }
    }
}

/// `bodyText` as sent, from the HTML a server may echo (`<p>a &amp; b</p>` → `a & b`).
pub(super) fn plain_text(body: &str) -> String {
    let body = body.trim();
    let body = body
        .strip_prefix("<p>")
        .and_then(|b| b.strip_suffix("</p>"))
        .unwrap_or(body);
    unescape_entities(body)
}

/// `body` with the entities the web client writes decoded.
pub(super) fn unescape_entities(body: &str) -> String {
    // One pass, one allocation. The same as replacing each entity in turn with `&amp;` last:
    // no replacement writes a `&` that a later one could read. Names follow their `&`.
    const ENTITIES: [(&str, char); 5] = [
        ("lt;", '<'),
        ("gt;", '>'),
        ("quot;", '"'),
        ("#39;", '\''),
        ("amp;", '&'),
    ];
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some((before, after)) = rest.split_once('&') {
        out.push_str(before);
        rest = match ENTITIES
            .iter()
            .find_map(|&(name, c)| Some((after.strip_prefix(name)?, c)))
        {
            Some((after_entity, c)) => {
                out.push(c);
                after_entity
            }
            None => {
                out.push('&');
                after
            }
        };
    }
    out.push_str(rest);
    out
}

/// The start of every `loopbackMetadata` this crate writes; a session's tag follows.
pub(super) const LOOPBACK_PREFIX: &str = "spaces-socket:";
/// Mixed into the seed for the session's loopback tag, so the tag and the reconnect jitter
/// are independent draws.
pub(super) const LOOPBACK_STREAM: u64 = 0x6c6f_6f70_6261_636b;

/// The `loopbackMetadata` tag of a session whose configuration has `rng_seed = seed`.
/// Runtimes seed every session from the OS, so two sessions (of one user, or of two) never
/// share a tag in practice.
pub(super) fn loopback_tag(seed: u64) -> u64 {
    crate::rng::Rng::new(seed ^ LOOPBACK_STREAM).next_u64()
}

/// The `loopbackMetadata` prefix of a session whose configuration has `rng_seed = seed`:
/// `spaces-socket:<tag>:`, followed by the message's [`SendId`].
pub(crate) fn loopback_prefix(seed: u64) -> String {
    format!("{LOOPBACK_PREFIX}{:016x}:", loopback_tag(seed))
}

impl Spaces {
    /// What `msg` is to this session. By its `loopbackMetadata` when it has one: with this
    /// session's tag it is ours, in flight or settled. Without one (a server that drops it, or
    /// our message's copy broadcast from an older connection): the oldest in-flight message
    /// with the same space, category and text (so a server that strips the metadata still
    /// confirms, and never shows our own message as someone else's; an identical message from
    /// another participant arriving first would be taken for ours — the price of such a
    /// server), else a re-sent message's extra copy ([`Ghost`]).
    pub(super) fn take_own_echo(&mut self, now: Instant, msg: &MessageSent) -> Echo {
        while self.ghosts.front().is_some_and(|g| g.until <= now) {
            self.ghosts.pop_front();
        }
        if let Some(loopback) = msg.loopback_metadata.as_deref() {
            return match self.own_id(loopback) {
                Some(id) => match self.take_in_flight(id) {
                    Some(out) => Echo::Confirms(out),
                    // Confirmed (or failed) already: a second copy of ours, from a resend that
                    // raced its original or a server that echoes more than once. Never
                    // someone else's message.
                    None => {
                        self.take_ghost(|g| g.id == id);
                        Echo::Settled(id)
                    }
                },
                None => Echo::Foreign,
            };
        }
        let Some(space) = msg.topic_id.as_deref() else {
            return Echo::Foreign;
        };
        // Made only when a message of ours in that space awaits its echo: most messages are
        // other people's, in spaces where nothing of ours is in flight.
        let mut fingerprint = None;
        let id = self.in_flight.values().find(|o| {
            o.space == space
                && o.fingerprint
                    == *fingerprint
                        .get_or_insert_with(|| Fingerprint::of(&msg.category, msg.content.as_ref()))
        });
        if let Some(out) = id.map(|o| o.id).and_then(|id| self.take_in_flight(id)) {
            return Echo::Confirms(out);
        }
        if self.ghosts.is_empty() {
            return Echo::Foreign;
        }
        let fingerprint = Fingerprint::of(&msg.category, msg.content.as_ref());
        let sender = msg.sender.as_ref().and_then(|s| s.id.as_deref());
        let ghost = self.take_ghost(|g| {
            g.space == space && g.fingerprint == fingerprint && g.sender.as_deref() == sender
        });
        match ghost {
            Some(id) => Echo::Settled(id),
            None => Echo::Foreign,
        }
    }

    /// Watches for the other copies of `out`, a re-sent message `msg` just confirmed.
    pub(super) fn watch_copies(&mut self, now: Instant, msg: &MessageSent, out: &Outgoing) {
        if self.ghosts.len() >= MAX_GHOSTS {
            self.ghosts.pop_front();
        }
        self.ghosts.push_back(Ghost {
            id: out.id,
            space: out.space.clone(),
            fingerprint: Fingerprint::of(&msg.category, msg.content.as_ref()),
            sender: msg.sender.as_ref().and_then(|s| s.id.clone()),
            copies: out.resends,
            until: now.checked_add(GHOST_TTL).unwrap_or(now),
        });
    }

    /// Counts one copy of the first watched message `which` picks; its id.
    pub(super) fn take_ghost(&mut self, which: impl Fn(&Ghost) -> bool) -> Option<SendId> {
        let at = self.ghosts.iter().position(which)?;
        let ghost = &mut self.ghosts[at];
        let id = ghost.id;
        ghost.copies -= 1;
        if ghost.copies == 0 {
            self.ghosts.remove(at);
            settle(&mut self.ghosts);
        }
        Some(id)
    }

    /// The message a `loopbackMetadata` of this session names (one it accepted), if it is ours.
    pub(super) fn own_id(&self, loopback: &str) -> Option<SendId> {
        let (tag, id) = loopback.strip_prefix(LOOPBACK_PREFIX)?.split_once(':')?;
        let ours = u64::from_str_radix(tag, 16).is_ok_and(|t| t == self.loopback_tag);
        let id = id
            .parse::<u64>()
            .ok()
            .filter(|id| ours && *id < self.next_id)?;
        Some(SendId(id))
    }

    /// The in-flight message a SEND_MESSAGE_FAILED's `loopbackMetadata` names.
    pub(super) fn take_own(&mut self, loopback: Option<&str>) -> Option<Outgoing> {
        let id = self.own_id(loopback?)?;
        self.take_in_flight(id)
    }

    /// Removes a message from the wire, and the stale times at the front of `sent`.
    pub(super) fn take_in_flight(&mut self, id: SendId) -> Option<Outgoing> {
        let out = self.in_flight.remove(&id);
        if self.in_flight.is_empty() {
            // An emptied BTreeMap keeps its node; an idle session should hold none.
            self.in_flight = BTreeMap::new();
        }
        while let Some(&(sent, id)) = self.sent.front() {
            if self.is_on_wire(id, sent) {
                break;
            }
            self.sent.pop_front();
        }
        settle(&mut self.sent);
        out
    }

    /// Whether message `id` is on the wire since `sent` (not confirmed, failed or re-sent).
    pub(super) fn is_on_wire(&self, id: SendId, sent: Instant) -> bool {
        self.in_flight
            .get(&id)
            .is_some_and(|o| o.sent_at == Some(sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entity replacements `plain_text` did before it became one pass: it must agree.
    pub(super) fn unescape_by_replacing(body: &str) -> String {
        body.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    proptest::proptest! {
        /// Bodies built from entity pieces, stray ampersands and text, in any order.
        #[test]
        fn entities_decoded_in_one_pass_equal_replacing_them_one_by_one(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "&", "&amp;", "amp;", "&lt;", "lt;", "&gt;", "&quot;", "quot;", "&#39;",
                    "#39;", "&&", "<p>", "</p>", " ", "a", "\u{e9}", ";",
                ]),
                0..12,
            )
        ) {
            let body = pieces.concat();
            proptest::prop_assert_eq!(unescape_entities(&body), unescape_by_replacing(&body));
        }
    }

    #[test]
    pub(super) fn plain_text_unescapes_the_web_clients_html() {
        let body = "<p>Build &quot;green&quot; &amp;amp; &lt;ok&gt; &#39;x&#39; & done</p>";
        assert_eq!(plain_text(body), "Build \"green\" &amp; <ok> 'x' & done");
        assert_eq!(unescape_entities(body), unescape_by_replacing(body));
    }
}
