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
//!   body is dropped: the HTTP dispatcher owns both the body and the socket,
//!   so while the body exists the socket is open and the number is its own;
//! - [`ConnSocket::shut_down`] acts only on that worker thread, where the
//!   dispatcher runs: nothing can drop it, and close the descriptor, while
//!   the outbox is being looked at there. Called on any other thread it does
//!   nothing, and says so in the log.

use std::any::Any;
#[cfg(unix)]
use std::mem::ManuallyDrop;
#[cfg(unix)]
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::thread::{self, ThreadId};

#[cfg(unix)]
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
#[cfg(unix)]
use actix_web::rt::net::TcpStream as AsyncTcpStream;
use actix_web::HttpRequest;

/// One HTTP connection's socket, by number, and the worker thread that
/// serves it. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnSocket {
    #[cfg(unix)]
    fd: RawFd,
    thread: ThreadId,
}

impl ConnSocket {
    /// The server's `on_connect` hook: notes the socket of a TCP connection,
    /// with or without TLS (rustls). Other transports (Unix sockets, and
    /// every connection on platforms without file descriptors) get none, and
    /// their clients are cut off only when they close.
    #[cfg(unix)]
    pub fn note(conn: &dyn Any, ext: &mut Extensions) {
        let tcp = if let Some(tcp) = conn.downcast_ref::<AsyncTcpStream>() {
            tcp
        } else if let Some(tls) = conn.downcast_ref::<TlsStream<AsyncTcpStream>>() {
            tls.get_ref().0
        } else {
            return;
        };
        ext.insert(ConnSocket {
            fd: tcp.as_raw_fd(),
            thread: thread::current().id(),
        });
    }

    /// Without file descriptors, nothing is noted.
    #[cfg(not(unix))]
    pub fn note(_: &dyn Any, _: &mut Extensions) {}

    /// The socket `req` came on, when it was noted.
    pub fn of(req: &HttpRequest) -> Option<ConnSocket> {
        req.conn_data::<ConnSocket>().copied()
    }

    /// Shuts the connection down both ways: its reads and writes end, and
    /// with them the HTTP connection. Only on the connection's own worker
    /// thread, and only while the connection's response body exists (the
    /// outbox's part, see the module's rules).
    pub fn shut_down(&self) {
        if thread::current().id() != self.thread {
            log::warn!("not shutting a connection's socket down from another thread");
            return;
        }
        #[cfg(unix)]
        {
            // SAFETY: by the module's rules the number still names this
            // connection's open socket, owned by its dispatcher; the stream
            // made here is never dropped (`ManuallyDrop`), so it does not
            // close what it does not own.
            let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(self.fd) });
            // Already shut down, or the peer gone, is fine: the connection
            // is ending either way.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}
