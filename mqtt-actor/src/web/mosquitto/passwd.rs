//! Mosquitto password files, read exactly as `mosquitto_passwd` writes them, and
//! password checks against them.
//!
//! One `user:hash` per line; blank lines and lines starting with `#` are skipped.
//! The hash is one of Mosquitto's two formats (its `src/password_mosq.c`):
//! - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 of the password with the salt,
//!   64 bytes (`mosquitto_passwd`'s default since Mosquitto 2.0, 101 iterations);
//! - `$6$SALT$HASH`: SHA-512 of the password's bytes followed by the salt's
//!   (Mosquitto 1.6 and earlier; `mosquitto_passwd -H sha512` still writes it).
//!
//! SALT and HASH are standard base64; the salt is 12 bytes, the hash 64, as
//! Mosquitto requires. Where Mosquitto skips a bad line with a log message, this
//! module refuses the whole file and names the line, so a typo cannot silently
//! lock a user out or leave a stale password valid.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::web::error::BridgeError;

/// The PBKDF2 iteration count `mosquitto_passwd` uses unless told otherwise.
pub const DEFAULT_ITERATIONS: u32 = 101;

/// Salt length Mosquitto writes and accepts.
const SALT_LEN: usize = 12;
/// SHA-512 output length, the only hash length Mosquitto accepts.
const HASH_LEN: usize = 64;

/// One user's stored password hash.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `$6$`: SHA-512 over the password followed by the salt.
    Sha512 {
        /// The salt.
        salt: Vec<u8>,
        /// The digest.
        hash: [u8; HASH_LEN],
    },
    /// `$7$`: PBKDF2-HMAC-SHA512.
    Pbkdf2Sha512 {
        /// PBKDF2 rounds.
        iterations: u32,
        /// The salt.
        salt: Vec<u8>,
        /// The derived key.
        hash: [u8; HASH_LEN],
    },
}

impl PasswordHash {
    /// Parses the part of a password file line after `user:`; the error says
    /// what is wrong with it, without repeating it.
    pub fn parse(text: &str) -> Result<PasswordHash, String> {
        let Some(rest) = text.strip_prefix('$') else {
            return Err("the password is not hashed (expected $7$... or $6$...; \
                 run mosquitto_passwd -U on the file)"
                .into());
        };
        let fields: Vec<&str> = rest.split('$').collect();
        match fields.as_slice() {
            ["7", iterations, salt, hash] => {
                let iterations = match iterations.parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(format!(
                            "iteration count {iterations:?} is not a whole number of at least 1"
                        ))
                    }
                };
                Ok(PasswordHash::Pbkdf2Sha512 {
                    iterations,
                    salt: decode_salt(salt)?,
                    hash: decode_hash(hash)?,
                })
            }
            ["6", salt, hash] => Ok(PasswordHash::Sha512 {
                salt: decode_salt(salt)?,
                hash: decode_hash(hash)?,
            }),
            ["7", ..] => Err("a $7$ hash is $7$ITERATIONS$SALT$HASH".into()),
            ["6", ..] => Err("a $6$ hash is $6$SALT$HASH".into()),
            [kind, ..] => Err(format!(
                "unknown hash type ${kind}$ (Mosquitto writes $7$ and $6$)"
            )),
            [] => unreachable!("split always yields at least one field"),
        }
    }

    /// Whether `password` is the one this hash was made from, comparing the
    /// digests in constant time.
    pub fn verify(&self, password: &str) -> bool {
        let mut computed = [0u8; HASH_LEN];
        let stored = match self {
            PasswordHash::Sha512 { salt, hash } => {
                let digest = Sha512::new()
                    .chain_update(password.as_bytes())
                    .chain_update(salt)
                    .finalize();
                computed.copy_from_slice(&digest);
                hash
            }
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => {
                pbkdf2::pbkdf2_hmac::<Sha512>(
                    password.as_bytes(),
                    salt,
                    *iterations,
                    &mut computed,
                );
                hash
            }
        };
        computed.ct_eq(stored).into()
    }

    /// A hash that costs as much to check as `self` and that no password matches
    /// in practice: what unknown users are checked against.
    fn dummy_like(&self) -> PasswordHash {
        let (salt, hash) = (vec![0; SALT_LEN], [0; HASH_LEN]);
        match self {
            PasswordHash::Sha512 { .. } => PasswordHash::Sha512 { salt, hash },
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => PasswordHash::Pbkdf2Sha512 {
                iterations: *iterations,
                salt,
                hash,
            },
        }
    }

    /// Everything the hash line says, fed into `digest`.
    fn feed(&self, digest: &mut Sha512) {
        let (kind, iterations) = self.cost();
        let (salt, hash) = match self {
            PasswordHash::Sha512 { salt, hash } => (salt, hash),
            PasswordHash::Pbkdf2Sha512 { salt, hash, .. } => (salt, hash),
        };
        digest.update([kind]);
        digest.update(iterations.to_be_bytes());
        digest.update((salt.len() as u64).to_be_bytes());
        digest.update(salt);
        digest.update(hash);
    }

    /// What makes two hashes cost the same to check.
    fn cost(&self) -> (u8, u32) {
        match self {
            PasswordHash::Sha512 { .. } => (6, 1),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => (7, *iterations),
        }
    }
}

