//! What an MQTT string may carry. MQTT 5 (1.5.4) and MQTT 3.1.1 (1.5.3)
//! forbid NUL and ask that strings carry no control characters (U+0001 to
//! U+001F, U+007F to U+009F) and no non-characters (U+FDD0 to U+FDEF, and
//! the last two code points of every plane, U+FFFE, U+FFFF, U+1FFFE, ...).
//! Mosquitto closes the connection of a client that sends one, in a topic
//! or in a property: for an application that is every user's feed, so the
//! library refuses them before anything is sent.

/// The first character `text` must not carry, with its byte offset.
pub(crate) fn forbidden_char(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|(_, c)| kind(*c).is_some())
}

/// Why `c` is forbidden, if it is.
fn kind(c: char) -> Option<&'static str> {
    let u = u32::from(c);
    match u {
        0 => Some("NUL"),
        0x01..=0x1F | 0x7F..=0x9F => Some("a control character"),
        0xFDD0..=0xFDEF => Some("a non-character"),
        _ if u & 0xFFFE == 0xFFFE => Some("a non-character"),
        _ => None,
    }
}

/// The reason of an error about `text`, naming the character and where it
/// is (`must not contain U+0007 (a control character) at byte 1`), or
/// `None` when `text` is fine.
pub(crate) fn check(text: &str) -> Option<String> {
    let (at, c) = forbidden_char(text)?;
    let what = kind(c).unwrap_or("a forbidden character");
    Some(format!(
        "must not contain U+{:04X} ({what}) at byte {at}",
        u32::from(c)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_non_characters_are_forbidden() {
        for c in [
            '\0',
            '\u{1}',
            '\u{1B}',
            '\u{1F}',
            '\u{7F}',
            '\u{85}',
            '\u{9F}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{1FFFE}',
            '\u{10FFFF}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(
                forbidden_char(&text),
                Some((1, c)),
                "U+{:04X}",
                u32::from(c)
            );
        }
        for fine in [
            "plain",
            "tab-free é ü 温度 🌡",
            "\u{A0}",
            "\u{FDCF}\u{FDF0}\u{FFFD}",
        ] {
            assert_eq!(forbidden_char(fine), None, "{fine:?}");
        }
    }

    #[test]
    fn the_reason_names_the_character_and_its_place() {
        assert_eq!(
            check("ab\u{1B}").as_deref(),
            Some("must not contain U+001B (a control character) at byte 2")
        );
        assert_eq!(
            check("\u{FFFE}").as_deref(),
            Some("must not contain U+FFFE (a non-character) at byte 0")
        );
        assert_eq!(check("fine"), None);
    }
}
