//! Mosquitto's password file and ACL file as the bridge's access control:
//! [`MosquittoAuth`] is both its [`Authenticator`] (HTTP Basic auth, or the
//! cookie of a login form) and its [`Authorizer`] (the ACL), and re-reads
//! both files on [`MosquittoAuth::reload`] (what SIGHUP does in Mosquitto).
//!
//! - `passwd.rs`: password files and password checks;
//! - `acl.rs`: ACL files and their decisions, over `filter.rs` (covers,
//!   overlaps);
//! - `policy.rs`: the two files as one policy, swapped as a pair;
//! - `ratelimit.rs`: failed sign-ins per address and per account;
//! - `signouts.rs`: the bounded list of signed-out logins;
//! - `login.rs`: the login cookie, Basic credentials, `POST /login` and
//!   `POST /logout`;
//! - this file: the state of sign-ins (failures, sign-outs, verified
//!   credentials) and the two traits.

mod acl;
mod filter;
mod login;
mod passwd;
mod policy;
mod ratelimit;
mod signouts;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha512};

use self::policy::{Policy, Reason, Who};
use self::ratelimit::{Account, KnownAddresses, LoginLimiter};
use self::signouts::SignOuts;
use crate::web::access::{Access, Authorizer, Operation, Principal};
use crate::web::error::BridgeError;

pub use self::login::LoginPage;
pub use self::policy::Reloaded;

/// The most Basic-auth credentials remembered at once.
const VERIFIED_CAPACITY: usize = 1024;

/// Access control by a Mosquitto password file and ACL file (either may be
/// absent). Cheap to clone: clones share the files and the state of sign-ins.
///
/// | password file | ACL file | who may do what |
/// |---|---|---|
/// | no  | no  | anyone, anything except `$share/...` |
/// | yes | no  | signed-in users, anything except `$share/...` |
/// | no  | yes | anyone, as the ACL allows anonymous clients |
/// | yes | yes | signed-in users, as the ACL allows them |
///
/// With a password file, a request signs in with HTTP Basic auth or with the
/// cookie that [`MosquittoAuth::login_routes`] sets (serve them under
/// [`MosquittoAuth::session_middleware`]); failed sign-ins are limited per
/// address (`429`). Refusals are logged at info with the ACL line that
/// decided.
///
/// ```no_run
/// # fn demo() -> Result<(), mqtt_actor::web::BridgeError> {
/// use std::path::Path;
/// let auth = mqtt_actor::web::MosquittoAuth::open(
///     Some(Path::new("/etc/mosquitto/passwd")),
///     Some(Path::new("/etc/mosquitto/acl")),
/// )?;
/// // On SIGHUP: the old files stay in force if the new ones are broken.
/// auth.reload()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MosquittoAuth {
    shared: Arc<SignIns>,
    /// How long a login through the login form lasts.
    login_ttl: Duration,
    /// How long `POST /login` may take to send its body.
    body_timeout: Duration,
}

/// The files and the state of sign-ins, shared by every clone.
#[derive(Debug)]
struct SignIns {
    policy: Policy,
    /// Failed sign-ins per address (Basic auth and the login form alike).
    limiter: Mutex<LoginLimiter>,
    /// Failed sign-ins per account, from every address but those in `known`
    /// (locked after `limiter`, never the other way round).
    accounts: Mutex<LoginLimiter<Account>>,
    /// The addresses each account signed in from: its user is never locked
    /// out there by failures elsewhere.
    known: Mutex<KnownAddresses>,
    /// Logins ended by signing out, until they would have expired, so that a
    /// copy of the cookie stops working with the original; bounded.
    signed_out: Mutex<SignOuts>,
    /// Basic-auth credentials verified since the last reload, as digests
    /// salted per process: a program that sends them with every request pays
    /// for the password hash once, and its requests in flight never count as
    /// failed sign-ins. Emptied on reload and when full.
    verified: Mutex<HashSet<Vec<u8>>>,
    salt: [u8; 32],
    /// The key of credential fingerprints (see [`MosquittoAuth::fingerprint`]):
    /// derived from the cookie's key once [`MosquittoAuth::session_middleware`]
    /// has it, so that a cookie outlives a restart with the same key; `salt`
    /// until then.
    fingerprint_key: OnceLock<[u8; 32]>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps stay consistent at every step, so a panic elsewhere
    // leaves them usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MosquittoAuth {
    /// The policy of the given files, read now; a login through the login
    /// form lasts 12 hours (see [`MosquittoAuth::login_lasts`]).
    pub fn open(
        password_file: Option<&Path>,
        acl_file: Option<&Path>,
    ) -> Result<MosquittoAuth, BridgeError> {
        Ok(MosquittoAuth::with_policy(Policy::open(
            password_file,
            acl_file,
        )?))
    }

