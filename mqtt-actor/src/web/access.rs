//! The two decisions only the application can make, as traits: who a request
//! acts for ([`Authenticator`], answering a [`Principal`]) and what that
//! principal may do with a topic or filter ([`Authorizer`], answering
//! [`Access`]). Every transport asks the same two: the WebSocket upgrade, the
//! event stream and each HTTP API call are authenticated; each subscribe,
//! publish and read is authorized, never each delivered message (a filter is
//! checked once, when it is subscribed).
//!
//! Closures implement both traits, [`AllowAll`] opens the bridge to anyone,
//! and [`MosquittoAuth`](crate::web::MosquittoAuth) reads Mosquitto's password
//! and ACL files.

use std::fmt;
use std::time::{Duration, SystemTime};

use actix_web::HttpRequest;
use futures::future::LocalBoxFuture;

/// Who a request acts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Principal {
    /// The signed-in user; `None` for an anonymous client.
    pub user: Option<String>,
    /// When the sign-in ends: sessions opened with it close then (WebSocket
    /// with 1008, event streams end).
    pub expires_at: Option<SystemTime>,
    /// The id of the sign-in this principal comes from (a login cookie), so
    /// that signing out can end this one and no other.
    pub login_id: Option<String>,
    /// A fingerprint of the credential the sign-in was checked against (an
    /// [`Authenticator`]'s own value, never the credential itself), so that
    /// changing that credential ends the sign-in everywhere.
    pub credential: Option<String>,
}

impl Principal {
    /// A client nobody signed in as.
    pub fn anonymous() -> Principal {
        Principal::default()
    }

    /// A client signed in as `name`.
    pub fn user(name: impl Into<String>) -> Principal {
        Principal {
            user: Some(name.into()),
            ..Principal::default()
        }
    }

    /// The same principal, whose sign-in ends at `at`.
    pub fn expires_at(mut self, at: SystemTime) -> Principal {
        self.expires_at = Some(at);
        self
    }

    /// The same principal, from the sign-in `id`.
    pub fn login_id(mut self, id: impl Into<String>) -> Principal {
        self.login_id = Some(id.into());
        self
    }

    /// The same principal, signed in against the credential `fingerprint`.
    pub fn credential(mut self, fingerprint: impl Into<String>) -> Principal {
        self.credential = Some(fingerprint.into());
        self
    }

    /// The user's name, if signed in.
    pub fn name(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

/// Why credentials were refused. Never a fallback to anonymous: a request
/// with bad credentials is answered `401 unauthorized` (or `429`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Credentials were given and are wrong (`401`).
    #[error("sign in with valid credentials")]
    Invalid,
    /// Too many failed sign-ins from the client's address, or for the
    /// account (`429` with `Retry-After`).
    #[error("too many failed sign-ins")]
    TooManyAttempts {
        /// How long until the address may try again.
        retry_after: Duration,
    },
}

/// Decides who a request acts for; called on every request the bridge
/// serves (WebSocket upgrade, event stream, HTTP API call).
///
/// `Ok(Some(principal))`: serve it as `principal` ([`Principal::anonymous`]
/// for an open service). `Ok(None)`: no credentials (`401`). `Err`: bad
/// credentials (`401`, or `429`).
///
/// A closure `Fn(&HttpRequest) -> Result<Option<Principal>, AuthError>` is an
/// authenticator:
///
/// ```
/// use actix_web::HttpRequest;
/// use mqtt_actor::web::{AuthError, Authenticator, Principal};
///
/// fn by_header() -> impl Authenticator {
///     |req: &HttpRequest| -> Result<Option<Principal>, AuthError> {
///         Ok(req.headers().get("x-user").and_then(|v| v.to_str().ok()).map(Principal::user))
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Who `req` acts for (see the trait docs). A local future: `HttpRequest`
    /// is not `Send`.
    fn authenticate<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Principal>, AuthError>>;

    /// Whether a session opened as `principal` may go on at `now`; asked at
    /// each of its requests and heartbeats, and when the application calls
    /// [`BridgeHandle::recheck`](crate::web::BridgeHandle::recheck). `Err`
    /// says why not: the WebSocket closes with 1008, the event stream ends.
    /// By default, until [`Principal::expires_at`].
    fn still_valid(&self, principal: &Principal, now: SystemTime) -> Result<(), String> {
        match principal.expires_at {
            Some(end) if end <= now => Err("the login expired".to_string()),
            _ => Ok(()),
        }
    }

    /// The `WWW-Authenticate` challenge of a `401` for programs (browsers'
    /// own requests never get it, so that no password dialog pops up).
    fn challenge(&self) -> Option<&'static str> {
        None
    }
}

