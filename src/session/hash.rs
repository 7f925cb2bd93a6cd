//! The fast non-cryptographic hash map for the store's per-record lookups (peer counters,
//! stream state). std's SipHash showed up at ~28% of the per-datagram cost in the UDP
//! benchmark; keys here are socket addresses and small ids, so rustc's own Fx hash
//! (`rustc-hash`, already in the dependency tree through egui) is plenty. Measured on
//! the store's three lookups per datagram (peer, session, stream; 1,000 IPv4 and IPv6
//! peers): SipHash ~215 ns, the former hand-written Fx hasher ~70 ns, `rustc-hash` ~63–70
//! ns, `foldhash` (fast, seeded) ~90 ns.

/// The hasher behind [`FastMap`]: rustc's Fx hash.
pub type FastHasher = rustc_hash::FxHasher;

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

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
