//! A TCP reader's buffer. Under a flood every read fills it, and then the buffer itself
//! becomes the `Data` event's bytes: no copy between the socket and the store, the log and
//! the auto-reply rules. A shorter read is copied out (its bytes only) and the buffer is
//! kept for the next read.

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

/// A read buffer owned by one reader thread (never shared until handed over).
pub(crate) struct ReadBuf {
    buf: Arc<[MaybeUninit<u8>]>,
}

impl ReadBuf {
    /// A buffer of `len` bytes.
    pub(crate) fn new(len: usize) -> ReadBuf {
        ReadBuf {
            buf: Arc::new_uninit_slice(len),
        }
    }

    /// The buffer's size: a read of this many bytes filled it.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// One `recv` from `stream` into the buffer; the number of bytes read (0 at EOF).
    pub(crate) fn read(&mut self, stream: &TcpStream) -> io::Result<usize> {
        if Arc::get_mut(&mut self.buf).is_none() {
            // Never happens (the buffer is only shared once replaced), but a fresh one is
            // always right.
            self.buf = Arc::new_uninit_slice(self.buf.len());
        }
        match Arc::get_mut(&mut self.buf) {
            Some(buf) => socket2::SockRef::from(stream).recv(buf),
            None => Err(io::Error::other("read buffer shared")),
        }
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
}
