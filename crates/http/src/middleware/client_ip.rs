//! Who the client is: the TCP peer, or — only when the peer is a configured trusted proxy — the
//! nearest untrusted address in `X-Forwarded-For`. Trusting the header from anyone would let a
//! client pick any address and walk around the rate limit. Every address is compared in its
//! canonical form: on a dual-stack listener an IPv4 peer arrives as `::ffff:a.b.c.d`, and must
//! still match an IPv4 `TRUSTED_PROXIES` entry and count as the IPv4 client it is.

use actix_web::dev::ServiceRequest;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Addresses and networks (`10.0.0.0/8`, `::1`) of reverse proxies in front of zeropass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

/// A `TRUSTED_PROXIES` entry is neither an IP address nor a CIDR network.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an IP address or a CIDR network such as 10.0.0.0/8")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// Parses a comma-separated list; empty means none. An IPv4-mapped IPv6 entry
    /// (`::ffff:10.0.0.0/104`) is read as the IPv4 network it maps (`10.0.0.0/8`).
    ///
    /// # Errors
    /// [`InvalidProxy`] naming the first entry that does not parse.
    pub fn parse(list: &str) -> Result<Self, InvalidProxy> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_network)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether no proxy is declared.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0
            .iter()
            .any(|(network, prefix)| in_network(address, *network, *prefix))
    }

    /// The client to count against the rate limit, or `None` for a local process: a direct
    /// loopback peer that is not a configured proxy (tests, health checks, benchmarks, a
    /// same-host proxy nobody declared). Remote clients — and, behind a declared proxy, the
    /// clients it forwards — are always counted.
    pub(crate) fn rate_limited_client(&self, request: &ServiceRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip().to_canonical();
        if peer.is_loopback() && !self.contains(peer) {
            return None;
        }
        self.client_ip(request)
    }

    /// The client's address for this request, canonical (never IPv4-mapped).
    ///
    /// Behind a trusted peer, `X-Forwarded-For` is walked right to left — each trusted proxy
    /// appended the address it received from — and the first untrusted address is the client.
    /// An entry that is not an address (`a.b.c.d:port` and `[v6]:port` are) ends the walk at
    /// the last trusted hop: it is never skipped, or an address written by the client further
    /// left would become "the client". All entries trusted: the leftmost one.
    pub(crate) fn client_ip(&self, request: &ServiceRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip().to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let forwarded: Vec<Option<IpAddr>> = request
            .headers()
            .get_all("x-forwarded-for")
            .flat_map(|value| match value.to_str() {
                Ok(list) => list.split(',').map(parse_forwarded).collect(),
                Err(_) => vec![None],
            })
            .collect();
        let mut last_trusted_hop = peer;
        for entry in forwarded.into_iter().rev() {
            match entry {
                Some(address) if self.contains(address) => last_trusted_hop = address,
                Some(address) => return Some(address),
                None => break,
            }
        }
        Some(last_trusted_hop)
    }
}

/// One `X-Forwarded-For` entry, canonical: a bare address, `a.b.c.d:port`, `[v6]` or
/// `[v6]:port` (proxies write all of these); anything else is `None`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let address = match entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        Some(bracketed) => IpAddr::V6(bracketed.parse::<Ipv6Addr>().ok()?),
        None => entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
            .ok()?,
    };
    Some(address.to_canonical())
}

fn parse_network(entry: &str) -> Result<(IpAddr, u8), InvalidProxy> {
    let invalid = || InvalidProxy(entry.to_owned());
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (entry, None),
    };
    let address = IpAddr::from_str(address).map_err(|_| invalid())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(prefix) => prefix
            .parse::<u8>()
            .ok()
            .filter(|prefix| *prefix <= max)
            .ok_or_else(invalid)?,
        None => max,
    };
    // `::ffff:a.b.c.d/N` (N ≥ 96) is the IPv4 network `a.b.c.d/(N - 96)`, as addresses are
    // compared canonical. A shorter prefix stays an IPv6 network.
    match address.to_canonical() {
        IpAddr::V4(mapped) if address.is_ipv6() && prefix >= 96 => {
            Ok((IpAddr::V4(mapped), prefix - 96))
        }
        _ => Ok((address, prefix)),
    }
}