impl<F> Authenticator for F
where
    F: Fn(&HttpRequest) -> Result<Option<Principal>, AuthError> + Send + Sync + 'static,
{
    fn authenticate<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Principal>, AuthError>> {
        Box::pin(std::future::ready(self(req)))
    }
}

/// What a client asks to do with a topic or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Subscribe to a filter (WebSocket `subscribe`, `/api/stream`, a
    /// server-side subscription, `/api/retained`, seeing it in
    /// `/api/subscriptions`).
    Subscribe,
    /// Publish to a topic (WebSocket `publish`, `/api/publish`, clearing a
    /// retained message).
    Publish,
    /// See a topic's messages the server kept (`/api/topics`,
    /// `/api/history`).
    Read,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Subscribe => "subscribe",
            Operation::Publish => "publish",
            Operation::Read => "read",
        })
    }
}

/// An [`Authorizer`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Go ahead.
    Allow,
    /// `forbidden`, with the message for the client (empty: the bridge says
    /// what was refused).
    Forbidden(String),
    /// `unauthorized`: the principal is not (or no longer) signed in.
    Unauthorized(String),
    /// `invalid_topic`: the topic or filter breaks the rules.
    InvalidTopic(String),
}

impl From<bool> for Access {
    fn from(allowed: bool) -> Access {
        match allowed {
            true => Access::Allow,
            false => Access::Forbidden(String::new()),
        }
    }
}

/// Decides what a principal may do; called for each subscribe, publish and
/// read, never for each delivered message. Answer quickly: it runs on the
/// request's thread, and a session's requests are answered in order.
///
/// A closure `Fn(&Principal, Operation, &str) -> bool` (or `-> Access`) is an
/// authorizer: here each user reads and writes under `users/{name}/` only.
///
/// ```
/// use mqtt_actor::web::{Authorizer, Operation, Principal};
///
/// fn own_prefix() -> impl Authorizer {
///     |who: &Principal, _: Operation, topic: &str| {
///         who.name().is_some_and(|name| topic.starts_with(&format!("users/{name}/")))
///     }
/// }
/// ```
pub trait Authorizer: Send + Sync + 'static {
    /// Whether `principal` may do `operation` on `target` (a filter for
    /// [`Operation::Subscribe`], else a topic; already checked against MQTT's
    /// rules and the bridge's limits).
    fn authorize(&self, principal: &Principal, operation: Operation, target: &str) -> Access;
}

impl<F, A> Authorizer for F
where
    F: Fn(&Principal, Operation, &str) -> A + Send + Sync + 'static,
    A: Into<Access>,
{
    fn authorize(&self, principal: &Principal, operation: Operation, target: &str) -> Access {
        self(principal, operation, target).into()
    }
}

/// Anyone, anything: every request acts for [`Principal::anonymous`] and
/// every operation is allowed. For a bridge behind the application's own
/// gate, or on a trusted network; a conscious choice, as a bridge without an
/// authenticator and an authorizer serves nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate<'a>(
        &'a self,
        _: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Principal>, AuthError>> {
        Box::pin(std::future::ready(Ok(Some(Principal::anonymous()))))
    }
}

impl Authorizer for AllowAll {
    fn authorize(&self, _: &Principal, _: Operation, _: &str) -> Access {
        Access::Allow
    }
}

/// The default of a bridge built without one: nobody, nothing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DenyAll;

impl Authenticator for DenyAll {
    fn authenticate<'a>(
        &'a self,
        _: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Principal>, AuthError>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

impl Authorizer for DenyAll {
    fn authorize(&self, _: &Principal, _: Operation, _: &str) -> Access {
        Access::Forbidden("this bridge has no authorizer".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_decide_and_false_is_forbidden() {
        let own = |who: &Principal, _: Operation, topic: &str| {
            who.name()
                .is_some_and(|n| topic.starts_with(&format!("users/{n}/")))
        };
        let alice = Principal::user("alice");
        assert_eq!(
            own.authorize(&alice, Operation::Publish, "users/alice/x"),
            Access::Allow
        );
        assert_eq!(
            own.authorize(&alice, Operation::Subscribe, "users/bob/#"),
            Access::Forbidden(String::new())
        );
        assert_eq!(
            AllowAll.authorize(&Principal::anonymous(), Operation::Read, "a"),
            Access::Allow
        );
    }

    #[test]
    fn a_principal_is_valid_until_it_expires() {
        let now = SystemTime::now();
        let p = Principal::user("a").expires_at(now + Duration::from_secs(1));
        assert!(AllowAll.still_valid(&p, now).is_ok());
        assert!(AllowAll
            .still_valid(&p, now + Duration::from_secs(1))
            .is_err());
    }
}
