//! Just enough MQTT 3.1.1 for the benchmark's own clients: CONNECT,
//! SUBSCRIBE, QoS 0 PUBLISH, DISCONNECT, and a reader that splits a byte
//! stream into packets. Raw packets over tokio sockets keep a thousand native
//! receivers cheap (no thread and no library buffer per client), so the
//! receivers are never what limits the native target.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const PUBLISH: u8 = 0x30;
const SUBSCRIBE: u8 = 0x82;
const SUBACK: u8 = 0x90;

/// DISCONNECT: the broker closes the connection after what came before it.
pub const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// CONNECT with a clean session and keep-alive off (the benchmark's clients
/// never sit idle long enough to need pings).
pub fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    put_str(&mut body, "MQTT");
    body.extend_from_slice(&[4, 0x02, 0, 0]); // level 4, clean session, keep-alive 0
    put_str(&mut body, client_id);
    packet(CONNECT, &body)
}

/// SUBSCRIBE to one filter at QoS 0.
pub fn subscribe_packet(filter: &str) -> Vec<u8> {
    let mut body = vec![0, 1]; // packet id 1
    put_str(&mut body, filter);
    body.push(0);
    packet(SUBSCRIBE, &body)
}

/// Appends a QoS 0 PUBLISH to `out`; `payload` writes the payload.
pub fn put_publish(
    out: &mut Vec<u8>,
    topic: &str,
    payload_len: usize,
    payload: impl FnOnce(&mut Vec<u8>),
) {
    out.push(PUBLISH);
    put_remaining_length(out, 2 + topic.len() + payload_len);
    put_str(out, topic);
    let before = out.len();
    payload(out);
    debug_assert_eq!(out.len() - before, payload_len);
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    put_remaining_length(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).expect("short strings only");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_remaining_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
}

/// One packet found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Packet {
    /// The first byte: type and flags.
    pub first: u8,
    /// Where the body starts (after the fixed header).
    pub body_start: usize,
    /// Bytes of the whole packet.
    pub len: usize,
}

/// The next whole packet at the start of `buf`; `Ok(None)` while incomplete.
pub fn next_packet(buf: &[u8]) -> io::Result<Option<Packet>> {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let body_start = 2 + i;
            if buf.len() < body_start + len {
                return Ok(None);
            }
            return Ok(Some(Packet {
                first: buf[0],
                body_start,
                len: body_start + len,
            }));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "MQTT remaining length over 4 bytes",
    ))
}

/// The payload of a QoS 0 PUBLISH body; `None` for any other packet.
pub fn publish_payload(first: u8, body: &[u8]) -> Option<&[u8]> {
    if first & 0xf0 != PUBLISH || first & 0x06 != 0 || body.len() < 2 {
        return None;
    }
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    body.get(2 + topic_len..)
}

/// A QoS 0 PUBLISH as an MQTT client library hands it to the application:
/// the topic checked as UTF-8 and copied, the payload copied into its own
/// buffer, the flags read out (paho, rumqttc and the browsers' mqtt.js all
/// allocate like this per message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic name.
    pub topic: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The QoS of the delivery.
    pub qos: u8,
    /// The retain flag.
    pub retain: bool,
    /// The DUP flag.
    pub dup: bool,
    /// The packet id (QoS 1 and 2 only).
    pub packet_id: Option<u16>,
}

impl Message {
    /// Decodes a PUBLISH packet; `None` for any other packet or a malformed one.
    pub fn decode(first: u8, body: &[u8]) -> Option<Message> {
        if first & 0xf0 != PUBLISH || body.len() < 2 {
            return None;
        }
        let qos = (first >> 1) & 0x03;
        let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
        let topic = std::str::from_utf8(body.get(2..2 + topic_len)?).ok()?;
        let mut rest = 2 + topic_len;
        let packet_id = if qos > 0 {
            let id = body.get(rest..rest + 2)?;
            rest += 2;
            Some(u16::from_be_bytes([id[0], id[1]]))
        } else {
            None
        };
        Some(Message {
            topic: topic.to_owned(),
            payload: body[rest..].to_vec(),
            qos,
            retain: first & 0x01 != 0,
            dup: first & 0x08 != 0,
            packet_id,
        })
    }
}

/// Connects to the broker at `addr` as `client_id`; with `filter`, also
/// subscribes. Returns the socket and any bytes read past the handshake.
pub async fn open(
    addr: &str,
    client_id: &str,
    filter: Option<&str>,
) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut hello = connect_packet(client_id);
    if let Some(f) = filter {
        hello.extend_from_slice(&subscribe_packet(f));
    }
    stream.write_all(&hello).await?;
    let mut buf = Vec::with_capacity(4096);
    expect(&mut stream, &mut buf, CONNACK, |body| {
        body.get(1) == Some(&0)
    })
    .await?;
    if filter.is_some() {
        expect(&mut stream, &mut buf, SUBACK, |body| {
            body.get(2).is_some_and(|&g| g < 0x80)
        })
        .await?;
    }
    Ok((stream, buf))
}

/// Reads until a packet of type `kind` arrives and checks it with `ok`.
async fn expect(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    kind: u8,
    ok: impl Fn(&[u8]) -> bool,
) -> io::Result<()> {
    loop {
        if let Some(p) = next_packet(buf)? {
            let body = &buf[p.body_start..p.len];
            let (first, good) = (p.first, ok(body));
            buf.drain(..p.len);
            if first == kind {
                return if good {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "broker refused: packet {first:#x}"
                    )))
                };
            }
            continue;
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "broker closed the connection",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_packets_split_and_yield_their_payload() {
        let mut buf = Vec::new();
        for _ in 0..2 {
            put_publish(&mut buf, "a/b", 200, |o| o.extend_from_slice(&[7; 200]));
        }
        let p = next_packet(&buf).unwrap().expect("whole packet");
        assert_eq!((p.first, p.body_start, p.len), (0x30, 3, 3 + 2 + 3 + 200));
        let payload = publish_payload(p.first, &buf[p.body_start..p.len]).unwrap();
        assert_eq!(payload, &[7; 200][..]);
        assert_eq!(next_packet(&buf[p.len..p.len + 10]).unwrap(), None);
    }

    #[test]
    fn publish_packets_decode_as_a_client_library_would() {
        let mut buf = Vec::new();
        put_publish(&mut buf, "a/b", 3, |o| o.extend_from_slice(b"xyz"));
        buf[0] |= 0x01; // retained
        let p = next_packet(&buf).unwrap().expect("whole packet");
        let m = Message::decode(p.first, &buf[p.body_start..p.len]).expect("a message");
        assert_eq!(m.topic, "a/b");
        assert_eq!(m.payload, b"xyz");
        assert_eq!(
            (m.qos, m.retain, m.dup, m.packet_id),
            (0, true, false, None)
        );
        assert_eq!(Message::decode(0x90, &[0, 1, 0]), None);
        assert_eq!(Message::decode(0x30, &[0, 2, 0xff, 0xfe]), None);
    }

    #[test]
    fn connect_carries_the_client_id() {
        let c = connect_packet("rx-1");
        assert_eq!(c[0], 0x10);
        assert_eq!(usize::from(c[1]), c.len() - 2);
        assert!(c.ends_with(b"\x00\x04rx-1"));
    }
}
