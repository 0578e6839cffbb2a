//! Mosquitto ACL files and the decisions they make for web clients.
//!
//! The format is Mosquitto's (`man mosquitto.conf`, `acl_file`), parsed the way
//! Mosquitto 2 parses it:
//! - `user NAME` starts the lines of one user (the name may contain spaces);
//! - `topic [read|write|readwrite|deny] FILTER`: without an access word the
//!   line grants `readwrite` (so `topic read` alone names the topic `read`, as
//!   in Mosquitto); the filter is the rest of the line and may contain spaces;
//! - `pattern [read|write|readwrite|deny] FILTER` applies to every client,
//!   wherever it stands, with `%u` replaced by the user name and `%c` by the
//!   client id; a pattern that needs one the client lacks does not apply;
//! - `#` starts a comment line; blank lines are skipped.
//!
//! Where this app differs from Mosquitto, it does so on purpose, and says so:
//! - `topic` lines before the first `user` apply to every client, signed in or
//!   not (Mosquitto applies them to anonymous clients only).
//! - A `deny` line that matches wins over any line that grants, wherever the
//!   two stand (Mosquitto lets a user's own grant win over a denying pattern).
//! - Subscribing needs one line granting read access to *every* topic the
//!   filter can match ([`super::filter::covers`]); a filter that could bring
//!   a denied topic is refused whole. Mosquitto checks each delivered message
//!   instead, which a shared web fan-out cannot do per client.
//! - `$share/GROUP/FILTER` needs a line that names exactly that text, and
//!   read access to `FILTER` as an ordinary subscription would: the bridge
//!   delivers a shared filter from every copy of `FILTER` the app receives
//!   (it cannot tell the share's copies apart), so a `$share` line alone
//!   grants the shared subscription only, never reading `FILTER`.
//! - A user name or client id containing `+`, `#` or `/` gets nothing from a
//!   pattern that would splice it in: refused, not narrowed (Mosquitto 1.x
//!   refused the same; 2.x allows `/`).
//! - Anything Mosquitto would refuse to start with is an error naming the file
//!   and the line; an unknown keyword too.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use paho_mqtt::topic_matcher::topic_matches;

use super::filter::{covers, overlaps, split_shared};
use crate::web::error::BridgeError;

/// The client a decision is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Who<'a> {
    /// The signed-in user; `None` for anonymous clients.
    pub user: Option<&'a str>,
    /// What ACL patterns' `%c` stands for (e.g. the session id); patterns using
    /// `%c` do not apply without one. Like a user name, it must not be empty
    /// or hold `+`, `#` or `/` when a pattern splices it in.
    pub client_id: Option<&'a str>,
}

impl<'a> Who<'a> {
    #[cfg(test)]
    /// A client nobody signed in as.
    pub fn anonymous() -> Who<'a> {
        Who::default()
    }

    #[cfg(test)]
    /// A client signed in as `name`.
    pub fn user(name: &'a str) -> Who<'a> {
        Who {
            user: Some(name),
            client_id: None,
        }
    }

    #[cfg(test)]
    /// The same client, with `id` for `%c`.
    pub fn with_client_id(self, id: &'a str) -> Who<'a> {
        Who {
            client_id: Some(id),
            ..self
        }
    }
}

/// What one ACL line allows for the topics its filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Receive (subscribe, list).
    Read,
    /// Publish.
    Write,
    /// Both; also what a line without an access word grants.
    ReadWrite,
    /// Nothing, whatever other lines say.
    Deny,
}

impl Permission {
    fn parse(word: &str) -> Option<Permission> {
        match word {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            "readwrite" => Some(Permission::ReadWrite),
            "deny" => Some(Permission::Deny),
            _ => None,
        }
    }

    fn reads(self) -> bool {
        matches!(self, Permission::Read | Permission::ReadWrite)
    }

    fn writes(self) -> bool {
        matches!(self, Permission::Write | Permission::ReadWrite)
    }
}

/// The access a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read access (receive a topic, or every topic of a filter).
    Read,
    /// Write access (publish a topic).
    Write,
}

/// Why the ACL said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No line grants the access (for a filter: no single line grants it for
    /// every topic the filter matches).
    NotGranted,
    /// A `deny` line matches.
    DeniedBy {
        /// 1-based line of the ACL file.
        line: usize,
    },
    /// A `$share/...` filter that no line names exactly.
    SharedNotNamed,
    /// The user name or client id holds `+`, `#` or `/` and a pattern would
    /// splice it into a filter.
    UnsafeName,
}

