//! pcapng output for the session log: synthetic Ethernet / IPv4-or-IPv6 / TCP-or-UDP
//! frames around the real payloads, so Wireshark and tshark open a Sockscope capture and
//! "Follow TCP stream" works.
//!
//! Why synthetic frames: the engine sees bytes at the socket layer, not packets. To hand
//! them to packet tools we wrap each read or write in headers that carry the real
//! addresses and ports, and keep per-connection sequence and acknowledgement numbers per
//! direction so the TCP dissector reassembles the stream exactly. A connection seen from
//! its start gets a synthetic three-way handshake (who sent the SYN follows who
//! connected), and its end a FIN exchange (or a RST for a reset) carrying the close
//! reason as a packet comment. Payloads larger than [`MAX_SEGMENT`] are cut into several
//! segments, because an IPv4 total length is 16 bits.
//!
//! File layout (little-endian, the writer's byte order, as pcapng allows):
//! one Section Header Block (with `shb_userappl`), one Interface Description Block
//! (`LINKTYPE_ETHERNET`, snap length 262144, `if_name` "sockscope", `if_tsresol` 6 =
//! microseconds), then one Enhanced Packet Block per frame on interface 0. Headers: MAC
//! 02:00:00:00:00:01 is our end, 02:00:00:00:00:02 the peer; IPv4 with DF, TTL 64 and a
//! correct header checksum, or IPv6 with hop limit 64; TCP with a 20-byte header, window
//! 65535 and a correct checksum; UDP with a correct checksum. IPv4-mapped IPv6 addresses
//! (a dual-stack server) are written as IPv4.
//!
//! TLS: the engine sees the plaintext of a TLS connection, so that is what its packets
//! carry, on the connection's real ports (443 stays 443). Every data packet of a
//! connection after its handshake has the comment [`TLS_COMMENT`] (`frame.comment` in
//! tshark; Wireshark shows it above the packet), so nobody takes the bytes for what
//! crossed the wire. Wireshark's TLS dissector may still claim such a port and call the
//! plaintext malformed: "Decode As…" TCP for the port shows it as data.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::{CloseReason, ConnId, Direction, SessionId};

use super::recorder::{Entry, Initiator};

/// Block type of a Section Header Block.
pub const SHB_TYPE: u32 = 0x0A0D_0D0A;
/// Block type of an Interface Description Block.
pub const IDB_TYPE: u32 = 0x0000_0001;
/// Block type of an Enhanced Packet Block.
pub const EPB_TYPE: u32 = 0x0000_0006;
/// The byte-order magic of a Section Header Block.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u16 = 1;
/// Largest TCP payload put in one synthetic segment (65,535 − 20 IPv4 − 20 TCP).
pub const MAX_SEGMENT: usize = 65_495;
/// MAC address of our end.
pub const LOCAL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// MAC address of the peer.
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// The comment on every data packet of a TLS connection after its handshake.
pub const TLS_COMMENT: &str =
    "TLS plaintext (decrypted by Sockscope; the wire carried TLS records)";

/// TCP flag FIN.
pub const TCP_FIN: u8 = 0x01;
/// TCP flag SYN.
pub const TCP_SYN: u8 = 0x02;
/// TCP flag RST.
pub const TCP_RST: u8 = 0x04;
/// TCP flag PSH.
pub const TCP_PSH: u8 = 0x08;
/// TCP flag ACK.
pub const TCP_ACK: u8 = 0x10;

const SNAP_LEN: u32 = 262_144;
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
/// Ethernet + IPv6 + TCP, the longest header stack we write.
const MAX_HEADERS: usize = 14 + 40 + 20;

/// Appends one pcapng option (code, length, value padded to 4 bytes).
fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    // Option lengths are 16 bits; a longer comment is cut (it is only a comment).
    let value = &value[..value.len().min(0xFFF0)];
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + pad4(value.len()), 0);
}

