//! The same-origin rules of the web surface, as pure functions of the request's
//! `Host` and `Origin` headers (PROTOCOL.md "Access"):
//!
//! - `Host` must be one of this server's names, or a request is answered 421.
//!   A page on `http://evil.example:5000` whose name an attacker re-points at
//!   127.0.0.1 (DNS rebinding) reaches the server with `Host: evil.example:5000`
//!   and is stopped here. The server's names are the address it is bound to,
//!   `localhost`, `127.0.0.1` and `[::1]`, each with the bound port, plus
//!   ``allowed_hosts`. Bound to `0.0.0.0` / `[::]`, any IP literal with the
//!   port is a name too (no attacker controls the `Host` of a typed-in IP);
//!   host names then have to be listed.
//! - `Origin`, when present, must be this server's own origin (its scheme with
//!   the request's `Host`) or one of ``allowed_origins`, or the WebSocket
//!   upgrade and `POST`/`DELETE` are answered 403 (cross-site WebSocket
//!   hijacking, cross-site form posts). No `Origin` means no browser acting for
//!   another site. `null` (sandboxed frames, `file:` pages) is never allowed.
//!
//! Names compare case-insensitively; a missing port is the scheme's default
//! (80 for `http`, 443 for `https`), so `Host: localhost` is a name of a server
//! on port 80 only. Behind a TLS-terminating proxy the browser's origin is
//! `https://...` while the app serves `http`: list it in ``allowed_origins`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::web::error::BridgeError;

/// A host and port, normalised: host lowercase without a trailing dot, IPv6 in
/// its canonical form inside brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
    ip: Option<IpAddr>,
}

/// A scheme and authority with its port made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

fn default_port(https: bool) -> u16 {
    if https {
        443
    } else {
        80
    }
}

/// Parses `host`, `host:port`, `[v6]` or `[v6]:port`; `None` for anything else.
fn parse_authority(text: &str) -> Option<Authority> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (inner, port)
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|&p| p != 0)?)
        }
        Some(_) => return None,
    };
    if text.starts_with('[') {
        let ip: Ipv6Addr = host.parse().ok()?;
        return Some(Authority {
            host: format!("[{ip}]"),
            port,
            ip: Some(IpAddr::V6(ip)),
        });
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !host.split('.').all(valid) {
        return None;
    }
    let ip = host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    Some(Authority { host, port, ip })
}

/// Parses a serialised origin `scheme://host[:port]` (exactly, as browsers
/// send it); `None` for `null` and anything else.
fn parse_origin(text: &str) -> Option<Origin> {
    let (scheme, rest) = text.split_once("://")?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return None;
    };
    let authority = parse_authority(rest)?;
    Some(Origin {
        https,
        port: authority.port.unwrap_or(default_port(https)),
        host: authority.host,
    })
}

fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// An ``allowed_hosts` entry: without a port it stands for the name on any
/// port, as a reverse proxy in front of the app may use its own.
#[derive(Debug, Clone)]
struct AllowedHost {
    host: String,
    port: Option<u16>,
}

/// The `Host` / `Origin` rules of one server.
#[derive(Debug, Clone)]
pub struct SameOrigin {
    https: bool,
    /// Host and port pairs the server answers to by itself.
    own: Vec<(String, u16)>,
    /// Ports bound on an unspecified address, where any IP literal is a name.
    any_ip_ports: Vec<u16>,
    hosts: Vec<AllowedHost>,
    origins: Vec<Origin>,
}

impl SameOrigin {
    /// The rules for a server bound to `bound` (the addresses it actually
    /// listens on, with the real port when asked for port 0), serving HTTPS
    /// when `https`.
    pub fn new(bound: &[SocketAddr], https: bool) -> SameOrigin {
        let mut own = Vec::new();
        let mut any_ip_ports = Vec::new();
        for addr in bound {
            let port = addr.port();
            for name in ["localhost", "127.0.0.1", "[::1]"] {
                own.push((name.to_string(), port));
            }
            if addr.ip().is_unspecified() {
                any_ip_ports.push(port);
            } else {
                own.push((host_text(addr.ip()), port));
            }
        }
        SameOrigin {
            https,
            own,
            any_ip_ports,
            hosts: Vec::new(),
            origins: Vec::new(),
        }
    }

