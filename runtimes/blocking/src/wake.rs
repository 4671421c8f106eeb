//! Waking a thread blocked in [`Client::next_event`](crate::Client::next_event) from another
//! thread: [`Waker`] and [`Shutdown`] ring an [`Alarm`], a loopback UDP socket polled together
//! with the websocket's TCP socket, so the wait ends at once instead of at its deadline.

use std::io;
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::stream::MIN_WAIT;

/// What ended a [`Alarm::wait`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The socket has something to read (or failed: the read says).
    Readable,
    /// A [`Waker`] or [`Shutdown`] rang.
    Rung,
    /// The deadline passed.
    Deadline,
}

/// One client's alarm, shared with its [`Waker`]s and [`Shutdown`]s.
#[derive(Debug)]
pub(crate) struct Alarm {
    /// Connected to itself; `None` when the system has no loopback (then waits end at their
    /// deadline only).
    udp: Option<UdpSocket>,
    rung: AtomicBool,
    stop: AtomicBool,
}

impl Alarm {
    pub(crate) fn new() -> Arc<Self> {
        let udp = (|| {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            udp.connect(udp.local_addr()?)?;
            udp.set_nonblocking(true)?;
            io::Result::Ok(udp)
        })();
        if let Err(e) = &udp {
            log::warn!(
                "spaces-socket-blocking: no loopback wake-up socket ({e}); waits end at their deadlines only"
            );
        }
        Arc::new(Self {
            udp: udp.ok(),
            rung: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        })
    }

    fn ring(&self) {
        self.rung.store(true, Ordering::SeqCst);
        if let Some(udp) = &self.udp {
            let _ = udp.send(&[1]);
        }
    }

    /// Clears the alarm; true if it had rung since the last call.
    pub(crate) fn take(&self) -> bool {
        // Checked before every read: only a ring costs a syscall (a byte a ring sends after
        // this is drained by the next `wait`).
        let rung = self.rung.swap(false, Ordering::SeqCst);
        if rung {
            self.drain();
        }
        rung
    }

    /// False when the alarm has no socket: a ring is then noticed at the next deadline only.
    pub(crate) fn can_ring(&self) -> bool {
        self.udp.is_some()
    }

    /// True once a [`Shutdown`] asked the session to close.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn drain(&self) {
        if let Some(udp) = &self.udp {
            while udp.recv(&mut [0; 16]).is_ok() {}
        }
    }

    /// Waits until `tcp` is readable, the alarm rings, or `until` (`None`: no deadline).
    pub(crate) fn wait(&self, tcp: Option<&TcpStream>, until: Option<Instant>) -> io::Result<Woke> {
        loop {
            if self.rung.load(Ordering::SeqCst) {
                return Ok(Woke::Rung);
            }
            let left = until.map(|u| u.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(Woke::Deadline);
            }
            let Some(udp) = &self.udp else {
                // No alarm socket: the caller's timed read (or this sleep) does the waiting.
                if let (None, Some(left)) = (tcp, left) {
                    std::thread::sleep(left);
                    return Ok(Woke::Deadline);
                }
                return Ok(Woke::Readable);
            };
            let timeout = left.and_then(|d| Timespec::try_from(d.max(MIN_WAIT)).ok());
            let udp_fd = PollFd::new(udp, PollFlags::IN);
            let mut fds = match tcp {
                Some(tcp) => [udp_fd, PollFd::new(tcp, PollFlags::IN)],
                None => [udp_fd.clone(), udp_fd],
            };
            let fds = &mut fds[..1 + usize::from(tcp.is_some())];
            match rustix::event::poll(fds, timeout.as_ref()) {
                // A signal handler ran: not a failure, wait again.
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            if fds.get(1).is_some_and(|fd| !fd.revents().is_empty()) {
                return Ok(Woke::Readable);
            }
            if !fds[0].revents().is_empty() && !self.rung.load(Ordering::SeqCst) {
                // A byte left over from a ring already taken.
                self.drain();
            }
        }
    }
}

/// Wakes the thread waiting in [`Client::next_event`](crate::Client::next_event) (or its next
/// wait): that call returns `None` at once, as on a timeout. Made by
/// [`Client::waker`](crate::Client::waker); cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct Waker(pub(crate) Arc<Alarm>);

impl Waker {
    /// Wakes the client's thread (once; wakes before it waits are not lost).
    pub fn wake(&self) {
        self.0.ring();
    }
}

/// Ends a blocking session from any thread: made by
/// [`Client::shutdown_handle`](crate::Client::shutdown_handle), cheap to clone.
/// [`shutdown`](Self::shutdown) wakes the client's thread, which closes the session gracefully
/// there (`41/chat`, then a websocket close frame); [`Client::run`](crate::Client::run) hands
/// the bot the last events and returns, and a pull loop reads them, then `None`.
///
/// Ctrl-C: with the `ctrlc` crate, `ctrlc::set_handler(move || stop.shutdown())` where `stop`
/// is the handle; with `signal-hook`, call `shutdown` from a thread iterating its `Signals`.
#[derive(Debug, Clone)]
pub struct Shutdown(pub(crate) Arc<Alarm>);

impl Shutdown {
    /// Asks the session to close (later calls do nothing more).
    pub fn shutdown(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        self.0.ring();
    }
}