/// Hashes are secrets too: `Debug` shows the kind only.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Sha512 { .. } => f.write_str("PasswordHash::Sha512(..)"),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => {
                write!(f, "PasswordHash::Pbkdf2Sha512({iterations} iterations, ..)")
            }
        }
    }
}

fn decode_salt(text: &str) -> Result<Vec<u8>, String> {
    let salt = BASE64
        .decode(text)
        .map_err(|e| format!("the salt is not base64 ({e})"))?;
    if salt.len() != SALT_LEN {
        return Err(format!(
            "the salt is {} bytes; Mosquitto uses {SALT_LEN}",
            salt.len()
        ));
    }
    Ok(salt)
}

fn decode_hash(text: &str) -> Result<[u8; HASH_LEN], String> {
    let hash = BASE64
        .decode(text)
        .map_err(|e| format!("the hash is not base64 ({e})"))?;
    let len = hash.len();
    hash.try_into()
        .map_err(|_| format!("the hash is {len} bytes; a SHA-512 hash is {HASH_LEN}"))
}

/// The users of one password file.
#[derive(Clone)]
pub struct Users {
    path: PathBuf,
    entries: HashMap<String, PasswordHash>,
    /// Checked for unknown users, so that they take as long as a known user
    /// with a wrong password: the time of a failed login does not tell an
    /// attacker which names exist.
    dummy: PasswordHash,
}

