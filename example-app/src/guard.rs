//! A guard in front of the embedded broker that closes a client's connection
//! when it sends a topic that would crash the app.
//!
//! rumqttd accepts a PUBLISH (and a last will) whose topic contains NUL or is
//! not UTF-8, and passes it on to subscribers. paho-mqtt 0.14, under every
//! `MqttActor`, builds the incoming topic with `CString::new(..).unwrap()` and
//! `str::from_utf8(..).unwrap()` inside its `extern "C"` message callback,
//! where a panic aborts the process; no hook of rumqttd 0.20 sees a PUBLISH
//! before it is routed. So the embedded broker listens on an internal port,
//! and clients reach it through this relay: it reads what a client sends one
//! MQTT packet at a time, checks the topic of each PUBLISH and the will topic
//! of CONNECT, and closes the connection on a bad one, as Mosquitto does. What
//! the broker sends goes back untouched. The app's own `MqttActor`, whose
//! topics the library validates, connects to the internal port directly.

use std::io;
use std::net::SocketAddr;
use std::thread;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The largest packet relayed; larger ones close the connection (the broker
/// would refuse them too).
const MAX_PACKET: usize = 16 * 1024 * 1024 + 64 * 1024;

/// Relays every connection accepted on `listener` to `upstream`, in a thread
/// of its own that lives as long as the process (like the broker's).
pub fn spawn(listener: std::net::TcpListener, upstream: SocketAddr) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    thread::Builder::new()
        .name("mqtt-broker-guard".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(relay(client, upstream));
                }
            })
        })?;
    Ok(())
}

async fn relay(client: TcpStream, upstream: SocketAddr) {
    let Ok(broker) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let (cr, mut cw) = client.into_split();
    let (mut br, mut bw) = broker.into_split();
    let up = async move {
        let mut cr = BufReader::new(cr);
        let mut packet = Vec::new();
        loop {
            match read_packet(&mut cr, &mut packet).await {
                Ok(true) => {}
                Ok(false) | Err(_) => return,
            }
            if let Some(reason) = refused(&packet) {
                log::warn!("embedded broker: closing a client that sent {reason}");
                return;
            }
            if bw.write_all(&packet).await.is_err() {
                return;
            }
        }
    };
    let down = async move {
        let _ = tokio::io::copy(&mut br, &mut cw).await;
    };
    // Either side ending ends both: dropping the halves closes the sockets.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Reads one whole MQTT packet (fixed header included) into `packet`.
/// `false` at a clean end of the stream.
async fn read_packet(r: &mut (impl AsyncRead + Unpin), packet: &mut Vec<u8>) -> io::Result<bool> {
    packet.clear();
    let first = match r.read_u8().await {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    };
    packet.push(first);
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let b = r.read_u8().await?;
        packet.push(b);
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        if shift == 21 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad length"));
        }
    }
    if len > MAX_PACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "packet too large",
        ));
    }
    let body = packet.len();
    packet.resize(body + len, 0);
    r.read_exact(&mut packet[body..]).await?;
    Ok(true)
}

/// Why a packet must not reach the broker, if it must not: a PUBLISH topic
/// or a will topic with NUL or not UTF-8. A packet too short to tell is let
/// through for the broker to refuse.
fn refused(packet: &[u8]) -> Option<&'static str> {
    let header = 1 + packet[1..].iter().position(|b| b & 0x80 == 0)? + 1;
    let body = packet.get(header..)?;
    let topic = match packet[0] >> 4 {
        3 => string(body, 0)?.0,
        1 => will_topic(body)?,
        _ => return None,
    };
    match std::str::from_utf8(topic) {
        Err(_) => Some("a topic that is not UTF-8"),
        Ok(t) if t.contains('\0') => Some("a topic with NUL"),
        Ok(_) => None,
    }
}

/// The will topic of a CONNECT body, if it has a will (MQTT 3.1.1 or 5).
fn will_topic(body: &[u8]) -> Option<&[u8]> {
    let (_, mut at) = string(body, 0)?; // protocol name
    let level = *body.get(at)?;
    let flags = *body.get(at + 1)?;
    at += 4; // level, flags, keep-alive
    if level == 5 {
        at = skip_properties(body, at)?;
    }
    let (_, mut at) = string(body, at)?; // client id
    if flags & 0x04 == 0 {
        return None;
    }
    if level == 5 {
        at = skip_properties(body, at)?;
    }
    Some(string(body, at)?.0)
}

/// A length-prefixed string at `at`, and where the next field starts.
fn string(body: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    let start = at + 2;
    Some((body.get(start..start + len)?, start + len))
}

/// Skips an MQTT 5 property block (variable-length size, then the properties).
fn skip_properties(body: &[u8], mut at: usize) -> Option<usize> {
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let b = *body.get(at)?;
        at += 1;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(at + len);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(topic: &[u8]) -> Vec<u8> {
        let mut body = (topic.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(topic);
        body.extend_from_slice(b"payload");
        let mut p = vec![0x30, body.len() as u8];
        p.extend(body);
        p
    }

    fn connect(will: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4];
        body.push(if will.is_some() { 0x06 } else { 0x02 });
        body.extend_from_slice(&[0, 60, 0, 1, b'c']);
        if let Some(t) = will {
            body.extend_from_slice(&(t.len() as u16).to_be_bytes());
            body.extend_from_slice(t);
            body.extend_from_slice(&[0, 3, b'b', b'y', b'e']);
        }
        let mut p = vec![0x10, body.len() as u8];
        p.extend(body);
        p
    }

    #[test]
    fn topics_with_nul_or_bad_utf8_are_refused() {
        assert_eq!(refused(&publish(b"a/b")), None);
        assert_eq!(refused(&publish(b"a\0b")), Some("a topic with NUL"));
        assert_eq!(
            refused(&publish(b"a\xffb")),
            Some("a topic that is not UTF-8")
        );
        assert_eq!(refused(&connect(None)), None);
        assert_eq!(refused(&connect(Some(b"will/t"))), None);
        assert_eq!(refused(&connect(Some(b"w\0"))), Some("a topic with NUL"));
        assert_eq!(
            refused(&[0x30, 0x01, 0x00]),
            None,
            "too short: the broker decides"
        );
        assert_eq!(refused(&[0xc0, 0x00]), None, "PINGREQ");
    }

    #[actix_rt::test]
    async fn packets_are_read_whole_however_they_are_split() {
        let mut bytes = publish(b"x/y");
        bytes.extend(connect(None));
        let mut r = BufReader::new(&bytes[..]);
        let mut p = Vec::new();
        assert!(read_packet(&mut r, &mut p).await.unwrap());
        assert_eq!(p, publish(b"x/y"));
        assert!(read_packet(&mut r, &mut p).await.unwrap());
        assert_eq!(p, connect(None));
        assert!(!read_packet(&mut r, &mut p).await.unwrap());
    }
}
