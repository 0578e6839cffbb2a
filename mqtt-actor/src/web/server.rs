//! [`LeanServer`]: actix-web's `HttpServer` for an app that holds many
//! WebSocket sessions open, each of which keeps no HTTP buffer once upgraded
//! (see `upgrade.rs`).

use std::any::Any;
use std::cell::OnceCell;
use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{AsyncRead, AsyncWrite, Framed};
use actix_http::body::{BoxBody, MessageBody};
use actix_http::h1::{Codec, ExpectHandler};
use actix_http::{Extensions, HttpService, KeepAlive, Request, Response};
use actix_server::{GracefulShutdownSignal, Server, ServerBuilder};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_tls::accept::rustls_0_23::reexports::ServerConfig as TlsConfig;
use actix_web::dev::AppConfig;
use futures::future::{LocalBoxFuture, MapErr, TryFutureExt};

use crate::web::upgrade;

/// An HTTP server for an actix-web app, like actix-web's `HttpServer` and
/// built the same way, for apps that hold many WebSocket sessions open.
///
/// actix-web's server keeps a read and a write buffer of 8 KiB each for the
/// whole life of every connection, a WebSocket's included: most of what an
/// idle session costs. Here a WebSocket handshake is answered by
/// the same app (same routes, middleware and sign-in); once the answer is
/// `101 Switching Protocols` those buffers are dropped, and the connection
/// buffers bytes only while they wait to be read or written. Every other
/// request is served exactly as `HttpServer` serves it: HTTP/1.1, and HTTP/2
/// over TLS.
///
/// ```no_run
/// use actix_web::{web, App};
/// use mqtt_actor::web::{AllowAll, Bridge, BridgeConfig, LeanServer};
/// use mqtt_actor::{MqttActor, MqttConfig};
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mqtt = MqttActor::builder(MqttConfig::from_env()?).start()?;
///     let bridge = Bridge::builder(mqtt, BridgeConfig::default())
///         .authorizer(AllowAll)
///         .build()?;
///     LeanServer::new(move || App::new().service(web::scope("/mqtt").configure(bridge.configure())))
///         .on_connect(Bridge::on_connect)
///         .bind("127.0.0.1:8080")?
///         .run()
///         .await?;
///     Ok(())
/// }
/// ```
pub struct LeanServer<F, I, S, B> {
    factory: F,
    /// The app's types, fixed by `factory` (as in actix-web's server).
    app: AppTypes<I, S, B>,
    builder: ServerBuilder,
    addrs: Vec<SocketAddr>,
    settings: Arc<Mutex<Settings>>,
}

/// The app's types, which the server only names.
type AppTypes<I, S, B> = PhantomData<(fn() -> I, fn() -> S, fn() -> B)>;

/// What every connection's HTTP service is built with; read when a worker
/// starts, so that it may be set before or after binding.
#[derive(Clone)]
struct Settings {
    keep_alive: KeepAlive,
    client_request_timeout: Duration,
    tcp_nodelay: Option<bool>,
    #[allow(clippy::type_complexity)]
    on_connect: Option<Arc<dyn Fn(&dyn Any, &mut Extensions) + Send + Sync>>,
}

/// The backlog of each listening socket, as actix-web's.
const BACKLOG: i32 = 1024;

