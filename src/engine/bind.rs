//! Socket options that make binding behave the same on Linux, Windows and macOS.
//!
//! - `::` means IPv4 and IPv6 everywhere: IPV6_V6ONLY is set explicitly (off unless the
//!   user asks for *IPv6 only*), because its default differs: off on Linux and macOS,
//!   on for Windows.
//! - A port has one owner: a second listener on a port already bound (by us or by
//!   another program) fails with "address in use" on every system.
//!   - Linux: SO_REUSEADDR lets a restarted server rebind over connections in
//!     TIME_WAIT; Linux still refuses a second socket on a port with a listener.
//!   - Windows: SO_EXCLUSIVEADDRUSE. Without it another program that sets SO_REUSEADDR
//!     may bind the same port and take part of the traffic; Windows needs no
//!     SO_REUSEADDR to rebind over TIME_WAIT.
//!   - macOS and every other system: no option at all. There SO_REUSEADDR lets a second
//!     listener bind a more specific address (127.0.0.1:P next to 0.0.0.0:P) without an
//!     error, which is exactly what must not happen.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::Socket;

use super::EngineError;
use super::error::map_io;

/// Prepares `socket` (stream or datagram) for binding `addr`.
pub(crate) fn prepare(socket: &Socket, addr: SocketAddr, ipv6_only: bool) -> io::Result<()> {
    if addr.is_ipv6() {
        socket.set_only_v6(ipv6_only)?;
    }
    #[cfg(windows)]
    exclusive_address_use(socket)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if socket.r#type()? == socket2::Type::STREAM {
        socket.set_reuse_address(true)?;
    }
    Ok(())
}

/// SO_EXCLUSIVEADDRUSE: nobody else may bind this port while we hold it
/// (<https://learn.microsoft.com/en-us/windows/win32/winsock/using-so-reuseaddr-and-so-exclusiveaddruse>).
#[cfg(windows)]
fn exclusive_address_use(socket: &Socket) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        SO_EXCLUSIVEADDRUSE, SOCKET, SOCKET_ERROR, SOL_SOCKET, WSAGetLastError, setsockopt,
    };
    let on: i32 = 1;
    // SAFETY: the socket handle is valid for the lifetime of `socket`; `on` is a 4-byte
    // BOOL that outlives the call, and its size is passed.
    let result = unsafe {
        setsockopt(
            socket.as_raw_socket() as SOCKET,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&on as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    if result == SOCKET_ERROR {
        // SAFETY: reads the calling thread's last Winsock error.
        return Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }));
    }
    Ok(())
}

/// The error for a failed bind of `addr` (`tcp`: a listener, else UDP).
///
/// On Windows a port held with SO_EXCLUSIVEADDRUSE makes other binds fail with
/// WSAEACCES, not WSAEADDRINUSE ("another application, service, or kernel mode driver is
/// bound to the same address with exclusive access", Windows Sockets error codes); real
/// Windows does so when the second socket asks for address reuse, Wine 8 for every second
/// TCP bind. WSAEACCES also means "port in a range Windows reserved" (Hyper-V, WinNAT).
/// So when the system's own table of listeners (TCP) or bound sockets (UDP) shows the
/// port taken, it is reported as in use, like on Linux and macOS.
pub(crate) fn bind_error(e: &io::Error, addr: SocketAddr, tcp: bool) -> EngineError {
    let error = map_io(
        e,
        addr,
        if tcp { "listening on" } else { "binding" },
        Duration::ZERO,
    );
    #[cfg(windows)]
    if matches!(error, EngineError::PermissionDenied { .. }) && port_taken(addr.port(), tcp) {
        return EngineError::AddrInUse { addr };
    }
    #[cfg(not(windows))]
    let _ = tcp;
    error
}

/// True if a TCP listener (`tcp`) or a UDP socket, IPv4 or IPv6, holds `port`, going by
/// GetExtendedTcpTable / GetExtendedUdpTable.
#[cfg(windows)]
fn port_taken(port: u16, tcp: bool) -> bool {
    use std::mem::{offset_of, size_of};
    use windows_sys::Win32::NetworkManagement::IpHelper::{
        GetExtendedTcpTable, GetExtendedUdpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCPROW_OWNER_PID,
        MIB_UDP6ROW_OWNER_PID, MIB_UDPROW_OWNER_PID, TCP_TABLE_OWNER_PID_LISTENER,
        UDP_TABLE_OWNER_PID,
    };
    use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};
    // (family, row size, offset of the local port in a row)
    let layouts = if tcp {
        [
            (
                AF_INET,
                size_of::<MIB_TCPROW_OWNER_PID>(),
                offset_of!(MIB_TCPROW_OWNER_PID, dwLocalPort),
            ),
            (
                AF_INET6,
                size_of::<MIB_TCP6ROW_OWNER_PID>(),
                offset_of!(MIB_TCP6ROW_OWNER_PID, dwLocalPort),
            ),
        ]
    } else {
        [
            (
                AF_INET,
                size_of::<MIB_UDPROW_OWNER_PID>(),
                offset_of!(MIB_UDPROW_OWNER_PID, dwLocalPort),
            ),
            (
                AF_INET6,
                size_of::<MIB_UDP6ROW_OWNER_PID>(),
                offset_of!(MIB_UDP6ROW_OWNER_PID, dwLocalPort),
            ),
        ]
    };
    layouts.into_iter().any(|(family, row_size, port_at)| {
        let family = u32::from(family);
        let fetch = |buf: *mut core::ffi::c_void, size: &mut u32| -> u32 {
            // SAFETY: `buf` is null (size query) or points to `*size` writable bytes;
            // `size` is a valid u32 we own.
            unsafe {
                if tcp {
                    GetExtendedTcpTable(buf, size, 0, family, TCP_TABLE_OWNER_PID_LISTENER, 0)
                } else {
                    GetExtendedUdpTable(buf, size, 0, family, UDP_TABLE_OWNER_PID, 0)
                }
            }
        };
        // The table may grow between the size query and the read: try a few times.
        let mut size = 0u32;
        let _ = fetch(std::ptr::null_mut(), &mut size);
        for _ in 0..4 {
            let mut buf = vec![0u32; (size as usize).div_ceil(4) + 64];
            size = u32::try_from(buf.len() * 4).unwrap_or(u32::MAX);
            if fetch(buf.as_mut_ptr().cast(), &mut size) != 0 {
                continue;
            }
            let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
            let count = buf.first().copied().unwrap_or(0) as usize;
            // Rows follow the 4-byte count; a port is in network order in the low 16 bits.
            return (0..count).any(|i| {
                let at = 4 + i * row_size + port_at;
                bytes
                    .get(at..at + 2)
                    .is_some_and(|p| u16::from_be_bytes([p[0], p[1]]) == port)
            });
        }
        false
    })
}

/// True where binding a port below 1024 needs special rights: Unix systems other than
/// macOS (which dropped privileged ports in 10.14) need root or CAP_NET_BIND_SERVICE;
/// Windows has no privileged ports.
pub fn port_needs_privilege(port: u16) -> bool {
    cfg!(all(unix, not(target_os = "macos"))) && port != 0 && port < 1024
}
