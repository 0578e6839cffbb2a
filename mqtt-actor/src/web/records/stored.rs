//! `GET /api/history` answered from the recorder (features `web` and
//! `history`): recorded messages in the v2 entry form, and a page of the
//! v2.1 range form with its `next` cursor.

use base64::Engine;
use serde::Serialize;

use crate::recorder::{Page, StoredMessage};
use crate::web::protocol::Encoding;

use super::history::HistoryEntry;

/// The v2.1 range answer: `{"messages": [...], "next": "CURSOR" | null}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    /// The messages, newest first.
    pub messages: Vec<HistoryEntry>,
    /// The `before` of the next page; `None` on the last page.
    pub next: Option<String>,
}

/// The entry of a recorded message: UTF-8 payloads as text, others as
/// base64, as live messages are shown.
pub fn entry(msg: &StoredMessage) -> HistoryEntry {
    let (payload, encoding) = match std::str::from_utf8(&msg.payload) {
        Ok(text) => (text.to_string(), Encoding::Utf8),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&msg.payload),
            Encoding::Base64,
        ),
    };
    HistoryEntry {
        topic: msg.topic.clone(),
        payload,
        encoding,
        qos: msg.qos,
        retain: msg.retain,
        ts_ms: u64::try_from(msg.ts_ms).unwrap_or(0),
    }
}

/// The range answer of a recorder's page.
pub fn page(page: &Page) -> HistoryPage {
    HistoryPage {
        messages: page.messages.iter().map(entry).collect(),
        next: page.next_cursor.map(|c| c.to_string()),
    }
}