/// Whether `address` is in `network/prefix`. Both canonical: an IPv4 address is never in an
/// IPv6 network, nor the reverse.
fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request_from(peer: &str, forwarded: Option<&str>) -> ServiceRequest {
        let peer = SocketAddr::new(peer.parse().unwrap(), 4000);
        let mut request = TestRequest::default().peer_addr(peer);
        if let Some(forwarded) = forwarded {
            request = request.insert_header(("x-forwarded-for", forwarded));
        }
        request.to_srv_request()
    }

    fn client(proxies: &str, peer: &str, forwarded: Option<&str>) -> IpAddr {
        TrustedProxies::parse(proxies)
            .unwrap()
            .client_ip(&request_from(peer, forwarded))
            .unwrap()
    }

    fn ip(address: &str) -> IpAddr {
        address.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(
            client("", "203.0.113.7", Some("1.2.3.4")),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_address_is_the_client() {
        assert_eq!(
            client(
                "10.0.0.0/8",
                "10.1.2.3",
                Some("1.2.3.4, 198.51.100.9, 10.9.9.9")
            ),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("10.0.0.1", "10.0.0.1", None),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        assert_eq!(
            client("10.0.0.0/8", "198.51.100.1", Some("10.0.0.5")),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn local_processes_are_not_rate_limited_unless_the_loopback_is_a_declared_proxy() {
        let request = |forwarded: Option<&str>| {
            let mut request = TestRequest::default().peer_addr("127.0.0.1:4000".parse().unwrap());
            if let Some(forwarded) = forwarded {
                request = request.insert_header(("x-forwarded-for", forwarded));
            }
            request.to_srv_request()
        };
        assert_eq!(
            TrustedProxies::default().rate_limited_client(&request(Some("198.51.100.3"))),
            None
        );
        let behind_local_proxy = TrustedProxies::parse("127.0.0.1").unwrap();
        assert_eq!(
            behind_local_proxy.rate_limited_client(&request(Some("198.51.100.3"))),
            Some("198.51.100.3".parse().unwrap())
        );
        let remote = TestRequest::default()
            .peer_addr("198.51.100.4:1".parse().unwrap())
            .to_srv_request();
        assert_eq!(
            TrustedProxies::default().rate_limited_client(&remote),
            Some("198.51.100.4".parse().unwrap())
        );
    }

    #[test]
    fn networks_parse_and_match_for_both_families() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        let proxies = TrustedProxies::parse(" 192.168.0.0/16 , ::1, fd00::/8").unwrap();
        assert!(proxies.contains("192.168.200.1".parse().unwrap()));
        assert!(!proxies.contains("192.169.0.1".parse().unwrap()));
        assert!(proxies.contains("::1".parse().unwrap()));
        assert!(proxies.contains("fd12::1".parse().unwrap()));
        assert!(!proxies.contains("fe80::1".parse().unwrap()));
    }

    #[test]
    fn an_ipv4_proxy_on_a_dual_stack_listener_is_recognised_as_trusted() {
        // With BIND_ADDR=[::]:PORT an IPv4 peer arrives as ::ffff:a.b.c.d.
        assert_eq!(
            client("10.0.0.0/8", "::ffff:10.1.2.3", Some("198.51.100.9")),
            ip("198.51.100.9")
        );
        assert_eq!(
            client(
                "10.0.0.0/8",
                "::ffff:10.1.2.3",
                Some("198.51.100.9, ::ffff:10.0.0.2")
            ),
            ip("198.51.100.9"),
            "a mapped trusted hop in the header is walked over too"
        );
    }

    #[test]
    fn a_client_on_a_dual_stack_listener_is_its_ipv4_address() {
        assert_eq!(client("", "::ffff:198.51.100.1", None), ip("198.51.100.1"));
        assert_eq!(
            client("10.0.0.1", "10.0.0.1", Some("::ffff:198.51.100.2")),
            ip("198.51.100.2")
        );
    }

    #[test]
    fn a_mapped_loopback_peer_is_a_local_process() {
        assert_eq!(
            TrustedProxies::default()
                .rate_limited_client(&request_from("::ffff:127.0.0.1", Some("198.51.100.3"))),
            None
        );
        assert_eq!(
            TrustedProxies::parse("127.0.0.1")
                .unwrap()
                .rate_limited_client(&request_from("::ffff:127.0.0.1", Some("198.51.100.3"))),
            Some(ip("198.51.100.3"))
        );
    }

    #[test]
    fn a_mapped_trusted_proxies_entry_is_the_ipv4_network_it_maps() {
        let proxies = TrustedProxies::parse("::ffff:10.0.0.0/104, ::ffff:192.0.2.1").unwrap();
        assert_eq!(
            proxies,
            TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap()
        );
        assert!(proxies.contains(ip("10.200.0.1")));
        assert!(proxies.contains(ip("::ffff:192.0.2.1")));
        assert!(!proxies.contains(ip("192.0.2.2")));
    }

    #[test]
    fn forwarded_entries_with_a_port_are_addresses() {
        for (entry, expected) in [
            ("198.51.100.9:4711", "198.51.100.9"),
            ("[2001:db8::9]:443", "2001:db8::9"),
            ("[2001:db8::9]", "2001:db8::9"),
            ("[::ffff:198.51.100.9]:80", "198.51.100.9"),
        ] {
            assert_eq!(
                client("10.0.0.0/8", "10.0.0.1", Some(&format!("1.2.3.4, {entry}"))),
                ip(expected),
                "{entry}: the client-written 1.2.3.4 must not win"
            );
        }
        assert_eq!(
            client(
                "10.0.0.0/8",
                "10.0.0.1",
                Some("1.2.3.4, 198.51.100.9, 10.0.0.2:8080")
            ),
            ip("198.51.100.9"),
            "a trusted hop with a port is walked over"
        );
    }

    #[test]
    fn an_entry_that_is_not_an_address_ends_the_walk_at_the_last_trusted_hop() {
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", Some("1.2.3.4, unknown")),
            ip("10.0.0.1")
        );
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", Some("1.2.3.4, garbage, 10.0.0.7")),
            ip("10.0.0.7")
        );
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", Some("1.2.3.4, , 10.0.0.7")),
            ip("10.0.0.7"),
            "an empty entry is not an address either"
        );
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", Some("1.2.3.4, [2001:db8::1")),
            ip("10.0.0.1")
        );
        let not_text = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .append_header((
                "x-forwarded-for",
                actix_web::http::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
            ))
            .to_srv_request();
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8")
                .unwrap()
                .client_ip(&not_text),
            Some(ip("10.0.0.1")),
            "a header value that is not text ends the walk"
        );
    }
}
