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

use socket2::Socket;

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

/// True where binding a port below 1024 needs special rights: Unix systems other than
/// macOS (which dropped privileged ports in 10.14) need root or CAP_NET_BIND_SERVICE;
/// Windows has no privileged ports.
pub fn port_needs_privilege(port: u16) -> bool {
    cfg!(all(unix, not(target_os = "macos"))) && port != 0 && port < 1024
}
