//! MQTT packets as the guard reads them: off the client's stream as their
//! bytes arrive, checked for what would crash the app, and the CONNECT
//! rewritten to carry the guard's login instead of the client's.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The buffer a packet's body first gets, and the least it grows by: a
/// packet's buffer never holds more than twice what has arrived plus this,
/// nor more than the packet declared.
pub(super) const CHUNK: usize = 64 * 1024;

/// The login the guard puts in every CONNECT it relays, which the broker
/// requires (a secret made at start: nothing else can connect to the broker).
#[derive(Clone)]
pub struct Login {
    /// The user name the broker expects.
    pub username: String,
    /// The secret the broker expects.
    pub password: String,
}

/// Empties `packet` for the next one, giving back what a large one took.
pub(super) fn reset(packet: &mut Vec<u8>) {
    packet.clear();
    packet.shrink_to(CHUNK);
}

/// The first byte of the next packet, or `None` at a clean end of stream.
pub(super) async fn read_first(r: &mut (impl AsyncRead + Unpin)) -> io::Result<Option<u8>> {
    match r.read_u8().await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the remaining-length field after the `first` byte, appending the
/// fixed header to `packet`; fails at once if the length is above `max`.
pub(super) async fn read_length(
    r: &mut (impl AsyncRead + Unpin),
    packet: &mut Vec<u8>,
    first: u8,
    max: usize,
) -> io::Result<usize> {
    packet.push(first);
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let b = r.read_u8().await?;
        packet.push(b);
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            if len > max {
                let msg = format!("a packet declaring {len} bytes (the most is {max})");
                return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
            }
            return Ok(len);
        }
    }
    let msg = "a remaining length longer than 4 bytes";
    Err(io::Error::new(io::ErrorKind::InvalidData, msg))
}

/// Appends a body of `len` bytes to `packet` as its bytes arrive: the buffer
/// grows with what was read (doubling, from [`CHUNK`]), never to more than
/// `len`, so a length declared and never sent costs nothing.
pub(super) async fn read_body(
    r: &mut (impl AsyncRead + Unpin),
    packet: &mut Vec<u8>,
    len: usize,
) -> io::Result<()> {
    let end = packet.len() + len;
    while packet.len() < end {
        let left = end - packet.len();
        if packet.capacity() == packet.len() {
            packet.reserve_exact(packet.len().max(CHUNK).min(left));
        }
        let n = (&mut *r).take(left as u64).read_buf(packet).await?;
        if n == 0 {
            let msg = "the stream ended inside a packet";
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
        }
    }
    Ok(())
}

/// Reads one whole packet (fixed header included) into `packet`, which it
/// empties first; `false` at a clean end of the stream.
#[cfg(test)]
pub(super) async fn read_packet(
    r: &mut (impl AsyncRead + Unpin),
    packet: &mut Vec<u8>,
    max: usize,
) -> io::Result<bool> {
    reset(packet);
    let Some(first) = read_first(r).await? else {
        return Ok(false);
    };
    let len = read_length(r, packet, first, max).await?;
    read_body(r, packet, len).await?;
    Ok(true)
}

/// Why a packet after the CONNECT must not reach the broker, if it must not:
/// a PUBLISH topic with NUL or not UTF-8, or a second CONNECT. A packet too
/// short to tell is let through for the broker to refuse.
pub(super) fn refused(packet: &[u8]) -> Option<&'static str> {
    let body = packet.get(header_len(packet)?..)?;
    match packet[0] >> 4 {
        1 => Some("a second CONNECT"),
        3 => bad_topic(string(body, 0)?.0),
        _ => None,
    }
}

/// What is wrong with a topic that would crash Paho, if anything.
fn bad_topic(topic: &[u8]) -> Option<&'static str> {
    match std::str::from_utf8(topic) {
        Err(_) => Some("a topic that is not UTF-8"),
        Ok(t) if t.contains('\0') => Some("a topic with NUL"),
        Ok(_) => None,
    }
}

/// A client's CONNECT as the broker gets it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Connect {
    /// The keep-alive it declared, in seconds (never 0).
    pub keep_alive: u16,
    /// The packet to send the broker: the client's, with the guard's login
    /// in place of the client's own user name and password.
    pub packet: Vec<u8>,
}

