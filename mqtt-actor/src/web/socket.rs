//! [`ConnSocket`]: a way to shut an HTTP connection's socket down from
//! outside the connection, so that a client that stops reading can be cut
//! off (see `queue.rs`). Its precondition, a descriptor that still belongs to
//! this connection, holds by construction: [`ConnSocket::note`], the server's
//! `on_connect` hook, makes an owned duplicate of the descriptor of the
//! connection being accepted (plain TCP, or TCP under rustls), and the
//! duplicate lives in that connection's data, so it is never a number that
//! the OS could have handed to another socket meanwhile.

use std::any::Any;
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::os::fd::AsFd;
use std::sync::Arc;

#[cfg(unix)]
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
#[cfg(unix)]
use actix_web::rt::net::TcpStream as AsyncTcpStream;
use actix_web::HttpRequest;

/// An owned duplicate of one HTTP connection's socket. Cheap to clone; the
/// duplicate closes with the last clone, which never outlives the
/// connection's data by more than the session that holds it.
#[derive(Debug, Clone)]
pub(crate) struct ConnSocket(Arc<TcpStream>);

impl ConnSocket {
    /// The server's `on_connect` hook: keeps a duplicate of the socket of a
    /// TCP connection, with or without TLS (rustls). Other transports (Unix
    /// sockets, and every connection on platforms without file descriptors)
    /// get none, and their clients are cut off only when they close.
    #[cfg(unix)]
    pub fn note(conn: &dyn Any, ext: &mut Extensions) {
        let tcp = if let Some(tcp) = conn.downcast_ref::<AsyncTcpStream>() {
            tcp
        } else if let Some(tls) = conn.downcast_ref::<TlsStream<AsyncTcpStream>>() {
            tls.get_ref().0
        } else {
            return;
        };
        match tcp.as_fd().try_clone_to_owned() {
            Ok(fd) => {
                ext.insert(ConnSocket(Arc::new(TcpStream::from(fd))));
            }
            Err(e) => log::warn!("cannot keep the socket of a connection: {e}"),
        }
    }

    /// Without file descriptors, nothing is noted.
    #[cfg(not(unix))]
    pub fn note(_: &dyn Any, _: &mut Extensions) {}

    /// The socket `req` came on, when it was noted.
    pub fn of(req: &HttpRequest) -> Option<ConnSocket> {
        req.conn_data::<ConnSocket>().cloned()
    }

    /// Shuts the connection down both ways: its reads and writes end, and
    /// with them the HTTP connection.
    pub fn shut_down(&self) {
        // Already gone is fine: the connection is ending either way.
        let _ = self.0.shutdown(Shutdown::Both);
    }
}