impl Users {
    /// Reads and parses the password file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Users, BridgeError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BridgeError::Read {
            what: "password file",
            path: path.to_path_buf(),
            source,
        })?;
        Users::parse(&text, path)
    }

    /// Parses the text of a password file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Users, BridgeError> {
        let mut entries = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let bad = |reason: String| BridgeError::FileLine {
                path: path.to_path_buf(),
                line: number,
                reason,
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = trimmed.split_once(':') else {
                return Err(bad("expected USER:HASH, as mosquitto_passwd writes".into()));
            };
            let user = user.trim();
            if user.is_empty() {
                return Err(bad("the user name is empty".into()));
            }
            let hash = PasswordHash::parse(hash.trim())
                .map_err(|reason| bad(format!("user {user:?}: {reason}")))?;
            if let Some(first) = first_line.get(user) {
                return Err(bad(format!("user {user:?} is already on line {first}")));
            }
            first_line.insert(user.to_string(), number);
            entries.insert(user.to_string(), hash);
        }
        let dummy = Users::dummy_for(&entries);
        Ok(Users {
            path: path.to_path_buf(),
            entries,
            dummy,
        })
    }

    /// A dummy costing what most of the file's hashes cost.
    fn dummy_for(entries: &HashMap<String, PasswordHash>) -> PasswordHash {
        let mut counts: HashMap<(u8, u32), (usize, &PasswordHash)> = HashMap::new();
        for hash in entries.values() {
            counts.entry(hash.cost()).or_insert((0, hash)).0 += 1;
        }
        counts
            .into_values()
            .max_by_key(|(count, hash)| (*count, hash.cost()))
            .map(|(_, hash)| hash.dummy_like())
            .unwrap_or(PasswordHash::Pbkdf2Sha512 {
                iterations: DEFAULT_ITERATIONS,
                salt: vec![0; SALT_LEN],
                hash: [0; HASH_LEN],
            })
    }

    /// Whether `user` exists and `password` is theirs. Unknown users cost the
    /// same as a wrong password. With many iterations in the file this is CPU
    /// work worth moving off an async worker (`web::block`).
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let (hash, known) = match self.entries.get(user) {
            Some(hash) => (hash, true),
            None => (&self.dummy, false),
        };
        // Both operands always run: `&`, not `&&`.
        hash.verify(password) & known
    }

    /// A fingerprint of `user`'s line (hex, 128 bits), keyed with `key`: it
    /// changes when the password does, and tells nothing of the hash without
    /// the key. `None` for a user the file does not name.
    pub fn fingerprint(&self, user: &str, key: &[u8]) -> Option<String> {
        let hash = self.entries.get(user)?;
        let mut digest = Sha512::new();
        digest.update((key.len() as u64).to_be_bytes());
        digest.update(key);
        digest.update((user.len() as u64).to_be_bytes());
        digest.update(user.as_bytes());
        hash.feed(&mut digest);
        let digest = digest.finalize();
        Some(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether the file names `user`.
    pub fn contains(&self, user: &str) -> bool {
        self.entries.contains_key(user)
    }

    /// How many users the file names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    /// True when the file names nobody (then nobody can sign in).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The file these users came from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Shows the file and how many users it has, never a hash.
impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("path", &self.path)
            .field("users", &self.entries.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Adds `user` with `password` to `file` with the real `mosquitto_passwd`,
    /// `-H sha512` when `legacy`.
    fn mosquitto_passwd(file: &Path, user: &str, password: &str, legacy: bool) {
        let mut command = Command::new("mosquitto_passwd");
        if legacy {
            command.args(["-H", "sha512"]);
        }
        if !file.exists() {
            command.arg("-c");
        }
        let output = command
            .arg("-b")
            .arg(file)
            .args([user, password])
            .output()
            .expect("mosquitto_passwd (package mosquitto) must be installed for these tests");
        assert!(
            output.status.success(),
            "mosquitto_passwd failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn parse(text: &str) -> Result<Users, BridgeError> {
        Users::parse(text, Path::new("/etc/app/passwd"))
    }

    #[test]
    fn passwords_set_by_mosquitto_passwd_verify() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("passwd");
        mosquitto_passwd(&file, "alice", "correct horse", false);
        mosquitto_passwd(&file, "bob", "hunter2", true);
        mosquitto_passwd(&file, "carol smith", "pä ss:wörd$7$", false);
        mosquitto_passwd(&file, "dave", "", false);

        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("alice:$7$101$"), "{text}");
        assert!(text.contains("bob:$6$"), "{text}");

        let users = Users::load(&file).unwrap();
        assert_eq!(users.len(), 4);
        assert!(users.verify("alice", "correct horse"));
        assert!(users.verify("bob", "hunter2"));
        assert!(users.verify("carol smith", "pä ss:wörd$7$"));
        assert!(users.verify("dave", ""));

        assert!(!users.verify("alice", "correct horse "));
        assert!(!users.verify("alice", "Correct horse"));
        assert!(!users.verify("alice", ""));
        assert!(!users.verify("bob", "hunter3"));
        assert!(!users.verify("bob", "correct horse"));
        assert!(!users.verify("dave", " "));
        assert!(!users.verify("Alice", "correct horse"));
        assert!(!users.verify("mallory", "correct horse"));
        assert!(!users.verify("", ""));
    }

    #[test]
    fn a_password_changed_by_mosquitto_passwd_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("passwd");
        mosquitto_passwd(&file, "alice", "old", false);
        mosquitto_passwd(&file, "alice", "new", false);
        let users = Users::load(&file).unwrap();
        assert!(users.verify("alice", "new"));
        assert!(!users.verify("alice", "old"));
    }

    #[test]
    fn a_fingerprint_changes_with_the_password_and_the_key_and_hides_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("passwd");
        mosquitto_passwd(&file, "alice", "old", false);
        mosquitto_passwd(&file, "bob", "old", false);
        let before = Users::load(&file).unwrap();
        let print = |users: &Users, user, key: &[u8]| users.fingerprint(user, key).unwrap();
        let old = print(&before, "alice", b"k1");
        assert_eq!(old, print(&before, "alice", b"k1"));
        assert_eq!(old.len(), 32);
        assert_ne!(old, print(&before, "alice", b"k2"));
        assert_ne!(old, print(&before, "bob", b"k1"));
        assert_eq!(before.fingerprint("carol", b"k1"), None);

        mosquitto_passwd(&file, "alice", "new", false);
        let after = Users::load(&file).unwrap();
        assert_ne!(old, print(&after, "alice", b"k1"));
        assert_eq!(print(&before, "bob", b"k1"), print(&after, "bob", b"k1"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&old));
    }

    /// `$6$` worked out apart from this module: SHA-512 over
    /// "secret" followed by the 12 bytes 0x00..0x0b (Python's hashlib).
    #[test]
    fn sha512_hash_matches_an_independent_vector() {
        let salt: Vec<u8> = (0u8..12).collect();
        let expected = "JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==";
        let line = format!("u:$6${}${expected}", BASE64.encode(&salt));
        let users = parse(&line).unwrap();
        assert!(users.verify("u", "secret"));
        assert!(!users.verify("u", "secreT"));
    }

    /// `$7$` worked out apart from this module: PBKDF2-HMAC-SHA512 of
    /// "secret", salt 0x00..0x0b, 101 iterations (Python's hashlib).
    #[test]
    fn pbkdf2_hash_matches_an_independent_vector() {
        let salt: Vec<u8> = (0u8..12).collect();
        let expected = "Xr99N9ym9ys8TWxis5ajETJq6EVYzmc6nb8t3pUYnPBbCAbICS4xejTltonXWCtJNBvA+By+TXUqU6qCblO00w==";
        let line = format!("u:$7$101${}${expected}", BASE64.encode(&salt));
        let users = parse(&line).unwrap();
        assert!(users.verify("u", "secret"));
        assert!(!users.verify("u", "secret "));
    }

    #[test]
    fn comments_blank_lines_and_surrounding_blanks_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("passwd");
        mosquitto_passwd(&file, "alice", "pw", false);
        let line = std::fs::read_to_string(&file).unwrap();
        let text = format!("# operators\n\n   \n  {}  \r\n#bob:$6$x$y\n", line.trim());
        let users = parse(&text).unwrap();
        assert_eq!(users.len(), 1);
        assert!(users.verify("alice", "pw"));
        assert!(!users.contains("#bob"));
    }

    #[test]
    fn an_empty_file_has_no_users_and_refuses_everyone() {
        let users = parse("").unwrap();
        assert!(users.is_empty());
        assert!(!users.verify("alice", "pw"));
        assert!(!users.verify("", ""));
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn malformed_lines_are_named_with_file_and_line() {
        let good = "a:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==";
        let e = error_of(&format!("# x\n{good}\nbob\n"));
        assert!(e.starts_with("/etc/app/passwd:3: "), "{e}");
        assert!(e.contains("USER:HASH"), "{e}");

        let e = error_of("alice:plain");
        assert!(
            e.contains("/etc/app/passwd:1: ") && e.contains("not hashed"),
            "{e}"
        );
        assert!(
            !e.contains("plain"),
            "the error must not echo a password: {e}"
        );

        let e = error_of(":$6$AAECAwQFBgcICQoL$AAAA");
        assert!(e.contains("user name is empty"), "{e}");

        let e = error_of("alice:$5$abc$def");
        assert!(e.contains("unknown hash type $5$"), "{e}");

        let e = error_of("alice:$7$0$AAECAwQFBgcICQoL$AAAA");
        assert!(e.contains("iteration count"), "{e}");
        let e = error_of("alice:$7$many$AAECAwQFBgcICQoL$AAAA");
        assert!(e.contains("iteration count"), "{e}");
        let e = error_of("alice:$7$101$AAECAwQFBgcICQoL");
        assert!(e.contains("$7$ITERATIONS$SALT$HASH"), "{e}");
        let e = error_of("alice:$6$AAECAwQFBgcICQoL");
        assert!(e.contains("$6$SALT$HASH"), "{e}");

        let e = error_of("alice:$6$not*base64$AAAA");
        assert!(e.contains("salt is not base64"), "{e}");
        let e = error_of("alice:$6$AAAA$AAAA");
        assert!(e.contains("salt is 3 bytes"), "{e}");
        let e = error_of("alice:$6$AAECAwQFBgcICQoL$AAAA");
        assert!(e.contains("hash is 3 bytes"), "{e}");
        let e = error_of("alice:$6$AAECAwQFBgcICQoL$*");
        assert!(e.contains("hash is not base64"), "{e}");

        let e = error_of(&format!("{good}\n\n{good}\n"));
        assert!(e.starts_with("/etc/app/passwd:3: "), "{e}");
        assert!(e.contains("already on line 1"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = Users::load("/no/such/dir/passwd").unwrap_err().to_string();
        assert!(e.contains("/no/such/dir/passwd"), "{e}");
        assert!(e.contains("password file"), "{e}");
    }

    #[test]
    fn debug_shows_no_hash() {
        let users = parse("a:$6$AAECAwQFBgcICQoL$JqsxEv/ucyxjA5DKsQ+Y8CDWaQDNQI9FpAkmfwAqWfwZLk/JEGgM0EpylrJHAZKKyFQjJeZ3nFaHjPzOzPPmPw==").unwrap();
        let shown = format!("{users:?} {:?}", users.entries);
        assert!(
            !shown.contains("AAECAwQF") && !shown.contains("JqsxEv"),
            "{shown}"
        );
        assert!(!shown.contains("[0, 1, 2"), "{shown}");
    }

    #[test]
    fn unknown_users_are_checked_against_a_hash_of_the_common_cost() {
        let salt = BASE64.encode([0u8; 12]);
        let hash = BASE64.encode([1u8; 64]);
        let text = format!(
            "a:$7$101${salt}${hash}\nb:$7$5000${salt}${hash}\nc:$7$5000${salt}${hash}\nd:$6${salt}${hash}\n"
        );
        let users = parse(&text).unwrap();
        assert_eq!(users.dummy.cost(), (7, 5000));
        assert_eq!(parse("").unwrap().dummy.cost(), (7, DEFAULT_ITERATIONS));
        let legacy = parse(&format!("d:$6${salt}${hash}\n")).unwrap();
        assert_eq!(legacy.dummy.cost(), (6, 1));
    }
}
