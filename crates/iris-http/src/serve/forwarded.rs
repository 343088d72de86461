//! Who the client is, when Iris sits behind a reverse proxy. `X-Forwarded-For`, `-Proto` and
//! `-Host` are only a claim of whoever opened the connection, so they count only when the peer is
//! one of the configured trusted proxies (`--trusted-proxy`); from anyone else they are ignored.
//! Every request carries the outcome as a [`ClientInfo`] extension: the client's address for the
//! logs, the scheme the client used (for `Secure` cookies), and the host it addressed (for
//! `meta.location` and Tenant URLs when no `public_url` is configured).

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The longest forwarded host taken (a DNS name is at most 253 bytes, then a port).
const MAX_HOST_BYTES: usize = 261;

/// The client behind a request, as far as Iris can trust what it is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub addr: IpAddr,
    /// Whether the client reached Iris over HTTPS: Iris's own TLS, or a trusted proxy's word.
    pub https: bool,
    /// The host the client addressed, as a trusted proxy forwarded it.
    pub forwarded_host: Option<String>,
}

impl ClientInfo {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The base URL the client used, when a trusted proxy named the host.
    pub fn forwarded_base_url(&self) -> Option<String> {
        self.forwarded_host
            .as_ref()
            .map(|host| format!("{}://{host}", self.scheme()))
    }
}

/// The networks whose peers' `X-Forwarded-*` headers count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`, `fd00::/8`) and single addresses (`192.0.2.7`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("'{entry}' is not a CIDR (like 10.0.0.0/8) or an IP address")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// What a request from `peer` (over TLS or not) says about its client.
    pub fn client_info(&self, peer: SocketAddr, tls: bool, headers: &HeaderMap) -> ClientInfo {
        let direct = ClientInfo {
            addr: peer.ip().to_canonical(),
            https: tls,
            forwarded_host: None,
        };
        if !self.trusts(peer.ip()) {
            return direct;
        }
        ClientInfo {
            addr: self.forwarded_client(direct.addr, headers),
            https: first_value(headers, &FORWARDED_PROTO)
                .map_or(tls, |proto| proto.eq_ignore_ascii_case("https")),
            forwarded_host: first_value(headers, &FORWARDED_HOST)
                .filter(|host| is_host(host))
                .map(str::to_ascii_lowercase),
        }
    }

    /// The client named by `X-Forwarded-For`: the nearest hop that is not a trusted proxy,
    /// walking from the peer back towards the client (the entries further left are the client's
    /// own claims, which anyone can forge). An entry that is not an address ends the walk.
    fn forwarded_client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let hops: Vec<&str> = headers
            .get_all(&FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(addr) = parse_hop(hop) else {
                break;
            };
            client = addr;
            if !self.trusts(addr) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, perhaps with a port (`[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|addr| addr.to_canonical())
}

/// The first comma-separated value of `name`: the one the proxy nearest the client set.
fn first_value<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    value
        .split(',')
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A host name or address with an optional port, nothing that could change a URL's meaning.
fn is_host(host: &str) -> bool {
    host.len() <= MAX_HOST_BYTES
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn peer(addr: &str) -> SocketAddr {
        SocketAddr::new(addr.parse().unwrap(), 40000)
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).unwrap();
        let forged = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1")]);
        let info = proxies.client_info(peer("10.0.0.2"), false, &forged);
        assert_eq!(info.addr, "203.0.113.9".parse::<IpAddr>().unwrap());
        let ported = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        let info = proxies.client_info(peer("192.0.2.7"), false, &ported);
        assert_eq!(info.addr, "2001:db8::1".parse::<IpAddr>().unwrap());
        let garbage = headers(&[("x-forwarded-for", "unknown")]);
        let info = proxies.client_info(peer("10.0.0.2"), false, &garbage);
        assert_eq!(info.addr, "10.0.0.2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn headers_from_an_untrusted_peer_change_nothing() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let claims = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "iris.example.com"),
        ]);
        let info = proxies.client_info(peer("198.51.100.1"), false, &claims);
        assert_eq!(
            info,
            ClientInfo {
                addr: "198.51.100.1".parse().unwrap(),
                https: false,
                forwarded_host: None,
            }
        );
        let trusted = proxies.client_info(peer("10.9.9.9"), false, &claims);
        assert!(trusted.https);
        assert_eq!(
            trusted.forwarded_base_url().as_deref(),
            Some("https://iris.example.com")
        );
    }

    #[test]
    fn a_forwarded_host_that_could_bend_a_url_is_ignored() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        for host in ["evil.example/x?", "a b", "user@host", ""] {
            let info = proxies.client_info(
                peer("10.0.0.1"),
                false,
                &headers(&[("x-forwarded-host", host)]),
            );
            assert_eq!(info.forwarded_host, None, "{host:?}");
        }
    }

    #[test]
    fn a_bad_entry_is_refused_by_name() {
        let err = TrustedProxies::parse(&["10.0.0.0/8", "proxy.local"]).unwrap_err();
        assert!(err.contains("'proxy.local'"), "{err}");
    }
}
