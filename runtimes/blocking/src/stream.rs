//! The TCP stream under the websocket, with deadlines instead of per-call timeouts.
//!
//! A socket timeout bounds one `read` syscall; a websocket message or a TLS record may need
//! several, so a peer trickling bytes could keep a plain timeout from ever firing. This wrapper
//! re-arms the socket timeout before every syscall from an absolute deadline, so no call made
//! through it outlives its deadline.
//!
//! A signal caught by a handler (a Ctrl-C crate, async-signal, signal-hook) interrupts a
//! syscall in progress: `EINTR`, [`ErrorKind::Interrupted`], even with `SA_RESTART` on a socket
//! that has a timeout. That is never a failure of the connection, so every read, write and
//! flush here retries it, with the deadline re-armed; tungstenite and both TLS libraries,
//! which all read and write through this stream, never see it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::wake::{Alarm, Woke};

/// Shortest timeout handed to the OS: `set_read_timeout(Some(0))` is an error, and waking a
/// little late is better than spinning on sub-millisecond waits.
pub(crate) const MIN_WAIT: Duration = Duration::from_millis(1);

/// A [`TcpStream`] whose reads (and, while opening, writes) end at a deadline.
///
/// Opening (TCP done; TLS and the websocket upgrade under way), reads and writes share one
/// deadline, and running out of time is a hard `TimedOut` error: it must not be `WouldBlock`,
/// as tungstenite's native-tls path panics on a blocked handshake. Once open, reads stop at
/// the read deadline with `WouldBlock` (resumable: tungstenite and both TLS libraries keep
/// partial frames and records), and writes are bounded by the socket's write timeout.
#[derive(Debug)]
pub(crate) struct TimedStream {
    tcp: TcpStream,
    /// `Some` while opening: the deadline of the whole handshake.
    opening: Option<Instant>,
    /// Open: reads return `WouldBlock` from then on (`None`: block until data arrives).
    read_until: Option<Instant>,
    /// Open: a ring ends a read's wait early, with `WouldBlock` (see [`Alarm`]).
    alarm: Option<Arc<Alarm>>,
    /// The last read left the socket empty (it returned less than asked): the next one waits
    /// first instead of trying a read that would most likely find nothing.
    drained: bool,
}

impl TimedStream {
    /// Wraps a connected socket for the TLS and websocket handshakes, all due by `deadline`.
    pub(crate) fn opening(tcp: TcpStream, deadline: Instant) -> Self {
        Self {
            tcp,
            opening: Some(deadline),
            read_until: None,
            alarm: None,
            drained: false,
        }
    }

    /// Switches to the open phase: writes may take at most `write_timeout` each.
    pub(crate) fn run(&mut self, write_timeout: Duration) -> io::Result<()> {
        self.tcp
            .set_write_timeout(Some(write_timeout.max(MIN_WAIT)))?;
        self.opening = None;
        Ok(())
    }

    /// Once open, a read waiting for data also ends, with `WouldBlock`, when `alarm` rings.
    pub(crate) fn set_alarm(&mut self, alarm: Arc<Alarm>) {
        self.alarm = Some(alarm);
    }

    /// Once open, reads return `WouldBlock` at `until` (`None`: block until data arrives).
    pub(crate) fn set_read_deadline(&mut self, until: Option<Instant>) {
        self.read_until = until;
    }

    /// Time left until the current deadline (`None`: no deadline); an error once it has
    /// passed while opening, zero once it has passed while open.
    fn left(&self, deadline: Option<Instant>) -> io::Result<Option<Duration>> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match left {
            Some(Duration::ZERO) if self.opening.is_some() => Err(timed_out()),
            Some(left) if !left.is_zero() => Ok(Some(left.max(MIN_WAIT))),
            other => Ok(other),
        }
    }

    /// Gives the OS's "timed out" the kind the phase promises (Unix reports an expired socket
    /// timeout as `WouldBlock`, Windows as `TimedOut`).
    fn map_timeout(&self, e: io::Error) -> io::Error {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut if self.opening.is_some() => timed_out(),
            ErrorKind::TimedOut => io::Error::from(ErrorKind::WouldBlock),
            _ => e,
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(ErrorKind::TimedOut, "connect timeout reached")
}

