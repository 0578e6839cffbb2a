//! A Server-Sent Events client of the app's `/api/stream` (awc): it reads the
//! stream only when asked to, so a test can stop reading (the app's writes
//! then back up through TCP) and read again.

use std::time::Duration;

use actix_http::encoding::Decoder;
use actix_http::Payload;
use futures::StreamExt;
use serde_json::Value;

use crate::PATIENCE;

/// One event of the stream: its `event` name (`message` when it has data and
/// none), its `data` lines joined, and its comment lines; a block of comments
/// alone is an event with the name `""`.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub comments: Vec<String>,
}

impl SseEvent {
    /// `data` as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is JSON: {e}: {:?}", self.data))
    }

    fn parse(block: &str) -> SseEvent {
        let mut event = SseEvent {
            event: String::new(),
            data: String::new(),
            comments: Vec::new(),
        };
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(comment) = line.strip_prefix(':') {
                event.comments.push(comment.trim_start().to_string());
            } else if let Some((field, value)) = line.split_once(':') {
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_string(),
                    "data" => data.push(value),
                    _ => {}
                }
            }
        }
        event.data = data.join("\n");
        if event.event.is_empty() && !data.is_empty() {
            event.event = "message".into();
        }
        event
    }
}

/// An open event stream.
pub struct Sse {
    response: awc::ClientResponse<Decoder<Payload>>,
    /// Bytes read and not yet parsed into events (a chunk may end inside a
    /// character).
    pending: Vec<u8>,
    pub content_type: String,
}

impl Sse {
    /// `GET {base}{path}` (`base`: `http://HOST:PORT`), with Basic auth when
    /// given. `Err` with the status and JSON body when it is not `200`.
    pub async fn open(
        base: &str,
        path: &str,
        basic: Option<(&str, &str)>,
    ) -> Result<Sse, (u16, Value)> {
        // No timeout: awc's would end the body too, and streams live long.
        let client = awc::Client::builder().disable_timeout().finish();
        let mut request = client.get(format!("{base}{path}"));
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, password);
        }
        let send = tokio::time::timeout(PATIENCE, request.send());
        let mut response = send
            .await
            .expect("the app answers within PATIENCE")
            .expect("the app answers HTTP");
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.body().limit(1 << 20).await.expect("a body");
            return Err((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(Sse {
            response,
            pending: Vec::new(),
            content_type,
        })
    }

    /// The next event (comments included), or `None` when none came within
    /// `wait` or the stream ended.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("events are UTF-8");
                return Some(SseEvent::parse(&block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.next()).await;
            match chunk {
                Ok(Some(Ok(bytes))) => self.pending.extend_from_slice(&bytes),
                Ok(Some(Err(_))) | Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next event, within [`PATIENCE`].
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(PATIENCE)
            .await
            .expect("an event within PATIENCE")
    }

    /// The next event named `name`, skipping others, within [`PATIENCE`].
    pub async fn next_named(&mut self, name: &str) -> SseEvent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self
                .next_within(left)
                .await
                .unwrap_or_else(|| panic!("an `{name}` event within PATIENCE"));
            if event.event == name {
                return event;
            }
        }
    }

    /// Reads until the stream ends; `true` if it did within [`PATIENCE`].
    pub async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.response.next()).await {
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_into_events() {
        let e = SseEvent::parse("event: lagged\ndata: {\"dropped\":3}\n\n");
        assert_eq!(
            (e.event.as_str(), e.data.as_str()),
            ("lagged", "{\"dropped\":3}")
        );
        let e = SseEvent::parse(": heartbeat\n\n");
        assert_eq!((e.event.as_str(), e.comments.len()), ("", 1));
        let e = SseEvent::parse("data: a\ndata: b\n\n");
        assert_eq!((e.event.as_str(), e.data.as_str()), ("message", "a\nb"));
    }
}