#[derive(Debug, Clone)]
struct Rule {
    filter: String,
    permission: Permission,
    line: usize,
}

/// A parsed ACL file.
#[derive(Clone)]
pub struct Acl {
    path: PathBuf,
    /// `topic` lines before the first `user` line.
    everyone: Vec<Rule>,
    users: HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
}

impl Acl {
    /// Reads and parses the ACL file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Acl, BridgeError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BridgeError::Read {
            what: "ACL file",
            path: path.to_path_buf(),
            source,
        })?;
        Acl::parse(&text, path)
    }

    /// Parses the text of an ACL file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Acl, BridgeError> {
        let mut acl = Acl {
            path: path.to_path_buf(),
            everyone: Vec::new(),
            users: HashMap::new(),
            patterns: Vec::new(),
        };
        let mut user: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let bad = |reason: String| BridgeError::FileLine {
                path: path.to_path_buf(),
                line,
                reason,
            };
            let text = raw.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let (keyword, rest) = split_word(text);
            match keyword {
                "user" => {
                    if rest.is_empty() {
                        return Err(bad("`user` needs a user name".into()));
                    }
                    acl.users.entry(rest.to_string()).or_default();
                    user = Some(rest.to_string());
                }
                "topic" | "pattern" => {
                    let rule = parse_rule(rest, line).map_err(bad)?;
                    if keyword == "pattern" {
                        acl.patterns.push(rule);
                    } else if let Some(user) = &user {
                        acl.users.entry(user.clone()).or_default().push(rule);
                    } else {
                        acl.everyone.push(rule);
                    }
                }
                other => {
                    return Err(bad(format!(
                        "unknown keyword {other:?} (expected user, topic or pattern)"
                    )))
                }
            }
        }
        Ok(acl)
    }

    /// The file this ACL came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many `topic` and `pattern` lines the file has.
    pub fn rules(&self) -> usize {
        self.everyone.len() + self.patterns.len() + self.users.values().map(Vec::len).sum::<usize>()
    }

    /// Whether `who` has `need` access to `topic` (a topic name, no
    /// wildcards): read to receive or list it, write to publish it.
    pub fn check_topic(&self, who: &Who<'_>, topic: &str, need: Need) -> Result<(), Denial> {
        let rules = self.rules_for(who)?;
        if let Some(rule) = rules
            .iter()
            .find(|r| r.permission == Permission::Deny && topic_matches(&r.filter, topic))
        {
            return Err(Denial::DeniedBy { line: rule.line });
        }
        let granted = |p: Permission| match need {
            Need::Read => p.reads(),
            Need::Write => p.writes(),
        };
        if rules
            .iter()
            .any(|r| granted(r.permission) && topic_matches(&r.filter, topic))
        {
            Ok(())
        } else {
            Err(Denial::NotGranted)
        }
    }

    /// Whether `who` may subscribe to `filter` (already valid by
    /// `crate::validate_filter`): read access to every topic it can match,
    /// nothing denied among them, and for `$share/GROUP/FILTER` a line
    /// naming it besides read access to every topic of `FILTER`.
    pub fn check_subscribe(&self, who: &Who<'_>, filter: &str) -> Result<(), Denial> {
        let rules = self.rules_for(who)?;
        let inner = split_shared(filter).map(|(_, inner)| inner);
        let reaches = |denied: &str| {
            overlaps(denied, filter) || inner.is_some_and(|inner| overlaps(denied, inner))
        };
        if let Some(rule) = rules
            .iter()
            .find(|r| r.permission == Permission::Deny && reaches(&r.filter))
        {
            return Err(Denial::DeniedBy { line: rule.line });
        }
        let reads = |wanted: &str| {
            rules
                .iter()
                .any(|r| r.permission.reads() && covers(&r.filter, wanted))
        };
        let named = || {
            rules
                .iter()
                .any(|r| r.permission.reads() && r.filter == filter)
        };
        match inner {
            Some(_) if !named() => Err(Denial::SharedNotNamed),
            Some(inner) if !reads(inner) => Err(Denial::NotGranted),
            Some(_) => Ok(()),
            None if reads(filter) => Ok(()),
            None => Err(Denial::NotGranted),
        }
    }

    /// The lines that apply to `who`, patterns filled in.
    fn rules_for<'a>(&'a self, who: &Who<'_>) -> Result<Vec<Cow<'a, Rule>>, Denial> {
        let own = who.user.and_then(|u| self.users.get(u));
        let mut rules: Vec<Cow<'a, Rule>> = self
            .everyone
            .iter()
            .chain(own.into_iter().flatten())
            .map(Cow::Borrowed)
            .collect();
        for pattern in &self.patterns {
            if let Some(rule) = fill_pattern(pattern, who)? {
                rules.push(Cow::Owned(rule));
            }
        }
        Ok(rules)
    }
}