    fn with_policy(policy: Policy) -> MosquittoAuth {
        MosquittoAuth {
            shared: Arc::new(SignIns {
                policy,
                limiter: Mutex::new(LoginLimiter::default()),
                accounts: Mutex::new(LoginLimiter::per_account()),
                known: Mutex::new(KnownAddresses::default()),
                signed_out: Mutex::new(SignOuts::default()),
                verified: Mutex::new(HashSet::new()),
                salt: rand::random(),
                fingerprint_key: OnceLock::new(),
            }),
            login_ttl: Duration::from_secs(12 * 3600),
            body_timeout: Duration::from_secs(10),
        }
    }

    /// The same, with logins through the login form lasting `ttl`.
    pub fn login_lasts(mut self, ttl: Duration) -> MosquittoAuth {
        self.login_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The same, keeping at most `count` sign-outs (default 10,000; at least
    /// one). At the bound, the sign-out that would expire first makes way,
    /// and every login ending no later than it ends too (their users sign in
    /// again); nothing signed out ever works again. Call it before serving:
    /// it empties the list, for every clone.
    pub fn max_sign_outs(self, count: usize) -> MosquittoAuth {
        *lock(&self.shared.signed_out) = SignOuts::new(count);
        self
    }

    /// The same, with `POST /login` cut off (`408`) when its body has not
    /// arrived whole within `timeout` of the handler starting to read it
    /// (default 10 s).
    pub fn login_body_timeout(mut self, timeout: Duration) -> MosquittoAuth {
        self.body_timeout = timeout;
        self
    }

    /// True when a password file is set: then every request needs a user.
    pub fn requires_login(&self) -> bool {
        self.shared.policy.requires_login()
    }

    /// Re-reads both files. On any error the files in force stay (both), and
    /// the error says why. Open sessions are checked against the new files at
    /// their next request or heartbeat, or at once with
    /// [`BridgeHandle::recheck`](crate::web::BridgeHandle::recheck).
    pub fn reload(&self) -> Result<Reloaded, BridgeError> {
        let reloaded = self.shared.policy.reload()?;
        lock(&self.shared.verified).clear();
        Ok(reloaded)
    }

    /// The account `user` as the limiter counts it.
    fn account(&self, user: &str) -> Account {
        let digest = Sha512::new()
            .chain_update(self.shared.salt)
            .chain_update(b"account\0")
            .chain_update(user.as_bytes())
            .finalize();
        let mut account = [0u8; 16];
        account.copy_from_slice(&digest[..16]);
        account
    }

    /// Before checking `user`'s password from `addr`: `Err(wait)` when the
    /// address has failed too often this minute, or the account too often
    /// these ten minutes (unless it signed in from `addr` before). The
    /// attempt counts as a failure of both until [`MosquittoAuth::signed_in`]
    /// takes it back; `Ok(true)` when the account's limit counted it.
    fn begin_sign_in(&self, addr: IpAddr, user: &str) -> Result<bool, Duration> {
        let now = Instant::now();
        let mut limiter = lock(&self.shared.limiter);
        limiter.begin(addr, now)?;
        let account = self.account(user);
        if lock(&self.shared.known).contains(account, addr) {
            return Ok(false);
        }
        if let Err(wait) = lock(&self.shared.accounts).begin(account, now) {
            // Refused unchecked: not a failure of the address.
            limiter.forgive(addr);
            return Err(wait);
        }
        Ok(true)
    }

    /// Whether the sign-in limits refuse `user` from `addr` now
    /// (`Err(wait)`), without counting an attempt: asked before any cache of
    /// verified credentials.
    fn sign_in_refused(&self, addr: IpAddr, user: &str) -> Result<(), Duration> {
        let now = Instant::now();
        lock(&self.shared.limiter).check(addr, now)?;
        let account = self.account(user);
        if lock(&self.shared.known).contains(account, addr) {
            return Ok(());
        }
        lock(&self.shared.accounts).check(account, now)
    }

    /// `user`'s password from `addr` was right: takes back the attempt
    /// (from the account's count too when `counted`), and remembers the
    /// address for the account.
    fn signed_in(&self, addr: IpAddr, user: &str, counted: bool) {
        lock(&self.shared.limiter).forgive(addr);
        let account = self.account(user);
        if counted {
            lock(&self.shared.accounts).forgive(account);
        }
        lock(&self.shared.known).insert(account, addr);
    }

    fn digest(&self, user: &str, password: &str) -> Vec<u8> {
        Sha512::new()
            .chain_update(self.shared.salt)
            .chain_update((user.len() as u64).to_be_bytes())
            .chain_update(user.as_bytes())
            .chain_update(password.as_bytes())
            .finalize()
            .to_vec()
    }

    /// Keys credential fingerprints with (a digest of) `secret`, the
    /// cookie's key; the first key given stays.
    fn key_fingerprints(&self, secret: &[u8]) {
        let digest = Sha512::new()
            .chain_update(b"mqtt-actor credential fingerprint\0")
            .chain_update(secret)
            .finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest[..32]);
        let _ = self.shared.fingerprint_key.set(key);
    }

    /// The fingerprint of `user`'s line in the password file (a keyed digest,
    /// never the hash): a sign-in carries the one it was checked against, and
    /// lapses when the line changes. `None` when the user is not in the file.
    fn fingerprint(&self, user: &str) -> Option<String> {
        let key = self
            .shared
            .fingerprint_key
            .get()
            .unwrap_or(&self.shared.salt);
        self.shared.policy.fingerprint(user, key)
    }

    /// `user`, signed in against their current line of the password file.
    fn signed_in_user(&self, user: String) -> Principal {
        match self.fingerprint(&user) {
            Some(fingerprint) => Principal::user(user).credential(fingerprint),
            None => Principal::user(user),
        }
    }

    /// Whether these Basic-auth credentials were verified since the last
    /// reload (then they need no check against the password file).
    fn known_credentials(&self, user: &str, password: &str) -> bool {
        let digest = self.digest(user, password);
        lock(&self.shared.verified).contains(&digest)
    }

    /// Remembers Basic-auth credentials that were just verified.
    fn remember_credentials(&self, user: &str, password: &str) {
        let digest = self.digest(user, password);
        let mut verified = lock(&self.shared.verified);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(digest);
    }

    /// Checks a password under the sign-in limits: `Ok(right)`, or
    /// `Err(wait)` when the client's address or the account has failed too
    /// often. Every check counts as a failure of both until it turns out
    /// right.
    async fn check_password(
        &self,
        ip: IpAddr,
        user: &str,
        password: &str,
    ) -> Result<bool, Duration> {
        let counted = self.begin_sign_in(ip, user)?;
        let auth = self.clone();
        let (name, password) = (user.to_string(), password.to_string());
        // Hashing is CPU-bound (PBKDF2): off the server's threads.
        let right =
            actix_web::web::block(move || auth.shared.policy.authenticate(&name, &password))
                .await
                .unwrap_or(false);
        if right {
            self.signed_in(ip, user, counted);
        } else {
            log::info!("failed sign-in from {ip}");
        }
        Ok(right)
    }

    /// A new login through the login form, starting `now`: its id and end.
    fn new_login(&self, now: SystemTime) -> (String, SystemTime) {
        let id: [u8; 16] = rand::random();
        let id = id.iter().map(|b| format!("{b:02x}")).collect();
        (id, now + self.login_ttl)
    }

    /// Ends the login `id` (ending at `expires`) before its time.
    fn sign_out(&self, id: &str, expires: SystemTime, now: SystemTime) {
        lock(&self.shared.signed_out).sign_out(id, expires, now);
    }

    /// Why `principal` no longer holds at `now`, or `None` while it does.
    /// Without a password file, nobody's login lapses. A principal with a
    /// credential fingerprint lapses when the user's line in the password
    /// file changes (a new password); one without (the owner of a server-side
    /// subscription) only when the user is gone.
    fn lapsed(&self, principal: &Principal, now: SystemTime) -> Option<&'static str> {
        let policy = &self.shared.policy;
        if !policy.requires_login() {
            return None;
        }
        let Some(user) = &principal.user else {
            return Some("sign in first");
        };
        let Some(current) = self.fingerprint(user) else {
            return Some("the user is no longer in the password file");
        };
        if principal
            .credential
            .as_ref()
            .is_some_and(|signed_in_with| *signed_in_with != current)
        {
            return Some("the password changed");
        }
        let id = principal.login_id.as_ref()?;
        let end = principal.expires_at?;
        if end <= now {
            return Some("the login expired");
        }
        if lock(&self.shared.signed_out).contains(id, end) {
            return Some("signed out");
        }
        None
    }
}

