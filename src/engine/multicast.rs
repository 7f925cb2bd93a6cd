//! UDP multicast: the groups a session joins (on a chosen interface, optionally from one
//! source), and the socket options for sending to groups (TTL / hop limit, loopback,
//! the outgoing interface).
//!
//! Joins and leaves are carried out by the UDP worker (the window only queues them, see
//! [`super::SessionHandle::join_group`]), one result per request: a `Notice` when it
//! worked, an `Error` with the system's reason when not. The state of every group is
//! kept in a list the window reads ([`super::SessionHandle::multicast_groups`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use socket2::SockRef;

use super::EngineError;
use super::interfaces::{self, InterfaceAddr};

/// One group to join: the group, the interface (name or address; empty for the system's
/// choice) and, for a source-specific join, the one source to accept.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupSpec {
    /// The multicast group.
    pub group: IpAddr,
    /// Interface name ("eth0"), one of its addresses, an IPv6 interface index, or empty.
    pub interface: String,
    /// Source-specific join: only datagrams from this sender.
    pub source: Option<IpAddr>,
}

impl GroupSpec {
    /// Parses `GROUP[+SOURCE][@INTERFACE]` (`239.1.2.3`, `239.1.2.3@eth0`,
    /// `232.1.1.1+10.0.0.5@10.0.0.2`, `ff12::1@lo`); the group must be a multicast address.
    pub fn parse(input: &str) -> Result<GroupSpec, EngineError> {
        let text = input.trim();
        let (rest, interface) = match text.rsplit_once('@') {
            Some((rest, interface)) => (rest, interface.trim()),
            None => (text, ""),
        };
        let (group, source) = match rest.split_once('+') {
            Some((group, source)) => (group, Some(source)),
            None => (rest, None),
        };
        let group = parse_group(group)?;
        let source = match source {
            None => None,
            Some(s) => {
                let ip = strip_brackets(s)
                    .parse::<IpAddr>()
                    .map_err(|_| EngineError::InvalidAddress { input: s.into() })?;
                if ip.is_ipv4() != group.is_ipv4() {
                    return Err(EngineError::InvalidAddress { input: s.into() });
                }
                Some(ip)
            }
        };
        Ok(GroupSpec {
            group,
            interface: interface.to_string(),
            source,
        })
    }
}

impl fmt::Display for GroupSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.group)?;
        if let Some(source) = self.source {
            write!(f, "+{source}")?;
        }
        if !self.interface.is_empty() {
            write!(f, "@{}", self.interface)?;
        }
        Ok(())
    }
}

fn strip_brackets(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s)
}

/// Parses a multicast group address, or says why it is not one.
pub fn parse_group(input: &str) -> Result<IpAddr, EngineError> {
    let not = || EngineError::NotMulticast {
        input: input.trim().to_string(),
    };
    let ip = strip_brackets(input).parse::<IpAddr>().map_err(|_| not())?;
    if ip.is_multicast() {
        Ok(ip)
    } else {
        Err(not())
    }
}

/// Where a group stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupStatus {
    /// Queued for the worker.
    Joining,
    /// A member.
    Joined,
    /// The join failed (the reason came as an `Event::Error`).
    Failed(EngineError),
    /// Left (or never joined before the session stopped).
    Left,
}

/// A group of the session and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupState {
    /// What was asked.
    pub spec: GroupSpec,
    /// Where it stands.
    pub status: GroupStatus,
    /// Datagrams received that were addressed to this group (Linux tells the
    /// destination of each datagram; elsewhere this stays 0).
    pub received: u64,
}

/// Sending to groups and the groups joined at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MulticastOptions {
    /// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS for datagrams sent to groups (None: the
    /// system's default, 1).
    pub ttl: Option<u32>,
    /// IP_MULTICAST_LOOP: our own group datagrams come back to this host (None: the
    /// system's default, on).
    pub loopback: Option<bool>,
    /// IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface group datagrams leave by
    /// (name or address; empty for the system's choice).
    pub interface: String,
    /// Groups joined as soon as the socket is bound.
    pub join: Vec<GroupSpec>,
}

/// Applies the sending options to a bound socket (on the worker). `live`: a change
/// while the socket runs, where an empty interface puts the system's choice back.
pub(crate) fn apply_send_options(
    socket: SockRef<'_>,
    local: SocketAddr,
    options: &MulticastOptions,
    all: &[InterfaceAddr],
    live: bool,
) -> Result<(), EngineError> {
    let io = |what: &str, e: std::io::Error| EngineError::Io {
        context: what.into(),
        cause: e.to_string(),
    };
    if local.is_ipv4() {
        if let Some(ttl) = options.ttl {
            socket
                .set_multicast_ttl_v4(ttl)
                .map_err(|e| io("setting the multicast TTL", e))?;
        }
        if let Some(on) = options.loopback {
            socket
                .set_multicast_loop_v4(on)
                .map_err(|e| io("setting multicast loopback", e))?;
        }
        if live || !options.interface.trim().is_empty() {
            let ip = interfaces::ipv4_of(&options.interface, all)?;
            socket
                .set_multicast_if_v4(&ip)
                .map_err(|e| io(&format!("sending groups by {ip}"), e))?;
        }
    } else {
        if let Some(ttl) = options.ttl {
            socket
                .set_multicast_hops_v6(ttl)
                .map_err(|e| io("setting the multicast hop limit", e))?;
            // A dual-stack socket sends IPv4 groups too.
            let _ = socket.set_multicast_ttl_v4(ttl);
        }
        if let Some(on) = options.loopback {
            socket
                .set_multicast_loop_v6(on)
                .map_err(|e| io("setting multicast loopback", e))?;
            let _ = socket.set_multicast_loop_v4(on);
        }
        if live || !options.interface.trim().is_empty() {
            let index = interfaces::ipv6_index_of(&options.interface, all)?;
            socket
                .set_multicast_if_v6(index)
                .map_err(|e| io(&format!("sending groups by interface {index}"), e))?;
        }
    }
    Ok(())
}