/// Bytes of padding after `len` bytes to reach a multiple of 4.
fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Wraps `body` as a block of `block_type` (type, total length, body, total length).
fn push_block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
    let total = (12 + body.len()) as u32;
    out.extend_from_slice(&block_type.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
}

/// The Section Header Block and the one Interface Description Block that start a file.
pub fn file_header() -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes()); // major version
    body.extend_from_slice(&0u16.to_le_bytes()); // minor version
    body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not known
    let app = concat!("Sockscope ", env!("CARGO_PKG_VERSION"));
    push_option(&mut body, SHB_USERAPPL, app.as_bytes());
    push_option(&mut body, OPT_END, &[]);
    push_block(&mut out, SHB_TYPE, &body);

    body.clear();
    body.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes()); // reserved
    body.extend_from_slice(&SNAP_LEN.to_le_bytes());
    push_option(&mut body, IF_NAME, b"sockscope");
    push_option(&mut body, IF_TSRESOL, &[6]);
    push_option(&mut body, OPT_END, &[]);
    push_block(&mut out, IDB_TYPE, &body);
    out
}

/// Microseconds since the Unix epoch (0 for times before it).
fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() * 1_000_000 + u64::from(d.subsec_micros()))
        .unwrap_or(0)
}

/// Adds `data` to a ones'-complement running sum (big-endian 16-bit words; an odd
/// trailing byte is the high half of a word). Summing 32-bit words and folding later
/// gives the same result because 2^16 ≡ 1 (mod 2^16 − 1).
fn sum_words(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        sum += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum + u64::from(u32::from_be_bytes(tail))
}

/// Folds a running sum to 16 bits and complements it (the Internet checksum).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data` (RFC 1071).
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(sum_words(0, data))
}

/// The two ends of a packet, already in one address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ends {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

/// IPv4-mapped IPv6 addresses become IPv4; mixed families become IPv6.
fn ends(src: IpAddr, dst: IpAddr) -> Ends {
    let v4 = |ip: IpAddr| match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    let v6 = |ip: IpAddr| match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    match (v4(src), v4(dst)) {
        (Some(s), Some(d)) => Ends::V4(s, d),
        _ => Ends::V6(v6(src), v6(dst)),
    }
}

/// Which transport header to write.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp { seq: u32, ack: u32, flags: u8 },
    Udp,
}