impl Authorizer for MosquittoAuth {
    fn authorize(&self, principal: &Principal, operation: Operation, target: &str) -> Access {
        let who = Who {
            user: principal.user.as_deref(),
            client_id: None,
        };
        let policy = &self.shared.policy;
        let decision = match operation {
            Operation::Subscribe => policy.can_subscribe(&who, target),
            Operation::Publish => policy.can_publish(&who, target),
            Operation::Read => policy.can_read(&who, target),
        };
        let Err(refusal) = decision else {
            return Access::Allow;
        };
        if refusal.reason == Reason::Invalid {
            // Not a refusal of access: the library's own error says what is wrong.
            let invalid = match operation {
                Operation::Subscribe => crate::validate_filter(target),
                _ => crate::validate_topic(target),
            };
            let message = invalid.err().map_or(refusal.to_string(), |e| e.to_string());
            return Access::InvalidTopic(message);
        }
        log::info!("{}", refusal.log_line());
        match refusal.reason {
            Reason::SignInRequired => Access::Unauthorized(refusal.to_string()),
            _ => Access::Forbidden(refusal.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::acl::Acl;
    use super::passwd::Users;
    use super::*;

    const PASSWD: &str = "alice:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==\n";

    fn auth_with(acl: Option<&str>) -> MosquittoAuth {
        let users = Users::parse(PASSWD, Path::new("passwd")).unwrap();
        let acl = acl.map(|text| Acl::parse(text, Path::new("acl")).unwrap());
        MosquittoAuth::with_policy(Policy::new(Some(users), acl))
            .login_lasts(Duration::from_secs(60))
    }

    fn cookie_login(auth: &MosquittoAuth, now: SystemTime) -> Principal {
        let (id, end) = auth.new_login(now);
        Principal::user("alice").login_id(id).expires_at(end)
    }

    #[test]
    fn a_cookie_login_lapses_when_it_expires_or_is_signed_out() {
        let auth = auth_with(None);
        let now = SystemTime::now();
        let login = cookie_login(&auth, now);
        let other = cookie_login(&auth, now);
        assert_ne!(login.login_id, other.login_id);
        assert_eq!(auth.lapsed(&login, now), None);
        assert_eq!(
            auth.lapsed(&login, now + Duration::from_secs(60)),
            Some("the login expired")
        );
        let id = login.login_id.clone().unwrap();
        auth.sign_out(&id, login.expires_at.unwrap(), now);
        assert_eq!(auth.lapsed(&login, now), Some("signed out"));
        assert_eq!(auth.lapsed(&other, now), None);
    }

    #[test]
    fn a_login_lapses_when_its_user_is_gone_and_never_without_users() {
        let auth = auth_with(None);
        let now = SystemTime::now();
        assert_eq!(auth.lapsed(&Principal::user("alice"), now), None);
        assert!(auth.lapsed(&Principal::user("bob"), now).is_some());
        assert!(auth.lapsed(&Principal::anonymous(), now).is_some());
        let open = MosquittoAuth::open(None, None).unwrap();
        assert_eq!(open.lapsed(&Principal::anonymous(), now), None);
    }

    #[test]
    fn a_login_lapses_when_its_users_password_line_changes() {
        const BOB: &str = "bob:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==\n";
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, format!("{PASSWD}{BOB}")).unwrap();
        let auth = MosquittoAuth::open(Some(&passwd), None).unwrap();
        let now = SystemTime::now();
        let alice = auth.signed_in_user("alice".into());
        let bob = auth.signed_in_user("bob".into());
        assert!(alice.credential.is_some());
        // The same hash under another name is another credential.
        assert_ne!(alice.credential, bob.credential);
        assert_eq!(auth.lapsed(&alice, now), None);

        let changed = PASSWD.replace("$JqsxEv", "$KqsxEv");
        std::fs::write(&passwd, format!("{changed}{BOB}")).unwrap();
        auth.reload().unwrap();
        assert_eq!(auth.lapsed(&alice, now), Some("the password changed"));
        assert_eq!(auth.lapsed(&bob, now), None);
        // A new sign-in is tied to the new line; an owner without a
        // credential only needs to exist.
        assert_eq!(auth.lapsed(&auth.signed_in_user("alice".into()), now), None);
        assert_eq!(auth.lapsed(&Principal::user("alice"), now), None);
    }

    #[test]
    fn refusals_become_forbidden_invalid_topic_or_unauthorized() {
        let auth = auth_with(Some("user alice\ntopic read plant/#\n"));
        let alice = Principal::user("alice");
        let decide = |who: &Principal, op, target| auth.authorize(who, op, target);
        assert_eq!(
            decide(&alice, Operation::Subscribe, "plant/+/t"),
            Access::Allow
        );
        assert!(matches!(
            decide(&alice, Operation::Publish, "plant/x"),
            Access::Forbidden(_)
        ));
        assert!(matches!(
            decide(&alice, Operation::Subscribe, "a/#/b"),
            Access::InvalidTopic(_)
        ));
        assert!(matches!(
            decide(&Principal::anonymous(), Operation::Read, "plant/x"),
            Access::Unauthorized(_)
        ));
    }

    #[test]
    fn verified_credentials_are_remembered_until_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, PASSWD).unwrap();
        let auth = MosquittoAuth::open(Some(&passwd), None).unwrap();
        assert!(!auth.known_credentials("alice", "secret"));
        auth.remember_credentials("alice", "secret");
        assert!(auth.known_credentials("alice", "secret"));
        assert!(!auth.known_credentials("alice", "secreT"));
        assert!(!auth.known_credentials("alicesecret", ""));
        auth.reload().unwrap();
        assert!(!auth.known_credentials("alice", "secret"));
    }