/// `pattern` with `%u` and `%c` replaced; `None` when it needs a value `who`
/// does not have.
fn fill_pattern(pattern: &Rule, who: &Who<'_>) -> Result<Option<Rule>, Denial> {
    let mut filter = String::with_capacity(pattern.filter.len());
    let mut chars = pattern.filter.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            filter.push(c);
            continue;
        }
        let mut peek = chars.clone();
        let value = match peek.next() {
            Some('u') => who.user,
            Some('c') => who.client_id,
            _ => {
                filter.push(c);
                continue;
            }
        };
        let Some(value) = value else {
            return Ok(None);
        };
        if value.is_empty() || value.contains(['+', '#', '/']) {
            return Err(Denial::UnsafeName);
        }
        filter.push_str(value);
        chars = peek;
    }
    Ok(Some(Rule {
        filter,
        permission: pattern.permission,
        line: pattern.line,
    }))
}

/// The first word of `text` and the rest, both without surrounding blanks.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// The part of a `topic` / `pattern` line after its keyword.
fn parse_rule(rest: &str, line: usize) -> Result<Rule, String> {
    if rest.is_empty() {
        return Err("the line names no topic filter".into());
    }
    let (first, filter) = split_word(rest);
    let (permission, filter) = if filter.is_empty() {
        (Permission::ReadWrite, first)
    } else {
        let permission = Permission::parse(first).ok_or_else(|| {
            format!("unknown access {first:?} (expected read, write, readwrite or deny)")
        })?;
        (permission, filter)
    };
    crate::validate_filter(filter).map_err(|e| format!("{e}"))?;
    Ok(Rule {
        filter: filter.to_string(),
        permission,
        line,
    })
}