/// Writes Ethernet + IP + transport headers for `payload` into `buf`, returning their
/// length. `buf` holds at least [`MAX_HEADERS`] bytes.
fn write_headers(
    buf: &mut [u8; MAX_HEADERS],
    src: SocketAddr,
    dst: SocketAddr,
    from_local: bool,
    transport: Transport,
    payload: &[u8],
    ip_id: u16,
) -> usize {
    let (src_mac, dst_mac) = if from_local {
        (LOCAL_MAC, PEER_MAC)
    } else {
        (PEER_MAC, LOCAL_MAC)
    };
    let ends = ends(src.ip(), dst.ip());
    buf[0..6].copy_from_slice(&dst_mac);
    buf[6..12].copy_from_slice(&src_mac);
    let ethertype: u16 = match ends {
        Ends::V4(..) => 0x0800,
        Ends::V6(..) => 0x86DD,
    };
    buf[12..14].copy_from_slice(&ethertype.to_be_bytes());
    let (proto, l4_len) = match transport {
        Transport::Tcp { .. } => (6u8, 20usize),
        Transport::Udp => (17u8, 8usize),
    };
    let seg_len = l4_len + payload.len();
    // Pseudo-header sum for the transport checksum.
    let (ip_len, pseudo) = match ends {
        Ends::V4(s, d) => {
            let ip = &mut buf[14..34];
            ip[0] = 0x45;
            ip[1] = 0;
            ip[2..4].copy_from_slice(&((20 + seg_len) as u16).to_be_bytes());
            ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
            ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
            ip[8] = 64;
            ip[9] = proto;
            ip[10..12].copy_from_slice(&[0, 0]);
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let checksum = internet_checksum(ip);
            ip[10..12].copy_from_slice(&checksum.to_be_bytes());
            let mut pseudo = sum_words(0, &s.octets());
            pseudo = sum_words(pseudo, &d.octets());
            pseudo += u64::from(proto) + seg_len as u64;
            (20, pseudo)
        }
        Ends::V6(s, d) => {
            let ip = &mut buf[14..54];
            ip[0..4].copy_from_slice(&0x6000_0000u32.to_be_bytes());
            ip[4..6].copy_from_slice(&(seg_len as u16).to_be_bytes());
            ip[6] = proto;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            let mut pseudo = sum_words(0, &s.octets());
            pseudo = sum_words(pseudo, &d.octets());
            pseudo += u64::from(proto) + seg_len as u64;
            (40, pseudo)
        }
    };
    let l4_start = 14 + ip_len;
    let l4 = &mut buf[l4_start..l4_start + l4_len];
    l4[0..2].copy_from_slice(&src.port().to_be_bytes());
    l4[2..4].copy_from_slice(&dst.port().to_be_bytes());
    let checksum_at = match transport {
        Transport::Tcp { seq, ack, flags } => {
            l4[4..8].copy_from_slice(&seq.to_be_bytes());
            l4[8..12].copy_from_slice(&ack.to_be_bytes());
            l4[12] = 5 << 4; // data offset: 5 words
            l4[13] = flags;
            l4[14..16].copy_from_slice(&0xFFFFu16.to_be_bytes()); // window
            l4[16..18].copy_from_slice(&[0, 0]);
            l4[18..20].copy_from_slice(&[0, 0]); // urgent pointer
            16
        }
        Transport::Udp => {
            l4[4..6].copy_from_slice(&(seg_len as u16).to_be_bytes());
            l4[6..8].copy_from_slice(&[0, 0]);
            6
        }
    };
    let mut sum = sum_words(pseudo, l4);
    sum = sum_words(sum, payload);
    let mut checksum = fold(sum);
    if checksum == 0 && matches!(transport, Transport::Udp) {
        checksum = 0xFFFF; // 0 means "no checksum" in UDP
    }
    l4[checksum_at..checksum_at + 2].copy_from_slice(&checksum.to_be_bytes());
    l4_start + l4_len
}

/// Writes Enhanced Packet Blocks of synthetic frames to `out`.
struct PacketWriter<W: Write> {
    out: W,
    ip_id: u16,
    options: Vec<u8>,
}