    #[test]
    fn sign_in_failures_are_limited_per_address() {
        let auth = auth_with(None);
        let addr: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..5 {
            assert!(auth.begin_sign_in(addr, "alice").is_ok());
        }
        assert!(auth.begin_sign_in(addr, "bob").is_err());
        assert!(auth.begin_sign_in([192, 0, 2, 2].into(), "alice").is_ok());
    }

    #[test]
    fn failures_from_many_addresses_lock_the_account_but_not_where_it_signed_in() {
        let auth = auth_with(None);
        let home: IpAddr = [192, 0, 2, 1].into();
        let counted = auth.begin_sign_in(home, "alice").unwrap();
        auth.signed_in(home, "alice", counted);
        for last in 0..ratelimit::ACCOUNT_MAX_FAILURES {
            let addr: IpAddr = [198, 51, 100, last as u8].into();
            assert!(auth.begin_sign_in(addr, "alice").is_ok());
        }
        let stranger: IpAddr = [203, 0, 113, 1].into();
        assert!(auth.begin_sign_in(stranger, "alice").is_err());
        assert!(auth.sign_in_refused(stranger, "alice").is_err());
        // The refusal cost the stranger's address nothing.
        assert!(auth.sign_in_refused(stranger, "bob").is_ok());
        assert!(auth.begin_sign_in(stranger, "bob").is_ok());
        assert!(auth.sign_in_refused(home, "alice").is_ok());
        assert!(auth.begin_sign_in(home, "alice").is_ok());
    }
}
