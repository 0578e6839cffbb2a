//! The app's bounds on what web clients can make it hold, as plain values
//! (the session and the HTTP handlers apply them; README "Limits" lists them
//! all):
//!
//! - [`check_web_filter`], [`check_web_topic`]: a filter or topic from the
//!   web is short and shallow, so the library's topic index (one node per
//!   level, walked recursively) never sees a filter of 60,000 levels, and
//!   holds nothing a broker refuses by closing the connection (which would
//!   be the server's one connection, for everyone);
//! - [`SessionSlots`]: open sessions (WebSockets and `/api/stream` event
//!   streams), in all and per IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;

use crate::web::error::{ApiError, ErrorCode};

/// Checks a filter from a web client: at most `max_bytes` bytes and
/// `max_levels` levels (`invalid_topic` beyond, as for any filter that breaks
/// MQTT's rules), then MQTT's rules themselves.
pub fn check_web_filter(filter: &str, max_levels: usize, max_bytes: usize) -> Result<(), ApiError> {
    check_shape(filter, max_levels, max_bytes)?;
    crate::validate_filter(filter)?;
    check_characters(filter)
}

/// Checks a topic a web client publishes to, as [`check_web_filter`] does a
/// filter: brokers refuse deep topics too (Mosquitto drops a client that
/// publishes to one of more than 200 levels).
pub fn check_web_topic(topic: &str, max_levels: usize, max_bytes: usize) -> Result<(), ApiError> {
    check_shape(topic, max_levels, max_bytes)?;
    crate::validate_topic(topic)?;
    check_characters(topic)
}

fn check_shape(topic: &str, max_levels: usize, max_bytes: usize) -> Result<(), ApiError> {
    // Length first: counting levels then walks at most `max_bytes` bytes.
    if topic.len() > max_bytes {
        return Err(ApiError::new(
            ErrorCode::InvalidTopic,
            format!(
                "a topic or filter of {} bytes is over the limit of {max_bytes} (WS_MAX_FILTER_BYTES)",
                topic.len()
            ),
        ));
    }
    let levels = topic.bytes().filter(|b| *b == b'/').count() + 1;
    if levels > max_levels {
        return Err(ApiError::new(
            ErrorCode::InvalidTopic,
            format!(
                "a topic or filter of {levels} levels is over the limit of {max_levels} (WS_MAX_FILTER_LEVELS)"
            ),
        ));
    }
    Ok(())
}

