//! The guard: the only way into the embedded broker. It refuses what would
//! crash the app, and bounds what a client can make it hold.
//!
//! rumqttd accepts a PUBLISH (and a last will) whose topic contains NUL or is
//! not UTF-8, and passes it on to subscribers. paho-mqtt 0.14, under every
//! `MqttActor`, builds the incoming topic with `CString::new(..).unwrap()` and
//! `str::from_utf8(..).unwrap()` inside its `extern "C"` message callback,
//! where a panic aborts the process; no hook of rumqttd 0.20 sees a PUBLISH
//! before it is routed. So rumqttd listens on an internal port and requires
//! a login whose secret is made at start and known only to this relay; every
//! client, the app's own `MqttActor` included, connects here. The guard:
//!
//! - reads what a client sends one MQTT packet at a time, as its bytes
//!   arrive (a packet's buffer grows with what was read, and a length above
//!   the broker's maximum packet size closes the connection at once);
//! - takes only an MQTT 3.1.1 CONNECT first, with a will topic free of NUL,
//!   and puts its own login in it before connecting to the broker;
//! - closes the connection on a PUBLISH topic with NUL or not UTF-8, as
//!   Mosquitto does, and on a second CONNECT;
//! - closes a connection that does not send its CONNECT within the timeout,
//!   that sends no packet for 1.5 × the keep-alive its CONNECT declared (as
//!   the broker would), or whose packet takes longer than the timeout plus a
//!   second per MiB ([`MIN_RATE`]): the broker is reached over loopback only;
//! - holds at most a set number of connections: the next ones are closed at
//!   once, counted and logged;
//! - keeps accepting after an accept error (running out of file descriptors,
//!   say): it logs, waits [`ACCEPT_BACKOFF`], and goes on.
//!
//! What the broker sends goes back untouched.

mod packet;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

pub use packet::Login;

/// Pause after a failed accept before the next one, so that running out of
/// file descriptors does not spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The slowest a packet may arrive, in bytes a second, once its timeout is
/// spent.
pub const MIN_RATE: usize = 1024 * 1024;
/// At most one line a second about refused connections and accept errors.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// What the guard lets a client hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The broker's maximum packet size (its remaining length).
    pub max_packet: usize,
    /// Connections held at once.
    pub max_connections: usize,
    /// Time to send the CONNECT, and to send a packet besides [`MIN_RATE`].
    pub timeout: Duration,
}

/// Relays every connection accepted on `listener` to the broker at
/// `upstream`, in a thread of its own that lives as long as the process
/// (like the broker's).
pub fn spawn(
    listener: std::net::TcpListener,
    upstream: SocketAddr,
    login: Login,
    limits: Limits,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let guard = Arc::new(Guard {
        upstream,
        login,
        limits,
    });
    thread::Builder::new()
        .name("mqtt-broker-guard".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => serve(listener, guard).await,
                    Err(e) => log::error!("embedded broker guard: cannot listen: {e}"),
                }
            })
        })?;
    Ok(())
}

/// Where connections come from (a trait so that tests can make accept fail).
trait Accept {
    async fn accept(&mut self) -> io::Result<TcpStream>;
}

impl Accept for TcpListener {
    async fn accept(&mut self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(s, _)| s)
    }
}

/// The guard's settings, shared by its connections.
struct Guard {
    upstream: SocketAddr,
    login: Login,
    limits: Limits,
}

/// Logs at most once per [`LOG_EVERY`], with how many events there were.
struct Throttled {
    what: &'static str,
    count: u64,
    last: Option<Instant>,
}

impl Throttled {
    fn note(&mut self, detail: impl std::fmt::Display) {
        self.count += 1;
        let due = match self.last {
            Some(t) => t.elapsed() >= LOG_EVERY,
            None => true,
        };
        if due {
            self.last = Some(Instant::now());
            log::warn!(
                "embedded broker guard: {} ({} so far): {detail}",
                self.what,
                self.count
            );
        }
    }
}

