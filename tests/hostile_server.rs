//! A hostile (or broken) server cannot make the client panic, hang or grow without bound.
//!
//! One module per misbehaviour. Each drives the sans-IO [`Client`] or [`Spaces`] session with
//! a virtual clock, drains with bounded loops (a client that kept producing output or
//! deadlines would fail the test instead of hanging it), and states the memory bound it checks
//! with the per-thread counting allocator below.
#![allow(unsafe_code)] // Only the counting allocator below; the crates themselves forbid it.

#[path = "it/support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use spaces_socket::client::{DisconnectReason, Event, ProtocolViolation, Transmit};
use spaces_socket::spaces::Input;
use support::client::ClientHarness as Harness;

// ----- counting allocator ----------------------------------------------------------------------

/// Counts the live heap bytes of each thread (tests run on threads of their own, so one test's
/// allocations never show in another's numbers) and the peak since [`peak_during`] started.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: allocations during thread teardown are simply not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are plain
// thread-local cells without destructors, so counting never allocates or re-enters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as a fresh block then the old one freed: a moving realloc holds both.
            track(new_size as isize);
            track(-(layout.size() as isize));
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Runs `f` and returns its result with the most heap bytes this thread held at once during
/// it, above what it held when `f` started.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = live();
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, usize::try_from(peak - base).unwrap_or(0))
}

/// No event arguments: serializes as `[]`.
const NO_ARGS: [u8; 0] = [];
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

// ----- bounded driving -------------------------------------------------------------------------

/// More outputs than any single input may produce; reaching it means the client spins.
const DRAIN_LIMIT: usize = 100_000;

/// Drains transmits and events, failing instead of looping forever.
fn drain(h: &mut Harness) -> (Vec<Transmit>, Vec<Event>) {
    let mut transmits = Vec::new();
    let mut events = Vec::new();
    while let Some(t) = h.client.poll_transmit() {
        transmits.push(t);
        assert!(transmits.len() < DRAIN_LIMIT, "endless transmits");
    }
    while let Some(e) = h.client.poll_event() {
        events.push(e);
        assert!(events.len() < DRAIN_LIMIT, "endless events");
    }
    (transmits, events)
}

/// Fires timers up to `ms` after start, at most `max_timers` of them (a client that schedules
/// deadlines in a tight loop fails here), calling `on_output` after each.
fn advance_to(
    h: &mut Harness,
    ms: u64,
    max_timers: usize,
    mut on_output: impl FnMut(&mut Harness, Vec<Transmit>, Vec<Event>),
) {
    let target = h.start + Duration::from_millis(ms);
    let mut fired = 0;
    while let Some(deadline) = h.client.poll_timeout() {
        if deadline > target {
            break;
        }
        fired += 1;
        assert!(
            fired <= max_timers,
            "more than {max_timers} timers by {ms} ms"
        );
        h.now = h.now.max(deadline);
        h.put(Input::Timeout);
        let (t, e) = drain(h);
        on_output(h, t, e);
    }
    h.now = h.now.max(target);
}

fn connected_client(tweak: impl FnOnce(&mut spaces_socket::client::Config)) -> Harness {
    let mut h = Harness::new("http://127.0.0.1:1/chat", tweak);
    h.client.connect(h.now);
    h.put(Input::Opened);
    h.put(Input::Text(&support::client::open_packet(25_000, 60_000)));
    h.put(Input::Text("40/chat,"));
    drain(&mut h);
    assert!(h.client.is_connected("/chat"));
    h
}

fn violations(events: &[Event]) -> Vec<&ProtocolViolation> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ProtocolViolation(v) => Some(v),
            _ => None,
        })
        .collect()
}

