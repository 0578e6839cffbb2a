//! An upgraded HTTP/1 connection (a WebSocket) served on its bare socket:
//! what [`LeanServer`](super::LeanServer) does with every WebSocket
//! handshake.
//!
//! actix-http's HTTP/1 dispatcher holds a read and a write buffer of 8 KiB
//! each for the whole life of a connection, a WebSocket's included: of the
//! 18.4 KiB an idle session held, 16 were those two buffers
//! (`bench/README.md`). Given an upgrade service, the dispatcher hands it
//! each request that asks for a WebSocket (`Upgrade: websocket`; other
//! upgrades, such as `h2c`, it serves itself) with the socket and its
//! buffers. Here the app's own
//! service answers the request, exactly as it would have (same routes, same
//! middleware, same sign-in). A `101 Switching Protocols` is written, the
//! dispatcher's buffers are dropped, and [`Upgraded`] moves the bytes:
//!
//! - what the client sends becomes the request's payload (for a WebSocket,
//!   its frames), read only while the app has taken what came before, up to
//!   [`INBOX_LIMIT`] waiting: a client that floods is held back by TCP, as
//!   the dispatcher holds it back;
//! - each chunk of the response body is written to the socket as it comes,
//!   without a copy.
//!
//! Bytes are buffered only while they wait, so an idle connection holds no
//! buffer at all. Any answer other than a 101 (a refused sign-in, a missing
//! route) is written as the dispatcher would write it, and the connection
//! ends after it.
//!
//! [`Upgraded`] runs in a task of its own on the same worker thread: the
//! dispatcher's task, sized for the largest request future of the app (2.8
//! KiB), then ends. So the server no longer counts the connection: its
//! per-worker limit of connections leaves upgraded ones out, and a graceful
//! stop does not wait for them (they end when the worker does). The bridge
//! bounds its sessions itself, and closes them before the app stops.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::mem::{self, MaybeUninit};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_codec::{AsyncRead, AsyncWrite, Encoder, Framed, ReadBuf};
use actix_http::body::{to_bytes, BoxBody, MessageBody};
use actix_http::error::PayloadError;
use actix_http::h1::{Codec, Message, SendResponse};
use actix_http::{ConnectionType, Payload, Request, Response, StatusCode};
use actix_service::Service;
use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;

/// Bytes from the client the app has not read yet, at most: reading the
/// socket pauses beyond it (the dispatcher's own limit for a payload).
pub(crate) const INBOX_LIMIT: usize = 32 * 1024;

/// Bytes read from the socket in one call; on the stack, so that a
/// connection owns no read buffer.
const READ_CHUNK: usize = 8 * 1024;

/// Reads, writes and chunks handled in one poll before the connection lets
/// the worker's other connections run.
const POLL_BUDGET: usize = 64;

/// Answers the WebSocket handshake `req` with `app`, as the dispatcher would. An answer other than
/// `101 Switching Protocols` is written here, and ends the connection; a 101
/// gives the upgraded connection to serve, its answer not yet written.
pub(crate) async fn answer<T, S, B>(
    app: S,
    req: Request,
    framed: Framed<T, Codec>,
) -> Option<Upgraded<T>>
where
    T: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request>,
    S::Response: Into<Response<B>>,
    S::Error: Into<Response<BoxBody>>,
    B: MessageBody + 'static,
{
    let inbox = Rc::new(RefCell::new(Inbox::default()));
    let reader: actix_http::BoxedPayloadStream = Box::pin(InboxReader(inbox.clone()));
    let (req, _) = req.replace_payload(Payload::from(reader));
    let mut res: Response<BoxBody> = match app.call(req).await {
        Ok(res) => res.into().map_into_boxed_body(),
        Err(err) => err.into(),
    };
    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The rest of the connection was meant for the upgraded protocol, so
        // nothing after this answer can be read as HTTP.
        res.head_mut().set_connection_type(ConnectionType::Close);
        let (res, body) = res.into_parts();
        let res = match to_bytes(body).await {
            Ok(body) => res.set_body(body),
            Err(e) => {
                log::debug!("upgrade refused, and its answer's body failed: {e}");
                return None;
            }
        };
        if let Err(e) = SendResponse::new(framed, res).await {
            log::debug!("upgrade refused, and its answer could not be written: {e}");
        }
        return None;
    }
    let (head, body) = res.into_parts();
    let mut parts = framed.into_parts();
    let mut out = BytesMut::with_capacity(256);
    if let Err(e) = parts
        .codec
        .encode(Message::Item((head, body.size())), &mut out)
    {
        log::debug!("cannot encode the upgrade's answer: {e}");
        return None;
    }
    // What the client sent right after its request (a WebSocket client may
    // send its first frames at once) is the start of the payload; copied,
    // so that the dispatcher's buffer is freed with the rest.
    if !parts.read_buf.is_empty() {
        inbox.borrow_mut().bytes = BytesMut::from(&parts.read_buf[..]);
    }
    Some(Upgraded {
        io: parts.io,
        inbox,
        body: Some(body),
        out: out.freeze(),
        reading: true,
        written: false,
    })
}