/// Shows the file and what it holds per user, for a start-up log line.
impl fmt::Debug for Acl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acl")
            .field("path", &self.path)
            .field("everyone", &self.everyone.len())
            .field("users", &self.users.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(text: &str) -> Acl {
        Acl::parse(text, Path::new("/etc/app/acl")).unwrap()
    }

    fn error_of(text: &str) -> String {
        Acl::parse(text, Path::new("/etc/app/acl"))
            .unwrap_err()
            .to_string()
    }

    const ALICE: Who<'static> = Who {
        user: Some("alice"),
        client_id: None,
    };
    const BOB: Who<'static> = Who {
        user: Some("bob"),
        client_id: None,
    };
    const NOBODY: Who<'static> = Who {
        user: None,
        client_id: None,
    };

    fn reads(acl: &Acl, who: &Who<'_>, topic: &str) -> bool {
        acl.check_topic(who, topic, Need::Read).is_ok()
    }

    fn writes(acl: &Acl, who: &Who<'_>, topic: &str) -> bool {
        acl.check_topic(who, topic, Need::Write).is_ok()
    }

    fn subscribes(acl: &Acl, who: &Who<'_>, filter: &str) -> bool {
        acl.check_subscribe(who, filter).is_ok()
    }

    #[test]
    fn a_read_only_user_subscribes_within_its_filter_only() {
        let acl = acl("user alice\ntopic read plant/line1/#\n");
        assert!(subscribes(&acl, &ALICE, "plant/line1/+/temp"));
        assert!(subscribes(&acl, &ALICE, "plant/line1/#"));
        assert!(subscribes(&acl, &ALICE, "plant/line1"));
        assert!(subscribes(&acl, &ALICE, "plant/line1/press/temp"));
        assert_eq!(
            acl.check_subscribe(&ALICE, "plant/#"),
            Err(Denial::NotGranted)
        );
        assert!(!subscribes(&acl, &ALICE, "plant/+/temp"));
        assert!(!subscribes(&acl, &ALICE, "#"));
        assert!(reads(&acl, &ALICE, "plant/line1/a/temp"));
        assert!(!reads(&acl, &ALICE, "plant/line2/a/temp"));
        assert!(!writes(&acl, &ALICE, "plant/line1/a/temp"));
    }

    #[test]
    fn access_words_grant_what_they_say() {
        let acl = acl("user alice\n\
             topic read r/#\n\
             topic write w/#\n\
             topic readwrite rw/#\n\
             topic both/#\n");
        assert!(reads(&acl, &ALICE, "r/x") && !writes(&acl, &ALICE, "r/x"));
        assert!(!reads(&acl, &ALICE, "w/x") && writes(&acl, &ALICE, "w/x"));
        assert!(reads(&acl, &ALICE, "rw/x") && writes(&acl, &ALICE, "rw/x"));
        assert!(reads(&acl, &ALICE, "both/x") && writes(&acl, &ALICE, "both/x"));
        assert!(!subscribes(&acl, &ALICE, "w/#"));
        assert!(subscribes(&acl, &ALICE, "rw/#"));
        assert!(!reads(&acl, &ALICE, "other"));
    }

    #[test]
    fn each_user_gets_only_its_own_lines() {
        let acl = acl("user alice\ntopic a/#\nuser bob\ntopic b/#\n");
        assert!(reads(&acl, &ALICE, "a/1") && !reads(&acl, &ALICE, "b/1"));
        assert!(reads(&acl, &BOB, "b/1") && !reads(&acl, &BOB, "a/1"));
        assert!(!reads(&acl, &NOBODY, "a/1") && !reads(&acl, &NOBODY, "b/1"));
        let carol = Who::user("carol");
        assert!(!reads(&acl, &carol, "a/1"));
    }

    #[test]
    fn lines_before_any_user_apply_to_everyone() {
        let acl = acl("topic read public/#\nuser alice\ntopic write a/#\n");
        assert!(reads(&acl, &NOBODY, "public/news"));
        assert!(reads(&acl, &ALICE, "public/news"));
        assert!(reads(&acl, &BOB, "public/news"));
        assert!(writes(&acl, &ALICE, "a/x"));
        assert!(!writes(&acl, &NOBODY, "a/x"));
    }

    #[test]
    fn a_user_named_twice_gets_both_blocks() {
        let acl = acl("user alice\ntopic a/#\nuser bob\ntopic b/#\nuser alice\ntopic c/#\n");
        assert!(reads(&acl, &ALICE, "a/1") && reads(&acl, &ALICE, "c/1"));
        assert!(!reads(&acl, &BOB, "c/1"));
    }

    #[test]
    fn patterns_substitute_the_user_name_and_client_id() {
        let acl = acl("pattern readwrite users/%u/#\n\
             pattern read clients/%c\n\
             user alice\n\
             pattern write both/%u/%c\n");
        assert!(writes(&acl, &ALICE, "users/alice/x"));
        assert!(subscribes(&acl, &ALICE, "users/alice/#"));
        assert!(!writes(&acl, &ALICE, "users/bob/x"));
        assert!(!subscribes(&acl, &ALICE, "users/+/x"));
        // A pattern applies to everyone, wherever it stands.
        let web = Who::user("bob").with_client_id("web-7");
        assert!(writes(&acl, &web, "both/bob/web-7"));
        assert!(reads(&acl, &web, "clients/web-7"));
        assert!(!reads(&acl, &web, "clients/web-8"));
        // No user, no %u; no client id, no %c.
        assert!(!reads(&acl, &NOBODY, "users/%u/x"));
        assert!(!reads(&acl, &ALICE, "clients/%c"));
        let anonymous_client = Who::anonymous().with_client_id("c1");
        assert!(reads(&acl, &anonymous_client, "clients/c1"));
    }

    #[test]
    fn a_percent_sign_that_is_no_placeholder_stays_as_it_is() {
        let acl = acl("pattern read a/100%/%u%\npattern read b/%x/%\n");
        assert!(reads(&acl, &ALICE, "a/100%/alice%"));
        assert!(reads(&acl, &ALICE, "b/%x/%"));
    }

    #[test]
    fn names_with_wildcards_or_slashes_get_nothing_from_patterns() {
        let acl = acl("topic read public\npattern readwrite users/%u/#\n");
        for name in ["+", "#", "a/b", "al+ce", ""] {
            let who = Who::user(name);
            assert_eq!(
                acl.check_topic(&who, "public", Need::Read),
                Err(Denial::UnsafeName),
                "{name:?}"
            );
        }
        let acl = acl_without_patterns_using_u();
        assert!(reads(&acl, &Who::user("a/b"), "public"));
    }

    fn acl_without_patterns_using_u() -> Acl {
        acl("topic read public\npattern read clients/%c\n")
    }

    #[test]
    fn a_deny_line_wins_wherever_it_stands() {
        let acl = acl("topic read #\n\
             topic deny plant/secret/#\n\
             user alice\n\
             topic readwrite plant/#\n\
             pattern deny plant/%u/private\n");
        assert!(reads(&acl, &ALICE, "plant/line1"));
        assert_eq!(
            acl.check_topic(&ALICE, "plant/secret/recipe", Need::Read),
            Err(Denial::DeniedBy { line: 2 })
        );
        assert!(!writes(&acl, &ALICE, "plant/secret"));
        assert_eq!(
            acl.check_topic(&ALICE, "plant/alice/private", Need::Write),
            Err(Denial::DeniedBy { line: 5 })
        );
        assert!(writes(&acl, &ALICE, "plant/bob/private"));
        assert!(!reads(&acl, &BOB, "plant/bob/private"));
        // A filter that could bring a denied topic is refused whole.
        assert_eq!(
            acl.check_subscribe(&ALICE, "plant/#"),
            Err(Denial::DeniedBy { line: 2 })
        );
        assert!(!subscribes(&acl, &ALICE, "plant/+/recipe"));
        assert!(!subscribes(&acl, &ALICE, "+/alice/+"));
        // `plant/secret/temp` is denied, so `plant/+/temp` could bring it.
        assert!(!subscribes(&acl, &ALICE, "plant/+/temp"));
        assert!(subscribes(&acl, &ALICE, "plant/line1/#"));
        assert!(subscribes(&acl, &ALICE, "plant/line1/+"));
    }

    #[test]
    fn dollar_topics_need_lines_that_name_them() {
        let acl = acl("topic read #\ntopic read $SYS/broker/#\n");
        assert!(subscribes(&acl, &NOBODY, "#"));
        assert!(!subscribes(&acl, &NOBODY, "$SYS/#"));
        assert!(subscribes(&acl, &NOBODY, "$SYS/broker/uptime"));
        assert!(!reads(&acl, &NOBODY, "$SYS/other"));
        assert!(reads(&acl, &NOBODY, "$SYS/broker/load"));
        // `deny #` does not reach `$` topics either.
        let acl = self::acl("topic read $SYS/#\ntopic deny #\n");
        assert!(subscribes(&acl, &NOBODY, "$SYS/broker/#"));
        assert!(!reads(&acl, &NOBODY, "plant"));
    }

    #[test]
    fn a_shared_line_grants_the_shared_subscription_only_never_reading_its_filter() {
        let acl = acl("user alice\n\
             topic read $share/dash/plant/#\n\
             topic read plant/line1/#\n");
        // The line alone: no ordinary read of the inner filter, and no
        // shared subscription, which would deliver every copy of it.
        assert!(!subscribes(&acl, &ALICE, "plant/#"));
        assert!(!subscribes(&acl, &ALICE, "plant/line2/x"));
        assert!(!reads(&acl, &ALICE, "plant/line2/x"));
        assert_eq!(
            acl.check_subscribe(&ALICE, "$share/dash/plant/#"),
            Err(Denial::NotGranted)
        );
        // Read access to the inner filter besides: the shared one too.
        let acl = self::acl(
            "user alice\n\
             topic read $share/dash/plant/#\n\
             topic read plant/#\n",
        );
        assert!(subscribes(&acl, &ALICE, "$share/dash/plant/#"));
        assert_eq!(
            acl.check_subscribe(&ALICE, "$share/other/plant/#"),
            Err(Denial::SharedNotNamed)
        );
    }

    #[test]
    fn shared_subscriptions_need_a_line_naming_them_exactly() {
        let acl = acl("topic read #\n\
             user alice\n\
             topic read $share/dash/plant/#\n");
        assert_eq!(
            acl.check_subscribe(&NOBODY, "$share/dash/plant/#"),
            Err(Denial::SharedNotNamed)
        );
        assert!(subscribes(&acl, &ALICE, "$share/dash/plant/#"));
        assert!(!subscribes(&acl, &ALICE, "$share/dash/plant/line1"));
        assert!(!subscribes(&acl, &ALICE, "$share/other/plant/#"));
        assert!(!subscribes(&acl, &BOB, "$share/dash/plant/#"));
        let acl = self::acl("topic write $share/g/a\n");
        assert!(!subscribes(&acl, &NOBODY, "$share/g/a"));
    }

    #[test]
    fn a_denied_topic_inside_a_shared_filter_refuses_it() {
        let acl = acl("topic read $share/g/plant/#\ntopic read plant/#\ntopic deny plant/secret\n");
        assert_eq!(
            acl.check_subscribe(&NOBODY, "$share/g/plant/#"),
            Err(Denial::DeniedBy { line: 3 })
        );
        let acl =
            self::acl("topic read $share/g/plant/#\ntopic read plant/#\ntopic deny $share/g/#\n");
        assert!(!subscribes(&acl, &NOBODY, "$share/g/plant/#"));
    }

    #[test]
    fn parsing_follows_mosquitto() {
        let acl = acl("# comment\n\
             \n   \t\n\
             topic   read    a b/c  \r\n\
             \ttopic read\n\
             topic x\n\
             user  carol smith  \n\
             topic deny x\n\
             topic\tread\ttabs/#\n");
        assert!(reads(&acl, &NOBODY, "a b/c"));
        assert!(!writes(&acl, &NOBODY, "a b/c"));
        // `topic read` alone names the topic `read`, with readwrite.
        assert!(writes(&acl, &NOBODY, "read"));
        assert!(reads(&acl, &NOBODY, "x"));
        let carol = Who::user("carol smith");
        assert!(!reads(&acl, &carol, "x"));
        assert!(reads(&acl, &carol, "tabs/1"));
        assert_eq!(acl.rules(), 5);
    }

    #[test]
    fn bad_lines_are_named_with_file_and_line() {
        let e = error_of("topic read a\n\nuser\n");
        assert_eq!(e, "/etc/app/acl:3: `user` needs a user name");
        let e = error_of("topic\n");
        assert!(
            e.starts_with("/etc/app/acl:1: ") && e.contains("no topic filter"),
            "{e}"
        );
        let e = error_of("topic rw a/b\n");
        assert!(e.contains("unknown access \"rw\""), "{e}");
        let e = error_of("topic read a/#/b\n");
        assert!(e.contains("/etc/app/acl:1: ") && e.contains("'#'"), "{e}");
        let e = error_of("pattern read a+\n");
        assert!(e.contains("'+'"), "{e}");
        let e = error_of("topic read $share/g\n");
        assert!(e.contains("shared"), "{e}");
        let e = error_of("# ok\nusers alice\n");
        assert!(
            e.starts_with("/etc/app/acl:2: ") && e.contains("unknown keyword \"users\""),
            "{e}"
        );
    }

    #[test]
    fn an_empty_file_grants_nothing() {
        let acl = acl("# nothing yet\n");
        assert!(!reads(&acl, &ALICE, "a"));
        assert!(!subscribes(&acl, &NOBODY, "#"));
        assert_eq!(acl.rules(), 0);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = Acl::load("/no/such/acl").unwrap_err().to_string();
        assert!(e.contains("/no/such/acl") && e.contains("ACL file"), "{e}");
    }

    #[test]
    fn a_shared_line_grants_no_ordinary_read_of_its_inner_filter() {
        let acl = acl("user alice\ntopic read $share/g/plant/#\n");
        assert_eq!(
            acl.check_subscribe(&ALICE, "plant/#"),
            Err(Denial::NotGranted)
        );
        assert!(!subscribes(&acl, &ALICE, "plant/line1"));
        assert!(!subscribes(&acl, &ALICE, "plant/+/temp"));
        assert_eq!(
            acl.check_topic(&ALICE, "plant/line1", Need::Read),
            Err(Denial::NotGranted)
        );
        assert!(!reads(&acl, &ALICE, "plant"));
    }
}