/// Runs `op` again while a signal interrupts it (`EINTR`).
fn retrying<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                log::trace!("spaces-socket-blocking: interrupted by a signal; retrying");
            }
            result => return result,
        }
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retrying(|| self.read_within_deadline(buf))
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        retrying(|| self.write_within_deadline(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        retrying(|| self.tcp.flush())
    }
}

impl TimedStream {
    /// One read, bounded by the current deadline.
    fn read_within_deadline(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Open: whatever has already arrived is taken in one syscall (`MSG_DONTWAIT`), without
        // the poll and socket timeout a wait costs. After a read that emptied the socket, the
        // wait comes first: under load a read finds data, one frame at a time it rarely does.
        let ready = self.opening.is_none() && self.alarm.as_ref().is_some_and(|a| a.can_ring());
        let tried = ready && !std::mem::take(&mut self.drained);
        if tried && let Some(read) = self.read_arrived(buf) {
            return read;
        }
        let left = self.left(self.opening.or(self.read_until))?;
        let nothing = || Err(io::Error::from(ErrorKind::WouldBlock));
        if left == Some(Duration::ZERO) {
            if ready && cfg!(unix) {
                // Past the deadline: what has arrived, or nothing (`tried`: it just found none).
                return match tried {
                    true => nothing(),
                    false => self.read_arrived(buf).unwrap_or_else(nothing),
                };
            }
            // Open and past the deadline: take what has already arrived, without waiting, so
            // a caller polling with a zero wait still makes progress.
            self.tcp.set_nonblocking(true)?;
            let result = self.tcp.read(buf);
            self.tcp.set_nonblocking(false)?;
            return result;
        }
        if let (None, Some(alarm)) = (self.opening, &self.alarm)
            && alarm.wait(Some(&self.tcp), self.read_until)? != Woke::Readable
        {
            return Err(io::Error::from(ErrorKind::WouldBlock));
        }
        if ready && cfg!(unix) {
            // poll said readable; a spurious wake-up reads as the deadline (the caller loops).
            return self.read_arrived(buf).unwrap_or_else(nothing);
        }
        self.tcp.set_read_timeout(left)?;
        self.tcp.read(buf).map_err(|e| self.map_timeout(e))
    }

    /// [`read_arrived`], noting whether it emptied the socket.
    fn read_arrived(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let read = read_arrived(&self.tcp, buf);
        self.drained = matches!(read, Some(Ok(n)) if n < buf.len());
        read
    }

    /// One write, bounded by the opening deadline while opening (by the socket's write
    /// timeout once open).
    fn write_within_deadline(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.opening.is_some() {
            let left = self.left(self.opening)?;
            self.tcp.set_write_timeout(left)?;
        }
        self.tcp.write(buf).map_err(|e| self.map_timeout(e))
    }
}

/// Takes what has already arrived on `tcp` without waiting (`MSG_DONTWAIT`, leaving the
/// socket blocking for writes): `None` when nothing has (or where the flag does not exist).
#[cfg(unix)]
fn read_arrived(tcp: &TcpStream, buf: &mut [u8]) -> Option<io::Result<usize>> {
    use rustix::net::{RecvFlags, recv};
    match recv(tcp, buf, RecvFlags::DONTWAIT) {
        Ok((n, _)) => Some(Ok(n)),
        Err(rustix::io::Errno::AGAIN) => None,
        Err(e) => Some(Err(e.into())),
    }
}

