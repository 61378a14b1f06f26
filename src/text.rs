//! Text on its way into a generated file or a terminal, the same for every stage and every
//! target: which characters no output takes raw, the one-line check that refuses them where
//! a value enters, comment-safe display, shell words, ASCII-only JSON, variable names, the
//! content hash of image tags and GPU lists as people write them. Escaping that belongs to
//! one output format (Compose's `$`, env files) lives with that target.

/// Bidirectional-text controls: they make text display in another order than it is read by
/// a program, so a reviewer of a generated file could be shown something else than it says.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters no sink takes raw: control characters (C0, DEL, C1, which includes NEL
/// U+0085), the Unicode line and paragraph separators (Go's yaml.v3, Compose's YAML parser,
/// breaks lines at U+0085, U+2028 and U+2029 as YAML 1.1 says), the byte-order mark and the
/// noncharacters YAML does not allow, and bidi controls.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') || is_bidi_control(c)
}

/// `Ok` when `s` is one line of printable text (no character `is_unsafe_char` names), else
/// a message naming the first offending character and where it is.
pub fn single_line(s: &str) -> Result<(), String> {
    match s.char_indices().find(|(_, c)| is_unsafe_char(*c)) {
        None => Ok(()),
        Some((i, c)) => Err(format!(
            "{} (U+{:04X}) at character {} cannot be written into a generated file",
            char_name(c),
            c as u32,
            s[..i].chars().count() + 1
        )),
    }
}

fn char_name(c: char) -> &'static str {
    match c {
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => "a line break",
        '\0' => "a NUL character",
        c if is_bidi_control(c) => "a bidirectional-text control",
        c if c.is_control() => "a control character",
        _ => "a character that is not printable text",
    }
}

/// An absolute path as Compose reads a mount path (Go's `path.Clean`): `.` segments and empty ones
/// (`//`, a trailing `/`) dropped, so what aimgen writes is what Compose reads back byte for byte
/// (Compose cleans `/models/./x/` to `/models/x`). `..` is kept: validation refuses it rather
/// than guess which folder was meant. A relative path is returned as it is, for validation to
/// refuse.
pub fn clean_abs_path(p: &str) -> String {
    if !p.starts_with('/') {
        return p.to_string();
    }
    let kept: Vec<&str> = p.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    format!("/{}", kept.join("/"))
}

/// `s` as a YAML double-quoted scalar that any YAML parser (1.1 or 1.2) reads back byte for
/// byte: `"` and `\` escaped, `\n` and tab as escapes, every character `is_unsafe_char` names
/// as a `\u` escape, so only printable text stays raw and no parser sees a line break inside.
/// `dollar` is what `$` becomes: each target knows who expands `$` after the YAML parser
/// (Compose interpolation and the kubelet both read `$$` as `$`). With `literal_block`, the
/// YAML forms both targets share; each target wraps them with its own `$` policy.
pub fn double_quoted(s: &str, dollar: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str(dollar),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as a YAML literal block scalar (`|`) indented by `indent`, or `None` for text a block
/// cannot hold exactly: no trailing newline or more than one, a first line that starts with a
/// blank (the block's indentation would swallow it), blank or whitespace-ended lines, or any
/// character other than printable text, tab and `\n` (a YAML 1.1 parser breaks lines at
/// U+0085, U+2028, U+2029 and `\r` too). Each target escapes its own characters first.
pub fn literal_block(s: &str, indent: usize) -> Option<String> {
    let b = s.strip_suffix('\n')?;
    let blockable = !b.is_empty()
        && !b.ends_with('\n')
        && !b.trim_start_matches('\n').starts_with([' ', '\t'])
        && !b.chars().any(|c| c != '\n' && c != '\t' && is_unsafe_char(c))
        && !b.split('\n').any(|l| l.ends_with([' ', '\t']));
    if !blockable {
        return None;
    }
    let pad = " ".repeat(indent);
    let mut out = String::from("|");
    for line in b.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    Some(out)
}

/// Text for a comment or a header line: one line, unsafe characters shown as `\u{…}` (and
/// `\` as `\\`, so the escape is unambiguous). Lossy only for what a comment cannot show.
pub fn comment_text(s: &str) -> String {
    if !s.chars().any(|c| is_unsafe_char(c) || c == '\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A POSIX shell single-quoted word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// JSON with every non-ASCII character as a `\u` escape (surrogate pairs above U+FFFF): the
/// prefetch program's argument and the Dockerfile's preload list stay plain ASCII whatever
/// names the Hub returned, and `json.loads` reads the same text back.
pub fn ascii_json(value: &impl serde::Serialize, pretty: bool) -> anyhow::Result<String> {
    let text = if pretty { serde_json::to_string_pretty(value)? } else { serde_json::to_string(value)? };
    if text.is_ascii() {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    Ok(out)
}

/// FNV-1a, 64 bits: a stable content hash for image tags (not for security).
pub fn content_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")[..12].to_string()
}

/// POSIX-portable variable names (what Compose and shells accept everywhere).
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// "0-3", "4,6" — GPU lists as people write them.
pub fn ranges(gpus: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < gpus.len() {
        let start = gpus[i];
        let mut end = start;
        while i + 1 < gpus.len() && gpus[i + 1] == end + 1 {
            i += 1;
            end = gpus[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    if out.is_empty() {
        "no GPUs".into()
    } else {
        format!("GPU{} {}", if gpus.len() == 1 { "" } else { "s" }, out.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_cleaned_as_compose_cleans_them() {
        for (p, clean) in [
            ("/models/llama", "/models/llama"),
            ("/models/./llama/", "/models/llama"),
            ("//srv//hf/", "/srv/hf"),
            ("/./", "/"),
            ("/", "/"),
            ("/a/../b", "/a/../b"),
            ("relative/./x", "relative/./x"),
        ] {
            assert_eq!(clean_abs_path(p), clean, "{p}");
        }
    }

    #[test]
    fn comments_show_unsafe_characters_escaped() {
        assert_eq!(comment_text("a\nb\u{2028}c\\"), "a\\u{a}b\\u{2028}c\\\\");
        assert!(single_line("ok text é 🙂").is_ok());
        assert!(single_line("bidi\u{202e}").is_err());
        assert!(single_line("a\rb").is_err());
    }

    #[test]
    fn ascii_json_reads_back() {
        let v = vec!["a\u{2028}b", "🙂", "plain"];
        let text = ascii_json(&v, true).expect("json");
        assert!(text.is_ascii(), "{text}");
        let back: Vec<String> = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, v);
    }

    #[test]
    fn hash_is_stable() {
        // FNV-1a 64 of "abc" is 0xe71fa2190541574b (the published test vector): the tag must
        // not change between releases for the same Dockerfile.
        assert_eq!(content_hash("abc"), "e71fa2190541");
        assert_ne!(content_hash("abc"), content_hash("abd"));
        assert_eq!(content_hash("").len(), 12);
    }

    #[test]
    fn gpu_lists_read_as_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 3]), "GPUs 0-3");
        assert_eq!(ranges(&[4, 6]), "GPUs 4,6");
        assert_eq!(ranges(&[5]), "GPU 5");
        assert_eq!(ranges(&[]), "no GPUs");
    }
}