fn messages(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

// ----- misbehaviours ---------------------------------------------------------------------------

/// Announces hundreds of attachments, or sends attachments of megabytes.
mod binary_hoard {
    use super::*;

    /// Nothing of a refused packet's attachments is kept: at most 64 KiB while they stream in.
    const BOUND: usize = 64 * KIB;

    #[test]
    fn nine_hundred_ninety_nine_attachments_of_four_mib_are_refused_and_never_kept() {
        let mut h = connected_client(|_| {});
        let attachment = {
            let mut a = vec![0u8; 4 * MIB + 1];
            a[0] = 4;
            a
        };
        let header = r#"45999-/chat,["hoard",{"_placeholder":true,"num":998}]"#;
        let ((), peak) = peak_during(|| {
            h.put(Input::Text(header));
            for _ in 0..999 {
                h.put(Input::Binary(&attachment));
            }
        });
        let (_, events) = drain(&mut h);
        assert_eq!(
            violations(&events),
            vec![&ProtocolViolation::TooManyAttachments {
                announced: 999,
                limit: 10
            }],
            "one violation for the packet, its attachments dropped quietly"
        );
        assert!(messages(&events).is_empty());
        assert!(peak <= BOUND, "peak {peak} bytes > {BOUND}");
        // The connection and the next packet are unaffected.
        h.put(Input::Text(r#"42/chat,["after"]"#));
        let (_, events) = drain(&mut h);
        assert_eq!(messages(&events), vec!["after"]);
        assert!(h.client.is_connected("/chat"));
    }

    #[test]
    fn a_four_mib_attachment_is_refused_before_it_is_copied() {
        let mut h = connected_client(|_| {});
        let mut attachment = vec![7u8; 4 * MIB + 1];
        attachment[0] = 4;
        let ((), peak) = peak_during(|| {
            h.put(Input::Text(
                r#"452-/chat,["big",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ));
            h.put(Input::Binary(&attachment));
            h.put(Input::Binary(&attachment));
        });
        let (_, events) = drain(&mut h);
        assert_eq!(
            violations(&events),
            vec![&ProtocolViolation::BinaryPacketTooLarge { limit: MIB }]
        );
        assert!(messages(&events).is_empty());
        assert!(peak <= BOUND, "peak {peak} bytes > {BOUND}");
    }

    #[test]
    fn attachments_adding_up_past_one_mib_drop_the_partial_packet() {
        let mut h = connected_client(|_| {});
        let placeholders: Vec<String> = (0..10).map(spaces_socket::socket::placeholder).collect();
        h.put(Input::Text(&format!(
            r#"4510-/chat,["parts",{}]"#,
            placeholders.join(",")
        )));
        let mut part = vec![1u8; 200 * KIB + 1];
        part[0] = 4;
        for _ in 0..10 {
            h.put(Input::Binary(&part));
        }
        let (_, events) = drain(&mut h);
        assert_eq!(
            violations(&events),
            vec![&ProtocolViolation::BinaryPacketTooLarge { limit: MIB }]
        );
        // The partial data is gone: the heap holds about what it held before the packet.
        h.put(Input::Text(r#"42/chat,["after"]"#));
        let (_, events) = drain(&mut h);
        assert_eq!(messages(&events), vec!["after"]);
    }

    #[test]
    fn within_the_bounds_a_binary_event_still_arrives() {
        let mut h = connected_client(|_| {});
        h.put(Input::Text(
            r#"451-/chat,["ok",{"_placeholder":true,"num":0}]"#,
        ));
        h.put(Input::Binary(&[4, 1, 2, 3]));
        let (_, events) = drain(&mut h);
        assert_eq!(messages(&events), vec!["ok"]);
        assert!(violations(&events).is_empty());
    }

    #[test]
    fn the_spaces_session_refuses_binary_events_outright() {
        use spaces_socket::spaces::SpacesEvent;
        use support::spaces::SpacesHarness;
        let mut h = SpacesHarness::subscribed(|_| {});
        h.feed(r#"451-/chat,["MESSAGE_SENT",{"_placeholder":true,"num":0}]"#);
        h.put(Input::Binary(&[4, 1, 2, 3]));
        let events = h.take_events();
        assert!(
            matches!(
                &events[..],
                [SpacesEvent::ProtocolViolation(
                    ProtocolViolation::TooManyAttachments {
                        announced: 1,
                        limit: 0
                    }
                )]
            ),
            "{events:?}"
        );
        assert!(h.client.is_connected());
        // A binary packet with no attachments carries no binary data: it is an ordinary event.
        h.feed(r#"450-/chat,["SOMETHING_NEW",{}]"#);
        let events = h.take_events();
        assert!(
            matches!(&events[..], [SpacesEvent::Unrecognized { name, .. }] if name == "SOMETHING_NEW"),
            "{events:?}"
        );
    }
}

/// Announces `pingInterval: 0, pingTimeout: 0`.
mod ping_zero_zero {
    use super::*;

    /// The client follows the server's heartbeat however short (issue 16: pinging less
    /// often than asked gets the connection dropped), so the floor is only there against
    /// an announced 0: time must pass between two pings (the default floor, 1 ms), even when
    /// every ping is answered at once; the client never spins.
    #[test]
    fn pings_never_spin_even_when_every_ping_is_answered_at_once() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |_| {});
        h.client.connect(h.now);
        h.put(Input::Opened);
        h.put(Input::Text(&support::client::open_packet(0, 0)));
        h.put(Input::Text("40/chat,"));
        drain(&mut h);
        let mut pings = Vec::new();
        advance_to(&mut h, 1_000, 2_000, |h, transmits, events| {
            assert!(
                !events
                    .iter()
                    .any(|e| matches!(e, Event::Disconnected { .. }))
            );
            if transmits.contains(&Transmit::Text("2".into())) {
                pings.push(h.now);
                h.put(Input::Text("3"));
                drain(h);
            }
        });
        assert!(
            pings
                .windows(2)
                .all(|w| w[1] - w[0] >= Duration::from_millis(1)),
            "two pings at the same instant"
        );
        assert!(
            (990..=1_000).contains(&pings.len()),
            "{} pings in 1 s",
            pings.len()
        );
        assert!(h.client.is_connected("/chat"));
    }

    #[test]
    fn a_server_that_never_answers_cannot_keep_the_reconnection_attempts_from_running_out() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |c| {
            c.reconnection_attempts = Some(5);
        });
        h.client.connect(h.now);
        let mut opens = 0;
        let mut closed = false;
        // Every connection: open packet with 0/0, namespace connected, then silence.
        let mut serve = |h: &mut Harness, transmits: Vec<Transmit>, events: Vec<Event>| {
            if events.contains(&Event::Closed) {
                closed = true;
            }
            if transmits.iter().any(|t| matches!(t, Transmit::Open(_))) {
                opens += 1;
                h.put(Input::Opened);
                h.put(Input::Text(&support::client::open_packet(0, 0)));
                h.put(Input::Text("40/chat,"));
                drain(h);
            }
        };
        let (t, e) = drain(&mut h);
        serve(&mut h, t, e);
        advance_to(&mut h, 10 * 60_000, 1_000, serve);
        assert!(closed, "reconnection never gave up");
        assert_eq!(opens, 6, "the first connection and 5 attempts");
        assert!(h.client.is_closed());
        assert_eq!(h.client.poll_timeout(), None);
    }

    #[test]
    fn reconnection_delays_keep_growing_to_the_maximum() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |c| c.rng_seed = Some(3));
        h.client.connect(h.now);
        let mut scheduled = Vec::new();
        let mut serve = |h: &mut Harness, transmits: Vec<Transmit>, events: Vec<Event>| {
            for e in &events {
                if let Event::ReconnectScheduled { attempt, delay } = e {
                    scheduled.push((*attempt, *delay));
                }
            }
            if transmits.iter().any(|t| matches!(t, Transmit::Open(_))) {
                h.put(Input::Opened);
                h.put(Input::Text(&support::client::open_packet(0, 0)));
                h.put(Input::Text("40/chat,"));
                drain(h);
            }
        };
        let (t, e) = drain(&mut h);
        serve(&mut h, t, e);
        advance_to(&mut h, 120_000, 1_000, serve);
        assert!(scheduled.len() >= 10, "{scheduled:?}");
        for (i, (attempt, delay)) in scheduled.iter().enumerate() {
            assert_eq!(*attempt as usize, i + 1, "attempts count on: {scheduled:?}");
            let (lo, hi) = h.client.config().reconnect_delay_bounds(*attempt);
            assert!(*delay >= lo && *delay <= hi, "{scheduled:?}");
        }
        // From the 5th attempt on, every delay is the 5 s maximum.
        assert!(
            scheduled[5..]
                .iter()
                .all(|(_, d)| *d == Duration::from_secs(5))
        );
    }
}

/// Announces `pingInterval` and `pingTimeout` of 2^31−1 ms (almost 25 days), then goes silent.
mod ping_two_to_the_thirty_one {
    use super::*;

    #[test]
    fn a_silent_link_is_detected_within_seven_minutes() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |_| {});
        h.client.connect(h.now);
        h.put(Input::Opened);
        h.put(Input::Text(&support::client::open_packet(
            2_147_483_647,
            2_147_483_647,
        )));
        h.put(Input::Text("40/chat,"));
        drain(&mut h);
        let mut lost_at = None;
        advance_to(&mut h, 8 * 60_000, 100, |h, _, events| {
            if events.contains(&Event::Disconnected {
                nsp: "/chat".into(),
                reason: DisconnectReason::PingTimeout,
            }) {
                lost_at.get_or_insert(h.at());
            }
        });
        // Ping at +5 min (the clamped interval), no pong by +2 min (the clamped timeout).
        assert_eq!(lost_at, Some(7 * 60_000));
    }
}

/// Sends event arrays of millions of tiny elements (`[0,0,0,…]`), which cost about 16 times
/// their size to split when unbounded.
mod huge_arrays_of_tiny_elements {
    use super::*;

    fn frame(prefix: &str, suffix: &str) -> String {
        let mut f = String::with_capacity(MIB + 64);
        f.push_str(prefix);
        while f.len() < MIB {
            f.push_str(",0");
        }
        f.push_str(suffix);
        f
    }

    #[test]
    fn a_one_mib_frame_of_top_level_zeros_is_refused_within_64_kib() {
        let mut h = connected_client(|_| {});
        let text = frame(r#"42/chat,["x",0"#, "]");
        let (events, peak) = peak_during(|| {
            h.put(Input::Text(&text));
            drain(&mut h).1
        });
        assert!(
            matches!(
                violations(&events)[..],
                [ProtocolViolation::Socket(
                    spaces_socket::socket::DecodeError::TooManyElements { limit: 64 }
                )]
            ),
            "{events:?}"
        );
        assert!(
            peak <= 64 * KIB,
            "peak {peak} bytes for a {} byte frame",
            text.len()
        );
    }

    /// Shows the allocator measures what matters: the same frame, with the bound lifted.
    #[test]
    fn without_the_bound_the_same_frame_would_cost_over_eight_times_its_size() {
        let mut h = connected_client(|c| c.max_args = usize::MAX);
        let text = frame(r#"42/chat,["x",0"#, "]");
        let (events, peak) = peak_during(|| {
            h.put(Input::Text(&text));
            drain(&mut h).1
        });
        assert_eq!(messages(&events), vec!["x"]);
        assert!(peak > 8 * text.len(), "peak {peak} bytes");
    }

    #[test]
    fn the_same_as_an_ack_is_refused_too() {
        let mut h = connected_client(|_| {});
        let id = h
            .client
            .emit_with_ack(h.now, "/chat", "q", &NO_ARGS)
            .unwrap();
        drain(&mut h);
        let text = frame(&format!("43/chat,{}[0", id.get()), "]");
        let (events, peak) = peak_during(|| {
            h.put(Input::Text(&text));
            drain(&mut h).1
        });
        assert_eq!(violations(&events).len(), 1, "{events:?}");
        assert!(peak <= 64 * KIB, "peak {peak} bytes");
        assert_eq!(h.client.pending_acks("/chat"), 1, "still awaited");
    }

    #[test]
    fn one_argument_holding_the_array_costs_one_copy_of_the_frame() {
        let mut h = connected_client(|_| {});
        let text = frame(r#"42/chat,["x",[0"#, "]]");
        let (events, peak) = peak_during(|| {
            h.put(Input::Text(&text));
            drain(&mut h).1
        });
        assert_eq!(messages(&events), vec!["x"]);
        let bound = text.len() + 64 * KIB;
        assert!(peak <= bound, "peak {peak} bytes > {bound}");
    }
}

/// Connects and disconnects `/chat` over and over (`40/chat`, `41/chat`, …).
mod namespace_flapping {
    use super::*;
    use spaces_socket::spaces::SpacesEvent;
    use support::spaces::SpacesHarness;

    #[test]
    fn endless_connect_disconnect_on_one_of_two_namespaces_stays_flat() {
        let mut h = connected_client(|_| {});
        h.client.join(h.now, "/other").unwrap();
        drain(&mut h);
        let mut events = 0;
        let before = live();
        for _ in 0..50_000 {
            h.put(Input::Text("41/chat,"));
            h.put(Input::Text("40/chat,"));
            events += drain(&mut h).1.len();
        }
        // The server closed /chat once; it stays closed until the user joins again.
        assert_eq!(events, 1, "only the first DISCONNECT is reported");
        assert!(!h.client.is_connected("/chat"));
        assert!(h.client.is_open(), "/other keeps the connection");
        let grown = live() - before;
        assert!(grown <= 4 * KIB as isize, "grew by {grown} bytes");
    }

    #[test]
    fn the_spaces_session_closes_once_and_ignores_the_rest() {
        let mut h = SpacesHarness::subscribed(|_| {});
        let mut all = Vec::new();
        for _ in 0..10_000 {
            h.feed("41/chat,");
            h.feed("40/chat,");
            all.extend(h.take_events());
            assert!(all.len() < 100, "{all:?}");
        }
        assert!(
            all.iter().any(|e| matches!(e, SpacesEvent::Closed)),
            "{all:?}"
        );
        // The first connection's request, and no other: a reconnection would ask again.
        assert_eq!(h.token_requests, [0], "no reconnection loop");
        assert!(h.client.is_closed());
        assert!(h.take_texts().is_empty());
    }

    #[test]
    fn a_disconnect_of_the_only_namespace_closes_for_good() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |c| {
            c.reconnection_attempts = Some(3);
        });
        h.client.connect(h.now);
        let mut opens = 0;
        let mut closed = false;
        let mut serve = |h: &mut Harness, transmits: Vec<Transmit>, events: Vec<Event>| {
            closed |= events.contains(&Event::Closed);
            if transmits.iter().any(|t| matches!(t, Transmit::Open(_))) {
                opens += 1;
                h.put(Input::Opened);
                h.put(Input::Text(support::client::OPEN_PACKET));
                h.put(Input::Text("40/chat,"));
                h.put(Input::Text("41/chat,"));
                h.put(Input::Text("40/chat,"));
                h.put(Input::Closed { error: None });
                let (t, e) = drain(h);
                closed |= e.contains(&Event::Closed);
                assert!(!t.iter().any(|t| matches!(t, Transmit::Open(_))));
            }
        };
        let (t, e) = drain(&mut h);
        serve(&mut h, t, e);
        advance_to(&mut h, 10 * 60_000, 100, serve);
        // The server's DISCONNECT of the only namespace closes the client at once.
        assert!(closed);
        assert_eq!(opens, 1);
        assert!(h.client.is_closed());
    }
}

/// Accepts each websocket, sends the open packet and `40/chat`, then closes it.
mod accept_then_drop {
    use super::*;

    #[test]
    fn attempts_run_out_and_delays_grow() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |c| {
            c.reconnection_attempts = Some(8);
        });
        h.client.connect(h.now);
        let mut opens = 0;
        let mut last_delay = Duration::ZERO;
        let mut closed = false;
        let mut serve = |h: &mut Harness, transmits: Vec<Transmit>, events: Vec<Event>| {
            for e in &events {
                match e {
                    Event::ReconnectScheduled { delay, .. } => last_delay = *delay,
                    Event::Closed => closed = true,
                    _ => {}
                }
            }
            if transmits.iter().any(|t| matches!(t, Transmit::Open(_))) {
                opens += 1;
                h.put(Input::Opened);
                h.put(Input::Text(support::client::OPEN_PACKET));
                h.put(Input::Text("40/chat,"));
                h.put(Input::Closed { error: None });
                let (t, e) = drain(h);
                assert!(!t.iter().any(|t| matches!(t, Transmit::Open(_))));
                for e in &e {
                    match e {
                        Event::ReconnectScheduled { delay, .. } => last_delay = *delay,
                        Event::Closed => closed = true,
                        _ => {}
                    }
                }
            }
        };
        let (t, e) = drain(&mut h);
        serve(&mut h, t, e);
        advance_to(&mut h, 10 * 60_000, 1_000, serve);
        assert!(closed, "reconnection never gave up");
        assert_eq!(opens, 9, "the first connection and 8 attempts");
        assert_eq!(
            last_delay,
            Duration::from_secs(5),
            "delays reached the maximum"
        );
    }
}

