//! How a client's frames go on the wire: [`WsFraming`] makes WebSocket text
//! frames, [`SseFraming`] Server-Sent Events. The [`Outbox`] hands each
//! frame to its client's framing as the client reads, so one queue serves
//! both transports.
//!
//! [`Outbox`]: crate::web::queue::Outbox

use actix_http::ws::{Codec, Message as WsMessage};
use bytes::BytesMut;
use bytestring::ByteString;
use tokio_util::codec::Encoder;

use crate::web::protocol::Event;

/// What a frame is, which decides whether it may be dropped and how each
/// transport frames it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// A `message` frame: dropped first when the outbox is full.
    Message,
    /// Any other event of the protocol (a reply, `status`, `error`), named
    /// by its type.
    Event(&'static str),
    /// A comment (the event stream's opening and heartbeats); WebSocket
    /// framing skips it.
    Comment,
}

/// Turns queued frames into bytes for one transport.
pub(crate) trait Framing {
    /// Appends the frame `text` of `kind` to `buf`.
    fn frame(&mut self, kind: FrameKind, text: ByteString, buf: &mut BytesMut);
    /// Appends the notice that `dropped` messages were dropped for this client.
    fn lagged(&mut self, dropped: u64, buf: &mut BytesMut);
}

/// Every frame a WebSocket text frame; `lagged` is the contract's event.
pub(crate) struct WsFraming(Codec);

impl WsFraming {
    /// Server-side frames (unmasked).
    pub fn new() -> Self {
        WsFraming(Codec::new())
    }

    fn text(&mut self, text: ByteString, buf: &mut BytesMut) {
        // Encoding a text frame into memory only appends bytes.
        let _ = self.0.encode(WsMessage::Text(text), buf);
    }
}

impl Framing for WsFraming {
    fn frame(&mut self, kind: FrameKind, text: ByteString, buf: &mut BytesMut) {
        if kind != FrameKind::Comment {
            self.text(text, buf);
        }
    }

    fn lagged(&mut self, dropped: u64, buf: &mut BytesMut) {
        self.text(Event::Lagged { dropped }.to_text().into(), buf);
    }
}

/// Server-Sent Events: `event: message` with the WebSocket frame as `data`,
/// other events named by their type, comments as `:` lines, drops as
/// `event: lagged` with `{"dropped":n}`.
pub(crate) struct SseFraming;

impl SseFraming {
    fn event(name: &str, data: &[u8], buf: &mut BytesMut) {
        // JSON from serde_json has no raw newline: one `data` line holds it.
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\ndata: ");
        buf.extend_from_slice(data);
        buf.extend_from_slice(b"\n\n");
    }
}

impl Framing for SseFraming {
    fn frame(&mut self, kind: FrameKind, text: ByteString, buf: &mut BytesMut) {
        match kind {
            FrameKind::Message => Self::event("message", text.as_bytes(), buf),
            FrameKind::Event(name) => Self::event(name, text.as_bytes(), buf),
            FrameKind::Comment => {
                buf.extend_from_slice(b": ");
                buf.extend_from_slice(text.as_bytes());
                buf.extend_from_slice(b"\n\n");
            }
        }
    }

    fn lagged(&mut self, dropped: u64, buf: &mut BytesMut) {
        Self::event(
            "lagged",
            format!("{{\"dropped\":{dropped}}}").as_bytes(),
            buf,
        );
    }
}
