//! The client address a login is counted against.
//!
//! Without configuration it is the TCP peer. Behind a reverse proxy every
//! peer is the proxy, so the proxy's addresses can be listed as trusted
//! (`trusted_proxies`): when the peer is one of them, the client is the
//! right-most address of `X-Forwarded-For` that is not itself a trusted
//! proxy (each proxy appends the address it received from, so that is the
//! first hop no trusted party vouches past). An untrusted peer's
//! `X-Forwarded-For` is ignored: anyone can send the header.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Whether `ip` is in one of the `trusted` networks (an IPv4-mapped IPv6
/// address counts as its IPv4 address).
fn trusted_ip(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request from `peer` with these headers.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted_ip(peer, trusted) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list of hops.
    let hops: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Not an address: nothing left of it can be believed.
            break;
        };
        client = canonical(ip);
        if !trusted_ip(client, trusted) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
/// `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// Parses `trusted_proxies` entries: a network (`10.0.0.0/8`) or one
/// address (`127.0.0.1`, taken as /32 or /128).
pub fn parse_trusted_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{text:?} is not an address or a network like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_forwarded_for_is_ignored() {
        let trusted = [parse_trusted_proxy("127.0.0.1/32").unwrap()];
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("198.51.100.7"), &forged, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("198.51.100.7"), &forged, &[]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn trusted_proxy_gives_the_right_most_untrusted_hop() {
        let trusted = [
            parse_trusted_proxy("127.0.0.1").unwrap(),
            parse_trusted_proxy("10.0.0.0/8").unwrap(),
        ];
        // The client claims 1.1.1.1; the edge proxy 10.0.0.5 saw 203.0.113.9.
        let chain = headers(&["1.1.1.1, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &chain, &trusted),
            ip("203.0.113.9")
        );
        // IPv4-mapped peers and ports in hops.
        let one = headers(&["203.0.113.10:4711"]);
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &one, &trusted),
            ip("203.0.113.10")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers(&["1.1.1.1, garbage"]), &trusted),
            ip("127.0.0.1")
        );
        // Only trusted hops: the left-most of them.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers(&["10.1.1.1, 10.0.0.5"]), &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn trusted_proxy_entries_parse() {
        assert_eq!(
            parse_trusted_proxy("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_trusted_proxy("::1").unwrap().to_string(), "::1/128");
        assert!(parse_trusted_proxy("localhost").is_err());
        assert!(parse_trusted_proxy("10.0.0.0/33").is_err());
    }
}