/// MQTT says topics SHOULD NOT hold control characters or Unicode
/// non-characters, and lets a receiver close the connection over them;
/// Mosquitto does. One such topic from one web client would cut the server's
/// broker connection for everyone (and its filters come back with every
/// reconnect), so they are `invalid_topic` here.
fn check_characters(topic: &str) -> Result<(), ApiError> {
    let refused = |c: char| {
        let c = u32::from(c);
        c <= 0x1f
            || (0x7f..=0x9f).contains(&c)
            || (0xfdd0..=0xfdef).contains(&c)
            || (c & 0xfffe) == 0xfffe
    };
    match topic.chars().find(|c| refused(*c)) {
        None => Ok(()),
        Some(c) => Err(ApiError::new(
            ErrorCode::InvalidTopic,
            format!(
                "topics must not contain control characters or non-characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

/// The open sessions (WebSockets and event streams), counted in all and per
/// IP address, so the upgrade (or the stream) can be refused before a
/// session exists: `503` past the total, `429` past one address's share.
#[derive(Debug, Clone)]
pub struct SessionSlots {
    max_total: usize,
    max_per_ip: usize,
    counts: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl SessionSlots {
    /// Room for `max_total` sessions, `max_per_ip` from any one address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        SessionSlots {
            max_total,
            max_per_ip,
            counts: Arc::default(),
        }
    }

    /// Takes a slot for a session from `ip` (unknown: counted in all only),
    /// or the error its upgrade gets. The slot is given back when the
    /// returned value is dropped.
    pub fn open(&self, ip: Option<IpAddr>) -> Result<SessionSlot, ApiError> {
        let mut counts = self.counts.lock().expect("session slots lock");
        if counts.total >= self.max_total {
            let message = format!(
                "the server serves {} sessions (WebSockets and event streams), the most it allows (WS_MAX_SESSIONS)",
                self.max_total
            );
            return Err(ApiError::new(ErrorCode::BadRequest, message)
                .with_status(StatusCode::SERVICE_UNAVAILABLE));
        }
        if let Some(ip) = ip {
            let from_ip = counts.per_ip.entry(ip).or_default();
            if *from_ip >= self.max_per_ip {
                let message = format!(
                    "{ip} has {} sessions (WebSockets and event streams) open, the most one address may (WS_MAX_SESSIONS_PER_IP)",
                    self.max_per_ip
                );
                return Err(ApiError::new(ErrorCode::BadRequest, message)
                    .with_status(StatusCode::TOO_MANY_REQUESTS));
            }
            *from_ip += 1;
        }
        counts.total += 1;
        Ok(SessionSlot {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// Sessions holding a slot.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.counts.lock().expect("session slots lock").total
    }
}

/// One session's place among [`SessionSlots`], given back on drop.
#[derive(Debug)]
pub struct SessionSlot {
    ip: Option<IpAddr>,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("session slots lock");
        counts.total -= 1;
        if let Some(ip) = self.ip {
            if let Some(n) = counts.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    // Addresses come and go: keep only those with sessions.
                    counts.per_ip.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_over_the_length_or_depth_limit_is_an_invalid_topic() {
        assert!(check_web_filter("a/b/c", 3, 5).is_ok());
        let deep = check_web_filter("a/b/c/d", 3, 100).unwrap_err();
        assert_eq!(deep.code, ErrorCode::InvalidTopic);
        assert!(deep.message.contains("4 levels"), "{}", deep.message);
        let long = check_web_filter("abcdef", 3, 5).unwrap_err();
        assert_eq!(long.code, ErrorCode::InvalidTopic);
        assert!(long.message.contains("6 bytes"), "{}", long.message);
        let huge = format!("d/{}", "/".repeat(60_000));
        assert_eq!(
            check_web_filter(&huge, 32, 1024).unwrap_err().code,
            ErrorCode::InvalidTopic
        );
        assert_eq!(
            check_web_filter("a/#/b", 32, 1024).unwrap_err().code,
            ErrorCode::InvalidTopic
        );
    }

    #[test]
    fn characters_a_broker_may_refuse_are_an_invalid_topic() {
        for bad in [
            "a\u{1}",
            "a\u{1f}b",
            "\u{7f}",
            "\u{9f}",
            "\u{fdd0}",
            "\u{fffe}",
            "\u{10ffff}",
        ] {
            let err = check_web_topic(bad, 32, 1024).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTopic, "{bad:?}");
            assert_eq!(
                check_web_filter(bad, 32, 1024).unwrap_err().code,
                ErrorCode::InvalidTopic
            );
        }
        for good in ["a", "ä/ö", "\u{a0}", "\u{fdcf}", "\u{fffd}", "😀/x"] {
            assert!(check_web_topic(good, 32, 1024).is_ok(), "{good:?}");
        }
        assert_eq!(
            check_web_topic("a/+", 32, 1024).unwrap_err().code,
            ErrorCode::InvalidTopic
        );
        assert_eq!(
            check_web_topic("a/b/c", 2, 1024).unwrap_err().code,
            ErrorCode::InvalidTopic
        );
        assert_eq!(
            check_web_topic("abc", 2, 2).unwrap_err().code,
            ErrorCode::InvalidTopic
        );
    }

    #[test]
    fn sessions_past_the_total_get_503_and_past_one_address_429() {
        let slots = SessionSlots::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = slots.open(Some(a)).unwrap();
        let _a2 = slots.open(Some(a)).unwrap();
        let err = slots.open(Some(a)).unwrap_err();
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        let _b1 = slots.open(Some(b)).unwrap();
        let err = slots.open(Some(b)).unwrap_err();
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(a1);
        assert_eq!(slots.open_count(), 2);
        let _a3 = slots.open(Some(a)).unwrap();
        assert_eq!(slots.open_count(), 3);
    }
}