/// Accepts for ever: a connection over the cap is closed at once, an accept
/// error is logged and followed by a pause.
async fn serve(mut listener: impl Accept, guard: Arc<Guard>) {
    let slots = Arc::new(Semaphore::new(guard.limits.max_connections));
    let mut refused = Throttled {
        what: "connections refused at the limit",
        count: 0,
        last: None,
    };
    let mut failed = Throttled {
        what: "accept errors",
        count: 0,
        last: None,
    };
    loop {
        let client = match listener.accept().await {
            Ok(client) => client,
            Err(e) => {
                failed.note(format_args!("{e}; retrying in {ACCEPT_BACKOFF:?}"));
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused.note(format_args!(
                "{} connections held (EMBEDDED_BROKER_MAX_CONNECTIONS)",
                guard.limits.max_connections
            ));
            drop(client);
            continue;
        };
        let guard = guard.clone();
        tokio::spawn(async move {
            if let Err(why) = guard.relay(client).await {
                log::debug!("embedded broker guard: closed a connection: {why}");
            }
            drop(slot);
        });
    }
}

/// Why the guard closed a connection.
type Closed = String;

impl Guard {
    /// Relays one client's connection until either side ends it.
    async fn relay(&self, client: TcpStream) -> Result<(), Closed> {
        let _ = client.set_nodelay(true);
        let (cr, mut cw) = client.into_split();
        let mut cr = BufReader::new(cr);
        let mut packet = Vec::new();
        let connect = self.read_connect(&mut cr, &mut packet).await?;
        let broker = TcpStream::connect(self.upstream)
            .await
            .map_err(|e| format!("the broker is unreachable: {e}"))?;
        let _ = broker.set_nodelay(true);
        let (mut br, mut bw) = broker.into_split();
        let gone = |e: io::Error| format!("the broker's connection failed: {e}");
        bw.write_all(&connect.packet).await.map_err(gone)?;
        let idle = Duration::from_secs(connect.keep_alive.into()).mul_f32(1.5);
        let up = async move {
            loop {
                if !self.read_next(&mut cr, &mut packet, idle).await? {
                    return Ok(());
                }
                if let Some(reason) = packet::refused(&packet) {
                    log::warn!("embedded broker guard: closing a client that sent {reason}");
                    return Err(reason.to_owned());
                }
                bw.write_all(&packet).await.map_err(gone)?;
            }
        };
        let down = async move {
            let _ = tokio::io::copy(&mut br, &mut cw).await;
            Ok(())
        };
        // Either side ending ends both: dropping the halves closes the sockets.
        tokio::select! {
            end = up => end,
            end = down => end,
        }
    }

    /// Reads the client's CONNECT within the timeout and rewrites it.
    async fn read_connect(
        &self,
        r: &mut (impl AsyncRead + Unpin),
        packet: &mut Vec<u8>,
    ) -> Result<packet::Connect, Closed> {
        let read = async {
            let first = packet::read_first(r).await?;
            let Some(first) = first else {
                return Ok(false);
            };
            let len = packet::read_length(r, packet, first, self.limits.max_packet).await?;
            packet::read_body(r, packet, len).await?;
            Ok::<_, io::Error>(true)
        };
        match timeout(self.limits.timeout, read).await {
            Err(_) => Err("no CONNECT within the timeout".to_owned()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(false)) => Err("closed before CONNECT".to_owned()),
            Ok(Ok(true)) => packet::rewrite_connect(packet, &self.login).map_err(|reason| {
                log::warn!("embedded broker guard: closing a client that sent {reason}");
                reason.to_owned()
            }),
        }
    }

    /// Reads the next packet into `packet`: its first byte within `idle`,
    /// the rest within the timeout plus its length at [`MIN_RATE`]. `false`
    /// at a clean end of the stream.
    async fn read_next(
        &self,
        r: &mut (impl AsyncRead + Unpin),
        packet: &mut Vec<u8>,
        idle: Duration,
    ) -> Result<bool, Closed> {
        packet::reset(packet);
        let first = match timeout(idle, packet::read_first(r)).await {
            Err(_) => return Err(format!("no packet within {idle:?} (1.5 × keep-alive)")),
            Ok(first) => first.map_err(|e| e.to_string())?,
        };
        let Some(first) = first else {
            return Ok(false);
        };
        let started = tokio::time::Instant::now();
        let max = self.limits.max_packet;
        let len = timeout(
            self.limits.timeout,
            packet::read_length(r, packet, first, max),
        )
        .await
        .map_err(|_| "a packet header slower than the timeout".to_owned())?
        .map_err(|e| e.to_string())?;
        let allowed = self.limits.timeout + Duration::from_secs_f64(len as f64 / MIN_RATE as f64);
        tokio::time::timeout_at(started + allowed, packet::read_body(r, packet, len))
            .await
            .map_err(|_| format!("a packet of {len} bytes slower than {allowed:?}"))?
            .map_err(|e| e.to_string())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// A listener whose first `errors` accepts fail as when the process is
    /// out of file descriptors.
    struct Flaky {
        errors: usize,
        inner: TcpListener,
    }

    impl Accept for Flaky {
        async fn accept(&mut self) -> io::Result<TcpStream> {
            if self.errors > 0 {
                self.errors -= 1;
                return Err(io::Error::from_raw_os_error(24)); // EMFILE
            }
            Accept::accept(&mut self.inner).await
        }
    }

    #[actix_rt::test]
    async fn it_keeps_accepting_after_errors_and_relays_with_its_login() {
        let broker = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = inner.local_addr().unwrap();
        let login = Login {
            username: "guard".into(),
            password: "s3cret".into(),
        };
        let guard = Arc::new(Guard {
            upstream: broker.local_addr().unwrap(),
            login,
            limits: Limits {
                max_packet: 1024,
                max_connections: 4,
                timeout: Duration::from_secs(30),
            },
        });
        tokio::spawn(serve(Flaky { errors: 3, inner }, guard));
        let mut client = TcpStream::connect(public).await.unwrap();
        let connect = [
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c',
        ];
        client.write_all(&connect).await.unwrap();
        let (mut at_broker, _) = timeout(Duration::from_secs(60), broker.accept())
            .await
            .expect("the guard relays the connection after the accept errors")
            .unwrap();
        let mut got = [0u8; 30];
        at_broker.read_exact(&mut got).await.unwrap();
        let mut want = vec![0x10, 28, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xc2, 0, 60];
        want.extend_from_slice(&[0, 1, b'c', 0, 5, b'g', b'u', b'a', b'r', b'd']);
        want.extend_from_slice(&[0, 6, b's', b'3', b'c', b'r', b'e', b't']);
        assert_eq!(got.to_vec(), want);
    }
}
