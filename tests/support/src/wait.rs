//! Waiting without fixed sleeps: poll for the event with one generous
//! deadline, [`PATIENCE`], that a passing test never reaches.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long a condition may take before a test gives up. Generous: these
/// machines are shared and slow; a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A TCP port on 127.0.0.1 that the OS reported free.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS gives a free port")
}

/// Polls `check` until it yields `Some`, or panics with `what` after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, PATIENCE, check).await
}

/// [`eventually`] with its own deadline, for a condition that follows a
/// load the test makes (a flood through a browser) rather than one event.
pub async fn eventually_within<T, F, Fut>(what: &str, patience: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > patience {
            panic!("timed out after {patience:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every port of 127.0.0.1 in `ports` accepts TCP connections,
/// as the server `child` starts. `Err` with its exit status if it ended
/// first; panics naming `what` after [`PATIENCE`].
pub fn wait_listening(what: &str, child: &mut Child, ports: &[u16]) -> Result<(), ExitStatus> {
    wait_listening_within(what, child, ports, PATIENCE)
}

/// [`wait_listening`] with its own deadline, for servers slower to boot
/// than [`PATIENCE`] allows (an Erlang VM on a loaded machine).
pub fn wait_listening_within(
    what: &str,
    child: &mut Child,
    ports: &[u16],
    patience: Duration,
) -> Result<(), ExitStatus> {
    let start = Instant::now();
    while !ports
        .iter()
        .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
    {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(status);
        }
        assert!(
            start.elapsed() < patience,
            "{what} did not listen on {ports:?} within {patience:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
