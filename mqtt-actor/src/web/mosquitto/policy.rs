//! The access policy of a Mosquitto password file and ACL file, as plain
//! values without I/O beyond reading the two files: [`Policy`] holds both and
//! swaps them as a pair on [`Policy::reload`] (SIGHUP).
//!
//! The policy, in one place:
//!
//! | password file | ACL file | who may do what |
//! |---|---|---|
//! | no  | no  | anyone, anything except `$share/...` |
//! | yes | no  | signed-in users, anything except `$share/...` |
//! | no  | yes | anyone, as the ACL allows anonymous clients |
//! | yes | yes | signed-in users, as the ACL allows them |
//!
//! Every "no" is a [`Refusal`]: its `Display` is the message for the client's
//! `forbidden` error; [`Refusal::log_line`] is the line for the info log.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use super::acl::Who;
use super::acl::{Acl, Denial, Need};
use super::filter;
use super::passwd::Users;
use crate::web::access::Operation;
use crate::web::error::BridgeError;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Users are configured and the client is not (or no longer) one of them.
    SignInRequired,
    /// The topic or filter breaks MQTT's rules (defensive: callers validate
    /// first and answer `invalid_topic`).
    Invalid,
    /// What the ACL file said.
    Acl(Denial),
    /// `$share/...` without an ACL file that names it.
    SharedWithoutAcl,
}

/// A refused request: who, what, on which topic or filter, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The user, if signed in.
    pub user: Option<String>,
    /// What was asked.
    pub operation: Operation,
    /// The topic or filter.
    pub target: String,
    /// Why not.
    pub reason: Reason,
    /// The ACL file, for the log line.
    acl_path: Option<PathBuf>,
}

impl Refusal {
    /// The info log line: `refused: user alice subscribe plant/# (...)`; it
    /// names ACL lines, which the client's message does not.
    pub fn log_line(&self) -> String {
        // Topics may hold line breaks; a log line must stay one line.
        let who = match &self.user {
            Some(user) => format!("user {}", user.escape_debug()),
            None => "anonymous client".to_string(),
        };
        let why = match (&self.reason, &self.acl_path) {
            (Reason::Acl(Denial::DeniedBy { line }), Some(path)) => {
                format!("denied by {}:{line}", path.display())
            }
            (Reason::Acl(Denial::NotGranted), Some(path)) => {
                format!("no line of {} grants it", path.display())
            }
            _ => self.why().to_string(),
        };
        format!(
            "refused: {who} {} {} ({why})",
            self.operation,
            self.target.escape_debug()
        )
    }

    fn why(&self) -> &'static str {
        match (&self.reason, self.operation) {
            (Reason::SignInRequired, _) => "sign in first",
            (Reason::Invalid, Operation::Subscribe) => "not a valid topic filter",
            (Reason::Invalid, _) => "not a valid topic",
            (Reason::SharedWithoutAcl, _) | (Reason::Acl(Denial::SharedNotNamed), _) => {
                "shared subscriptions need an ACL line naming them"
            }
            (Reason::Acl(Denial::UnsafeName), _) => {
                "the user name or client id contains '+', '#' or '/'"
            }
            (Reason::Acl(Denial::DeniedBy { .. }), _) => "access denied",
            (Reason::Acl(Denial::NotGranted), Operation::Subscribe) => {
                "needs read access to every topic the filter matches"
            }
            (Reason::Acl(Denial::NotGranted), Operation::Publish) => "needs write access",
            (Reason::Acl(Denial::NotGranted), _) => "needs read access",
        }
    }
}

/// The message for the client's `forbidden` error.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = match self.operation {
            Operation::Subscribe | Operation::Publish => " to",
            _ => "",
        };
        write!(
            f,
            "not allowed to {}{to} {}: {}",
            self.operation,
            self.target,
            self.why()
        )
    }
}

impl std::error::Error for Refusal {}

/// What [`MosquittoAuth::reload`](crate::web::MosquittoAuth::reload) loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Users in the password file, if there is one.
    pub users: Option<usize>,
    /// `topic` and `pattern` lines in the ACL file, if there is one.
    pub acl_rules: Option<usize>,
}

#[derive(Debug)]
struct Files {
    users: Option<Users>,
    acl: Option<Acl>,
}

