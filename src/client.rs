//! The client's address of a request, as recorded on login sessions.
//!
//! By default the address is the socket's peer: the `ConnectInfo<SocketAddr>`
//! axum puts in the request's extensions when the application is served with
//! `into_make_service_with_connect_info::<SocketAddr>()` (without it, there is
//! no address). Behind a reverse proxy the peer is the proxy, and the client's
//! address is in a forwarding header (`Forwarded`, or else `X-Forwarded-For`).
//! Anyone can send those headers, so they are read only when the peer is one of
//! the [`TrustedProxies`], and only as far back as the chain of trusted proxies
//! goes: otherwise any client could choose the address recorded for it.
//!
//! `Forwarded` is read when the request has one, `X-Forwarded-For` otherwise.
//! Proxies that write only `X-Forwarded-For` (nginx's
//! `$proxy_add_x_forwarded_for`, for one) must therefore remove any `Forwarded`
//! header the client sent, or the client chooses its address anyway.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use axum::extract::ConnectInfo;
//! use axum_users::client::TrustedProxies;
//!
//! let proxies = TrustedProxies::parse("10.0.0.0/8, ::1")?;
//! let (mut parts, ()) = http::Request::builder()
//!     .header("x-forwarded-for", "203.0.113.7, 10.0.0.2")
//!     .body(())?
//!     .into_parts();
//! parts.extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 443))));
//! assert_eq!(proxies.client_ip(&parts), Some(IpAddr::from([203, 0, 113, 7])));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;

use crate::error::{Error, Result};

/// How many entries of a forwarding header are looked at, from the right.
const MAX_HOPS: usize = 32;

/// An IP network in CIDR notation, such as `10.0.0.0/8` or `fd00::/8`: the
/// addresses whose first `prefix` bits are those of the network's address.
///
/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is the IPv4 network
/// (`10.0.0.0/8`); any other IPv6 network contains no IPv4 address. Host bits
/// are ignored: `10.1.2.3/8` is `10.0.0.0/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// The network of `addr` with a prefix of `prefix` bits; an error when the
    /// prefix is longer than the address (32 bits for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, Error> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(Error::Config(format!(
                "invalid IP network {addr}/{prefix}: the prefix length is at most {max}"
            )));
        }
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        Ok(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The network's address, host bits cleared.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The network's prefix length, in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. An IPv4-mapped IPv6 address
    /// (`::ffff:10.1.2.3`) is checked as the IPv4 address it maps.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// `addr` with all but its first `prefix` bits cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl FromStr for IpNetwork {
    type Err = Error;

    /// `10.0.0.0/8`, `fd00::/8`, or a bare address (`192.168.1.7`, `::1`),
    /// which is a network of that one address (`/32`, `/128`).
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let invalid = |why: &str| Error::Config(format!("invalid IP network {s:?}: {why}"));
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| invalid("not an IP address or a network (CIDR)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let too_long = || invalid(&format!("the prefix length is at most {max}"));
        let prefix = match prefix {
            None => max,
            Some("") => return Err(invalid("the prefix length is missing")),
            // Digits only: `u8`'s parser would take `+8`.
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse().map_err(|_| too_long())?
            }
            Some(_) => return Err(invalid("the prefix length is not a number")),
        };
        IpNetwork::new(addr, prefix).map_err(|_| too_long())
    }
}

impl fmt::Display for IpNetwork {
    /// `10.0.0.0/8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The reverse proxies whose forwarding headers are believed: the networks they
/// connect from. The default trusts nobody, so the client's address is the
/// socket's peer and forwarding headers are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNetwork>,
}

impl TrustedProxies {
    /// Trusts nobody: the client's address is always the socket's peer.
    pub const fn none() -> Self {
        Self {
            networks: Vec::new(),
        }
    }

    /// Trusts the proxies in these networks.
    pub fn new(networks: impl IntoIterator<Item = IpNetwork>) -> Self {
        Self {
            networks: networks.into_iter().collect(),
        }
    }

