//! What the bridge reads of request headers, and the answers of a refused
//! sign-in (`401` with its challenge, `429` with `Retry-After`), shared by the
//! bridge's own checks and the login routes.
//!
//! Who the client is ([`client_info`]): the TCP peer, unless the peer is one
//! of the [`TrustedProxies`] (registered as app data, which
//! [`Bridge::configure`](crate::web::Bridge::configure) does). Then the
//! address is the rightmost one of `X-Forwarded-For` (else of `Forwarded`'s
//! `for=`) that is not itself a trusted proxy, and the scheme that of
//! `X-Forwarded-Proto` (else of `Forwarded`'s `proto=`). Rightmost, because
//! each proxy appends what it saw, and only what the trusted proxies
//! appended is true: whatever the client sent comes before. From any other
//! peer these headers are ignored.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::web::error::{ApiError, ErrorCode};

/// The one message of every failed sign-in, whatever the cause: unknown
/// user, wrong password, missing or malformed credentials.
pub(crate) const SIGN_IN_FAILED: &str = "sign in with a valid user name and password";

/// A header as text, when it is.
pub(crate) fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `application/json`, with parameters and in any case.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A browser asking for HTML.
pub(crate) fn accepts_html(headers: &HeaderMap) -> bool {
    header_text(headers, header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// The client's address (unspecified when unknown), as [`client_info`]
/// says.
pub(crate) fn client_ip(req: &HttpRequest) -> IpAddr {
    client_info(req).ip
}

/// Who sent a request, as far as the server can tell (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's address: the TCP peer's, or the one a trusted proxy
    /// forwarded (unspecified when unknown). Per-address limits count it.
    pub ip: IpAddr,
    /// Whether the client reached the server over HTTPS: served under TLS,
    /// or a trusted proxy says so. Login cookies are then `Secure`.
    pub https: bool,
}

/// Who sent `req`: see the module docs.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    let peer = req.peer_addr().map(|a| a.ip());
    let direct = ClientInfo {
        ip: peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        https: req.app_config().secure(),
    };
    let proxies = req.app_data::<TrustedProxies>();
    match (peer, proxies) {
        (Some(peer), Some(proxies)) if proxies.contains(peer) => {
            forwarded(req.headers(), peer, direct.https, proxies)
        }
        _ => direct,
    }
}

/// The client behind the trusted proxy `peer`, from the headers.
fn forwarded(
    headers: &HeaderMap,
    peer: IpAddr,
    https: bool,
    proxies: &TrustedProxies,
) -> ClientInfo {
    let values = |name: &str| -> Vec<String> {
        let lines = headers.get_all(name).filter_map(|v| v.to_str().ok());
        lines
            .flat_map(|line| line.split(',').map(|v| v.trim().to_string()))
            .collect()
    };
    let xff = values("x-forwarded-for");
    let elements = values("forwarded");
    let (hops, proto_of_forwarded): (Vec<String>, Option<String>) = match xff.is_empty() {
        false => (xff, None),
        true => {
            let param = |element: &str, key: &str| forwarded_param(element, key);
            let hops = elements.iter().filter_map(|e| param(e, "for")).collect();
            (hops, elements.last().and_then(|e| param(e, "proto")))
        }
    };
    // From the right: past the trusted proxies to the first hop that is not
    // one. A hop that cannot be read stops the walk at the last trusted one.
    let mut ip = peer;
    for hop in hops.iter().rev() {
        match parse_node(hop) {
            Some(addr) => {
                ip = addr;
                if !proxies.contains(addr) {
                    break;
                }
            }
            None => break,
        }
    }
    let proto = values("x-forwarded-proto").pop().or(proto_of_forwarded);
    let https = match proto {
        Some(proto) => proto.eq_ignore_ascii_case("https"),
        None => https,
    };
    ClientInfo { ip, https }
}