    /// Adds ``allowed_hosts` entries: `name`, `name:port`, `[v6]:port`.
    pub fn allow_hosts<S: AsRef<str>>(
        mut self,
        hosts: impl IntoIterator<Item = S>,
    ) -> Result<SameOrigin, BridgeError> {
        for entry in hosts {
            let entry = entry.as_ref();
            let authority = parse_authority(entry.trim()).ok_or_else(|| BridgeError::Setting {
                setting: "allowed_hosts",
                value: entry.to_string(),
                reason: "expected a host name or address, optionally with :PORT",
            })?;
            self.hosts.push(AllowedHost {
                host: authority.host,
                port: authority.port,
            });
        }
        Ok(self)
    }

    /// Adds ``allowed_origins` entries: `http://name[:port]` or
    /// `https://name[:port]`, as browsers send them.
    pub fn allow_origins<S: AsRef<str>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Result<SameOrigin, BridgeError> {
        for entry in origins {
            let entry = entry.as_ref();
            let origin = parse_origin(entry.trim()).ok_or_else(|| BridgeError::Setting {
                setting: "allowed_origins",
                value: entry.to_string(),
                reason: "expected SCHEME://HOST[:PORT] with scheme http or https and no path",
            })?;
            self.origins.push(origin);
        }
        Ok(self)
    }

    /// True when the server serves HTTPS (and the dashboard should use `wss:`).
    /// The same rules for a server bound to `local` (the listener a request
    /// came on), over HTTPS when `https`.
    pub fn bound_to(&self, local: SocketAddr, https: bool) -> SameOrigin {
        SameOrigin {
            hosts: self.hosts.clone(),
            origins: self.origins.clone(),
            ..SameOrigin::new(&[local], https)
        }
    }

    /// Whether the server serves HTTPS.
    #[cfg(test)]
    pub fn https(&self) -> bool {
        self.https
    }

