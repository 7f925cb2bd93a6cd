//! The platform side of receiving: on Linux, `recvmsg` with the kernel's drop count
//! (SO_RXQ_OVFL) and each datagram's destination address (IP_PKTINFO /
//! IPV6_RECVPKTINFO); elsewhere plain `recv_from` and nothing more.

/// Kernel drop counts (SO_RXQ_OVFL) and each datagram's destination address (the
/// packet info, turned on once a group is joined) on Linux, nothing elsewhere.
#[cfg(target_os = "linux")]
pub(super) mod kernel_drops {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;

    use socket2::{SockAddr, Socket};

    /// Asks the kernel to attach its drop count to every received datagram (best effort).
    pub(in crate::engine::udp) fn enable(socket: &Socket) {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket, a pointer to a c_int and its size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RXQ_OVFL,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    /// `recv_from` through `recvmsg`, with the cumulative kernel drop count when the
    /// kernel sent one (it does once a datagram was dropped).
    pub(in crate::engine::udp) fn recv_from(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<u32>, Option<IpAddr>)> {
        let fd = socket.as_raw_fd();
        // Room for the drop count and one packet-info cmsg (aligned as the kernel wants).
        let mut control = [0u64; 16];
        let mut drops = None;
        let mut destination = None;
        // SAFETY: `try_init` hands a zeroed sockaddr_storage and its length; recvmsg
        // fills at most `msg_namelen` bytes of it, at most `buf.len()` bytes of `buf`
        // and at most `msg_controllen` bytes of `control`. The cmsg macros walk only the
        // control bytes the kernel reported.
        let (n, addr) = unsafe {
            SockAddr::try_init(|storage, len| {
                let mut iov = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: buf.len(),
                };
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_name = storage.cast();
                msg.msg_namelen = *len;
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = std::mem::size_of_val(&control) as _;
                let n = libc::recvmsg(fd, &mut msg, 0);
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                *len = msg.msg_namelen;
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    if (*cmsg).cmsg_level == libc::SOL_SOCKET
                        && (*cmsg).cmsg_type == libc::SO_RXQ_OVFL
                    {
                        drops = Some(std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<u32>(),
                        ));
                    } else if (*cmsg).cmsg_level == libc::IPPROTO_IP
                        && (*cmsg).cmsg_type == libc::IP_PKTINFO
                    {
                        let info = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(),
                        );
                        destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            info.ipi_addr.s_addr,
                        ))));
                    } else if (*cmsg).cmsg_level == libc::IPPROTO_IPV6
                        && (*cmsg).cmsg_type == libc::IPV6_PKTINFO
                    {
                        let info = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>(),
                        );
                        let ip = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                        destination = Some(match ip.to_ipv4_mapped() {
                            Some(v4) => IpAddr::V4(v4),
                            None => IpAddr::V6(ip),
                        });
                    }
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
                Ok(n as usize)
            })?
        };
        let peer = addr
            .as_socket()
            .ok_or_else(|| io::Error::other("datagram from a non-IP address"))?;
        Ok((n, peer, drops, destination))
    }
}

/// Elsewhere the kernel does not say what it dropped.
#[cfg(not(target_os = "linux"))]
pub(super) mod kernel_drops {
    use std::io;
    use std::net::{IpAddr, SocketAddr, UdpSocket};

    use socket2::Socket;

    pub(in crate::engine::udp) fn enable(_socket: &Socket) {}

    pub(in crate::engine::udp) fn recv_from(
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<u32>, Option<IpAddr>)> {
        socket.recv_from(buf).map(|(n, peer)| (n, peer, None, None))
    }
}

/// Asks Linux for each datagram's destination address (IP_PKTINFO / IPV6_RECVPKTINFO),
/// so datagrams addressed to a group are counted for it. Best effort.
#[cfg(target_os = "linux")]
pub(super) mod pktinfo {
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;

    pub(in crate::engine::udp) fn enable(socket: &UdpSocket, local: SocketAddr) {
        let on: libc::c_int = 1;
        let set = |level, name| {
            // SAFETY: a valid socket, a pointer to a c_int and its size.
            unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    level,
                    name,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        };
        set(libc::IPPROTO_IP, libc::IP_PKTINFO);
        if local.is_ipv6() {
            set(libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO);
        }
    }
}

/// Elsewhere datagrams are not counted per group.
#[cfg(not(target_os = "linux"))]
pub(super) mod pktinfo {
    use std::net::{SocketAddr, UdpSocket};

    pub(in crate::engine::udp) fn enable(_socket: &UdpSocket, _local: SocketAddr) {}
}