/// Checks a client's first packet and rewrites it for the broker, or says
/// why it is refused: not a CONNECT, not MQTT 3.1.1 (all the embedded broker
/// speaks), malformed, keep-alive 0 (which the broker refuses), or a will
/// topic with NUL or not UTF-8.
pub(super) fn rewrite_connect(packet: &[u8], login: &Login) -> Result<Connect, &'static str> {
    const MALFORMED: &str = "a malformed CONNECT";
    if packet.first().map(|b| b >> 4) != Some(1) {
        return Err("a first packet that is not CONNECT");
    }
    let body = header_len(packet)
        .and_then(|h| packet.get(h..))
        .ok_or(MALFORMED)?;
    let (name, at) = string(body, 0).ok_or(MALFORMED)?;
    let (level, flags) = (body.get(at).ok_or(MALFORMED)?, body.get(at + 1));
    if name != b"MQTT" || *level != 4 {
        return Err("a CONNECT that is not MQTT 3.1.1");
    }
    let flags = *flags.ok_or(MALFORMED)?;
    let keep_alive = body.get(at + 2..at + 4).ok_or(MALFORMED)?;
    let keep_alive = u16::from_be_bytes([keep_alive[0], keep_alive[1]]);
    if keep_alive == 0 {
        return Err("a CONNECT with keep-alive 0");
    }
    let (_, mut end) = string(body, at + 4).ok_or(MALFORMED)?; // client id
    if flags & 0x04 != 0 {
        let (topic, next) = string(body, end).ok_or(MALFORMED)?;
        if let Some(reason) = bad_topic(topic) {
            return Err(if reason.contains("NUL") {
                "a will topic with NUL"
            } else {
                "a will topic that is not UTF-8"
            });
        }
        end = string(body, next).ok_or(MALFORMED)?.1; // will message
    }
    let kept = end;
    for flag in [0x80, 0x40] {
        if flags & flag != 0 {
            end = string(body, end).ok_or(MALFORMED)?.1;
        }
    }
    if end != body.len() {
        return Err(MALFORMED);
    }
    let mut new_body = body[..kept].to_vec();
    new_body[at + 1] = (flags & 0x3f) | 0xc0;
    for field in [&login.username, &login.password] {
        let len = u16::try_from(field.len()).map_err(|_| "a guard login too long")?;
        new_body.extend_from_slice(&len.to_be_bytes());
        new_body.extend_from_slice(field.as_bytes());
    }
    let mut packet = vec![0x10];
    let mut len = new_body.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        packet.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    packet.extend(new_body);
    Ok(Connect { keep_alive, packet })
}

/// The length of a packet's fixed header, if it is all there.
fn header_len(packet: &[u8]) -> Option<usize> {
    Some(
        1 + packet
            .get(1..)?
            .iter()
            .take(4)
            .position(|b| b & 0x80 == 0)?
            + 1,
    )
}