    /// Whether a request with this `Host` header (`None`: no header) is meant
    /// for this server; otherwise answer 421.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(authority) = host.and_then(parse_authority) else {
            return false;
        };
        let port = authority.port.unwrap_or(default_port(self.https));
        self.own
            .iter()
            .any(|(name, p)| *p == port && *name == authority.host)
            || (authority.ip.is_some() && self.any_ip_ports.contains(&port))
            || self.hosts.iter().any(|allowed| {
                allowed.host == authority.host && allowed.port.is_none_or(|p| p == port)
            })
    }

    /// Whether a request with this `Origin` header (`None`: no header) and
    /// `Host` header may open a WebSocket or `POST` / `DELETE`; otherwise
    /// answer 403. Its own origin counts only when `Host` is allowed.
    pub fn origin_allowed(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let Some(origin) = parse_origin(origin.trim()) else {
            return false;
        };
        if self.origins.contains(&origin) {
            return true;
        }
        let Some(authority) = host.and_then(parse_authority) else {
            return false;
        };
        let own = Origin {
            https: self.https,
            port: authority.port.unwrap_or(default_port(self.https)),
            host: authority.host,
        };
        origin == own && self.host_allowed(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16) -> SameOrigin {
        SameOrigin::new(&[SocketAddr::from(([127, 0, 0, 1], port))], false)
    }

    #[test]
    fn the_server_answers_to_its_loopback_names_with_its_port() {
        let rules = local(5000);
        for host in [
            "127.0.0.1:5000",
            "localhost:5000",
            "LOCALHOST:5000",
            "LocalHost.:5000",
            "[::1]:5000",
            "[0:0:0:0:0:0:0:1]:5000",
        ] {
            assert!(rules.host_allowed(Some(host)), "{host}");
        }
    }

    #[test]
    fn foreign_and_malformed_hosts_are_refused() {
        let rules = local(5000);
        for host in [
            "evil.example:5000",
            "localhost.evil.example:5000",
            "localhost:5000.evil.example",
            "evil.example",
            "localhost:5001",
            "localhost",
            "127.0.0.1",
            "127.0.0.2:5000",
            "10.0.0.1:5000",
            "[::2]:5000",
            "::1:5000",
            "[::1]5000",
            "[::1",
            "localhost:",
            "localhost:abc",
            "localhost:+5000",
            "localhost:0",
            "localhost:99999",
            "localhost:5000:5000",
            "user@localhost:5000",
            "localhost:5000/",
            "local host:5000",
            "localhost..:5000",
            "",
            " ",
        ] {
            assert!(!rules.host_allowed(Some(host)), "{host:?}");
        }
        assert!(!rules.host_allowed(None));
    }

    #[test]
    fn a_missing_port_means_the_schemes_default_port() {
        let http = SameOrigin::new(&[SocketAddr::from(([127, 0, 0, 1], 80))], false);
        assert!(http.host_allowed(Some("localhost")));
        assert!(http.host_allowed(Some("localhost:80")));
        assert!(!http.host_allowed(Some("localhost:443")));
        let https = SameOrigin::new(&[SocketAddr::from(([127, 0, 0, 1], 443))], true);
        assert!(https.host_allowed(Some("localhost")));
        assert!(!https.host_allowed(Some("localhost:80")));
        assert!(https.origin_allowed(Some("https://localhost"), Some("localhost")));
        assert!(https.origin_allowed(Some("https://localhost:443"), Some("localhost")));
        assert!(!https.origin_allowed(Some("http://localhost"), Some("localhost")));
    }

    #[test]
    fn a_server_bound_to_a_specific_address_answers_to_it() {
        let rules = SameOrigin::new(&[SocketAddr::from(([192, 168, 1, 5], 8080))], false);
        assert!(rules.host_allowed(Some("192.168.1.5:8080")));
        assert!(rules.host_allowed(Some("localhost:8080")));
        assert!(!rules.host_allowed(Some("192.168.1.6:8080")));
        let v6: SocketAddr = "[fe80::1]:8080".parse().unwrap();
        let rules = SameOrigin::new(&[v6], false);
        assert!(rules.host_allowed(Some("[FE80::1]:8080")));
        assert!(!rules.host_allowed(Some("[fe80::2]:8080")));
    }

    #[test]
    fn bound_to_any_address_every_ip_literal_is_a_name_but_host_names_must_be_listed() {
        let rules = SameOrigin::new(&[SocketAddr::from(([0, 0, 0, 0], 8080))], false);
        assert!(rules.host_allowed(Some("192.168.1.5:8080")));
        assert!(rules.host_allowed(Some("[2001:db8::1]:8080")));
        assert!(rules.host_allowed(Some("localhost:8080")));
        assert!(!rules.host_allowed(Some("192.168.1.5:8081")));
        assert!(!rules.host_allowed(Some("plant.example:8080")));
        let rules = rules.allow_hosts(["plant.example"]).unwrap();
        assert!(rules.host_allowed(Some("Plant.Example:8080")));
        assert!(rules.host_allowed(Some("plant.example")));
        assert!(!rules.host_allowed(Some("www.plant.example:8080")));
    }

    #[test]
    fn an_allowed_host_with_a_port_allows_that_port_only() {
        let rules = local(5000)
            .allow_hosts(["dash.example:443", "[2001:db8::1]:8443"])
            .unwrap();
        assert!(rules.host_allowed(Some("dash.example:443")));
        assert!(!rules.host_allowed(Some("dash.example:5000")));
        assert!(!rules.host_allowed(Some("dash.example")));
        assert!(rules.host_allowed(Some("[2001:db8:0::1]:8443")));
        for bad in [
            "http://dash.example",
            "dash.example/x",
            "",
            "[::1]:x",
            "a b",
        ] {
            let e = local(5000).allow_hosts([bad]).unwrap_err().to_string();
            assert!(e.contains("allowed_hosts"), "{e}");
        }
    }

    #[test]
    fn the_servers_own_origin_is_allowed() {
        let rules = local(5000);
        let host = Some("localhost:5000");
        assert!(rules.origin_allowed(Some("http://localhost:5000"), host));
        assert!(rules.origin_allowed(Some("HTTP://LOCALHOST:5000"), host));
        assert!(rules.origin_allowed(Some("http://127.0.0.1:5000"), Some("127.0.0.1:5000")));
        assert!(rules.origin_allowed(Some("http://[::1]:5000"), Some("[::1]:5000")));
        assert!(rules.origin_allowed(None, host));
        assert!(rules.origin_allowed(None, None));
    }

    #[test]
    fn hostile_origins_are_refused() {
        let rules = local(5000);
        let host = Some("localhost:5000");
        for origin in [
            "null",
            "http://localhost.evil.example",
            "http://localhost.evil.example:5000",
            "http://localhost:5000.evil.example",
            "http://evil.example",
            "http://localhost:5001",
            "http://localhost",
            "https://localhost:5000",
            "ws://localhost:5000",
            "file://",
            "http://localhost:5000/",
            "http://localhost:5000/path",
            "http://evil.example#@localhost:5000",
            "http://localhost:5000@evil.example",
            "http://user@localhost:5000",
            "//localhost:5000",
            "localhost:5000",
            "http://127.0.0.1:5000",
            "",
        ] {
            assert!(!rules.origin_allowed(Some(origin), host), "{origin:?}");
        }
    }

    #[test]
    fn a_rebound_name_is_refused_even_with_a_matching_origin() {
        let rules = local(5000);
        assert!(!rules.origin_allowed(Some("http://evil.example:5000"), Some("evil.example:5000")));
        assert!(!rules.origin_allowed(Some("http://localhost:5000"), None));
    }

    #[test]
    fn listed_origins_are_allowed() {
        let rules = local(5000)
            .allow_origins(["https://dash.example", "http://[::1]:3000 "])
            .unwrap();
        let host = Some("localhost:5000");
        assert!(rules.origin_allowed(Some("https://dash.example"), host));
        assert!(rules.origin_allowed(Some("https://dash.example:443"), host));
        assert!(rules.origin_allowed(Some("https://DASH.example"), host));
        assert!(rules.origin_allowed(Some("http://[0::1]:3000"), host));
        assert!(!rules.origin_allowed(Some("http://dash.example"), host));
        assert!(!rules.origin_allowed(Some("https://dash.example:8443"), host));
        assert!(!rules.origin_allowed(Some("https://sub.dash.example"), host));
        for bad in [
            "null",
            "dash.example",
            "https://dash.example/",
            "ftp://x",
            "*",
        ] {
            let e = local(5000).allow_origins([bad]).unwrap_err().to_string();
            assert!(e.contains("allowed_origins"), "{e}");
        }
    }

    #[test]
    fn an_https_server_expects_https_origins() {
        let rules = SameOrigin::new(&[SocketAddr::from(([127, 0, 0, 1], 8443))], true);
        assert!(rules.https());
        let host = Some("localhost:8443");
        assert!(rules.origin_allowed(Some("https://localhost:8443"), host));
        assert!(!rules.origin_allowed(Some("http://localhost:8443"), host));
    }

    #[test]
    fn every_bound_address_counts() {
        let bound = [
            SocketAddr::from(([127, 0, 0, 1], 5000)),
            "[::1]:5001".parse().unwrap(),
        ];
        let rules = SameOrigin::new(&bound, false);
        assert!(rules.host_allowed(Some("localhost:5000")));
        assert!(rules.host_allowed(Some("[::1]:5001")));
        assert!(rules.host_allowed(Some("127.0.0.1:5001")));
        assert!(!rules.host_allowed(Some("localhost:5002")));
    }
}
