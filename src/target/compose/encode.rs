//! Compose's encoders: YAML double-quoted scalars and literal blocks with `$` doubled (Compose
//! interpolates `$` everywhere in its file), and the one form of text Compose may interpolate,
//! a whole required-variable reference.

use crate::text::{is_unsafe_char, valid_env_name};

/// A YAML double-quoted scalar that Compose reads back byte for byte: `"` and `\` escaped,
/// every character `is_unsafe_char` names (and tab) as a `\u` escape, and `$` doubled so
/// Compose does not interpolate user text. Only printable characters remain raw, so no YAML
/// parser (1.1 or 1.2) sees a line break inside.
pub fn yaml_quote(s: &str) -> String {
    crate::text::double_quoted(s, "$$")
}

/// A Compose required-variable reference, `${VAR:?message}`: `up` stops with the message when
/// VAR is unset or empty. `message` is kept to text that cannot end the reference early.
pub fn required_ref(variable: &str, message: &str) -> String {
    let message: String =
        message.chars().filter(|c| !matches!(c, '$' | '{' | '}' | '"' | '\\') && !is_unsafe_char(*c)).collect();
    format!("${{{variable}:?{message}}}")
}

/// The one way text reaches the Compose file with its `$` intact, for Compose to interpolate:
/// only a whole `${NAME:?message}` reference as `required_ref` builds it. Anything else is
/// quoted like every other value (`$` doubled, so it stays literal).
pub fn interpolated(s: &str) -> String {
    let is_ref = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')).and_then(|r| r.split_once(":?")).is_some_and(
        |(name, msg)| {
            valid_env_name(name)
                // Raw inside the quotes: no character a YAML parser could break a line at.
                && !msg.chars().any(|c| matches!(c, '$' | '{' | '}' | '"' | '\\') || is_unsafe_char(c))
        },
    );
    if is_ref {
        format!("\"{s}\"")
    } else {
        yaml_quote(s)
    }
}

/// A YAML literal block scalar indented by `indent` (`$` doubled, as in every Compose value);
/// falls back to a quoted scalar for text a block cannot hold exactly (see
/// `text::literal_block`).
pub fn yaml_block(s: &str, indent: usize) -> String {
    crate::text::literal_block(&s.replace('$', "$$"), indent).unwrap_or_else(|| yaml_quote(s))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn unicode_line_breaks_are_escaped_in_every_yaml_form() {
        for s in ["a\u{2028}privileged: true", "x\u{2029}y", "x\u{85}y", "x\ry", " \u{2028} ", "\u{202e}abc"] {
            let q = yaml_quote(s);
            assert!(q.is_ascii(), "{q}");
            let back: String = serde_yaml::from_str(&q).expect("parses");
            assert_eq!(back, s);
            let b = yaml_block(&format!("{s}\nsecond\n"), 2);
            assert!(b.starts_with('"'), "{b}");
        }
        // A leading blank line before an indented line: the block would lose the indentation.
        assert!(yaml_block("\n  indented\n", 2).starts_with('"'));
    }

    #[test]
    fn quoting_survives_yaml_metacharacters() {
        for s in ["a: b", "- x", "${HF_TOKEN}", "'\"", "yes", "8000:8000", "#x", "\n", "a\u{0}b", "{[]}", "&a *a !tag"]
        {
            let q = yaml_quote(s);
            let back: String = serde_yaml::from_str(&q).expect("parses");
            assert_eq!(back.replace("$$", "$"), s, "{q}");
        }
    }

    #[test]
    fn only_whole_required_references_escape_quoting() {
        let r = required_ref("AIM_API_KEY", "set AIM_API_KEY to the key of {svc} $x");
        assert_eq!(r, "${AIM_API_KEY:?set AIM_API_KEY to the key of svc x}");
        assert_eq!(interpolated(&r), format!("\"{r}\""));
        // Everything else stays literal: `$` doubled, as `q` does.
        for s in ["${A}", "${A:-x}", "x${A:?m}", "${A:?m}x", "${1A:?m}", "${A:?m\"}", "--api-key", "$A"] {
            assert_eq!(interpolated(s), yaml_quote(s), "{s}");
        }
    }

    #[test]
    fn blocks_round_trip_or_fall_back() {
        let text = "import x\n\nfor a in b:\n    print(a)\n";
        let doc = format!("k: {}\n", yaml_block(text, 2));
        let v: BTreeMap<String, String> = serde_yaml::from_str(&doc).expect("parses");
        assert_eq!(v["k"], text);
        assert!(yaml_block("no newline", 2).starts_with('"'));
        assert!(yaml_block(" leading\n", 2).starts_with('"'));
    }
}
