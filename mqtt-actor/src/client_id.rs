//! Client ids for many instances: `MQTT_CLIENT_ID` may hold `{hostname}` and
//! `{pid}`, replaced when the actor is built, so one setting gives every
//! instance its own stable id (`dashboard-{hostname}`: the same id after a
//! restart on the same machine, so a persistent session resumes;
//! `dashboard-{hostname}-{pid}`: one per process).

/// A placeholder and what replaces it.
type Placeholder = (&'static str, fn() -> String);

/// The placeholders.
const PLACEHOLDERS: &[Placeholder] = &[("{hostname}", hostname), ("{pid}", pid)];

/// Checks a client id template: every `{...}` must be a known placeholder.
pub(crate) fn check(template: &str) -> Result<(), &'static str> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        match PLACEHOLDERS.iter().find(|(p, _)| tail.starts_with(p)) {
            Some((p, _)) => rest = &tail[p.len()..],
            None => return Err("unknown placeholder: only {hostname} and {pid} are replaced"),
        }
    }
    Ok(())
}

/// The id with its placeholders replaced.
pub(crate) fn expand(template: &str) -> String {
    PLACEHOLDERS
        .iter()
        .filter(|(p, _)| template.contains(p))
        .fold(template.to_string(), |id, (p, value)| {
            id.replace(p, &value())
        })
}

/// The machine's host name: the kernel's, else `HOSTNAME` / `COMPUTERNAME`,
/// else `localhost`. Characters that are not letters, digits, `-`, `_` or `.`
/// become `-`, so the id stays printable for every broker.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".into());
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn pid() -> String {
    std::process::id().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_the_rest_kept() {
        let id = expand("app-{hostname}-{pid}");
        let pid = std::process::id().to_string();
        assert!(
            id.starts_with("app-") && id.ends_with(&format!("-{pid}")),
            "{id}"
        );
        assert!(!id.contains('{'), "{id}");
        assert_eq!(expand("plain-id"), "plain-id");
        assert_eq!(expand("{pid}{pid}"), format!("{pid}{pid}"));
    }

    #[test]
    fn an_unknown_placeholder_is_refused() {
        assert!(check("app-{hostname}-{pid}").is_ok());
        assert!(check("").is_ok());
        assert!(check("app-{host}").is_err());
        assert!(check("app-{").is_err());
    }
}
