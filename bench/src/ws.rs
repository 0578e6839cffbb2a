//! Just enough of a WebSocket client (RFC 6455) for the benchmark's sessions:
//! the upgrade request, masked client frames, and a reader that splits the
//! server's unmasked frames. Like the raw MQTT reader, it costs a buffer per
//! socket and no copy per frame.

use std::io;

use base64::Engine;
use memchr::memmem;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Text frame.
pub const TEXT: u8 = 0x1;
/// Close frame.
pub const CLOSE: u8 = 0x8;
/// Ping frame.
pub const PING: u8 = 0x9;
/// Pong frame.
pub const PONG: u8 = 0xa;

/// A server frame parsed whole, as a browser's `JSON.parse(event.data)` does:
/// every field of every frame becomes an owned value, whatever its `type`
/// (PROTOCOL.md, "Server to client"). Fields of other types are skipped.
#[derive(Debug, Deserialize)]
#[allow(
    dead_code,
    reason = "parsed as a browser parses them; the benchmark reads only some"
)]
pub struct ServerFrame {
    /// `message`, `lagged`, `status`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `message`: the topic.
    pub topic: Option<String>,
    /// `message`: the payload as sent (text, or base64).
    pub payload: Option<String>,
    /// `message`: `utf8` or `base64`.
    pub encoding: Option<String>,
    /// `message`: the QoS.
    pub qos: Option<u8>,
    /// `message`: the retain flag.
    pub retain: Option<bool>,
    /// `lagged`: messages dropped for this session.
    pub dropped: Option<u64>,
}

impl ServerFrame {
    /// Parses one text frame.
    pub fn parse(text: &[u8]) -> serde_json::Result<ServerFrame> {
        serde_json::from_slice(text)
    }

    /// A `message` frame's payload bytes, decoded from its encoding as a
    /// browser client does before handing it on; `None` for other frames or
    /// a payload that does not decode.
    pub fn payload_bytes(self) -> Option<Vec<u8>> {
        if self.kind != "message" {
            return None;
        }
        let payload = self.payload?;
        match self.encoding.as_deref() {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(payload)
                .ok(),
            _ => Some(payload.into_bytes()),
        }
    }
}

/// One frame found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// The opcode (the app never fragments, so FIN is not looked at).
    pub opcode: u8,
    /// Where the payload starts.
    pub start: usize,
    /// Bytes of the whole frame.
    pub len: usize,
}

/// The next whole frame at the start of `buf`; `Ok(None)` while incomplete.
pub fn next_frame(buf: &[u8]) -> io::Result<Option<Frame>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "server sent a masked frame",
        ));
    }
    let (start, payload) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (4, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
        127 if buf.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            let n = usize::try_from(u64::from_be_bytes(n))
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame too long"))?;
            (10, n)
        }
        126 | 127 => return Ok(None),
        n => (2, usize::from(n)),
    };
    if buf.len() < start + payload {
        return Ok(None);
    }
    Ok(Some(Frame {
        opcode: buf[0] & 0x0f,
        start,
        len: start + payload,
    }))
}

/// A masked client frame (clients must mask; the key need not be secret here).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    const KEY: [u8; 4] = [0x5a, 0x17, 0xc3, 0x9e];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// Opens `ws://addr/ws`, subscribes to `filter` and waits for `subscribed`.
/// Returns the socket and any bytes read past that reply.
pub async fn open(addr: &str, filter: &str) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(4096);
    let head = loop {
        if let Some(i) = memmem::find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 || stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("no WebSocket upgrade answer"));
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        let line = String::from_utf8_lossy(&buf[..head])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        return Err(io::Error::other(format!("upgrade refused: {line}")));
    }
    buf.drain(..head);
    let subscribe = format!(r#"{{"type":"subscribe","topic":"{filter}","id":1}}"#);
    stream
        .write_all(&client_frame(TEXT, subscribe.as_bytes()))
        .await?;
    loop {
        while let Some(f) = next_frame(&buf)? {
            let text = &buf[f.start..f.len];
            if f.opcode == TEXT && memmem::find(text, br#""type":"subscribed""#).is_some() {
                buf.drain(..f.len);
                return Ok((stream, buf));
            }
            if f.opcode == TEXT && memmem::find(text, br#""type":"error""#).is_some() {
                return Err(io::Error::other(format!(
                    "subscribe refused: {}",
                    String::from_utf8_lossy(text)
                )));
            }
            buf.drain(..f.len);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the app closed the socket",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_by_their_length_header() {
        let mut buf = vec![0x81, 3, b'a', b'b', b'c', 0x81, 126, 0x01, 0x00];
        buf.extend_from_slice(&[b'x'; 256]);
        let f = next_frame(&buf).unwrap().expect("first frame");
        assert_eq!(
            f,
            Frame {
                opcode: TEXT,
                start: 2,
                len: 5
            }
        );
        let g = next_frame(&buf[5..]).unwrap().expect("second frame");
        assert_eq!((g.start, g.len), (4, 260));
        assert_eq!(next_frame(&buf[5..200]).unwrap(), None);
    }

    #[test]
    fn message_frames_parse_whole_and_decode_their_payload() {
        let text = br#"{"type":"message","topic":"a/b","payload":"aGk=","encoding":"base64","qos":0,"retain":false}"#;
        let frame = ServerFrame::parse(text).expect("valid JSON");
        assert_eq!(frame.topic.as_deref(), Some("a/b"));
        assert_eq!(frame.payload_bytes(), Some(b"hi".to_vec()));
        let text = br#"{"type":"message","topic":"a","payload":"h\u00e9","encoding":"utf8","qos":1,"retain":true}"#;
        let frame = ServerFrame::parse(text).expect("valid JSON");
        assert_eq!(frame.payload_bytes(), Some("hé".as_bytes().to_vec()));
        let lagged = ServerFrame::parse(br#"{"type":"lagged","dropped":7}"#).expect("valid JSON");
        assert_eq!(lagged.dropped, Some(7));
        assert_eq!(lagged.payload_bytes(), None);
        assert!(ServerFrame::parse(br#"{"type":"message","payload":"#).is_err());
    }

    #[test]
    fn client_frames_are_masked() {
        let f = client_frame(PONG, b"hi");
        assert_eq!(f[0], 0x8a);
        assert_eq!(f[1], 0x82);
        let key = &f[2..6];
        assert_eq!([f[6] ^ key[0], f[7] ^ key[1]], *b"hi");
    }
}
