//! A TCP reader's buffer. Under a flood every read fills it, and then the buffer itself
//! becomes the `Data` event's bytes: no copy between the socket and the store, the log and
//! the auto-reply rules. A shorter read is copied out (its bytes only) and the buffer is
//! kept for the next read.
//!
//! On loopback most flood reads are short: the reader drains the socket faster than one
//! segment batch fills 256 KiB, and copying a short read out cost the reader about a
//! sixth of its CPU. So on Unix the buffer is filled in `recv`s of at most
//! [`RECV_STEP`] bytes, a large short read being topped up with non-blocking ones while
//! the socket has more: under a flood the buffer fills and is handed over whole; when
//! the socket runs dry the bytes go out at once, as before (no read waits for more data
//! than has arrived).

use std::io;
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::sync::Arc;

/// Keeps glibc from giving the readers' buffers back to the system as the store frees
/// them. A 256 KiB buffer is above glibc's first mmap threshold, and freed memory at the
/// top of a heap goes back once 128 KiB (or twice the threshold) is free: under a flood
/// the window thread then unmapped buffers (with TLB shootdowns) as fast as the reader
/// faulted fresh zeroed pages in for new ones. With the buffers taken from the heap and
/// up to 64 MiB of free heap kept, the memory cycles between them instead (a 4 GiB flood
/// through the window: 25–30% less CPU). Other systems' allocators keep freed large
/// blocks for reuse on their own.
pub(crate) fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only sets allocator parameters; both values are in range
            // (the mmap threshold at most 32 MiB).
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
            }
        });
    }
}

/// A short first `recv` at least this large (and at least an eighth of the buffer) is
/// topped up while the socket has more: smaller ones are cheap to copy, and a trickle's
/// reads then cost one `recv` each as before.
#[cfg(unix)]
const TOP_UP_FROM: usize = 16 << 10;

/// Most bytes one `recv` asks for (Unix): a larger buffer is filled by several. The
/// kernel holds the socket for the whole of a `recv` and tells the sender about the room
/// it made only at its end, so one 256 KiB `recv` stalls a loopback sender for the whole
/// copy, while 64 KiB steps keep it writing as the reader copies: on a 2-core EPYC
/// (Zen 4, 1 MiB L2) a flood read 3.4–4.3 GB/s in 256 KiB `recv`s and 4.3–7.1 GB/s in
/// 64 KiB ones (same buffers, same 64 MiB kept).
#[cfg(unix)]
const RECV_STEP: usize = 64 << 10;

/// A read buffer owned by one reader thread (never shared until handed over).
pub(crate) struct ReadBuf {
    buf: Arc<[MaybeUninit<u8>]>,
    /// An error a top-up `recv` met after some bytes had been read: those bytes go out
    /// first and the next [`ReadBuf::read`] reports it.
    deferred: Option<io::Error>,
}

impl ReadBuf {
    /// A buffer of `len` bytes.
    pub(crate) fn new(len: usize) -> ReadBuf {
        ReadBuf {
            buf: Arc::new_uninit_slice(len),
            deferred: None,
        }
    }

    /// The buffer's size: a read of this many bytes filled it.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// One blocking `recv` from `stream` into the buffer, topped up (see the module doc);
    /// the number of bytes read (0 at EOF).
    pub(crate) fn read(&mut self, stream: &TcpStream) -> io::Result<usize> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        if Arc::get_mut(&mut self.buf).is_none() {
            // Never happens (the buffer is only shared once replaced), but a fresh one is
            // always right.
            self.buf = Arc::new_uninit_slice(self.buf.len());
        }
        let Some(buf) = Arc::get_mut(&mut self.buf) else {
            return Err(io::Error::other("read buffer shared"));
        };
        let sock = socket2::SockRef::from(stream);
        #[cfg(unix)]
        let n = {
            let step = buf.len().min(RECV_STEP);
            sock.recv(&mut buf[..step])?
        };
        #[cfg(not(unix))]
        let n = sock.recv(buf)?;
        #[cfg(unix)]
        if n >= TOP_UP_FROM.max(buf.len() / 8) && n < buf.len() {
            let (n, error) = top_up(&sock, buf, n);
            self.deferred = error;
            return Ok(n);
        }
        Ok(n)
    }

    /// The `n` bytes the last read gave, as shared bytes. A full buffer is handed over as
    /// it is and replaced by a new one of `next_len` bytes; otherwise the bytes are copied
    /// and the buffer kept.
    pub(crate) fn take(&mut self, n: usize, next_len: usize) -> Arc<[u8]> {
        let n = n.min(self.buf.len());
        if n == self.buf.len() && n > 0 {
            let full = std::mem::replace(&mut self.buf, Arc::new_uninit_slice(next_len));
            // SAFETY: `recv` initialised all `n` = `len` bytes of the buffer.
            return unsafe { full.assume_init() };
        }
        // SAFETY: `recv` initialised the first `n` bytes; `MaybeUninit<u8>` has the
        // layout of `u8`.
        let read = unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), n) };
        Arc::from(read)
    }
}

/// Fills `buf` past its first `n` bytes with non-blocking `recv`s until it is full or the
/// socket has nothing more; the bytes read in all, and an error met on the way (EOF ends
/// the top-up quietly: the next blocking `recv` sees it again).
#[cfg(unix)]
fn top_up(
    sock: &socket2::SockRef<'_>,
    buf: &mut [MaybeUninit<u8>],
    mut n: usize,
) -> (usize, Option<io::Error>) {
    while n < buf.len() {
        let end = buf.len().min(n + RECV_STEP);
        match sock.recv_with_flags(&mut buf[n..end], libc::MSG_DONTWAIT) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A full read is handed over without a copy and the next buffer has the new size; a
    /// short read is copied and the buffer kept; EOF reads 0.
    #[test]
    fn full_reads_are_handed_over_short_ones_copied() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut buf = ReadBuf::new(4);
        client.write_all(b"abcdefg").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        loop {
            let before = buf.len();
            let n = buf.read(&server).unwrap();
            if n == 0 {
                break;
            }
            let bytes = buf.take(n, 8);
            assert_eq!(bytes.len(), n);
            assert_eq!(buf.len(), if n == before { 8 } else { before });
            got.extend_from_slice(&bytes);
        }
        assert_eq!(got, b"abcdefg");
    }

    /// A large short read is topped up while the socket has more (the buffer fills and is
    /// handed over whole); the peer's EOF ends a top-up quietly and the next read sees it.
    #[cfg(unix)]
    #[test]
    fn short_reads_are_topped_up_until_the_socket_is_dry() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // 40 KiB waits in the socket; the buffer has 30 KiB of room past 2 KiB "read".
        let sent: Vec<u8> = (0..40 << 10).map(|i| (i % 251) as u8).collect();
        client.write_all(&sent).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut buf = vec![MaybeUninit::new(0u8); 32 << 10];
        let sock = socket2::SockRef::from(&server);
        let (n, error) = top_up(&sock, &mut buf, 2 << 10);
        assert_eq!(n, 32 << 10);
        assert!(error.is_none());
        let got: Vec<u8> = buf[2 << 10..]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert_eq!(got, sent[..30 << 10]);

        // The rest (10 KiB) and the peer's FIN: a topped-up read takes what is there, the
        // next one reads EOF.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut read = ReadBuf::new(64 << 10);
        let mut got = Vec::new();
        loop {
            let n = read.read(&server).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&read.take(n, 64 << 10));
        }
        assert!(
            got == sent[30 << 10..],
            "{} bytes after the top-up",
            got.len()
        );
    }
}