#[cfg(not(unix))]
fn read_arrived(_: &TcpStream, _: &mut [u8]) -> Option<io::Result<usize>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn running_read_stops_at_the_deadline_with_would_block() {
        let (client, _server) = pair();
        let mut s = TimedStream::opening(client, Instant::now() + Duration::from_secs(5));
        s.run(Duration::from_secs(1)).unwrap();
        let start = Instant::now();
        s.set_read_deadline(Some(start + Duration::from_millis(80)));
        let err = s.read(&mut [0u8; 8]).unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(took >= Duration::from_millis(75), "woke early: {took:?}");
        assert!(took < Duration::from_millis(1500), "woke late: {took:?}");
        // Past the deadline a read takes only what is there, without waiting.
        let start = Instant::now();
        let err = s.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn past_the_deadline_data_already_there_is_still_read() {
        let (client, mut server) = pair();
        let mut s = TimedStream::opening(client, Instant::now() + Duration::from_secs(5));
        s.run(Duration::from_secs(1)).unwrap();
        s.set_read_deadline(Some(Instant::now()));
        server.write_all(b"late").unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut buf = [0u8; 4];
        // The bytes may take a moment to cross loopback; each read returns at once.
        let n = loop {
            match s.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "data never read");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], &b"late"[..n]);
        // Still a blocking socket for the next deadline.
        s.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
        let start = Instant::now();
        let _ = s.read(&mut buf);
        assert!(start.elapsed() >= Duration::from_millis(40));
    }

    #[test]
    fn a_trickling_peer_cannot_stretch_the_opening_deadline() {
        let (client, mut server) = pair();
        let deadline = Instant::now() + Duration::from_millis(150);
        let mut s = TimedStream::opening(client, deadline);
        let start = Instant::now();
        let mut got = 0;
        let err = loop {
            // One byte every 40 ms: each read returns quickly, only the deadline stops us.
            server.write_all(b"x").unwrap();
            match s.read(&mut [0u8; 1]) {
                Ok(n) => got += n,
                Err(e) => break e,
            }
            std::thread::sleep(Duration::from_millis(40));
            if start.elapsed() > Duration::from_secs(3) {
                panic!("deadline never enforced");
            }
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(got >= 2, "read {got} bytes before the deadline");
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    /// Issue 16 (3): a signal caught by a handler while a read waits (EINTR) is retried, while
    /// opening (the TLS and websocket handshakes read here) and once open.
    #[cfg(unix)]
    #[test]
    fn a_signal_during_a_read_is_retried_in_both_phases() {
        use nix::sys::pthread::{pthread_kill, pthread_self};
        use nix::sys::signal::Signal;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        let caught = Arc::new(AtomicBool::new(false));
        let handler =
            signal_hook::flag::register(signal_hook::consts::SIGUSR2, Arc::clone(&caught)).unwrap();
        for opening in [true, false] {
            caught.store(false, Ordering::SeqCst);
            let (client, mut server) = pair();
            let mut s = TimedStream::opening(client, Instant::now() + Duration::from_secs(5));
            if !opening {
                s.run(Duration::from_secs(1)).unwrap();
                s.set_read_deadline(Some(Instant::now() + Duration::from_secs(5)));
            }
            let reader = pthread_self();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                pthread_kill(reader, Signal::SIGUSR2).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                server.write_all(b"ok").unwrap();
                server
            });
            let mut buf = [0u8; 2];
            let n = s.read(&mut buf);
            let _server = writer.join().unwrap();
            assert!(
                caught.load(Ordering::SeqCst),
                "opening {opening}: no signal"
            );
            let n = n.unwrap_or_else(|e| panic!("opening {opening}: {e}"));
            assert_eq!(&buf[..n], &b"ok"[..n], "opening {opening}");
            assert!(n >= 1, "opening {opening}");
        }
        signal_hook::low_level::unregister(handler);
    }

    /// Issue 20: with an alarm (as every open client has), arrived data is read at once, even
    /// past the deadline; an empty socket waits for data, or the deadline, or a ring.
    #[test]
    fn with_an_alarm_arrived_data_is_read_and_an_empty_socket_waits() {
        let (client, mut server) = pair();
        let mut s = TimedStream::opening(client, Instant::now() + Duration::from_secs(5));
        s.run(Duration::from_secs(1)).unwrap();
        let alarm = Alarm::new();
        s.set_alarm(Arc::clone(&alarm));
        server.write_all(b"ab").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.set_read_deadline(Some(Instant::now()));
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        assert_eq!(&buf, b"b");
        // Empty and past the deadline: at once, WouldBlock.
        let err = s.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        // Empty with time left: waits until the deadline.
        let start = Instant::now();
        s.set_read_deadline(Some(start + Duration::from_millis(80)));
        let err = s.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(75));
        // Data arriving during the wait is read.
        s.set_read_deadline(Some(Instant::now() + Duration::from_secs(5)));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            server.write_all(b"c").unwrap();
            server
        });
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        assert_eq!(&buf, b"c");
        let server = writer.join().unwrap();
        // The peer closing reads as the end of the stream.
        server.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn data_before_the_deadline_is_read() {
        let (client, mut server) = pair();
        let mut s = TimedStream::opening(client, Instant::now() + Duration::from_secs(5));
        s.run(Duration::from_secs(1)).unwrap();
        s.set_read_deadline(Some(Instant::now() + Duration::from_secs(2)));
        server.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }
}
