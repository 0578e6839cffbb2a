//! The broker list of `MQTT_BROKER_URL`: one broker or a comma-separated
//! failover list, each entry a host name (`broker.local`, `10.0.0.2:1884`,
//! `[::1]`) completed with the common port, transport and TLS, or a full URI
//! (`tcp://`, `mqtt://`, `ssl://`, `mqtts://`, `ws://`, `wss://`) used as is.
//! Parsing and checking only; the actor's `failover.rs` walks the list.

/// URI schemes Paho connects with.
const SCHEMES: &[&str] = &["tcp", "mqtt", "ssl", "mqtts", "ws", "wss"];

/// Schemes that mean TLS.
const TLS_SCHEMES: &[&str] = &["ssl", "mqtts", "wss"];

/// How an entry without a scheme is completed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defaults {
    /// The scheme (`tcp`, `ssl`, `ws`, `wss`), from transport and TLS.
    pub scheme: &'static str,
    /// `MQTT_BROKER_PORT`.
    pub port: u16,
}

/// The entries of a broker list, trimmed; empty ones are kept so that
/// [`check`] can name them.
pub(crate) fn entries(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).collect()
}

/// Checks every entry; the error names the first bad one and why.
pub(crate) fn check(list: &str) -> Result<(), String> {
    let all = entries(list);
    for (n, entry) in all.iter().enumerate() {
        let position = if all.len() > 1 {
            format!("entry {} {entry:?}", n + 1)
        } else {
            format!("{entry:?}")
        };
        check_entry(entry).map_err(|why| format!("{position}: {why}"))?;
    }
    Ok(())
}

fn check_entry(entry: &str) -> Result<(), String> {
    if entry.is_empty() {
        return Err("a broker must not be empty".into());
    }
    let authority = match entry.split_once("://") {
        Some((scheme, rest)) => {
            if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "unknown scheme {scheme:?}: expected one of {}",
                    SCHEMES.join(", ")
                ));
            }
            // ws:// and wss:// may carry a path after the authority.
            rest.split('/').next().unwrap_or(rest)
        }
        None if entry.contains('/') => {
            return Err("a host name has no '/': write a full URI (tcp://host:port)".into())
        }
        None => entry,
    };
    let (host, port) = split_port(authority);
    if host.is_empty() {
        return Err("the broker host must not be empty".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err("a host name has no spaces and no '@'".into());
    }
    match port {
        Some(p) if p.parse::<u16>().map_or(true, |p| p == 0) => {
            Err(format!("bad port {p:?}: expected a port number 1-65535"))
        }
        _ => Ok(()),
    }
}

/// `host:port` into its parts; IPv6 literals keep their brackets.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, after)) => {
                let host = &authority[..authority.len() - after.len()];
                (host, after.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// Paho switches TLS and WebSocket on for a broker of the list that needs
/// them but never off again for the next one, so every broker of one list
/// must be reached the same way. Checks `uris` (from [`uris`]) for that;
/// the error names the first broker that differs from the first.
pub(crate) fn one_transport(uris: &[String]) -> Result<(), String> {
    let family = |uri: &str| {
        let scheme = uri.split_once("://").map_or("tcp", |(s, _)| s);
        match scheme.to_ascii_lowercase().as_str() {
            "tcp" | "mqtt" => "tcp",
            "ssl" | "mqtts" => "ssl",
            "ws" => "ws",
            _ => "wss",
        }
    };
    let Some(first) = uris.first() else {
        return Ok(());
    };
    match uris
        .iter()
        .enumerate()
        .find(|(_, u)| family(u) != family(first))
    {
        Some((n, uri)) => Err(format!(
            "entry {} {uri:?} is reached over {} but entry 1 {first:?} over {}: \
             every broker of a failover list must use the same transport and TLS",
            n + 1,
            family(uri),
            family(first)
        )),
        None => Ok(()),
    }
}

/// The URIs handed to Paho, in order: full URIs as given, host names
/// completed with `defaults`. Call after [`check`].
pub(crate) fn uris(list: &str, defaults: Defaults) -> Vec<String> {
    entries(list)
        .into_iter()
        .filter(|e| !e.is_empty())
        .map(|entry| {
            if entry.contains("://") {
                return entry.to_string();
            }
            match split_port(entry) {
                (_, Some(_)) => format!("{}://{entry}", defaults.scheme),
                (host, None) => format!("{}://{host}:{}", defaults.scheme, defaults.port),
            }
        })
        .collect()
}

/// Whether connecting to `uri` uses TLS.
pub(crate) fn uses_tls(uri: &str) -> bool {
    uri.split_once("://")
        .is_some_and(|(scheme, _)| TLS_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// `host:port` of `uri`, for a plain TCP reachability probe; a missing port
/// is the scheme's usual one (`default_port` for MQTT).
pub(crate) fn tcp_address(uri: &str, default_port: u16) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("tcp", uri));
    let authority = rest.split('/').next().unwrap_or(rest);
    match split_port(authority) {
        (_, Some(_)) => authority.to_string(),
        (host, None) => {
            let port = match scheme.to_ascii_lowercase().as_str() {
                "ws" => 80,
                "wss" => 443,
                _ => default_port,
            };
            format!("{host}:{port}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: Defaults = Defaults {
        scheme: "tcp",
        port: 1883,
    };

    #[test]
    fn host_names_get_the_common_port_and_uris_stay_as_given() {
        assert_eq!(
            uris("node1, node2:1884 ,ssl://node3:8883,[::1],[::1]:1999", TCP),
            [
                "tcp://node1:1883",
                "tcp://node2:1884",
                "ssl://node3:8883",
                "tcp://[::1]:1883",
                "tcp://[::1]:1999"
            ]
        );
        assert_eq!(uris("localhost", TCP), ["tcp://localhost:1883"]);
    }

    #[test]
    fn a_bad_entry_is_named_with_its_position() {
        for (list, expected) in [
            ("a,,b", "entry 2 \"\": a broker must not be empty"),
            ("a,b,", "entry 3 \"\": a broker must not be empty"),
            ("a,http://b:1", "entry 2 \"http://b:1\": unknown scheme"),
            ("a,b:99999", "entry 2 \"b:99999\": bad port \"99999\""),
            ("a,tcp://:1883", "entry 2 \"tcp://:1883\": the broker host"),
            ("a b", "\"a b\": a host name has no spaces"),
            ("a,b/c", "entry 2 \"b/c\": a host name has no '/'"),
        ] {
            let err = check(list).unwrap_err();
            assert!(err.starts_with(expected), "{list}: {err}");
        }
        assert!(check("a, tcp://b:1883 ,ws://c:9001/mqtt,[::1]:1").is_ok());
    }

    #[test]
    fn a_list_mixing_transports_is_refused() {
        let mixed = uris("a,ssl://b:8883", TCP);
        let err = one_transport(&mixed).unwrap_err();
        assert!(
            err.starts_with("entry 2 \"ssl://b:8883\" is reached over ssl"),
            "{err}"
        );
        assert!(one_transport(&uris("a, mqtt://b:1, tcp://c:2", TCP)).is_ok());
        assert!(one_transport(&[]).is_ok());
    }

    #[test]
    fn tls_and_probe_addresses_follow_each_uri() {
        assert!(uses_tls("ssl://a:8883") && uses_tls("WSS://a") && !uses_tls("tcp://a:1"));
        assert_eq!(tcp_address("tcp://a:1884", 1883), "a:1884");
        assert_eq!(tcp_address("wss://a/mqtt", 1883), "a:443");
        assert_eq!(tcp_address("ssl://[::1]", 8883), "[::1]:8883");
    }
}