/// Asks for an ack with every event, forever, and the user never answers (the Spaces layer
/// never does).
mod ack_requests_never_answered {
    use super::*;

    #[test]
    fn the_owed_acks_stay_bounded_and_the_oldest_are_forgotten() {
        let mut h = connected_client(|_| {});
        // Warm up to the bound, then measure: the next 100,000 requests add nothing.
        for id in 0..4096u64 {
            h.put(Input::Text(&format!(r#"42/chat,{id}["ev"]"#)));
        }
        let (_, warm_up) = drain(&mut h);
        let before = live();
        let mut last = None;
        for id in 4096..104_096u64 {
            h.put(Input::Text(&format!(r#"42/chat,{id}["ev"]"#)));
            let (_, events) = drain(&mut h);
            assert_eq!(events.len(), 1);
            last = ack_of(&events[0]);
        }
        let grown = live() - before;
        assert!(grown <= 16 * KIB as isize, "grew by {grown} bytes");
        let first = ack_of(&warm_up[0]).expect("the first request asks for an ack");
        assert_eq!(
            h.client.ack(h.now, "/chat", first, &NO_ARGS),
            Err(spaces_socket::client::EmitError::UnknownAck(0))
        );
        let last = last.expect("the last request asks for an ack");
        assert_eq!(last.get(), 104_095);
        assert_eq!(h.client.ack(h.now, "/chat", last, &NO_ARGS), Ok(()));
    }

    fn ack_of(event: &Event) -> Option<spaces_socket::client::AckId> {
        match event {
            Event::Message { ack, .. } => *ack,
            _ => None,
        }
    }
}

/// Floods a namespace with events before answering its CONNECT.
mod events_before_the_namespace_connects {
    use super::*;

    #[test]
    fn at_most_one_mib_is_held_and_the_rest_is_dropped_with_a_violation() {
        let mut h = Harness::new("http://127.0.0.1:1/chat", |_| {});
        h.client.connect(h.now);
        h.put(Input::Opened);
        h.put(Input::Text(support::client::OPEN_PACKET));
        drain(&mut h);
        let big = "y".repeat(10 * KIB);
        let frame = format!(r#"42/chat,["early","{big}"]"#);
        let before = live();
        let mut dropped = 0;
        for _ in 0..1000 {
            h.put(Input::Text(&frame));
            let (_, events) = drain(&mut h);
            dropped += events
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Event::ProtocolViolation(ProtocolViolation::ReceiveBufferFull { nsp })
                            if nsp == "/chat"
                    )
                })
                .count();
            assert!(
                messages(&events).is_empty(),
                "held until the CONNECT answer"
            );
        }
        let held = usize::try_from(live() - before).unwrap_or(0);
        assert!(held <= MIB + 64 * KIB, "holding {held} bytes");
        assert!(dropped >= 850, "{dropped} dropped");
        h.put(Input::Text("40/chat,"));
        let (_, events) = drain(&mut h);
        assert_eq!(messages(&events).len(), 1000 - dropped);
        assert!(matches!(events[0], Event::Connected { .. }));
    }
}