    /// Parses a comma-separated list of networks and addresses, such as
    /// `"10.0.0.0/8, 192.168.1.7, ::1, fd00::/8"` (a bare address is a network
    /// of that one address); empty entries are ignored, so `""` trusts nobody.
    /// An invalid entry is an [`Error::Config`] naming it.
    pub fn parse(list: &str) -> Result<Self, Error> {
        let networks = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<IpNetwork>>>()?;
        Ok(Self { networks })
    }

    /// Whether `ip` is a trusted proxy's address. An IPv4-mapped IPv6 address
    /// (`::ffff:10.1.2.3`) is checked as the IPv4 address it maps.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// The client's address of a request: `None` without the peer's
    /// `ConnectInfo<SocketAddr>`; the peer's address when it is not a trusted
    /// proxy; otherwise the address the trusted proxies forwarded.
    ///
    /// The forwarding chain (`Forwarded`'s `for=` parameters when the request
    /// has that header, else `X-Forwarded-For`; all lines of the header, in
    /// order) is walked from the right, the hop nearest to us first: while the
    /// current hop is a trusted proxy, the entry to its left is the address that
    /// proxy saw. The first untrusted address is the client's; when every entry
    /// is trusted, the leftmost one is returned. At most the last 32 entries are
    /// looked at: past them, the 32nd is returned.
    ///
    /// An entry that is not an address (`unknown`, an obfuscated `_hidden`
    /// identifier, an element without `for=`, garbage, a header line that is not
    /// UTF-8) ends the walk at the trusted proxy that sent it, whose address is
    /// returned: nothing left of such an entry can be believed, and that proxy
    /// is the last hop known for certain. Addresses are returned canonical
    /// (`::ffff:127.0.0.1` is `127.0.0.1`), without their port.
    pub fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        let peer = peer.ip().to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let headers = &parts.headers;
        Some(if headers.contains_key(http::header::FORWARDED) {
            self.walk(peer, hops(headers, "forwarded", forwarded_element))
        } else {
            self.walk(peer, hops(headers, "x-forwarded-for", forwarded_for_entry))
        })
    }

    /// Walks the chain of `hops` (nearest first) from the trusted `peer`.
    fn walk(&self, peer: IpAddr, hops: impl Iterator<Item = Hop>) -> IpAddr {
        let mut current = peer;
        for hop in hops.take(MAX_HOPS) {
            match hop {
                Hop::Empty => {}
                Hop::Unusable => return current,
                Hop::Addr(ip) => {
                    current = ip;
                    if !self.contains(ip) {
                        return ip;
                    }
                }
            }
        }
        current
    }
}

/// One entry of a forwarding chain.
#[derive(Debug, PartialEq)]
enum Hop {
    /// A (canonical) address.
    Addr(IpAddr),
    /// Not an address: `unknown`, obfuscated, garbage.
    Unusable,
    /// An empty list element, which HTTP says to ignore.
    Empty,
}

/// The entries of every `name` header line, from the right: the last line's
/// last entry first. A line that is not UTF-8 is one unusable entry.
fn hops<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    parse: fn(&str) -> Hop,
) -> impl Iterator<Item = Hop> + 'a {
    headers.get_all(name).iter().rev().flat_map(move |line| {
        let text = std::str::from_utf8(line.as_bytes()).ok();
        let unusable = text.is_none().then_some(Hop::Unusable);
        let entries = text.into_iter().flat_map(|text| text.rsplit(','));
        unusable.into_iter().chain(entries.map(parse))
    })
}

/// An `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn forwarded_for_entry(entry: &str) -> Hop {
    let entry = entry.trim();
    if entry.is_empty() {
        return Hop::Empty;
    }
    node(entry)
}

