//! What the web surface checks for every client, as state without I/O:
//! [`Gate`] holds the access policy (password file and ACL), the same-origin
//! rules, failed sign-ins per address and sign-ins ended early; [`Login`] is
//! who a request or socket acts for.
//!
//! `auth.rs` applies the gate to each request (Host, Origin, Content-Type,
//! credentials); the WebSocket session and the HTTP handlers ask the policy at
//! each decision and pass its answer through [`enforce`], which logs every
//! refusal; a socket asks [`Gate::lapsed`] whether its login still holds.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha512};

use crate::access::{
    Access, AccessError, LoginLimiter, Operation, Reason, Refusal, Reloaded, SameOrigin, Who,
};
use crate::error::{ApiError, Code};

/// The one message of every failed sign-in, whatever the cause: unknown
/// user, wrong password, missing or malformed credentials.
pub const SIGN_IN_FAILED: &str = "sign in with a valid user name and password";

/// The routes that serve without a user when a password file is set: health,
/// readiness, the login page (and its form), signing out (it only ends what
/// the request's own cookie holds) and the assets the login page loads.
const OPEN_ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/login",
    "/logout",
    "/static/style.css",
    "/static/favicon.svg",
];

/// Who a request or socket acts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// The signed-in user; `None` for anonymous clients (no password file).
    pub user: Option<String>,
    /// Set for a login through the login page (a session cookie); `None` for
    /// HTTP Basic auth, whose credentials come with every request.
    pub cookie: Option<CookieLogin>,
}

/// A login through the login page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieLogin {
    /// Random, so that signing out can end this login and no other.
    pub id: String,
    /// When it ends, whatever the browser does with the cookie.
    pub expires: SystemTime,
}

impl Login {
    /// A client nobody signed in as.
    pub fn anonymous() -> Login {
        Login::default()
    }

    /// `user`, signed in with HTTP Basic auth.
    pub fn basic(user: impl Into<String>) -> Login {
        Login {
            user: Some(user.into()),
            cookie: None,
        }
    }

    /// The client, as the access policy sees it.
    pub fn who(&self) -> Who<'_> {
        Who {
            user: self.user.as_deref(),
            client_id: None,
        }
    }
}

/// Turns the policy's answer into the client's: a refusal is logged at info
/// (user, operation, topic, and the ACL line) and answered `forbidden`, or
/// `invalid_topic` for a topic that breaks MQTT's rules, or `unauthorized`
/// for a client that is no longer signed in.
pub fn enforce(decision: Result<(), Refusal>) -> Result<(), ApiError> {
    let refusal = match decision {
        Ok(()) => return Ok(()),
        Err(refusal) => refusal,
    };
    if refusal.reason == Reason::Invalid {
        // Not a refusal of access: the library's own error says what is wrong.
        let invalid = match refusal.operation {
            Operation::Subscribe => mqtt_actor::validate_filter(&refusal.target),
            Operation::Publish | Operation::Read => mqtt_actor::validate_topic(&refusal.target),
        };
        let message = invalid.err().map_or(refusal.to_string(), |e| e.to_string());
        return Err(ApiError::new(Code::InvalidTopic, message));
    }
    log::info!("{}", refusal.log_line());
    let code = match refusal.reason {
        Reason::Invalid => Code::InvalidTopic,
        Reason::SignInRequired => Code::Unauthorized,
        Reason::Acl(_) | Reason::SharedWithoutAcl => Code::Forbidden,
    };
    Err(ApiError::new(code, refusal.to_string()))
}

/// What the web surface checks; see the module docs. Shared by every worker.
#[derive(Debug)]
pub struct Gate {
    /// The password file and ACL; `reload` swaps both.
    pub access: Access,
    /// The `Host` / `Origin` rules, set once the server is bound: they need
    /// the port it got.
    origin: OnceLock<SameOrigin>,
    /// Failed sign-ins per address (Basic auth and the login form alike).
    limiter: Mutex<LoginLimiter>,
    /// Logins ended by signing out, by id, until they would have expired, so
    /// that a copy of the cookie stops working with the original.
    signed_out: Mutex<HashMap<String, SystemTime>>,
    /// Basic-auth credentials verified since the last reload, as digests
    /// salted per process: a program that sends them with every request pays
    /// for the password hash once, and its requests in flight never count as
    /// failed sign-ins. Emptied on reload and when full.
    verified: Mutex<HashSet<Vec<u8>>>,
    salt: [u8; 32],
    /// How long a login through the login page lasts.
    pub session_ttl: Duration,
    /// `/metrics` needs no user.
    pub metrics_public: bool,
}