/// Joins (`join`) or leaves one group on the socket bound to `local` (on the worker).
pub(crate) fn change(
    socket: SockRef<'_>,
    local: SocketAddr,
    spec: &GroupSpec,
    join: bool,
    all: &[InterfaceAddr],
) -> Result<(), EngineError> {
    let refused = |e: std::io::Error| EngineError::JoinRefused {
        group: spec.group,
        interface: spec.interface.clone(),
        cause: e.to_string(),
    };
    match spec.group {
        IpAddr::V4(group) => {
            // An IPv6 socket takes IPv4 groups only when it is dual-stack (Linux).
            if local.is_ipv6() && socket.only_v6().unwrap_or(true) {
                return Err(EngineError::GroupFamily {
                    group: spec.group,
                    local,
                });
            }
            let interface = interfaces::ipv4_of(&spec.interface, all)?;
            let source = match spec.source {
                Some(IpAddr::V4(source)) => Some(source),
                Some(IpAddr::V6(_)) => {
                    return Err(EngineError::InvalidAddress {
                        input: spec.to_string(),
                    });
                }
                None => None,
            };
            match source {
                Some(source) => ssm_v4(socket, group, source, interface, join),
                None if join => socket.join_multicast_v4(&group, &interface),
                None => socket.leave_multicast_v4(&group, &interface),
            }
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::Unsupported => {
                    EngineError::SourceSpecificUnsupported { group: spec.group }
                }
                _ => refused(e),
            })
        }
        IpAddr::V6(group) => {
            if local.is_ipv4() {
                return Err(EngineError::GroupFamily {
                    group: spec.group,
                    local,
                });
            }
            let index = interfaces::ipv6_index_of(&spec.interface, all)?;
            match spec.source {
                Some(IpAddr::V6(source)) => {
                    return ssm_v6(socket, group, source, index, join).map_err(|e| {
                        match e.kind() {
                            std::io::ErrorKind::Unsupported => {
                                EngineError::SourceSpecificUnsupported { group: spec.group }
                            }
                            _ => refused(e),
                        }
                    });
                }
                Some(IpAddr::V4(_)) => {
                    return Err(EngineError::InvalidAddress {
                        input: spec.to_string(),
                    });
                }
                None => {}
            }
            if join {
                socket.join_multicast_v6(&group, index)
            } else {
                socket.leave_multicast_v6(&group, index)
            }
            .map_err(refused)
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn ssm_v4(
    socket: SockRef<'_>,
    group: std::net::Ipv4Addr,
    source: std::net::Ipv4Addr,
    interface: std::net::Ipv4Addr,
    join: bool,
) -> std::io::Result<()> {
    if join {
        socket.join_ssm_v4(&source, &group, &interface)
    } else {
        socket.leave_ssm_v4(&source, &group, &interface)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn ssm_v4(
    _socket: SockRef<'_>,
    _group: std::net::Ipv4Addr,
    _source: std::net::Ipv4Addr,
    _interface: std::net::Ipv4Addr,
    _join: bool,
) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// IPv6 source-specific join / leave (MCAST_JOIN_SOURCE_GROUP, RFC 3678) on Linux;
/// socket2 does not wrap it.
#[cfg(target_os = "linux")]
fn ssm_v6(
    socket: SockRef<'_>,
    group: std::net::Ipv6Addr,
    source: std::net::Ipv6Addr,
    interface: u32,
    join: bool,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    fn storage(ip: std::net::Ipv6Addr) -> libc::sockaddr_storage {
        // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let sin6 = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr {
                s6_addr: ip.octets(),
            },
            sin6_scope_id: 0,
        };
        // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned for it.
        unsafe {
            std::ptr::write_unaligned(
                (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                sin6,
            );
        }
        storage
    }
    let request = libc::group_source_req {
        gsr_interface: interface,
        gsr_group: storage(group),
        gsr_source: storage(source),
    };
    let option = if join {
        libc::MCAST_JOIN_SOURCE_GROUP
    } else {
        libc::MCAST_LEAVE_SOURCE_GROUP
    };
    // SAFETY: a valid socket, a pointer to a group_source_req that outlives the call, and
    // its size.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            option,
            (&request as *const libc::group_source_req).cast(),
            std::mem::size_of::<libc::group_source_req>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere IPv6 source-specific joins are refused in words.
#[cfg(not(target_os = "linux"))]
fn ssm_v6(
    _socket: SockRef<'_>,
    _group: std::net::Ipv6Addr,
    _source: std::net::Ipv6Addr,
    _interface: u32,
    _join: bool,
) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Groups parse with interface and source; unicast addresses are refused in words.
    #[test]
    fn parses_groups() {
        let g = GroupSpec::parse("239.1.2.3@127.0.0.1").unwrap();
        assert_eq!(g.group, "239.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(g.interface, "127.0.0.1");
        assert_eq!(g.to_string(), "239.1.2.3@127.0.0.1");
        let g = GroupSpec::parse("232.1.1.1+10.0.0.5@eth0").unwrap();
        assert_eq!(g.source, Some("10.0.0.5".parse().unwrap()));
        let g = GroupSpec::parse("[ff12::1]@lo").unwrap();
        assert!(g.group.is_ipv6());
        let e = GroupSpec::parse("10.1.2.3").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"10.1.2.3\" is not a multicast address (IPv4 224.0.0.0 to 239.255.255.255, IPv6 ff00::/8)"
        );
        assert!(GroupSpec::parse("239.1.2.3+::1").is_err());
    }
}