impl<F, I, S, B> LeanServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    S::Service: 'static,
    S::Future: 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    /// A server whose workers each build their app with `factory`, as
    /// `HttpServer::new` does. Until told otherwise it has as many workers as
    /// the machine has cores, closes idle keep-alive connections after 5 s,
    /// wants a request's head within 5 s, stops on SIGINT and SIGTERM, and
    /// gives connections 30 s to end when it stops.
    pub fn new(factory: F) -> Self {
        LeanServer {
            factory,
            app: PhantomData,
            builder: ServerBuilder::default(),
            addrs: Vec::new(),
            settings: Arc::new(Mutex::new(Settings {
                keep_alive: KeepAlive::default(),
                client_request_timeout: Duration::from_secs(5),
                tcp_nodelay: None,
                on_connect: None,
            })),
        }
    }

    /// The number of worker threads (each with its own app).
    pub fn workers(mut self, workers: usize) -> Self {
        self.builder = self.builder.workers(workers);
        self
    }

    /// How long a connection may wait for its next request.
    pub fn keep_alive(self, keep_alive: impl Into<KeepAlive>) -> Self {
        self.settings().keep_alive = keep_alive.into();
        self
    }

    /// How long a client has to send a request's head.
    pub fn client_request_timeout(self, timeout: Duration) -> Self {
        self.settings().client_request_timeout = timeout;
        self
    }

    /// Turns Nagle's algorithm off (`true`) or on for every connection;
    /// unset, the system's default stays.
    pub fn tcp_nodelay(self, nodelay: bool) -> Self {
        self.settings().tcp_nodelay = Some(nodelay);
        self
    }

    /// Called with each accepted connection (a tokio `TcpStream`, or one
    /// under rustls) and the connection's data, which every request on it
    /// reads: pass [`Bridge::on_connect`](crate::web::Bridge::on_connect).
    pub fn on_connect<C>(self, on_connect: C) -> Self
    where
        C: Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static,
    {
        self.settings().on_connect = Some(Arc::new(on_connect));
        self
    }

    /// Leaves SIGINT and SIGTERM to the application.
    pub fn disable_signals(mut self) -> Self {
        self.builder = self.builder.disable_signals();
        self
    }

    /// How long, in seconds, open connections get to end when the server
    /// stops gracefully, before they are dropped.
    pub fn shutdown_timeout(mut self, seconds: u64) -> Self {
        self.builder = self.builder.shutdown_timeout(seconds);
        self
    }

    /// Listens on every address `addrs` names, over plain HTTP.
    pub fn bind(self, addrs: impl ToSocketAddrs) -> io::Result<Self> {
        bind_each(addrs)?
            .into_iter()
            .try_fold(self, |server, listener| server.listen(listener))
    }

    /// Listens on every address `addrs` names, over TLS (HTTP/1.1, and
    /// HTTP/2 to clients that offer it).
    pub fn bind_rustls_0_23(self, addrs: impl ToSocketAddrs, tls: TlsConfig) -> io::Result<Self> {
        bind_each(addrs)?
            .into_iter()
            .try_fold(self, |server, listener| {
                server.listen_rustls_0_23(listener, tls.clone())
            })
    }

    /// Serves plain HTTP on a socket that already listens.
    pub fn listen(self, listener: TcpListener) -> io::Result<Self> {
        self.listen_with(listener, None)
    }

    /// Serves TLS on a socket that already listens.
    pub fn listen_rustls_0_23(self, listener: TcpListener, tls: TlsConfig) -> io::Result<Self> {
        self.listen_with(listener, Some(tls))
    }

    /// The addresses it listens on, in the order they were bound.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// Starts the workers. The server runs until it is stopped (through
    /// [`Server::handle`], or a signal); awaiting it waits for that.
    pub fn run(self) -> Server {
        self.builder.run()
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn listen_with(mut self, listener: TcpListener, tls: Option<TlsConfig>) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        self.addrs.push(addr);
        let factory = self.factory.clone();
        let settings = self.settings.clone();
        let signal = self.builder.graceful_shutdown_signal();
        let name = format!("mqtt-actor-{addr}");
        self.builder = match tls {
            None => self.builder.listen(name, listener, move || {
                service(&factory, &settings, &signal, addr, false).tcp()
            })?,
            Some(tls) => self.builder.listen(name, listener, move || {
                service(&factory, &settings, &signal, addr, true).rustls_0_23(tls.clone())
            })?,
        };
        Ok(self)
    }
}

/// Binds each address `addrs` names, as actix-web's server does (address
/// reuse, a backlog of [`BACKLOG`]).
fn bind_each(addrs: impl ToSocketAddrs) -> io::Result<Vec<TcpListener>> {
    let addrs: Vec<SocketAddr> = addrs.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to listen on",
        ));
    }
    addrs
        .into_iter()
        .map(|addr| {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            #[cfg(not(windows))]
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(BACKLOG)?;
            Ok(socket.into())
        })
        .collect()
}