/// A `Forwarded` element (RFC 7239), `for=192.0.2.60;proto=http;by=…`: its
/// `for=` parameter (any case, possibly quoted). Other parameters are ignored;
/// an element without `for=`, or with two, is unusable. Quoted commas and
/// semicolons are not supported (such an element is split, hence unusable):
/// proxies do not write them.
fn forwarded_element(element: &str) -> Hop {
    let element = element.trim();
    if element.is_empty() {
        return Hop::Empty;
    }
    let mut node_value = None;
    for pair in element.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("for") {
            if node_value.is_some() {
                return Hop::Unusable;
            }
            node_value = Some(value.trim());
        }
    }
    match node_value.and_then(unquote) {
        Some(value) => node(&value),
        None => Hop::Unusable,
    }
}

/// A parameter value: a token as is, or a quoted string's content (with its
/// `\`-escapes undone); `None` for a broken quoted string.
fn unquote(value: &str) -> Option<Cow<'_, str>> {
    let Some(quoted) = value.strip_prefix('"') else {
        return Some(Cow::Borrowed(value));
    };
    let quoted = quoted.strip_suffix('"')?;
    let mut content = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => content.push(chars.next()?),
            '"' => return None,
            c => content.push(c),
        }
    }
    Some(Cow::Owned(content))
}

/// A node: an address, with or without a port (`192.0.2.60:8080`,
/// `[2001:db8::1]:4711`, or a bare `2001:db8::1`), made canonical.
fn node(node: &str) -> Hop {
    match node_addr(node.trim()) {
        Some(ip) => Hop::Addr(ip.to_canonical()),
        None => Hop::Unusable,
    }
}