/// The most Basic-auth credentials remembered at once.
const VERIFIED_CAPACITY: usize = 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps stay consistent at every step, so a panic elsewhere
    // leaves them usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Gate {
    /// A gate with `access`; logins through the login page last `session_ttl`.
    pub fn new(access: Access, session_ttl: Duration, metrics_public: bool) -> Gate {
        Gate {
            access,
            origin: OnceLock::new(),
            limiter: Mutex::new(LoginLimiter::default()),
            signed_out: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashSet::new()),
            salt: rand::random(),
            session_ttl,
            metrics_public,
        }
    }

    /// Sets the same-origin rules, once the server is bound; later calls are
    /// ignored.
    pub fn set_origin(&self, rules: SameOrigin) {
        let _ = self.origin.set(rules);
    }

    /// The same-origin rules; `None` only before the server is bound (then
    /// nothing is served yet).
    pub fn origin(&self) -> Option<&SameOrigin> {
        self.origin.get()
    }

    /// Whether `path` needs a user: every route when a password file is set,
    /// except health, readiness, the login page with its assets, and
    /// `/metrics` when it was made public.
    pub fn needs_user(&self, path: &str) -> bool {
        if !self.access.requires_login() {
            return false;
        }
        let open = OPEN_ROUTES.contains(&path) || (self.metrics_public && path == "/metrics");
        !open
    }

    /// Before checking a password from `addr`: `Err(wait)` when the address
    /// has failed too often this minute. The attempt counts as a failure until
    /// [`Gate::signed_in`] takes it back.
    pub fn begin_sign_in(&self, addr: IpAddr) -> Result<(), Duration> {
        lock(&self.limiter).begin(addr, Instant::now())
    }

    /// The password from `addr` was right.
    pub fn signed_in(&self, addr: IpAddr) {
        lock(&self.limiter).forgive(addr);
    }

    /// Re-reads the password file and the ACL (SIGHUP); logins go on, and
    /// each is checked against the new files at its next request.
    pub fn reload(&self) -> Result<Reloaded, AccessError> {
        let reloaded = self.access.reload()?;
        lock(&self.verified).clear();
        Ok(reloaded)
    }

    fn digest(&self, user: &str, password: &str) -> Vec<u8> {
        Sha512::new()
            .chain_update(self.salt)
            .chain_update((user.len() as u64).to_be_bytes())
            .chain_update(user.as_bytes())
            .chain_update(password.as_bytes())
            .finalize()
            .to_vec()
    }

    /// Whether these Basic-auth credentials were verified since the last
    /// reload (then they need no check against the password file).
    pub fn known_credentials(&self, user: &str, password: &str) -> bool {
        let digest = self.digest(user, password);
        lock(&self.verified).contains(&digest)
    }

    /// Remembers Basic-auth credentials that were just verified.
    pub fn remember_credentials(&self, user: &str, password: &str) {
        let digest = self.digest(user, password);
        let mut verified = lock(&self.verified);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(digest);
    }

    /// A new login through the login page, starting `now`.
    pub fn new_cookie_login(&self, now: SystemTime) -> CookieLogin {
        let id: [u8; 16] = rand::random();
        CookieLogin {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            expires: now + self.session_ttl,
        }
    }

    /// Ends a login through the login page before its time.
    pub fn sign_out(&self, login: &CookieLogin, now: SystemTime) {
        let mut signed_out = lock(&self.signed_out);
        // Expired logins are refused anyway; forgetting them bounds the map
        // by the logins of one session lifetime.
        signed_out.retain(|_, expires| *expires > now);
        if login.expires > now {
            signed_out.insert(login.id.clone(), login.expires);
        }
    }

    /// Why `login` no longer holds at `now` (the socket is then closed with
    /// 1008), or `None` while it does. Without a password file, nobody's
    /// login lapses.
    pub fn lapsed(&self, login: &Login, now: SystemTime) -> Option<&'static str> {
        if !self.access.requires_login() {
            return None;
        }
        let Some(user) = &login.user else {
            return Some("sign in first");
        };
        if !self.access.user_exists(user) {
            return Some("the user is no longer in the password file");
        }
        let cookie = login.cookie.as_ref()?;
        if cookie.expires <= now {
            return Some("the login expired");
        }
        if lock(&self.signed_out).contains_key(&cookie.id) {
            return Some("signed out");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Acl, Users};
    use std::path::Path;

    const PASSWD: &str = "alice:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==\n";

    fn gate_with(acl: Option<&str>) -> Gate {
        let users = Users::parse(PASSWD, Path::new("passwd")).unwrap();
        let acl = acl.map(|text| Acl::parse(text, Path::new("acl")).unwrap());
        Gate::new(
            Access::new(Some(users), acl),
            Duration::from_secs(60),
            false,
        )
    }

    #[test]
    fn with_users_only_health_and_the_login_page_are_open() {
        let gate = gate_with(None);
        for open in ["/healthz", "/readyz", "/login", "/static/style.css"] {
            assert!(!gate.needs_user(open), "{open}");
        }
        for closed in ["/", "/ws", "/api/topics", "/metrics", "/static/app.js"] {
            assert!(gate.needs_user(closed), "{closed}");
        }
        let public_metrics = Gate::new(Access::new(None, None), Duration::from_secs(1), true);
        assert!(!public_metrics.needs_user("/api/topics"));
        let gate = Gate {
            metrics_public: true,
            ..gate_with(None)
        };
        assert!(!gate.needs_user("/metrics"));
    }

    #[test]
    fn a_cookie_login_lapses_when_it_expires_or_is_signed_out() {
        let gate = gate_with(None);
        let now = SystemTime::now();
        let cookie = gate.new_cookie_login(now);
        let other = gate.new_cookie_login(now);
        assert_ne!(cookie.id, other.id);
        let login = Login {
            user: Some("alice".into()),
            cookie: Some(cookie.clone()),
        };
        assert_eq!(gate.lapsed(&login, now), None);
        assert_eq!(
            gate.lapsed(&login, now + Duration::from_secs(60)),
            Some("the login expired")
        );
        gate.sign_out(&cookie, now);
        assert_eq!(gate.lapsed(&login, now), Some("signed out"));
        let still = Login {
            cookie: Some(other),
            ..login
        };
        assert_eq!(gate.lapsed(&still, now), None);
    }

    #[test]
    fn a_login_lapses_when_its_user_is_gone_and_never_without_users() {
        let gate = gate_with(None);
        let now = SystemTime::now();
        assert_eq!(gate.lapsed(&Login::basic("alice"), now), None);
        assert!(gate.lapsed(&Login::basic("bob"), now).is_some());
        assert!(gate.lapsed(&Login::anonymous(), now).is_some());
        let open = Gate::new(Access::open_to_all(), Duration::from_secs(1), false);
        assert_eq!(open.lapsed(&Login::anonymous(), now), None);
    }

    #[test]
    fn refusals_become_forbidden_invalid_topic_or_unauthorized() {
        let gate = gate_with(Some("user alice\ntopic read plant/#\n"));
        let alice = Login::basic("alice");
        let access = &gate.access;
        assert!(enforce(access.can_subscribe(&alice.who(), "plant/+/t")).is_ok());
        let err = enforce(access.can_publish(&alice.who(), "plant/x")).unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
        let err = enforce(access.can_subscribe(&alice.who(), "a/#/b")).unwrap_err();
        assert_eq!(err.code, Code::InvalidTopic);
        let err = enforce(access.can_read(&Login::anonymous().who(), "plant/x")).unwrap_err();
        assert_eq!(err.code, Code::Unauthorized);
    }

    #[test]
    fn verified_credentials_are_remembered_until_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, PASSWD).unwrap();
        let gate = Gate::new(
            Access::open(Some(&passwd), None).unwrap(),
            Duration::from_secs(60),
            false,
        );
        assert!(!gate.known_credentials("alice", "secret"));
        gate.remember_credentials("alice", "secret");
        assert!(gate.known_credentials("alice", "secret"));
        assert!(!gate.known_credentials("alice", "secreT"));
        assert!(!gate.known_credentials("alicesecret", ""));
        gate.reload().unwrap();
        assert!(!gate.known_credentials("alice", "secret"));
    }

    #[test]
    fn sign_in_failures_are_limited_per_address() {
        let gate = gate_with(None);
        let addr: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..5 {
            assert!(gate.begin_sign_in(addr).is_ok());
        }
        assert!(gate.begin_sign_in(addr).is_err());
        assert!(gate.begin_sign_in([192, 0, 2, 2].into()).is_ok());
    }
}
