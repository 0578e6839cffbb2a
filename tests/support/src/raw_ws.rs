//! A WebSocket client written by hand on a bare TCP socket: for tests that
//! need exact bytes on the wire (a handshake and frames in one write), or
//! clients that cost next to nothing (a memory figure of the server's).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wait::PATIENCE;

/// A WebSocket handshake for `path` on `addr`, with `headers`, as a client
/// writes it.
pub fn handshake(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
    )
}

/// A client's (masked) text frame of fewer than 126 bytes.
pub fn text_frame(text: &str) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let len = text.len();
    assert!(len < 126, "a short frame");
    let mut frame = vec![0x81, 0x80 | len as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Connects to `addr` and writes `handshake` and `frames` in one write.
pub async fn open(addr: SocketAddr, handshake: &str, frames: &[Vec<u8>]) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.expect("the server accepts");
    let mut bytes = handshake.as_bytes().to_vec();
    frames.iter().for_each(|f| bytes.extend_from_slice(f));
    socket.write_all(&bytes).await.expect("the socket writes");
    socket
}

/// Reads the server's answer to a handshake, then its frames until a text
/// frame holds `wanted`: the answer's head and every text frame so far.
/// Panics past the harness's patience, or if the server closes first.
pub async fn read_until(socket: &mut TcpStream, wanted: &str) -> (String, Vec<String>) {
    let mut buf = Vec::new();
    let read = async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.expect("the socket reads");
            assert!(
                n > 0,
                "the server closed: {}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let frames = text_frames(&buf[end + 4..]);
            if frames.iter().any(|f| f.contains(wanted)) {
                return (head, frames);
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("no frame with {wanted:?} came"))
}

/// The text of each whole (unmasked) text frame in `bytes`.
pub fn text_frames(mut bytes: &[u8]) -> Vec<String> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let (len, start) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => {
                let len: [u8; 8] = bytes[2..10].try_into().expect("8 bytes");
                (u64::from_be_bytes(len) as usize, 10)
            }
            n if n < 126 => (n as usize, 2),
            _ => break,
        };
        if bytes.len() < start + len {
            break;
        }
        if bytes[0] & 0x0f == 1 {
            frames.push(String::from_utf8_lossy(&bytes[start..start + len]).into_owned());
        }
        bytes = &bytes[start + len..];
    }
    frames
}
