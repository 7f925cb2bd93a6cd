//! TCP keepalive: on by default for clients and servers, so a peer that vanished (a device
//! unplugged, a laptop closed) is noticed and its slot freed instead of held forever.
//! Portable through socket2; the probe count cannot be set on Windows, which uses its
//! own (10 probes).

use std::net::TcpStream;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

/// When keepalive probes start and how they go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (not settable on Windows).
    pub retries: u32,
}

impl Default for Keepalive {
    /// 60 s idle, then a probe every 10 s, 5 probes: a dead peer is found in about 2 min.
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            retries: 5,
        }
    }
}

/// Turns keepalive on for `stream` with these timings.
pub(crate) fn apply(stream: &TcpStream, keepalive: &Keepalive) -> std::io::Result<()> {
    let params = TcpKeepalive::new()
        .with_time(keepalive.idle)
        .with_interval(keepalive.interval);
    #[cfg(not(windows))]
    let params = params.with_retries(keepalive.retries);
    SockRef::from(stream).set_tcp_keepalive(&params)
}

/// The keepalive options `stream` holds (None: off). Where the system cannot report a
/// value (Windows), the default stands in for it.
pub(crate) fn read(stream: &TcpStream) -> std::io::Result<Option<Keepalive>> {
    let sock = SockRef::from(stream);
    if !sock.keepalive()? {
        return Ok(None);
    }
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        Ok(Some(Keepalive {
            idle: sock.tcp_keepalive_time()?,
            interval: sock.tcp_keepalive_interval()?,
            retries: sock.tcp_keepalive_retries()?,
        }))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        Ok(Some(Keepalive::default()))
    }
}

/// True when setting an option failed only because the connection is already gone (the
/// reader reports that as the close); anything else is worth an error.
pub(crate) fn connection_gone(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::NotConnected | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options reach the socket (read back where the system lets us).
    #[test]
    fn keepalive_is_set_on_a_stream() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let keepalive = Keepalive {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(5),
            retries: 3,
        };
        apply(&stream, &keepalive).unwrap();
        let sock = SockRef::from(&stream);
        assert!(sock.keepalive().unwrap());
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        {
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(30));
            assert_eq!(
                sock.tcp_keepalive_interval().unwrap(),
                Duration::from_secs(5)
            );
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
        }
    }
}
