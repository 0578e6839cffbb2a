//! HTTP and WebSocket clients that speak the web API contract
//! (`docs/protocol.md`) to the app, in-process or as a process.

use std::time::Duration;

use actix_http::ws;
use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::Value;

use crate::PATIENCE;

/// An HTTP client for the app's API.
pub struct Http {
    base: String,
    client: awc::Client,
}

impl Http {
    /// A client for the app serving HTTP on `addr` (`127.0.0.1:PORT`).
    pub fn new(addr: impl std::fmt::Display) -> Http {
        Http {
            base: format!("http://{addr}"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(15))
                .finish(),
        }
    }

    async fn send(&self, request: awc::ClientRequest, body: Option<Bytes>) -> (u16, Bytes) {
        let sent = match body {
            Some(body) => {
                request
                    .insert_header(("content-type", "application/json"))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.expect("the app answers HTTP");
        let body = response.body().limit(16 << 20).await.expect("a body");
        (response.status().as_u16(), body)
    }

    fn json((status, body): (u16, Bytes)) -> (u16, Value) {
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        Self::json(self.send(self.client.get(self.at(path)), None).await)
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let (status, body) = self.send(self.client.get(self.at(path)), None).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> (u16, Value) {
        Self::json(
            self.send(self.client.post(self.at(path)), Some(body.into()))
                .await,
        )
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        Self::json(self.send(self.client.delete(self.at(path)), None).await)
    }
}

type Framed = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A WebSocket client speaking PROTOCOL.md.
pub struct Ws {
    framed: Framed,
}

/// What the server sent when a socket ended.
#[derive(Debug)]
pub enum Closed {
    Frame(Option<ws::CloseReason>),
    Eof,
}

/// What a socket brought next (see [`Ws::next_or_end`]).
#[derive(Debug)]
pub enum Incoming {
    Frame(Value),
    Ended(Closed),
}

impl Ws {
    /// Connects, or `None` when nothing accepts the upgrade at `url` (a
    /// client that reconnects tries again later).
    pub async fn try_connect(url: &str) -> Option<Ws> {
        let (_, framed) = awc::Client::new()
            .ws(url)
            .max_frame_size(64 << 20)
            .connect()
            .await
            .ok()?;
        Some(Ws { framed })
    }

    /// The next JSON frame or the end of the socket (pings answered on the
    /// way); `None` after `wait`.
    pub async fn next_or_end(&mut self, wait: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(Incoming::Ended(Closed::Eof)),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                ws::Frame::Text(t) => {
                    let value = serde_json::from_slice(&t).expect("JSON frame");
                    return Some(Incoming::Frame(value));
                }
                ws::Frame::Ping(p) => {
                    let _ = self.framed.send(ws::Message::Pong(p)).await;
                }
                ws::Frame::Close(reason) => return Some(Incoming::Ended(Closed::Frame(reason))),
                _ => {}
            }
        }
    }

    /// Connects, or `Err` with the HTTP status that refused the upgrade
    /// (any other failure panics: it is not a refusal).
    pub async fn connect_status(url: &str) -> Result<Ws, u16> {
        Self::connect_request(awc::Client::new().ws(url).max_frame_size(64 << 20)).await
    }

    pub async fn connect(url: &str) -> Ws {
        let (_, framed) = awc::Client::new()
            .ws(url)
            .max_frame_size(64 << 20)
            .connect()
            .await
            .expect("WebSocket connects");
        Ws { framed }
    }

    /// Opens a prepared upgrade request; `Err` with the HTTP status that
    /// refused it.
    pub async fn connect_request(request: awc::ws::WebsocketsRequest) -> Result<Ws, u16> {
        match request.connect().await {
            Ok((_, framed)) => Ok(Ws { framed }),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Err(status.as_u16()),
            Err(e) => panic!("the WebSocket upgrade failed: {e}"),
        }
    }

    /// Sends a request; `false` when the socket is gone.
    pub async fn try_send(&mut self, value: Value) -> bool {
        self.framed
            .send(ws::Message::Text(value.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.framed
            .send(ws::Message::Text(text.to_string().into()))
            .await
            .expect("frame sent");
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.framed
            .send(ws::Message::Binary(Bytes::copy_from_slice(data)))
            .await
            .expect("frame sent");
    }

    /// The next JSON frame, or `None` after `wait` (pings answered on the way).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            match frame.expect("a valid frame") {
                ws::Frame::Text(t) => return Some(serde_json::from_slice(&t).expect("JSON frame")),
                ws::Frame::Ping(p) => {
                    let _ = self.framed.send(ws::Message::Pong(p)).await;
                }
                ws::Frame::Close(reason) => panic!("socket closed: {reason:?}"),
                _ => {}
            }
        }
    }

    /// The next JSON frame; panics after the harness's patience.
    pub async fn next(&mut self) -> Value {
        self.next_within(PATIENCE)
            .await
            .expect("a frame from the server")
    }

    /// The next frame of `type`, skipping others (status frames, say).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// The first `status` frame that says the app is connected to its
    /// broker: an app started as a process may greet a socket before its
    /// MQTT connection is up, and says so again when it comes.
    pub async fn status_connected(&mut self) -> Value {
        loop {
            let v = self.next_of("status").await;
            if v["connected"] == true {
                return v;
            }
        }
    }

    /// Sends a request and returns the reply with the same `id`.
    pub async fn request(&mut self, mut value: Value, id: u64) -> Value {
        value["id"] = id.into();
        self.send(value).await;
        loop {
            let v = self.next().await;
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Waits for the end of the socket, answering pings, ignoring data.
    pub async fn closed(&mut self) -> Closed {
        loop {
            match tokio::time::timeout(PATIENCE, self.framed.next())
                .await
                .expect("the socket ends")
            {
                None => return Closed::Eof,
                Some(Ok(ws::Frame::Close(reason))) => return Closed::Frame(reason),
                Some(Err(_)) => return Closed::Eof,
                Some(Ok(_)) => {}
            }
        }
    }
}

impl Ws {
    /// The sending and the receiving half, for a test that writes and reads
    /// at once (a client pipelining requests while it reads the answers).
    pub fn split(self) -> (WsSender, WsReceiver) {
        let (sink, stream) = self.framed.split();
        (WsSender { sink }, WsReceiver { stream })
    }
}

/// The sending half of a [`Ws`].
pub struct WsSender {
    sink: SplitSink<Framed, ws::Message>,
}

impl WsSender {
    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        assert!(self.try_send_text(text).await, "frame sent");
    }

    /// Sends a frame; `false` when the socket is gone.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.sink
            .send(ws::Message::Text(text.to_string().into()))
            .await
            .is_ok()
    }
}

/// The receiving half of a [`Ws`]; it does not answer pings (the sender
/// keeps the session busy instead).
pub struct WsReceiver {
    stream: SplitStream<Framed>,
}

impl WsReceiver {
    /// Reads until the socket ends and says how; panics when it is still
    /// open after the harness's patience (a timeout is not an end).
    pub async fn closed(&mut self) -> Closed {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => panic!("the socket is still open after {PATIENCE:?}"),
                Ok(None) | Ok(Some(Err(_))) => return Closed::Eof,
                Ok(Some(Ok(ws::Frame::Close(reason)))) => return Closed::Frame(reason),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// The next JSON frame, or `None` after `wait` or at the end of the socket.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match frame.ok()? {
                ws::Frame::Text(t) => return Some(serde_json::from_slice(&t).expect("JSON frame")),
                ws::Frame::Close(_) => return None,
                _ => {}
            }
        }
    }
}