impl<W: Write> PacketWriter<W> {
    /// One Enhanced Packet Block: headers for (src → dst) around `payload`.
    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        at: SystemTime,
        src: SocketAddr,
        dst: SocketAddr,
        from_local: bool,
        transport: Transport,
        payload: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let mut headers = [0u8; MAX_HEADERS];
        self.ip_id = self.ip_id.wrapping_add(1);
        let header_len = write_headers(
            &mut headers,
            src,
            dst,
            from_local,
            transport,
            payload,
            self.ip_id,
        );
        let frame_len = header_len + payload.len();
        self.options.clear();
        if let Some(text) = comment {
            push_option(&mut self.options, OPT_COMMENT, text.as_bytes());
            push_option(&mut self.options, OPT_END, &[]);
        }
        let padded = frame_len + pad4(frame_len);
        let total = (32 + padded + self.options.len()) as u32;
        let ts = micros(at);
        let mut head = [0u8; 28];
        head[0..4].copy_from_slice(&EPB_TYPE.to_le_bytes());
        head[4..8].copy_from_slice(&total.to_le_bytes());
        head[8..12].copy_from_slice(&0u32.to_le_bytes()); // interface 0
        head[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
        head[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
        head[20..24].copy_from_slice(&(frame_len as u32).to_le_bytes());
        head[24..28].copy_from_slice(&(frame_len as u32).to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(&headers[..header_len])?;
        self.out.write_all(payload)?;
        self.out.write_all(&[0u8; 3][..pad4(frame_len)])?;
        self.out.write_all(&self.options)?;
        self.out.write_all(&total.to_le_bytes())
    }
}

/// One tracked TCP connection: the addresses and the next sequence number each side sends.
#[derive(Clone, Copy, Debug)]
struct TcpConn {
    local: SocketAddr,
    peer: SocketAddr,
    local_seq: u32,
    peer_seq: u32,
}

/// Deterministic initial sequence numbers, distinct per connection and side.
fn isn(conn: ConnId, local: bool) -> u32 {
    let base = (conn as u32).wrapping_mul(0x9E37_79B9);
    if local { base } else { base ^ 0x5A5A_0000 }
}

/// The pcapng format writer: turns log entries into packets.
pub(crate) struct PcapngLog<W: Write> {
    writer: PacketWriter<W>,
    /// Bound / local address per session (from `Listening`, or given by the caller).
    locals: HashMap<SessionId, SocketAddr>,
    conns: HashMap<(SessionId, ConnId), TcpConn>,
    /// Connections whose TLS handshake completed: their data is decrypted plaintext.
    tls: HashSet<(SessionId, ConnId)>,
}

impl<W: Write> PcapngLog<W> {
    /// Writes the file header to `out` and starts with the known local addresses.
    pub(crate) fn new(mut out: W, locals: &[(SessionId, SocketAddr)]) -> io::Result<Self> {
        out.write_all(&file_header())?;
        Ok(PcapngLog {
            writer: PacketWriter {
                out,
                ip_id: 0,
                options: Vec::new(),
            },
            locals: locals.iter().copied().collect(),
            conns: HashMap::new(),
            tls: HashSet::new(),
        })
    }

    /// The underlying writer.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.writer.out
    }

    /// The underlying writer, giving up the connection state.
    pub(crate) fn into_inner(self) -> W {
        self.writer.out
    }

    /// Our address in `session`, or the unspecified address of the peer's family with
    /// port 0 when no event told us (recording started after the session did).
    fn local_for(&self, session: SessionId, peer: SocketAddr) -> SocketAddr {
        match self.locals.get(&session) {
            Some(local) => *local,
            None if peer.is_ipv4() => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            None => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        }
    }

    /// A TCP segment from one side of `c`.
    fn segment(
        &mut self,
        at: SystemTime,
        c: &TcpConn,
        from_local: bool,
        flags: u8,
        payload: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let (src, dst, seq, ack) = if from_local {
            (c.local, c.peer, c.local_seq, c.peer_seq)
        } else {
            (c.peer, c.local, c.peer_seq, c.local_seq)
        };
        let ack = if flags & TCP_ACK != 0 { ack } else { 0 };
        self.writer.packet(
            at,
            src,
            dst,
            from_local,
            Transport::Tcp { seq, ack, flags },
            payload,
            comment,
        )
    }

    /// Writes the packets for one log entry.
    pub(crate) fn entry(&mut self, entry: &Entry<'_>) -> io::Result<()> {
        match *entry {
            Entry::Listening { session, local, .. } => {
                self.locals.insert(session, local);
                Ok(())
            }
            Entry::Open {
                at,
                session,
                conn,
                local,
                peer,
                initiator,
            } => {
                let mut c = TcpConn {
                    local,
                    peer,
                    local_seq: isn(conn, true),
                    peer_seq: isn(conn, false),
                };
                let local_first = initiator == Initiator::Local;
                // SYN, SYN-ACK, ACK; the SYN carries no ack number.
                self.segment(at, &c, local_first, TCP_SYN, &[], None)?;
                bump(&mut c, local_first, 1);
                self.segment(at, &c, !local_first, TCP_SYN | TCP_ACK, &[], None)?;
                bump(&mut c, !local_first, 1);
                self.segment(at, &c, local_first, TCP_ACK, &[], None)?;
                self.conns.insert((session, conn), c);
                Ok(())
            }
            Entry::Data {
                at,
                session,
                conn,
                peer,
                dir,
                bytes,
                group,
            } => {
                let from_local = dir == Direction::Tx;
                match conn {
                    Some(conn) => {
                        let mut c = match self.conns.get(&(session, conn)) {
                            Some(c) => *c,
                            None => TcpConn {
                                local: self.local_for(session, peer),
                                peer,
                                local_seq: isn(conn, true),
                                peer_seq: isn(conn, false),
                            },
                        };
                        let comment = self.tls.contains(&(session, conn)).then_some(TLS_COMMENT);
                        for piece in bytes.chunks(MAX_SEGMENT) {
                            self.segment(at, &c, from_local, TCP_PSH | TCP_ACK, piece, comment)?;
                            bump(&mut c, from_local, piece.len());
                        }
                        self.conns.insert((session, conn), c);
                        Ok(())
                    }
                    None => {
                        let mut local = self.local_for(session, peer);
                        // A datagram sent to a group shows the group as its destination.
                        if let Some(group) = group {
                            local.set_ip(group);
                        }
                        let (src, dst) = if from_local {
                            (local, peer)
                        } else {
                            (peer, local)
                        };
                        // A UDP datagram carries at most 65,507 bytes over IPv4; anything
                        // longer could not have been one datagram, so it is cut to fit.
                        let payload = &bytes[..bytes.len().min(65_507)];
                        self.writer
                            .packet(at, src, dst, from_local, Transport::Udp, payload, None)
                    }
                }
            }
            Entry::Close {
                at,
                session,
                conn,
                reason,
                discarded,
                ..
            } => {
                self.tls.remove(&(session, conn));
                let Some(mut c) = self.conns.remove(&(session, conn)) else {
                    return Ok(());
                };
                let comment = super::recorder::close_text(reason, discarded);
                match reason {
                    CloseReason::Reset => {
                        self.segment(at, &c, false, TCP_RST | TCP_ACK, &[], Some(&comment))
                    }
                    CloseReason::Error(_) => {
                        self.segment(at, &c, true, TCP_RST | TCP_ACK, &[], Some(&comment))
                    }
                    _ => {
                        let local_first = *reason != CloseReason::PeerClosed;
                        let fin = TCP_FIN | TCP_ACK;
                        self.segment(at, &c, local_first, fin, &[], Some(&comment))?;
                        bump(&mut c, local_first, 1);
                        self.segment(at, &c, !local_first, fin, &[], None)?;
                        bump(&mut c, !local_first, 1);
                        self.segment(at, &c, local_first, TCP_ACK, &[], None)
                    }
                }
            }
            Entry::Tls { session, conn, .. } => {
                self.tls.insert((session, conn));
                Ok(())
            }
            Entry::Note { .. } => Ok(()),
        }
    }
}

/// Advances one side's sequence number by `len` (SYN and FIN count as 1).
fn bump(c: &mut TcpConn, local: bool, len: usize) {
    let seq = if local {
        &mut c.local_seq
    } else {
        &mut c.peer_seq
    };
    *seq = seq.wrapping_add(len as u32);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The RFC 1071 example sums to the published checksum, and a header with its
    /// checksum filled in sums to zero.
    #[test]
    fn checksum_known_values() {
        let data = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];
        assert_eq!(internet_checksum(&data), !0xDDF2);
        // Odd length: the last byte is the high half of a word.
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
    }