/// A length-prefixed string at `at`, and where the next field starts.
fn string(body: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    let start = at + 2;
    Some((body.get(start..start + len)?, start + len))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use tokio::io::ReadBuf;

    use super::*;

    const MAX: usize = 256 * 1024;

    fn with_header(kind: u8, body: Vec<u8>) -> Vec<u8> {
        let mut p = vec![kind];
        let mut len = body.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            p.push(if len > 0 { byte | 0x80 } else { byte });
            if len == 0 {
                break;
            }
        }
        p.extend(body);
        p
    }

    fn publish(topic: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut body = (topic.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(topic);
        body.extend_from_slice(payload);
        with_header(0x30, body)
    }

    fn connect(will: Option<&[u8]>, login: Option<(&str, &str)>) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4];
        let mut flags = 0x02;
        if will.is_some() {
            flags |= 0x04 | 0x20;
        }
        if login.is_some() {
            flags |= 0xc0;
        }
        body.push(flags);
        body.extend_from_slice(&[0, 60, 0, 1, b'c']);
        let mut field = |f: &[u8]| {
            body.extend_from_slice(&(f.len() as u16).to_be_bytes());
            body.extend_from_slice(f);
        };
        if let Some(t) = will {
            field(t);
            field(b"bye");
        }
        if let Some((u, p)) = login {
            field(u.as_bytes());
            field(p.as_bytes());
        }
        with_header(0x10, body)
    }

    fn login() -> Login {
        Login {
            username: "guard".into(),
            password: "s3cret".into(),
        }
    }

    #[test]
    fn topics_with_nul_or_bad_utf8_and_second_connects_are_refused() {
        assert_eq!(refused(&publish(b"a/b", b"x")), None);
        assert_eq!(refused(&publish(b"a\0b", b"x")), Some("a topic with NUL"));
        let bad = refused(&publish(b"a\xffb", b"x"));
        assert_eq!(bad, Some("a topic that is not UTF-8"));
        assert_eq!(refused(&connect(None, None)), Some("a second CONNECT"));
        assert_eq!(
            refused(&[0x30, 0x01, 0x00]),
            None,
            "too short: the broker decides"
        );
        assert_eq!(refused(&[0xc0, 0x00]), None, "PINGREQ");
    }

    #[test]
    fn a_connect_gets_the_guards_login_in_place_of_the_clients() {
        let theirs = rewrite_connect(&connect(Some(b"will/t"), Some(("me", "pw"))), &login());
        let ours = rewrite_connect(
            &connect(Some(b"will/t"), Some(("guard", "s3cret"))),
            &login(),
        );
        assert_eq!(theirs, ours, "the client's login is replaced");
        let anonymous = rewrite_connect(&connect(Some(b"will/t"), None), &login()).unwrap();
        assert_eq!(anonymous, ours.unwrap(), "and added when it had none");
        assert_eq!(anonymous.keep_alive, 60);
        let plain = rewrite_connect(&connect(None, None), &login()).unwrap();
        assert_eq!(plain.packet, connect(None, Some(("guard", "s3cret"))));
    }

    #[test]
    fn bad_connects_are_refused() {
        let refuse = |p: &[u8]| rewrite_connect(p, &login()).unwrap_err();
        assert_eq!(
            refuse(&connect(Some(b"w\0"), None)),
            "a will topic with NUL"
        );
        let bad = refuse(&connect(Some(b"w\xff"), None));
        assert_eq!(bad, "a will topic that is not UTF-8");
        assert_eq!(
            refuse(&publish(b"a", b"")),
            "a first packet that is not CONNECT"
        );
        let mut v5 = connect(None, None);
        v5[8] = 5;
        assert_eq!(refuse(&v5), "a CONNECT that is not MQTT 3.1.1");
        let mut no_keep_alive = connect(None, None);
        no_keep_alive[11] = 0;
        assert_eq!(refuse(&no_keep_alive), "a CONNECT with keep-alive 0");
        let mut trailing = connect(None, None);
        trailing.push(0);
        trailing[1] += 1;
        assert_eq!(refuse(&trailing), "a malformed CONNECT");
        let short = connect(None, None);
        assert_eq!(refuse(&short[..9]), "a malformed CONNECT");
    }

    /// Hands out `data` in pieces of the sizes `sizes` gives, answering
    /// `Pending` (and waking itself) before every other piece, as a socket
    /// does when bytes trickle in.
    struct Pieces<F> {
        data: Vec<u8>,
        at: usize,
        sizes: F,
        pending: bool,
    }

    impl<F: FnMut() -> usize + Unpin> AsyncRead for Pieces<F> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.pending = !self.pending;
            if self.pending {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = (self.sizes)()
                .max(1)
                .min(buf.remaining())
                .min(self.data.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    /// Packets of every shape: long and short lengths, an empty body, one at
    /// the largest size allowed, one larger than the first buffer.
    fn packets() -> Vec<Vec<u8>> {
        vec![
            publish(b"x/y", b"small"),
            connect(Some(b"will/t"), Some(("u", "p"))),
            vec![0xc0, 0x00],
            publish(b"medium", &[7; 300]),
            publish(b"large", &(0..200_000).map(|i| i as u8).collect::<Vec<_>>()),
            with_header(0x30, vec![9; MAX]),
            publish(b"last", b""),
        ]
    }

    async fn read_all(sizes: impl FnMut() -> usize + Unpin) {
        let packets = packets();
        let mut r = Pieces {
            data: packets.concat(),
            at: 0,
            sizes,
            pending: false,
        };
        let mut p = Vec::new();
        for (i, want) in packets.iter().enumerate() {
            assert!(
                read_packet(&mut r, &mut p, MAX).await.unwrap(),
                "packet {i}"
            );
            assert!(p == *want, "packet {i} read whole ({} bytes)", want.len());
            assert!(
                p.capacity() <= want.len().max(CHUNK),
                "packet {i}: no more than declared"
            );
        }
        assert!(
            !read_packet(&mut r, &mut p, MAX).await.unwrap(),
            "a clean end"
        );
    }

    #[actix_rt::test]
    async fn packets_are_read_whole_however_they_are_split() {
        read_all(|| 1).await;
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            read_all(move || rng.gen_range(1..=3 * CHUNK / 2)).await;
        }
        let mut rng = StdRng::seed_from_u64(99);
        read_all(move || rng.gen_range(1..=7)).await;
    }

    #[actix_rt::test]
    async fn a_declared_length_costs_only_what_arrived() {
        let mut data = vec![0x30, 0xff, 0xff, 0x0f]; // declares 256 KiB - 1
        data.extend_from_slice(&[0, 1, b't']);
        let mut r = Pieces {
            data,
            at: 0,
            sizes: || 2,
            pending: false,
        };
        let mut p = Vec::new();
        let err = read_packet(&mut r, &mut p, MAX).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(p.capacity() <= CHUNK, "{} bytes held", p.capacity());
        let mut too_big = Pieces {
            data: vec![0x30, 0x81, 0x80, 0x10, 1, 2, 3],
            at: 0,
            sizes: || 1,
            pending: false,
        };
        let err = read_packet(&mut too_big, &mut p, MAX).await.unwrap_err();
        assert!(err.to_string().contains("declaring 262145 bytes"), "{err}");
        assert_eq!(too_big.at, 4, "refused before reading its body");
        let mut endless = Pieces {
            data: vec![0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
            at: 0,
            sizes: || 1,
            pending: false,
        };
        let err = read_packet(&mut endless, &mut p, MAX).await.unwrap_err();
        assert!(err.to_string().contains("longer than 4 bytes"), "{err}");
    }
}