fn node_addr(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        return ip.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (ip, port) = node.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    ip.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A port: up to five digits, or an obfuscated port (`_abc`, RFC 7239).
fn is_port(port: &str) -> bool {
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    digits || obfuscated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP address")
    }

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).expect("a valid list")
    }

    /// A request from `peer` (`None`: no `ConnectInfo`) with these header lines.
    fn request_bytes(peer: Option<&str>, headers: &[(&str, &[u8])]) -> Parts {
        let mut builder = http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).expect("a request").into_parts();
        if let Some(peer) = peer {
            let peer: SocketAddr = peer.parse().expect("a socket address");
            parts.extensions.insert(ConnectInfo(peer));
        }
        parts
    }

    fn request(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let headers: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_bytes()))
            .collect();
        request_bytes(Some(peer), &headers)
    }

    #[test]
    fn without_connect_info_there_is_no_address() {
        let parts = request_bytes(None, &[("x-forwarded-for", b"203.0.113.7")]);
        assert_eq!(proxies("0.0.0.0/0, ::/0").client_ip(&parts), None);
        assert_eq!(TrustedProxies::none().client_ip(&parts), None);
    }

    #[test]
    fn by_default_the_peer_is_the_client() {
        let parts = request("198.51.100.4:51000", &[]);
        assert_eq!(
            TrustedProxies::default().client_ip(&parts),
            Some(ip("198.51.100.4"))
        );
        assert_eq!(TrustedProxies::default(), TrustedProxies::none());
    }

    #[test]
    fn an_untrusted_peer_cannot_spoof_its_address() {
        let parts = request(
            "198.51.100.4:51000",
            &[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")],
        );
        for trusted in [TrustedProxies::none(), proxies("10.0.0.0/8, ::1")] {
            assert_eq!(trusted.client_ip(&parts), Some(ip("198.51.100.4")));
        }
    }

    #[test]
    fn a_trusted_peer_without_headers_is_the_client() {
        let parts = request("10.0.0.1:443", &[]);
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_from_the_right() {
        // The client claims 1.2.3.4; the first proxy saw 203.0.113.7.
        let parts = request(
            "10.0.0.1:443",
            &[(
                "x-forwarded-for",
                "1.2.3.4, 203.0.113.7,10.0.0.3 ,  10.0.0.2",
            )],
        );
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn every_x_forwarded_for_line_is_part_of_the_chain() {
        let parts = request(
            "10.0.0.1:443",
            &[
                ("x-forwarded-for", "1.2.3.4, 203.0.113.7"),
                ("x-forwarded-for", "10.0.0.3"),
                ("x-forwarded-for", "10.0.0.2"),
            ],
        );
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn x_forwarded_for_entries_may_carry_ports_and_brackets() {
        let trusted = proxies("10.0.0.0/8, fd00::/8");
        for (chain, client) in [
            ("192.0.2.1:5678, 10.0.0.2", "192.0.2.1"),
            ("[2001:db8::7]:443, 10.0.0.2:80", "2001:db8::7"),
            ("2001:db8::7 , [fd00::2]", "2001:db8::7"),
            ("[::ffff:192.0.2.9]:1, 10.0.0.2", "192.0.2.9"),
        ] {
            let parts = request("10.0.0.1:443", &[("x-forwarded-for", chain)]);
            assert_eq!(trusted.client_ip(&parts), Some(ip(client)), "{chain}");
        }
    }

    #[test]
    fn when_every_entry_is_trusted_the_leftmost_is_the_client() {
        let parts = request("10.0.0.1:443", &[("x-forwarded-for", "10.0.0.9, 10.0.0.2")]);
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn forwarded_takes_quoted_ipv6_addresses_with_ports() {
        let parts = request(
            "10.0.0.1:443",
            &[(
                "forwarded",
                r#"for="[2001:db8:cafe::17]:4711", for=192.0.2.60:8080;proto=http;by=203.0.113.43"#,
            )],
        );
        // 192.0.2.60 is not trusted: it is the client.
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("192.0.2.60"))
        );
        // Once it is, the client is the one it saw.
        assert_eq!(
            proxies("10.0.0.0/8, 192.0.2.60").client_ip(&parts),
            Some(ip("2001:db8:cafe::17"))
        );
    }

    #[test]
    fn forwarded_parameter_names_are_case_insensitive() {
        let parts = request(
            "10.0.0.1:443",
            &[
                ("forwarded", "proto=https;For=\"198.51.100.17\""),
                ("forwarded", "FOR=10.0.0.3 ; BY=10.0.0.1"),
            ],
        );
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("198.51.100.17"))
        );
    }

    #[test]
    fn forwarded_is_preferred_to_x_forwarded_for() {
        let parts = request(
            "10.0.0.1:443",
            &[
                ("x-forwarded-for", "203.0.113.1"),
                ("forwarded", "for=203.0.113.2"),
            ],
        );
        assert_eq!(
            proxies("10.0.0.0/8").client_ip(&parts),
            Some(ip("203.0.113.2"))
        );
    }

    #[test]
    fn an_unusable_entry_stops_at_the_proxy_that_sent_it() {
        let trusted = proxies("10.0.0.0/8");
        for (name, chain, expected) in [
            ("x-forwarded-for", "1.2.3.4, garbage, 10.0.0.2", "10.0.0.2"),
            ("x-forwarded-for", "1.2.3.4, unknown", "10.0.0.1"),
            ("x-forwarded-for", "1.2.3.4, 1.2.3.4:99999999", "10.0.0.1"),
            (
                "forwarded",
                "for=1.2.3.4, for=unknown, for=10.0.0.2",
                "10.0.0.2",
            ),
            ("forwarded", "for=1.2.3.4, for=_hidden", "10.0.0.1"),
            ("forwarded", "for=1.2.3.4, proto=https", "10.0.0.1"),
            (
                "forwarded",
                "for=1.2.3.4, for=5.6.7.8;for=9.9.9.9",
                "10.0.0.1",
            ),
            ("forwarded", r#"for=1.2.3.4, for="10.0.0.2"#, "10.0.0.1"),
            // An obfuscated port is fine: the address is known.
            ("forwarded", r#"for=1.2.3.4, for="10.0.0.2:_p1""#, "1.2.3.4"),
        ] {
            let parts = request("10.0.0.1:443", &[(name, chain)]);
            assert_eq!(trusted.client_ip(&parts), Some(ip(expected)), "{chain}");
        }
    }

    #[test]
    fn a_header_line_that_is_not_utf8_is_unusable() {
        let trusted = proxies("10.0.0.0/8");
        let peer = Some("10.0.0.1:443");
        let alone = request_bytes(peer, &[("x-forwarded-for", b"1.2.3.4\xff")]);
        assert_eq!(trusted.client_ip(&alone), Some(ip("10.0.0.1")));
        let left = request_bytes(
            peer,
            &[
                ("x-forwarded-for", b"\xff"),
                ("x-forwarded-for", b"10.0.0.3, 10.0.0.2"),
            ],
        );
        assert_eq!(trusted.client_ip(&left), Some(ip("10.0.0.3")));
        // Nor does it let a client fall back on a spoofed X-Forwarded-For.
        let forwarded = request_bytes(
            peer,
            &[("forwarded", b"for=\xff"), ("x-forwarded-for", b"6.6.6.6")],
        );
        assert_eq!(trusted.client_ip(&forwarded), Some(ip("10.0.0.1")));
    }

    #[test]
    fn an_ipv4_mapped_peer_is_its_ipv4_address() {
        let parts = request("[::ffff:127.0.0.1]:8000", &[]);
        assert_eq!(
            TrustedProxies::none().client_ip(&parts),
            Some(ip("127.0.0.1"))
        );
        // And it is trusted as such, whether the network is written as IPv4 or mapped.
        let parts = request(
            "[::ffff:127.0.0.1]:8000",
            &[("x-forwarded-for", "203.0.113.7")],
        );
        for list in ["127.0.0.1", "::ffff:127.0.0.0/104"] {
            assert_eq!(
                proxies(list).client_ip(&parts),
                Some(ip("203.0.113.7")),
                "{list}"
            );
        }
    }

    #[test]
    fn networks_parse_cidr_and_bare_addresses() {
        let network: IpNetwork = "10.1.2.3/8".parse().expect("a network");
        assert_eq!(network.to_string(), "10.0.0.0/8");
        assert!(network.contains(ip("10.255.0.1")));
        assert!(network.contains(ip("::ffff:10.0.0.1")));
        assert!(!network.contains(ip("11.0.0.1")));
        let host: IpNetwork = " 192.168.1.7 ".parse().expect("an address");
        assert_eq!(host.to_string(), "192.168.1.7/32");
        assert!(!host.contains(ip("192.168.1.8")));
        let everything: IpNetwork = "0.0.0.0/0".parse().expect("a network");
        assert!(everything.contains(ip("255.255.255.255")));
        assert!(!everything.contains(ip("2001:db8::1")));
        let mapped: IpNetwork = "::ffff:10.0.0.0/104".parse().expect("a network");
        assert_eq!(mapped, network);
        assert_eq!(
            IpNetwork::new(ip("10.9.9.9"), 8).expect("a network"),
            network
        );
        assert_eq!((network.addr(), network.prefix()), (ip("10.0.0.0"), 8));
    }

    #[test]
    fn ipv6_networks() {
        let unique_local: IpNetwork = "fd00::/8".parse().expect("a network");
        assert!(unique_local.contains(ip("fd12:3456::1")));
        assert!(!unique_local.contains(ip("fe80::1")));
        let loopback: IpNetwork = "::1".parse().expect("an address");
        assert_eq!(loopback.to_string(), "::1/128");
        assert!(loopback.contains(ip("::1")));
        assert!(!loopback.contains(ip("::2")));
        // An IPv6 network holds no IPv4 address (nor a mapped one): those are IPv4.
        let all: IpNetwork = "::/0".parse().expect("a network");
        assert!(all.contains(ip("2001:db8::1")));
        assert!(!all.contains(ip("1.2.3.4")));
        assert!(!all.contains(ip("::ffff:1.2.3.4")));

        let trusted = proxies("fd00::/8");
        let parts = request(
            "[fd00::1]:443",
            &[("forwarded", r#"for="[2001:db8::1]", for="[fd00::2]:80""#)],
        );
        assert_eq!(trusted.client_ip(&parts), Some(ip("2001:db8::1")));
    }

    #[test]
    fn invalid_networks_are_configuration_errors_naming_the_entry() {
        for entry in [
            "10.0.0.0/33",
            "::/129",
            "::ffff:10.0.0.0/129",
            "abc",
            "1.2.3.4/",
            "/8",
            "1.2.3.4/+8",
            "1.2.3.4/-1",
            "1.2.3.4/8/8",
            "1.2.3.4/256",
            "[::1]",
            "fe80::1%eth0",
            "1.2.3",
        ] {
            match entry.parse::<IpNetwork>() {
                Err(Error::Config(message)) => {
                    assert!(message.contains(entry), "{message} names {entry}")
                }
                other => panic!("{entry}: {other:?}"),
            }
        }
        match TrustedProxies::parse("10.0.0.0/8, 192.168.0.0/33, ::1") {
            Err(Error::Config(message)) => {
                assert!(message.contains("192.168.0.0/33"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(IpNetwork::new(ip("10.0.0.0"), 33).is_err());
        assert!(IpNetwork::new(ip("::"), 128).is_ok());
    }

    #[test]
    fn empty_list_entries_are_ignored() {
        assert_eq!(proxies(""), TrustedProxies::none());
        assert_eq!(proxies(" , ,, "), TrustedProxies::none());
        let list = proxies(",10.0.0.0/8,, ::1 ,");
        let expected = TrustedProxies::new([
            "10.0.0.0/8".parse().expect("a network"),
            "::1".parse().expect("an address"),
        ]);
        assert_eq!(list, expected);
        assert!(list.contains(ip("10.1.1.1")));
        assert!(list.contains(ip("::ffff:10.1.1.1")));
        assert!(list.contains(ip("::1")));
        assert!(!list.contains(ip("127.0.0.1")));
    }

    #[test]
    fn a_huge_header_is_cut_to_the_last_32_entries() {
        let trusted = proxies("10.0.0.0/8");
        // 10,000 trusted hops behind a client: the walk stops at the 32nd from the right.
        let mut chain = vec!["203.0.113.7".to_string()];
        chain
            .extend((0..10_000).map(|i| format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256)));
        let header = chain.join(", ");
        let parts = request("10.0.0.1:443", &[("x-forwarded-for", &header)]);
        let expected = &chain[chain.len() - 32];
        assert_eq!(trusted.client_ip(&parts), Some(ip(expected)));

        let forwarded = chain
            .iter()
            .map(|hop| format!("for={hop}"))
            .collect::<Vec<_>>()
            .join(",");
        let parts = request("10.0.0.1:443", &[("forwarded", &forwarded)]);
        assert_eq!(trusted.client_ip(&parts), Some(ip(expected)));

        // And commas alone, or garbage, are no trouble either.
        let parts = request("10.0.0.1:443", &[("x-forwarded-for", &",".repeat(10_000))]);
        assert_eq!(trusted.client_ip(&parts), Some(ip("10.0.0.1")));
        let parts = request("10.0.0.1:443", &[("forwarded", &"x;".repeat(10_000))]);
        assert_eq!(trusted.client_ip(&parts), Some(ip("10.0.0.1")));
    }

    #[test]
    fn odd_input_never_panics() {
        let trusted = proxies("0.0.0.0/0");
        for value in [
            "",
            " ",
            ",",
            ";",
            "=",
            "\"",
            "\"\"",
            "\\",
            "[",
            "]",
            "[]",
            "[::1",
            "[::1]:",
            "[::1]x",
            "::1]",
            ":",
            "1.2.3.4:",
            ":80",
            "for",
            "for=",
            "for=\"",
            "for=\"\\",
            "for=\"\\\"",
            "for=\"\"",
            "for=[",
            "for=\"[::1]:_\"",
            "for=;for=",
            "é,ü",
            "for=é",
            "1.2.3.4:_",
            "_",
            "0x7f.1",
            "999.1.1.1",
            "[1.2.3.4]:80",
        ] {
            for name in ["x-forwarded-for", "forwarded"] {
                let parts = request("10.0.0.1:443", &[(name, value)]);
                let client = trusted.client_ip(&parts);
                assert!(client.is_some(), "{name}: {value}");
            }
        }
    }
}
