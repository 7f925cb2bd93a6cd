//! A fast non-cryptographic hasher for the store's per-record lookups (peer counters,
//! stream state). std's SipHash showed up at ~28% of the per-datagram cost in the UDP
//! benchmark; keys here are socket addresses and small ids, so an Fx-style multiply-rotate
//! hash is plenty.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Fx-style hasher (the one rustc uses for its own tables).
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.add(u64::from(byte));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// Distinct ports of one address land in distinct buckets' worth of hashes.
    #[test]
    fn addresses_spread() {
        let mut map: FastMap<SocketAddr, u32> = FastMap::default();
        for port in 0..10_000u16 {
            map.insert(SocketAddr::from(([127, 0, 0, 1], port)), u32::from(port));
        }
        assert_eq!(map.len(), 10_000);
        assert_eq!(map[&SocketAddr::from(([127, 0, 0, 1], 4242))], 4242);
    }
}
