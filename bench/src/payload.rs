//! The benchmark's messages: 64-byte ASCII payloads that carry the step they
//! belong to, a sequence number and the send time, so that a receiver reads
//! its latency from the bytes alone (no JSON tree, no shared state with the
//! publisher). ASCII keeps the app's `message` frame `"encoding":"utf8"`, so
//! the same bytes appear verbatim inside the WebSocket frame.

use std::sync::OnceLock;
use std::time::Instant;

/// The topic every message is published on.
pub const TOPIC: &str = "bench/data";
/// The filter every receiver holds.
pub const FILTER: &str = "bench/#";
/// Payload size, as in issue 10's measurements.
pub const PAYLOAD_BYTES: usize = 64;

/// `b`, step (8 hex digits), sequence (16), send time in ns (16).
const STAMP_BYTES: usize = 1 + 8 + 16 + 16;

static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on the process's monotonic clock: publisher and receivers
/// live in this process, so their readings compare directly.
pub fn now_ns() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What a receiver needs from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The measurement step that sent it.
    pub step: u32,
    /// When it was handed to the publisher's socket ([`now_ns`]).
    pub sent_ns: u64,
}

/// Appends one payload to `out`.
pub fn write(out: &mut Vec<u8>, step: u32, seq: u64, sent_ns: u64) {
    out.push(b'b');
    put_hex(out, u64::from(step), 8);
    put_hex(out, seq, 16);
    put_hex(out, sent_ns, 16);
    out.extend(std::iter::repeat_n(b'.', PAYLOAD_BYTES - STAMP_BYTES));
}

/// Reads the stamp at the start of `payload` (trailing bytes are ignored, so
/// the payload may be followed by the rest of a JSON frame).
pub fn read(payload: &[u8]) -> Option<Stamp> {
    if payload.len() < STAMP_BYTES || payload[0] != b'b' {
        return None;
    }
    Some(Stamp {
        step: u32::try_from(hex(&payload[1..9])?).ok()?,
        sent_ns: hex(&payload[25..41])?,
    })
}

fn put_hex(out: &mut Vec<u8>, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        let nibble = ((value >> (4 * i)) & 0xf) as u8;
        out.push(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        });
    }
}

fn hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_64_ascii_bytes_and_reads_back() {
        let mut out = Vec::new();
        write(&mut out, 7, 123_456, 0xdead_beef_0042);
        assert_eq!(out.len(), PAYLOAD_BYTES);
        assert!(out.iter().all(|b| b.is_ascii_graphic()));
        out.extend_from_slice(br#"","encoding":"utf8"}"#);
        let stamp = read(&out).expect("stamp");
        assert_eq!(stamp.step, 7);
        assert_eq!(stamp.sent_ns, 0xdead_beef_0042);
    }

    #[test]
    fn foreign_payloads_are_ignored() {
        assert_eq!(read(b"hello"), None);
        assert_eq!(read(&[b'z'; 64]), None);
        assert_eq!(
            read(b"bzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            None
        );
    }
}