/// What the client sent that the app has not read yet, and how its stream
/// ended. Shared by the connection, which fills it, and the request's
/// payload, which empties it; both run on the connection's worker thread.
#[derive(Default)]
struct Inbox {
    bytes: BytesMut,
    /// The socket reached its end (`Ok`) or failed: told to the reader once
    /// `bytes` is empty.
    ended: Option<io::Result<()>>,
    /// The payload's reader, waiting for bytes.
    reader: Option<Waker>,
    /// The connection, waiting for room.
    connection: Option<Waker>,
}

/// The request's payload: the bytes of the [`Inbox`], as they come.
struct InboxReader(Rc<RefCell<Inbox>>);

impl Stream for InboxReader {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inbox = self.0.borrow_mut();
        if !inbox.bytes.is_empty() {
            // Taken whole: the inbox starts again with no allocation.
            let bytes = mem::take(&mut inbox.bytes).freeze();
            if let Some(connection) = inbox.connection.take() {
                connection.wake();
            }
            return Poll::Ready(Some(Ok(bytes)));
        }
        match inbox.ended.take() {
            Some(Ok(())) => {
                inbox.ended = Some(Ok(()));
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                inbox.ended = Some(Ok(()));
                Poll::Ready(Some(Err(PayloadError::Io(e))))
            }
            None => {
                inbox.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// An upgraded connection: the socket, the inbox it fills, and the response
/// body it writes. Ends when the body ends (after a clean shutdown of the
/// socket's sending side) or when writing fails.
pub(crate) struct Upgraded<T> {
    io: T,
    inbox: Rc<RefCell<Inbox>>,
    /// `None` once it has ended.
    body: Option<BoxBody>,
    /// What is being written: the answer's head, then each chunk in turn.
    out: Bytes,
    /// False once the socket's receiving side has ended or failed.
    reading: bool,
    /// Bytes were written since the last flush.
    written: bool,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Upgraded<T> {
    /// Serves the connection until either side ends it. Its failures (a
    /// reset, a body that fails) end it and are logged; they are no error of
    /// the server's.
    pub(crate) async fn serve(self) {
        if let Err(e) = self.await {
            log::debug!("upgraded connection ended: {e}");
        }
    }

    /// Reads what the client sent into the inbox while it has room. True if
    /// anything happened.
    fn read(&mut self, cx: &mut Context<'_>) -> bool {
        let mut inbox = self.inbox.borrow_mut();
        if inbox.bytes.len() >= INBOX_LIMIT {
            inbox.connection = Some(cx.waker().clone());
            return false;
        }
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut scratch);
        let ended = match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Pending => return false,
            Poll::Ready(Ok(())) if buf.filled().is_empty() => Ok(()),
            Poll::Ready(Ok(())) => {
                inbox.bytes.extend_from_slice(buf.filled());
                if let Some(reader) = inbox.reader.take() {
                    reader.wake();
                }
                return true;
            }
            Poll::Ready(Err(e)) => Err(e),
        };
        inbox.ended = Some(ended);
        if let Some(reader) = inbox.reader.take() {
            reader.wake();
        }
        self.reading = false;
        true
    }

    /// Writes what is waiting. `Ready` once all of it is written.
    fn write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out.advance(n);
                    self.written = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Upgraded<T> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        for _ in 0..POLL_BUDGET {
            let mut busy = this.reading && this.read(cx);
            if this.write(cx)?.is_pending() {
                if !busy {
                    return Poll::Pending;
                }
                continue;
            }
            let Some(body) = this.body.as_mut() else {
                // The body has ended and its last bytes are out.
                return Pin::new(&mut this.io).poll_shutdown(cx);
            };
            match Pin::new(body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.out = chunk;
                    busy = true;
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(io::Error::other(e.to_string())));
                }
                Poll::Ready(None) => {
                    this.body = None;
                    busy = true;
                }
                Poll::Pending => {
                    // A TLS stream keeps what it encrypted until flushed.
                    if this.written && Pin::new(&mut this.io).poll_flush(cx)?.is_ready() {
                        this.written = false;
                    }
                }
            }
            if !busy {
                return Poll::Pending;
            }
        }
        // Let the worker's other connections run; come back at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