    /// An IPv4 header we write verifies (sums to 0) and the mapped address became IPv4.
    #[test]
    fn ipv4_header_checksum_verifies() {
        let mut buf = [0u8; MAX_HEADERS];
        let src: SocketAddr = "[::ffff:10.0.0.1]:5000".parse().unwrap();
        let dst: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let tcp = Transport::Tcp {
            seq: 1,
            ack: 2,
            flags: TCP_ACK,
        };
        let len = write_headers(&mut buf, src, dst, true, tcp, b"hello", 7);
        assert_eq!(len, 54);
        assert_eq!(&buf[12..14], &[0x08, 0x00]);
        assert_eq!(internet_checksum(&buf[14..34]), 0);
        assert_eq!(&buf[26..30], &[10, 0, 0, 1]);
        // TCP checksum over pseudo-header + segment verifies too.
        let mut seg = buf[34..54].to_vec();
        seg.extend_from_slice(b"hello");
        let mut sum = sum_words(0, &[10, 0, 0, 1, 10, 0, 0, 2]);
        sum += 6 + seg.len() as u64;
        assert_eq!(fold(sum_words(sum, &seg)), 0);
    }

    /// A datagram addressed to a multicast group goes to the group in the capture, a
    /// unicast one to the session's local address.
    #[test]
    fn group_datagrams_go_to_the_group() {
        let local: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut log = PcapngLog::new(Vec::new(), &[(1, local)]).unwrap();
        let at = SystemTime::UNIX_EPOCH;
        for (bytes, group) in [
            (&b"to the group"[..], Some(IpAddr::from([239, 1, 2, 3]))),
            (&b"unicast"[..], None),
        ] {
            let entry = Entry::Data {
                at,
                session: 1,
                conn: None,
                peer,
                dir: Direction::Rx,
                bytes,
                group,
            };
            log.entry(&entry).unwrap();
        }
        let out = log.into_inner();
        let has = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
        // IPv4 source then destination, as the header holds them.
        assert!(has(&[127, 0, 0, 1, 239, 1, 2, 3]), "no packet to the group");
        assert!(
            has(&[127, 0, 0, 1, 0, 0, 0, 0]),
            "no unicast packet to the local side"
        );
    }

