//! Addresses typed by the user: port and "host:port" parsing, and name resolution.

use std::net::{SocketAddr, ToSocketAddrs};

use super::EngineError;

/// Parses a port typed by the user ("8080"; surrounding spaces allowed).
pub fn parse_port(input: &str) -> Result<u16, EngineError> {
    input
        .trim()
        .parse::<u16>()
        .map_err(|_| EngineError::InvalidPort {
            input: input.to_string(),
        })
}

/// Parses "host:port" or "[v6]:port" into (host, port); the host comes back without
/// brackets. "::1:80" is rejected (ambiguous: IPv6 needs brackets).
pub fn parse_host_port(input: &str) -> Result<(String, u16), EngineError> {
    let s = input.trim();
    let invalid = || EngineError::InvalidAddress {
        input: input.to_string(),
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(invalid)?;
        let port = after.strip_prefix(':').ok_or_else(invalid)?;
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
        if host.contains(':') {
            return Err(invalid());
        }
        (host, port)
    };
    if host.is_empty() || port.trim().is_empty() {
        return Err(invalid());
    }
    let port = port.parse::<u16>().map_err(|_| EngineError::InvalidPort {
        input: port.to_string(),
    })?;
    Ok((host.to_string(), port))
}

/// Resolves `host` (brackets allowed; empty = "0.0.0.0") with `port` on this thread.
pub(crate) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, EngineError> {
    let mut h = host.trim();
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        h = inner;
    }
    if h.is_empty() {
        h = "0.0.0.0";
    }
    match (h, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(EngineError::Resolve {
                    host: host.to_string(),
                    cause: "the name has no addresses".into(),
                })
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(EngineError::Resolve {
            host: host.to_string(),
            cause: e.to_string(),
        }),
    }
}