/// The access policy: the password file and ACL file the app was started with,
/// swappable as a pair while requests keep using it.
#[derive(Debug)]
pub struct Policy {
    /// Replaced whole on reload, so a decision never sees a new password file
    /// with an old ACL; readers hold the lock only to clone the `Arc`.
    files: RwLock<Arc<Files>>,
}

impl Policy {
    /// The policy of the given files, read now.
    pub fn open(
        password_file: Option<&std::path::Path>,
        acl_file: Option<&std::path::Path>,
    ) -> Result<Policy, BridgeError> {
        let users = password_file.map(Users::load).transpose()?;
        let acl = acl_file.map(Acl::load).transpose()?;
        Ok(Policy::new(users, acl))
    }

    /// The policy of already loaded files.
    pub fn new(users: Option<Users>, acl: Option<Acl>) -> Policy {
        Policy {
            files: RwLock::new(Arc::new(Files { users, acl })),
        }
    }

    #[cfg(test)]
    /// No password file, no ACL: anyone, anything but `$share`.
    pub fn open_to_all() -> Policy {
        Policy::new(None, None)
    }

    fn files(&self) -> Arc<Files> {
        // A panic while holding the lock cannot leave `Files` half-written: the
        // only writer swaps one `Arc`.
        match self.files.read() {
            Ok(files) => files.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads both files from where they were loaded. On any error the
    /// policy in force stays as it was (both files), and the error says why.
    pub fn reload(&self) -> Result<Reloaded, BridgeError> {
        let current = self.files();
        let users = current
            .users
            .as_ref()
            .map(|u| Users::load(u.path()))
            .transpose()?;
        let acl = current
            .acl
            .as_ref()
            .map(|a| Acl::load(a.path()))
            .transpose()?;
        let reloaded = Reloaded {
            users: users.as_ref().map(Users::len),
            acl_rules: acl.as_ref().map(Acl::rules),
        };
        let fresh = Arc::new(Files { users, acl });
        match self.files.write() {
            Ok(mut files) => *files = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(reloaded)
    }

    /// True when a password file is configured: every route but the open ones
    /// needs a user.
    pub fn requires_login(&self) -> bool {
        self.files().users.is_some()
    }

    #[cfg(test)]
    /// True when an ACL file is configured (listings are then filtered).
    pub fn has_acl(&self) -> bool {
        self.files().acl.is_some()
    }

    /// Whether `user` / `password` sign in. Unknown users and wrong passwords
    /// take the same path; without a password file nobody signs in. CPU-bound
    /// (PBKDF2): call it from `web::block` when the file has many iterations.
    pub fn authenticate(&self, user: &str, password: &str) -> bool {
        match &self.files().users {
            Some(users) => users.verify(user, password),
            None => false,
        }
    }

    #[cfg(test)]
    /// Whether `user` is still in the password file. False without a
    /// password file.
    pub fn user_exists(&self, user: &str) -> bool {
        self.files()
            .users
            .as_ref()
            .is_some_and(|users| users.contains(user))
    }

    /// The fingerprint of `user`'s password-file line under `key` (see
    /// [`Users::fingerprint`]); `None` when the file does not name `user`,
    /// or there is no file.
    pub fn fingerprint(&self, user: &str, key: &[u8]) -> Option<String> {
        self.files().users.as_ref()?.fingerprint(user, key)
    }

    /// Whether `who` may subscribe to `filter` (or hold it server-side, or see
    /// it in `/api/subscriptions`).
    pub fn can_subscribe(&self, who: &Who<'_>, filter: &str) -> Result<(), Refusal> {
        self.decide(who, Operation::Subscribe, filter, |acl, who| {
            acl.check_subscribe(who, filter)
        })
    }

    /// Whether `who` may publish to `topic`.
    pub fn can_publish(&self, who: &Who<'_>, topic: &str) -> Result<(), Refusal> {
        self.decide(who, Operation::Publish, topic, |acl, who| {
            acl.check_topic(who, topic, Need::Write)
        })
    }

    /// Whether `who` may see `topic` (e.g. in `/api/topics`).
    pub fn can_read(&self, who: &Who<'_>, topic: &str) -> Result<(), Refusal> {
        self.decide(who, Operation::Read, topic, |acl, who| {
            acl.check_topic(who, topic, Need::Read)
        })
    }

    fn decide(
        &self,
        who: &Who<'_>,
        operation: Operation,
        target: &str,
        ask_acl: impl FnOnce(&Acl, &Who<'_>) -> Result<(), Denial>,
    ) -> Result<(), Refusal> {
        let files = self.files();
        // Without a password file nobody is signed in, whatever name is passed.
        let who = match &files.users {
            Some(_) => *who,
            None => Who { user: None, ..*who },
        };
        let refuse = |reason| Refusal {
            user: who.user.map(str::to_string),
            operation,
            target: target.to_string(),
            reason,
            acl_path: files.acl.as_ref().map(|a| a.path().to_path_buf()),
        };
        if let Some(users) = &files.users {
            if !who.user.is_some_and(|user| users.contains(user)) {
                return Err(refuse(Reason::SignInRequired));
            }
        }
        let valid = match operation {
            Operation::Subscribe => crate::validate_filter(target).is_ok(),
            _ => crate::validate_topic(target).is_ok(),
        };
        if !valid {
            return Err(refuse(Reason::Invalid));
        }
        match &files.acl {
            Some(acl) => ask_acl(acl, &who).map_err(|denial| refuse(Reason::Acl(denial))),
            None if operation == Operation::Subscribe && filter::split_shared(target).is_some() => {
                Err(refuse(Reason::SharedWithoutAcl))
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const PASSWD: &str = "alice:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==\n";

    fn users() -> Users {
        Users::parse(PASSWD, Path::new("passwd")).unwrap()
    }

    fn acl(text: &str) -> Acl {
        Acl::parse(text, Path::new("/etc/app/acl")).unwrap()
    }

    #[test]
    fn with_neither_file_anyone_may_do_anything_but_share() {
        let access = Policy::open_to_all();
        let nobody = Who::anonymous();
        assert!(!access.requires_login());
        assert!(access.can_subscribe(&nobody, "#").is_ok());
        assert!(access.can_subscribe(&nobody, "$SYS/#").is_ok());
        assert!(access.can_publish(&nobody, "plant/x").is_ok());
        assert!(access.can_read(&nobody, "plant/x").is_ok());
        let refusal = access.can_subscribe(&nobody, "$share/g/#").unwrap_err();
        assert_eq!(refusal.reason, Reason::SharedWithoutAcl);
        assert!(!access.authenticate("alice", "secret"));
    }

    #[test]
    fn with_a_password_file_only_signed_in_users_may_do_anything_but_share() {
        let access = Policy::new(Some(users()), None);
        assert!(access.requires_login());
        assert!(access.authenticate("alice", "secret"));
        assert!(!access.authenticate("alice", "wrong"));
        assert!(!access.authenticate("mallory", "secret"));
        let alice = Who::user("alice");
        assert!(access.can_subscribe(&alice, "#").is_ok());
        assert!(access.can_publish(&alice, "a/b").is_ok());
        assert_eq!(
            access
                .can_subscribe(&alice, "$share/g/a")
                .unwrap_err()
                .reason,
            Reason::SharedWithoutAcl
        );
        for who in [Who::anonymous(), Who::user("mallory")] {
            let refusal = access.can_publish(&who, "a/b").unwrap_err();
            assert_eq!(refusal.reason, Reason::SignInRequired);
        }
    }

    #[test]
    fn with_an_acl_only_everyone_is_anonymous() {
        let access = Policy::new(
            None,
            Some(acl("topic read public/#\nuser alice\ntopic #\n")),
        );
        let claims_alice = Who::user("alice");
        assert!(access.can_read(&claims_alice, "public/x").is_ok());
        let refusal = access.can_publish(&claims_alice, "x").unwrap_err();
        assert_eq!(refusal.user, None);
        assert_eq!(refusal.reason, Reason::Acl(Denial::NotGranted));
    }

    #[test]
    fn with_both_files_the_acl_decides_for_signed_in_users() {
        let access = Policy::new(
            Some(users()),
            Some(acl("user alice\ntopic read plant/line1/#\n")),
        );
        let alice = Who::user("alice");
        assert!(access.has_acl());
        assert!(access.can_subscribe(&alice, "plant/line1/+/temp").is_ok());
        let refusal = access.can_subscribe(&alice, "plant/#").unwrap_err();
        assert_eq!(refusal.reason, Reason::Acl(Denial::NotGranted));
        assert_eq!(
            refusal.to_string(),
            "not allowed to subscribe to plant/#: needs read access to every topic the filter matches"
        );
        assert_eq!(
            refusal.log_line(),
            "refused: user alice subscribe plant/# (no line of /etc/app/acl grants it)"
        );
        assert!(access.can_publish(&alice, "plant/line1/x").is_err());
        assert_eq!(
            access
                .can_read(&Who::anonymous(), "plant/line1/x")
                .unwrap_err()
                .reason,
            Reason::SignInRequired
        );
    }

    #[test]
    fn a_refusal_logs_the_denying_line_but_tells_the_client_less() {
        let access = Policy::new(None, Some(acl("topic #\ntopic deny secret\n")));
        let refusal = access.can_publish(&Who::anonymous(), "secret").unwrap_err();
        assert_eq!(
            refusal.log_line(),
            "refused: anonymous client publish secret (denied by /etc/app/acl:2)"
        );
        assert_eq!(
            refusal.to_string(),
            "not allowed to publish to secret: access denied"
        );
    }

    #[test]
    fn a_log_line_stays_one_line_whatever_the_topic() {
        let access = Policy::new(None, Some(acl("topic read a/#\n")));
        let refusal = access
            .can_publish(&Who::anonymous(), "a/x\nrefused: user root")
            .unwrap_err();
        let line = refusal.log_line();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("a/x\\nrefused"), "{line}");
    }

    #[test]
    fn an_invalid_topic_or_filter_is_refused_rather_than_judged() {
        let access = Policy::new(None, Some(acl("topic #\n")));
        let nobody = Who::anonymous();
        for bad in ["a/#/b", "", "a+", "$share/g"] {
            let refusal = access.can_subscribe(&nobody, bad).unwrap_err();
            assert_eq!(refusal.reason, Reason::Invalid, "{bad:?}");
        }
        for bad in ["a/+", "#", "", "a\0b"] {
            let refusal = access.can_publish(&nobody, bad).unwrap_err();
            assert_eq!(refusal.reason, Reason::Invalid, "{bad:?}");
            assert_eq!(
                access.can_read(&nobody, bad).unwrap_err().reason,
                Reason::Invalid
            );
        }
        assert!(access.can_publish(&nobody, "a/b").is_ok());
    }

    #[test]
    fn reload_swaps_both_files_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let acl_file = dir.path().join("acl");
        std::fs::write(&passwd, PASSWD).unwrap();
        std::fs::write(&acl_file, "user alice\ntopic read a/#\n").unwrap();
        let access = Policy::open(Some(&passwd), Some(&acl_file)).unwrap();
        let alice = Who::user("alice");
        assert!(access.can_publish(&alice, "a/1").is_err());

        std::fs::write(&acl_file, "user alice\ntopic readwrite a/#\n").unwrap();
        let bob = PASSWD.replace("alice:", "bob:");
        std::fs::write(&passwd, format!("{PASSWD}{bob}")).unwrap();
        assert_eq!(
            access.reload().unwrap(),
            Reloaded {
                users: Some(2),
                acl_rules: Some(1)
            }
        );
        assert!(access.can_publish(&alice, "a/1").is_ok());
        assert!(access.authenticate("bob", "secret"));

        // A broken ACL keeps the old password file too.
        std::fs::write(&passwd, PASSWD).unwrap();
        std::fs::write(&acl_file, "user alice\ntopic rw a/#\n").unwrap();
        let e = access.reload().unwrap_err().to_string();
        assert!(e.contains("acl:2"), "{e}");
        assert!(access.authenticate("bob", "secret"));
        assert!(access.can_publish(&alice, "a/1").is_ok());

        // A user removed from the file loses access at once.
        std::fs::write(&acl_file, "topic #\n").unwrap();
        access.reload().unwrap();
        assert!(!access.user_exists("bob"));
        assert_eq!(
            access
                .can_read(&Who::user("bob"), "a/1")
                .unwrap_err()
                .reason,
            Reason::SignInRequired
        );
    }

    #[test]
    fn open_names_the_file_it_cannot_read() {
        let e = Policy::open(Some(Path::new("/no/passwd")), None).unwrap_err();
        assert!(e.to_string().contains("/no/passwd"), "{e}");
        let e = Policy::open(None, Some(Path::new("/no/acl"))).unwrap_err();
        assert!(e.to_string().contains("/no/acl"), "{e}");
    }
}
