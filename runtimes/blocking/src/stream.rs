//! The TCP stream under the websocket, with deadlines instead of per-call timeouts.
//!
//! A socket timeout bounds one `read` syscall; a websocket message or a TLS record may need
//! several, so a peer trickling bytes could keep a plain timeout from ever firing. This wrapper
//! re-arms the socket timeout before every syscall from an absolute deadline, so no call made
//! through it outlives its deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Shortest timeout handed to the OS: `set_read_timeout(Some(0))` is an error, and waking a
/// little late is better than spinning on sub-millisecond waits.
pub(crate) const MIN_WAIT: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Opening (TCP done; TLS and the websocket upgrade under way): reads and writes share one
    /// deadline, and running out of time is a hard `TimedOut` error. It must not be
    /// `WouldBlock`: tungstenite's native-tls path panics on a blocked handshake.
    Opening { deadline: Instant },
    /// Open: reads stop at `read_until` with `WouldBlock` (resumable: tungstenite and both TLS
    /// libraries keep partial frames and records); writes are bounded by the socket's write
    /// timeout, set once.
    Running { read_until: Option<Instant> },
}

/// A [`TcpStream`] whose reads (and, while opening, writes) end at a deadline.
#[derive(Debug)]
pub(crate) struct TimedStream {
    tcp: TcpStream,
    phase: Phase,
    /// The read timeout currently set on the socket, to skip redundant `None` syscalls.
    read_timeout: Option<Duration>,
}

impl TimedStream {
    /// Wraps a connected socket for the TLS and websocket handshakes, all due by `deadline`.
    pub(crate) fn opening(tcp: TcpStream, deadline: Instant) -> Self {
        Self {
            tcp,
            phase: Phase::Opening { deadline },
            read_timeout: None,
        }
    }

    /// Switches to the open phase: writes may take at most `write_timeout` each.
    pub(crate) fn run(&mut self, write_timeout: Duration) -> io::Result<()> {
        self.tcp
            .set_write_timeout(Some(write_timeout.max(MIN_WAIT)))?;
        self.phase = Phase::Running { read_until: None };
        Ok(())
    }

    /// Reads from now on return `WouldBlock` at `until` (`None`: block until data arrives).
    pub(crate) fn set_read_deadline(&mut self, until: Option<Instant>) {
        if let Phase::Running { read_until } = &mut self.phase {
            *read_until = until;
        }
    }

    fn arm_read(&mut self) -> io::Result<()> {
        let (deadline, kind) = match self.phase {
            Phase::Opening { deadline } => (Some(deadline), io::ErrorKind::TimedOut),
            Phase::Running { read_until } => (read_until, io::ErrorKind::WouldBlock),
        };
        let timeout = match deadline {
            None => None,
            Some(d) => Some(remaining(d, kind)?),
        };
        if timeout.is_some() || self.read_timeout.is_some() {
            self.tcp.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }

    fn arm_write(&mut self) -> io::Result<()> {
        if let Phase::Opening { deadline } = self.phase {
            let timeout = remaining(deadline, io::ErrorKind::TimedOut)?;
            self.tcp.set_write_timeout(Some(timeout))?;
        }
        Ok(())
    }

    /// Gives the OS's "timed out" the kind the current phase promises (Unix reports an expired
    /// socket timeout as `WouldBlock`, Windows as `TimedOut`).
    fn map_timeout(&self, e: io::Error) -> io::Error {
        let timed_out = matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        match (timed_out, self.phase) {
            (true, Phase::Opening { .. }) => {
                io::Error::new(io::ErrorKind::TimedOut, "connect timeout reached")
            }
            (true, Phase::Running { .. }) => io::Error::from(io::ErrorKind::WouldBlock),
            (false, _) => e,
        }
    }
}

/// Time left until `deadline`, at least [`MIN_WAIT`]; an error of `kind` once it has passed.
fn remaining(deadline: Instant, kind: io::ErrorKind) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::from(kind));
    }
    Ok(left.max(MIN_WAIT))
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.arm_read() {
            Ok(()) => self.tcp.read(buf).map_err(|e| self.map_timeout(e)),
            // Open and past the deadline: take what has already arrived, without waiting,
            // so a caller polling with a zero wait still makes progress.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.read_now(buf),
            Err(e) => Err(e),
        }
    }
}

impl TimedStream {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_nonblocking(true)?;
        let result = self.tcp.read(buf);
        self.tcp.set_nonblocking(false)?;
        result.map_err(|e| self.map_timeout(e))
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm_write()?;
        self.tcp.write(buf).map_err(|e| self.map_timeout(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
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
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(took >= Duration::from_millis(75), "woke early: {took:?}");
        assert!(took < Duration::from_millis(1500), "woke late: {took:?}");
        // Past the deadline a read takes only what is there, without waiting.
        let start = Instant::now();
        let err = s.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
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
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(got >= 2, "read {got} bytes before the deadline");
        assert!(start.elapsed() < Duration::from_secs(1));
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