    /// After a connection's TLS handshake its data packets carry the TLS comment; data
    /// before it, and a plain connection's, carry none.
    #[test]
    fn tls_connections_are_marked() {
        let local: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut log = PcapngLog::new(Vec::new(), &[]).unwrap();
        let at = SystemTime::UNIX_EPOCH;
        let data = |conn, bytes| Entry::Data {
            at,
            session: 1,
            conn: Some(conn),
            peer,
            dir: Direction::Rx,
            bytes,
            group: None,
        };
        for conn in [1, 2] {
            let open = Entry::Open {
                at,
                session: 1,
                conn,
                local,
                peer,
                initiator: Initiator::Peer,
            };
            log.entry(&open).unwrap();
        }
        log.entry(&data(1, b"before")).unwrap();
        let count = |out: &[u8]| {
            out.windows(TLS_COMMENT.len())
                .filter(|w| *w == TLS_COMMENT.as_bytes())
                .count()
        };
        assert_eq!(count(log.get_mut()), 0);
        let tls = Entry::Tls {
            at,
            session: 1,
            conn: 1,
            peer,
            text: "TLS with …".into(),
        };
        log.entry(&tls).unwrap();
        log.entry(&data(1, b"secret")).unwrap();
        log.entry(&data(2, b"plain")).unwrap();
        log.entry(&data(1, b"more")).unwrap();
        assert_eq!(count(&log.into_inner()), 2);
    }

    /// The file header is an SHB followed by an IDB, each with matching lengths.
    #[test]
    fn file_header_blocks() {
        let h = file_header();
        let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        assert_eq!(word(0), SHB_TYPE);
        let shb_len = word(4) as usize;
        assert_eq!(word(shb_len - 4) as usize, shb_len);
        assert_eq!(word(8), BYTE_ORDER_MAGIC);
        assert_eq!(word(shb_len), IDB_TYPE);
        let idb_len = word(shb_len + 4) as usize;
        assert_eq!(shb_len + idb_len, h.len());
        assert_eq!(h.len() % 4, 0);
    }
}
