//! The asking side of request/response: the reply topic prefix, the reply
//! desk once started, and the numbering of requests. Plain state.

use actix::prelude::*;
use bytes::Bytes;

use crate::request::ReplyDesk;

/// The asking side's state.
pub(crate) struct Requests {
    /// Replies come to `{prefix}/{n}`; the actor holds `{prefix}/#`.
    pub(super) prefix: String,
    /// Started at the first request.
    pub(super) desk: Option<Addr<ReplyDesk>>,
    /// Requests made, which numbers the next one.
    pub(super) sent: u64,
    /// Tells this actor's correlation data from an earlier process's (whose
    /// late replies may still come to the same reply topics).
    pub(super) nonce: u32,
}

impl Requests {
    pub fn new(prefix: String) -> Self {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ std::process::id())
            .unwrap_or_default();
        Requests {
            prefix,
            desk: None,
            sent: 0,
            nonce,
        }
    }

    /// The filter replies come under.
    pub fn filter(&self) -> String {
        format!("{}/#", self.prefix)
    }

    /// The response topic and correlation data of the next request.
    pub fn next(&mut self) -> (String, Bytes) {
        self.sent += 1;
        let topic = format!("{}/{}", self.prefix, self.sent);
        let correlation = format!("{:08x}-{}", self.nonce, self.sent);
        (topic, Bytes::from(correlation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_has_its_own_response_topic_and_correlation_data() {
        let mut r = Requests::new("me/replies".into());
        assert_eq!(r.filter(), "me/replies/#");
        let (t1, c1) = r.next();
        let (t2, c2) = r.next();
        assert_eq!((t1.as_str(), t2.as_str()), ("me/replies/1", "me/replies/2"));
        assert_ne!(c1, c2);
    }
}
