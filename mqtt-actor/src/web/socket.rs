//! [`ConnSocket`]: a way to shut an HTTP connection's socket down from
//! outside the connection, so that a client that stops reading can be cut
//! off (see `queue.rs`).
//!
//! It keeps the descriptor's number, not a duplicate of it: a duplicate would
//! cost every connection a second descriptor, and a server at the usual limit
//! of open files would hold half the clients. A bare number is only safe to
//! use while it still names this connection's socket, and these rules make
//! sure it does:
//!
//! - [`ConnSocket::note`], the server's `on_connect` hook, takes the number of
//!   the connection being accepted (plain TCP, or TCP under rustls), on the
//!   worker thread that serves the connection, and remembers that thread;
//! - the connection's outbox holds it only while the connection's response
//!   body (the session's outbound stream) exists, and lets it go when that
//!   body is dropped: the HTTP dispatcher owns both the body and the socket
//!   (under `LeanServer`, the upgraded connection's task owns both, on the
//!   same thread), so while the body exists the socket is open and the
//!   number is its own;
//! - [`ConnSocket::shut_down`] acts only on that worker thread, where the
//!   dispatcher runs: nothing can drop it, and close the descriptor, while
//!   the outbox is being looked at there. Called on any other thread it does
//!   nothing, and says so in the log.
//!
//! That holds for HTTP/1, where one task (the dispatcher) owns both the
//! socket and the response body. HTTP/2 answers each request in a task of its
//! own, which may outlive the connection's task for a moment: there the
//! number could already name another socket. So a connection that
//! negotiated HTTP/2 (TLS with ALPN `h2`) keeps an owned duplicate of its
//! descriptor instead, as every connection did before; and a request over
//! HTTP/2 without one (cleartext `h2c`, which the server only sees after
//! `on_connect`) gets no socket, so its client is cut off only when it
//! closes.

use std::any::Any;
#[cfg(unix)]
use std::mem::ManuallyDrop;
#[cfg(unix)]
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
#[cfg(unix)]
use std::sync::Arc;
use std::thread::{self, ThreadId};

#[cfg(unix)]
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::http::Version;
#[cfg(unix)]
use actix_web::rt::net::TcpStream as AsyncTcpStream;
use actix_web::HttpRequest;

/// One HTTP connection's socket, by number, and the worker thread that
/// serves it; over HTTP/2 an owned duplicate. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ConnSocket {
    #[cfg(unix)]
    fd: RawFd,
    thread: ThreadId,
    /// HTTP/2 over TLS: an owned duplicate of the descriptor (see the module).
    #[cfg(unix)]
    duplicate: Option<Arc<OwnedFd>>,
}

impl ConnSocket {
    /// The server's `on_connect` hook: notes the socket of a TCP connection,
    /// with or without TLS (rustls). Other transports (Unix sockets, and
    /// every connection on platforms without file descriptors) get none, and
    /// their clients are cut off only when they close.
    #[cfg(unix)]
    pub fn note(conn: &dyn Any, ext: &mut Extensions) {
        let (tcp, h2) = if let Some(tcp) = conn.downcast_ref::<AsyncTcpStream>() {
            (tcp, false)
        } else if let Some(tls) = conn.downcast_ref::<TlsStream<AsyncTcpStream>>() {
            let (tcp, session) = tls.get_ref();
            (tcp, session.alpn_protocol() == Some(b"h2"))
        } else {
            return;
        };
        let duplicate = if h2 {
            match tcp.as_fd().try_clone_to_owned() {
                Ok(fd) => Some(Arc::new(fd)),
                Err(e) => {
                    log::warn!("cannot keep the socket of an HTTP/2 connection: {e}");
                    return;
                }
            }
        } else {
            None
        };
        ext.insert(ConnSocket {
            fd: tcp.as_raw_fd(),
            thread: thread::current().id(),
            duplicate,
        });
    }

    /// Without file descriptors, nothing is noted.
    #[cfg(not(unix))]
    pub fn note(_: &dyn Any, _: &mut Extensions) {}

    /// The socket `req` came on, when it was noted, and when it can be shut
    /// down safely: over HTTP/2 only with a duplicate (see the module).
    pub fn of(req: &HttpRequest) -> Option<ConnSocket> {
        let socket = req.conn_data::<ConnSocket>()?;
        if req.version() == Version::HTTP_2 && !socket.owned() {
            return None;
        }
        Some(socket.clone())
    }

    /// Whether it holds a duplicate of the descriptor.
    #[cfg(unix)]
    fn owned(&self) -> bool {
        self.duplicate.is_some()
    }

    /// Without file descriptors, never.
    #[cfg(not(unix))]
    fn owned(&self) -> bool {
        false
    }

    /// Shuts the connection down both ways: its reads and writes end, and
    /// with them the HTTP connection. By number only on the connection's own
    /// worker thread, and only while the connection's response body exists
    /// (the outbox's part, see the module's rules); by its duplicate
    /// (HTTP/2) anywhere.
    pub fn shut_down(&self) {
        #[cfg(unix)]
        {
            let fd = match &self.duplicate {
                // An owned duplicate names this connection's socket wherever
                // and whenever it is used.
                Some(owned) => owned.as_raw_fd(),
                None if thread::current().id() != self.thread => {
                    log::warn!("not shutting a connection's socket down from another thread");
                    return;
                }
                None => self.fd,
            };
            // SAFETY: `fd` is open and names this connection's socket: an
            // owned duplicate held by `self`, or the connection's own
            // descriptor by the module's rules. The stream made here is never
            // dropped (`ManuallyDrop`), so it closes nothing.
            let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
            // Already shut down, or the peer gone, is fine: the connection
            // is ending either way.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}
