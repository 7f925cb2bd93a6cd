//! The machine's network interfaces, for the address pickers and for multicast joins on
//! a named interface. Listing asks the OS (getifaddrs / GetAdaptersAddresses through the
//! `if-addrs` crate): cheap, but a system call, so the window calls [`list`] on a helper
//! thread and the UDP worker resolves a join's interface on its own thread.

use std::net::{IpAddr, Ipv4Addr};

use super::EngineError;

/// One address of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddr {
    /// The interface's name ("eth0", "lo", "Ethernet 2").
    pub name: String,
    /// One of its addresses.
    pub ip: IpAddr,
    /// IPv4: the subnet's broadcast address, when the OS gives one.
    pub broadcast: Option<Ipv4Addr>,
    /// The interface index (what IPv6 multicast wants), when the OS gives one.
    pub index: Option<u32>,
}

/// Every address of every interface, loopback first, then by name.
pub fn list() -> Result<Vec<InterfaceAddr>, EngineError> {
    let interfaces = if_addrs::get_if_addrs().map_err(|e| EngineError::Io {
        context: "listing the network interfaces".into(),
        cause: e.to_string(),
    })?;
    let mut out: Vec<InterfaceAddr> = interfaces
        .into_iter()
        .map(|i| {
            let broadcast = match &i.addr {
                if_addrs::IfAddr::V4(v4) => v4.broadcast,
                if_addrs::IfAddr::V6(_) => None,
            };
            InterfaceAddr {
                ip: i.ip(),
                name: i.name,
                broadcast,
                index: i.index,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (!a.ip.is_loopback(), &a.name, a.ip.is_ipv6()).cmp(&(
            !b.ip.is_loopback(),
            &b.name,
            b.ip.is_ipv6(),
        ))
    });
    Ok(out)
}

/// The addresses offered in every local-address picker whatever the interfaces are.
pub const WILDCARDS: [&str; 4] = ["0.0.0.0", "::", "127.0.0.1", "::1"];

/// The IPv4 address to use for `interface` (empty: the system's choice, 0.0.0.0): an IPv4
/// literal as it is, or the first IPv4 address of the interface with that name.
pub(crate) fn ipv4_of(interface: &str, all: &[InterfaceAddr]) -> Result<Ipv4Addr, EngineError> {
    let interface = interface.trim();
    if interface.is_empty() {
        return Ok(Ipv4Addr::UNSPECIFIED);
    }
    match interface.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Ok(ip),
        Ok(IpAddr::V6(_)) => Err(EngineError::InterfaceFamily {
            interface: interface.into(),
            family: "IPv4",
        }),
        Err(_) => named(interface, all)?
            .iter()
            .find_map(|a| match a.ip {
                IpAddr::V4(ip) => Some(ip),
                IpAddr::V6(_) => None,
            })
            .ok_or_else(|| EngineError::InterfaceFamily {
                interface: interface.into(),
                family: "IPv4",
            }),
    }
}

/// The interface index to use for `interface` with IPv6 (empty: 0, the system's choice):
/// a number as it is, the index of the interface with that name, or of the interface
/// that holds that address.
pub(crate) fn ipv6_index_of(interface: &str, all: &[InterfaceAddr]) -> Result<u32, EngineError> {
    let interface = interface.trim();
    if interface.is_empty() {
        return Ok(0);
    }
    if let Ok(index) = interface.parse::<u32>() {
        return Ok(index);
    }
    let family = || EngineError::InterfaceFamily {
        interface: interface.into(),
        family: "IPv6",
    };
    let candidates: Vec<&InterfaceAddr> = match interface.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => all.iter().filter(|a| a.ip == IpAddr::V6(ip)).collect(),
        Ok(IpAddr::V4(ip)) => {
            // The interface that holds this IPv4 address, if it also has IPv6.
            let name = all
                .iter()
                .find(|a| a.ip == IpAddr::V4(ip))
                .map(|a| a.name.clone())
                .ok_or_else(|| EngineError::NoSuchInterface {
                    interface: interface.into(),
                })?;
            let v6: Vec<&InterfaceAddr> = all
                .iter()
                .filter(|a| a.name == name && a.ip.is_ipv6())
                .collect();
            if v6.is_empty() {
                return Err(family());
            }
            v6
        }
        Err(_) => named(interface, all)?,
    };
    if candidates.is_empty() {
        return Err(EngineError::NoSuchInterface {
            interface: interface.into(),
        });
    }
    if !candidates.iter().any(|a| a.ip.is_ipv6()) {
        return Err(family());
    }
    candidates
        .iter()
        .find_map(|a| a.index)
        .ok_or_else(|| EngineError::NoSuchInterface {
            interface: interface.into(),
        })
}

fn named<'a>(name: &str, all: &'a [InterfaceAddr]) -> Result<Vec<&'a InterfaceAddr>, EngineError> {
    let found: Vec<&InterfaceAddr> = all.iter().filter(|a| a.name == name).collect();
    if found.is_empty() {
        return Err(EngineError::NoSuchInterface {
            interface: name.into(),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<InterfaceAddr> {
        vec![
            InterfaceAddr {
                name: "lo".into(),
                ip: "127.0.0.1".parse().unwrap(),
                broadcast: None,
                index: Some(1),
            },
            InterfaceAddr {
                name: "lo".into(),
                ip: "::1".parse().unwrap(),
                broadcast: None,
                index: Some(1),
            },
            InterfaceAddr {
                name: "v4only".into(),
                ip: "10.0.0.2".parse().unwrap(),
                broadcast: Some("10.0.0.255".parse().unwrap()),
                index: Some(2),
            },
        ]
    }

    /// Names, literals and empty resolve per family; a missing family is said in words.
    #[test]
    fn resolves_interfaces_per_family() {
        let all = sample();
        assert_eq!(ipv4_of("", &all), Ok(Ipv4Addr::UNSPECIFIED));
        assert_eq!(ipv4_of("lo", &all), Ok(Ipv4Addr::LOCALHOST));
        assert_eq!(ipv4_of("10.0.0.2", &all), Ok(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(ipv6_index_of("lo", &all), Ok(1));
        assert_eq!(ipv6_index_of("::1", &all), Ok(1));
        assert_eq!(ipv6_index_of("127.0.0.1", &all), Ok(1));
        let e = ipv6_index_of("v4only", &all).unwrap_err();
        assert_eq!(e.to_string(), "interface \"v4only\" has no IPv6 address");
        let e = ipv4_of("nosuch0", &all).unwrap_err();
        assert!(matches!(e, EngineError::NoSuchInterface { .. }), "{e}");
    }

    /// The real listing works here and includes a loopback address.
    #[test]
    fn lists_this_machine() {
        let all = list().unwrap();
        assert!(all.iter().any(|a| a.ip.is_loopback()), "{all:?}");
    }
}
