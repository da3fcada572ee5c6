//! Who the client is: the TCP peer, or — only when the peer is a configured trusted proxy — the
//! nearest untrusted address in `X-Forwarded-For`. Trusting the header from anyone would let a
//! client pick any address and walk around the rate limit.

use actix_web::dev::ServiceRequest;
use std::net::IpAddr;
use std::str::FromStr;

/// Addresses and networks (`10.0.0.0/8`, `::1`) of reverse proxies in front of zeropass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

/// A `TRUSTED_PROXIES` entry is neither an IP address nor a CIDR network.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an IP address or a CIDR network such as 10.0.0.0/8")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// Parses a comma-separated list; empty means none.
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

    fn contains(&self, address: IpAddr) -> bool {
        self.0
            .iter()
            .any(|(network, prefix)| in_network(address, *network, *prefix))
    }

    /// The client to count against the rate limit, or `None` for a local process: a direct
    /// loopback peer that is not a configured proxy (tests, health checks, benchmarks, a
    /// same-host proxy nobody declared). Remote clients — and, behind a declared proxy, the
    /// clients it forwards — are always counted.
    pub(crate) fn rate_limited_client(&self, request: &ServiceRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip();
        if peer.is_loopback() && !self.contains(peer) {
            return None;
        }
        self.client_ip(request)
    }

    /// The client's address for this request.
    pub(crate) fn client_ip(&self, request: &ServiceRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip();
        if !self.contains(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = request
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| IpAddr::from_str(entry.trim()).ok())
            .collect();
        // Right to left: each trusted proxy appended the address it received from.
        Some(
            forwarded
                .iter()
                .rev()
                .copied()
                .find(|address| !self.contains(*address))
                .or_else(|| forwarded.first().copied())
                .unwrap_or(peer),
        )
    }
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
    Ok((address, prefix))
}

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

    fn client(proxies: &str, peer: &str, forwarded: Option<&str>) -> IpAddr {
        let mut request = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(forwarded) = forwarded {
            request = request.insert_header(("x-forwarded-for", forwarded));
        }
        TrustedProxies::parse(proxies)
            .unwrap()
            .client_ip(&request.to_srv_request())
            .unwrap()
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
}