/// One worker's HTTP service on one listener: the app, built once, serves
/// both the dispatcher's requests and the upgrades.
fn service<T, F, I, S, B>(
    factory: &F,
    settings: &Mutex<Settings>,
    signal: &GracefulShutdownSignal,
    addr: SocketAddr,
    secure: bool,
) -> HttpService<T, AppFactory<S>, B, ExpectHandler, Upgrades<S::Service, B>>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    F: Fn() -> I,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    S::Service: 'static,
    S::Future: 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let settings = settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let signal = signal.clone();
    let shared = Rc::new(OnceCell::new());
    let mut builder = HttpService::build()
        .graceful_shutdown_signal(move || {
            let signal = signal.clone();
            async move { signal.notified().await }
        })
        .keep_alive(settings.keep_alive)
        .client_request_timeout(settings.client_request_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .local_addr(addr);
    if secure {
        builder = builder.secure();
    }
    if let Some(nodelay) = settings.tcp_nodelay {
        builder = builder.tcp_nodelay(nodelay);
    }
    if let Some(on_connect) = settings.on_connect {
        builder = builder
            .on_connect_ext(move |io: &T, ext: &mut Extensions| on_connect(io as &dyn Any, ext));
    }
    builder
        .upgrade(Upgrades {
            app: shared.clone(),
            body: PhantomData,
        })
        .finish(AppFactory {
            inner: factory().into_factory(),
            // actix-web's own server builds its AppConfig the same way, with
            // a constructor it keeps to itself; this is the one it offers.
            config: AppConfig::__priv_test_new(secure, addr.to_string(), addr),
            shared,
        })
}

/// The app's service factory, for the HTTP dispatcher: it also leaves the
/// service it builds where [`Upgrades`] finds it.
pub(crate) struct AppFactory<S: ServiceFactory<Request>> {
    inner: S,
    config: AppConfig,
    shared: Rc<OnceCell<Rc<S::Service>>>,
}

impl<S> ServiceFactory<Request> for AppFactory<S>
where
    S: ServiceFactory<Request, Config = AppConfig>,
    S::Error: Into<actix_web::Error>,
    S::Service: 'static,
    S::Future: 'static,
{
    type Response = S::Response;
    type Error = Response<BoxBody>;
    type Config = ();
    type Service = App<S::Service>;
    type InitError = S::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, Self::InitError>>;

    fn new_service(&self, _: ()) -> Self::Future {
        let service = self.inner.new_service(self.config.clone());
        let shared = self.shared.clone();
        Box::pin(async move {
            let service = Rc::new(service.await?);
            // One app per worker and listener: set once.
            let _ = shared.set(service.clone());
            Ok(App(service))
        })
    }
}

/// One worker's app, shared by the dispatcher and the upgrades; its errors
/// become their responses, as in actix-web's server.
pub(crate) struct App<S>(Rc<S>);

impl<S> Service<Request> for App<S>
where
    S: Service<Request>,
    S::Error: Into<actix_web::Error>,
{
    type Response = S::Response;
    type Error = Response<BoxBody>;
    #[allow(clippy::type_complexity)]
    type Future = MapErr<S::Future, fn(S::Error) -> Response<BoxBody>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx).map_err(error_response)
    }

    fn call(&self, req: Request) -> Self::Future {
        self.0.call(req).map_err(error_response)
    }
}

fn error_response<E: Into<actix_web::Error>>(err: E) -> Response<BoxBody> {
    err.into().error_response().into()
}

/// The upgrade service: each WebSocket handshake is answered by
/// `upgrade::answer` with the worker's app, once the dispatcher has built it,
/// and the upgraded connection served in a task of its own.
pub(crate) struct Upgrades<S, B> {
    app: Rc<OnceCell<Rc<S>>>,
    body: PhantomData<fn() -> B>,
}

impl<T, S, B> ServiceFactory<(Request, Framed<T, Codec>)> for Upgrades<S, B>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    S: Service<Request> + 'static,
    S::Error: Into<actix_web::Error>,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = Infallible;
    type Config = ();
    type Service = Upgrades<S, B>;
    type InitError = ();
    type Future = Ready<Result<Self::Service, ()>>;

    fn new_service(&self, _: ()) -> Self::Future {
        ready(Ok(Upgrades {
            app: self.app.clone(),
            body: PhantomData,
        }))
    }
}

impl<T, S, B> Service<(Request, Framed<T, Codec>)> for Upgrades<S, B>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    S: Service<Request> + 'static,
    S::Error: Into<actix_web::Error>,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = Infallible;
    type Future = LocalBoxFuture<'static, Result<(), Infallible>>;

    actix_service::always_ready!();

    fn call(&self, (req, framed): (Request, Framed<T, Codec>)) -> Self::Future {
        // The dispatcher builds the app before it serves any connection.
        let app = self.app.get().cloned();
        Box::pin(async move {
            let Some(app) = app else { return Ok(()) };
            if let Some(upgraded) = upgrade::answer(App(app), req, framed).await {
                // A task of its own on this worker: the dispatcher's task,
                // sized for any request it may serve, ends here.
                actix_web::rt::spawn(upgraded.serve());
            }
            Ok(())
        })
    }
}
