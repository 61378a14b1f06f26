//! One diagnostic type for every stage, rendered like a compiler: `error: …`, `--> file:line:col`,
//! the source line, a caret under the culprit, then `help: …`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::source::{Pos, Source};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported; fails only with `--deny-warnings`.
    Warning,
    /// Fails the command (exit status 1).
    Error,
}

/// A problem found in an input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
    /// File the problem is in, as the user named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// JSON pointer to the node at fault (RFC 6901).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// How to fix it, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Underline width.
    #[serde(skip)]
    pub len: usize,
    /// Point at the mapping key rather than its value.
    #[serde(skip)]
    pub at_key: bool,
    /// The source line at `line`, kept so rendering needs no file.
    #[serde(skip)]
    pub snippet: Option<String>,
    /// A required field is absent: the pointer is the mapping that lacks it, which is not
    /// itself wrong, so later layers neither skip that mapping nor count it as reported.
    #[serde(skip)]
    pub missing_field: bool,
}

impl Diagnostic {
    /// A new error with no position yet.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path: None,
            line: None,
            column: None,
            pointer: None,
            help: None,
            len: 1,
            at_key: false,
            snippet: None,
            missing_field: false,
        }
    }

    /// A new warning with no position yet.
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    /// Attaches the JSON pointer of the value at fault.
    pub fn at(mut self, pointer: impl Into<String>) -> Diagnostic {
        self.pointer = Some(pointer.into());
        self
    }

    /// Attaches the JSON pointer of an entry whose key is at fault.
    pub fn at_key(mut self, pointer: impl Into<String>) -> Diagnostic {
        self.pointer = Some(pointer.into());
        self.at_key = true;
        self
    }

    /// Attaches an explicit position (for errors found before a pointer exists).
    pub fn at_pos(mut self, pos: Pos) -> Diagnostic {
        self.line = Some(pos.line);
        self.column = Some(pos.col);
        self.len = pos.len.max(1);
        self
    }

    /// Marks a required field that is absent (see `missing_field`).
    pub fn missing(mut self) -> Diagnostic {
        self.missing_field = true;
        self
    }

    /// Adds a fix.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a fix if there is one.
    pub fn help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// Names the file and resolves the pointer to a line and column in it.
    pub fn locate(mut self, source: &Source) -> Diagnostic {
        self.path = Some(source.name.clone());
        if self.line.is_none() {
            if let Some(pos) = self.pointer.as_deref().and_then(|p| source.locate(p, self.at_key)) {
                self.line = Some(pos.line);
                self.column = Some(pos.col);
                self.len = pos.len.max(1);
            }
        }
        self.snippet = self.line.and_then(|l| source.line(l)).map(str::to_string);
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders for a human; `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| {
            if color {
                format!("\x1b[{code}m{s}\x1b[0m")
            } else {
                s.to_string()
            }
        };
        let (label, code) = match self.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
        };
        let mut out = String::new();
        let _ = writeln!(out, "{}{}", paint(code, label), paint("1", &format!(": {}", one_line(&self.message))));
        let text_line = self.snippet.as_deref();
        let gutter = self.line.map(|l| l.to_string().len()).unwrap_or(0).max(1);
        let pad = " ".repeat(gutter);
        if let Some(path) = &self.path {
            // A file name may hold anything a file system allows; shown escaped, it cannot
            // move the terminal's cursor or fake another line.
            let path = crate::text::comment_text(path);
            let loc = match (self.line, self.column) {
                (Some(l), Some(c)) => format!("{path}:{l}:{c}"),
                _ => path.clone(),
            };
            let _ = writeln!(out, "{pad}{} {loc}", paint("1;34", "-->"));
        }
        if let (Some(text), Some(l), Some(c)) = (text_line, self.line, self.column) {
            // Tabs would shift the caret, and other control, line-break or bidi characters would
            // act on the terminal: each is shown as a single space.
            let shown: String = text.chars().map(|ch| if crate::text::is_unsafe_char(ch) { ' ' } else { ch }).collect();
            let shown: String = shown.chars().take(200).collect();
            // Columns are 1-based; a 0 (never made here, but the fields are public) is column 1.
            let width = self.len.min(shown.chars().count().saturating_sub(c.saturating_sub(1)).max(1));
            let bar = paint("1;34", "|");
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(out, "{} {bar} {shown}", paint("1;34", &format!("{l:>gutter$}")));
            let _ = writeln!(
                out,
                "{pad} {bar} {}{}",
                " ".repeat(c.saturating_sub(1).min(200)),
                paint(code, &"^".repeat(width.max(1)))
            );
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} {} {}", paint("1;34", "="), paint("1", &format!("help: {}", one_line(help))));
        }
        out
    }
}

/// Keeps a message on one line of printable text: user text inside it may hold line breaks,
/// escape sequences that drive the terminal, or bidi controls that reorder what is shown.
/// Those are shown as escapes: an unknown key holding ESC once reached the terminal raw.
fn one_line(s: &str) -> String {
    if !s.chars().any(crate::text::is_unsafe_char) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if crate::text::is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Edit distance, for "did you mean" suggestions.
pub fn levenshtein(a: &str, b: &str) -> usize {
    levenshtein_within(a, b, usize::MAX).unwrap_or(usize::MAX)
}

/// `levenshtein(a, b)` when it is at most `limit`, else `None`; stops as soon as a row of
/// the table is all over `limit` (the distance is at least the smallest entry of any row),
/// which for unrelated names is after a few characters.
fn levenshtein_within(a: &str, b: &str, limit: usize) -> Option<usize> {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
        if prev.iter().min().is_some_and(|m| *m > limit) {
            return None;
        }
    }
    Some(prev[b.len()]).filter(|d| *d <= limit)
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let len = word.chars().count();
    // Ties go to the earlier candidate: callers list the likelier names first.
    candidates
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let clen = c.chars().count();
            let limit = (clen.max(len) / 3).max(1);
            // The distance is at least the length difference: skip the costly comparison
            // when that alone is over the limit.
            if clen.abs_diff(len) > limit {
                return None;
            }
            // Flag and field names are lowercase ASCII already: no copy for those.
            let lowered = if c.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
                std::borrow::Cow::Owned(c.to_lowercase())
            } else {
                std::borrow::Cow::Borrowed(c)
            };
            levenshtein_within(&lower, &lowered, limit).map(|d| (d, i, c))
        })
        .min_by_key(|(d, i, _)| (*d, *i))
        .map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("gpu_count", ["gpus", "gpu_count2", "port"]), Some("gpu_count2"));
        assert_eq!(did_you_mean("presicion", ["precision", "port"]), Some("precision"));
        assert_eq!(did_you_mean("zzz", ["precision", "port"]), None);
        assert_eq!(did_you_mean("mi300x", ["MI300X", "H100"]), Some("MI300X"));
    }

    #[test]
    fn bounded_distance_is_the_distance_or_none() {
        let words = ["", "a", "gpus", "gpu_count", "presicion", "precision", "max-model-len", "unknown-flag-99", "İx"];
        for a in words {
            for b in words {
                let d = levenshtein(a, b);
                for limit in 0..6 {
                    assert_eq!(levenshtein_within(a, b, limit), (d <= limit).then_some(d), "{a} {b} {limit}");
                }
            }
        }
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn renders_with_caret_and_help() {
        let src = Source::new("fleet.yaml", "version: 1\nname: x\n");
        let d = Diagnostic::error("bad name").at("/name").help("use y").locate(&src);
        assert_eq!(
            d.render(false),
            "error: bad name\n --> fleet.yaml:2:7\n  |\n2 | name: x\n  |       ^\n  = help: use y\n"
        );
    }
}