/// The value of `key` in one element of `Forwarded` (RFC 7239:
/// `for=192.0.2.1;proto=https`), unquoted.
fn forwarded_param(element: &str, key: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// An address of `X-Forwarded-For` or of `Forwarded`'s `for=`: `192.0.2.1`,
/// `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`. `None` for
/// `unknown`, obfuscated names and anything else.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The proxies whose forwarding headers are believed: addresses and CIDR
/// blocks (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`). Parse it from a
/// comma-separated list; empty (the default) believes no proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Whether `addr` is one of them. An IPv4-mapped IPv6 address counts as
    /// its IPv4 address.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = unmapped(addr);
        self.blocks.iter().any(|&(net, bits)| match (net, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                prefix(u128::from(u32::from(net)), bits, 32)
                    == prefix(u128::from(u32::from(a)), bits, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix(u128::from(net), bits, 128) == prefix(u128::from(a), bits, 128)
            }
            _ => false,
        })
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The top `bits` of a `width`-bit number.
fn prefix(value: u128, bits: u8, width: u8) -> u128 {
    match bits {
        0 => 0,
        _ => value >> (width - bits),
    }
}

/// The error of a list that is not addresses and CIDR blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)")]
pub struct BadProxy(String);

impl FromStr for TrustedProxies {
    type Err = BadProxy;

    /// `ADDR[/BITS],…`; blanks between entries are ignored.
    fn from_str(text: &str) -> Result<TrustedProxies, BadProxy> {
        let mut blocks = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || BadProxy(entry.to_string());
            let (addr, bits) = match entry.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (entry, None),
            };
            let addr = unmapped(addr.parse::<IpAddr>().map_err(|_| bad())?);
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= width)
                    .ok_or_else(bad)?,
                None => width,
            };
            blocks.push((addr, bits));
        }
        Ok(TrustedProxies { blocks })
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (addr, bits)) in self.blocks.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{addr}/{bits}")?;
        }
        Ok(())
    }
}

/// `401 unauthorized`. Programs get `challenge`; browsers' own requests
/// (they send `Sec-Fetch-Mode`) do not, so that no password dialog pops up.
pub(crate) fn unauthorized(headers: &HeaderMap, challenge: Option<&'static str>) -> HttpResponse {
    let mut response = ApiError::new(ErrorCode::Unauthorized, SIGN_IN_FAILED).error_response();
    if let Some(challenge) = challenge.filter(|_| !headers.contains_key("sec-fetch-mode")) {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// `429` until the address's minute (or the account's ten minutes) ends.
pub(crate) fn too_many(wait: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        format!(
            "too many failed sign-ins: try again in {} s",
            whole_seconds(wait)
        ),
    )
    .with_status(StatusCode::TOO_MANY_REQUESTS)
}

/// `response` with `Retry-After: wait`.
pub(crate) fn retry_after(mut response: HttpResponse, wait: Duration) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(&whole_seconds(wait).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    fn proxies(text: &str) -> TrustedProxies {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_are_addresses_and_cidr_blocks() {
        let trusted = proxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32");
        assert!(trusted.contains(ip("10.200.3.4")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert!(trusted.contains(ip("192.0.2.7")));
        assert!(!trusted.contains(ip("192.0.2.8")));
        assert!(trusted.contains(ip("2001:db8:ffff::1")));
        assert!(!trusted.contains(ip("2001:db9::1")));
        assert!(trusted.contains(ip("::ffff:10.1.1.1")));
        assert!(proxies("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(proxies("").is_empty());
        assert_eq!(trusted.to_string(), "10.0.0.0/8,192.0.2.7/32,2001:db8::/32");
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.0/x", "::/129"] {
            let e = bad.parse::<TrustedProxies>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_address_no_trusted_proxy_has() {
        let trusted = proxies("10.0.0.0/8");
        let peer = ip("10.0.0.1");
        let of = |pairs: &[(&str, &str)]| forwarded(&headers(pairs), peer, false, &trusted);
        // What the client made up comes first; the proxies append.
        let spoofed = [("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")];
        assert_eq!(of(&spoofed).ip, ip("198.51.100.7"));
        let two_lines = [
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(of(&two_lines).ip, ip("198.51.100.7"));
        assert_eq!(
            of(&[("x-forwarded-for", "198.51.100.7:5000")]).ip,
            ip("198.51.100.7")
        );
        // Only proxies: the leftmost of them; nothing readable: the peer.
        assert_eq!(
            of(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]).ip,
            ip("10.0.0.3")
        );
        assert_eq!(of(&[("x-forwarded-for", "unknown")]).ip, peer);
        assert_eq!(of(&[]).ip, peer);
        // `Forwarded`, when there is no X-Forwarded-For.
        let rfc = [(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::5]:4711\";proto=https",
        )];
        let client = of(&rfc);
        assert_eq!((client.ip, client.https), (ip("2001:db8::5"), true));
        let both = [
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(of(&both).ip, ip("198.51.100.7"));
        // The scheme: the proxy's word, else the connection's.
        assert!(of(&[("x-forwarded-proto", "https")]).https);
        assert!(!of(&[("x-forwarded-proto", "http")]).https);
        assert!(!of(&[]).https);
        assert!(forwarded(&headers(&[]), peer, true, &trusted).https);
    }

    #[test]
    fn json_is_recognised_with_parameters_and_in_any_case() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/json-seq"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
