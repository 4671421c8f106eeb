//! Issue 16 (3): with a signal handler installed (as async-signal, signal-hook or ctrlc do), a
//! signal that arrives while the blocking client waits in a read interrupts the `read`
//! syscall (`EINTR`: a socket with a receive timeout is not restarted even with
//! `SA_RESTART`). That is a retry, not a lost connection: the session stays connected, and a
//! Ctrl-C handler that then calls `close()` still leaves cleanly (the server sees
//! `41/chat`, socket.io's "client namespace disconnect", not a transport close).
#![cfg(unix)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::pthread::{pthread_kill, pthread_self};
use nix::sys::signal::Signal;
use spaces_socket::spaces::{SpacesEvent, Token};

use crate::support::{BOUND, client, peer, wait_for};

#[test]
fn a_signal_during_a_read_is_retried_and_the_clean_leave_still_reaches_the_server() {
    let mut peer = peer::spaces_server_with(peer::SIO_2_0_4, 25_000, 60_000, &["--log-frames"]);
    // A real handler, as a Ctrl-C crate installs: it sets `seen`. (signal-hook sets
    // SA_RESTART, which does not restart a read on a socket with a receive timeout.)
    let seen = Arc::new(AtomicBool::new(false));
    let handler = signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&seen))
        .expect("install a SIGUSR1 handler");
    let delivered = Arc::new(AtomicUsize::new(0));

    let mut alice = client(&peer.url("/chat"), Token::jwt("alice~1"));
    alice.subscribe("s1", None).expect("session open");
    wait_for(&mut alice, "alice", "Subscribed", BOUND, |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });

    // Signal this thread, the one about to wait in the read, every 50 ms for 1.5 s.
    let reader = pthread_self();
    let stop = Arc::new(AtomicBool::new(false));
    let signaller = thread::spawn({
        let stop = Arc::clone(&stop);
        let seen = Arc::clone(&seen);
        let delivered = Arc::clone(&delivered);
        move || {
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
                if pthread_kill(reader, Signal::SIGUSR1).is_ok()
                    && seen.swap(false, Ordering::SeqCst)
                {
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });
    let until = Instant::now() + Duration::from_millis(1500);
    let mut events = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        events.extend(alice.next_event(Some(left)));
    }
    stop.store(true, Ordering::SeqCst);
    signaller.join().expect("the signalling thread");

    assert!(
        delivered.load(Ordering::SeqCst) >= 5,
        "the signals reached the handler: {}",
        delivered.load(Ordering::SeqCst)
    );
    assert!(
        !events.iter().any(|e| matches!(
            e,
            SpacesEvent::Disconnected { .. }
                | SpacesEvent::Reconnecting { .. }
                | SpacesEvent::ConnectFailed { .. }
                | SpacesEvent::Closed
        )),
        "a signal during a read lost the connection: {events:#?}"
    );
    assert!(alice.core().is_connected(), "{events:#?}");

    // The Ctrl-C handler's clean leave.
    alice.close();
    let leave = peer.wait_for_frame("leave", |_| true, BOUND);
    assert_eq!(
        leave.as_ref().map(|f| f.data.as_str()),
        Some("client namespace disconnect"),
        "the server saw {leave:?}; frames {:#?}",
        peer.frames()
    );
    signal_hook::low_level::unregister(handler);
}
