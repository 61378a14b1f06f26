//! `Diagnostic::render` with arbitrary positions, widths, snippets, messages and help.
//!
//! Properties: nothing panics; the output ends with a newline; without colour it holds no
//! control character but `\n`, and no line longer than the text it was given allows.
#![no_main]

use aimgen::diagnostic::{Diagnostic, Severity};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    warning: bool,
    message: String,
    path: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    len: usize,
    at_key: bool,
    snippet: Option<String>,
    help: Option<String>,
    color: bool,
}

fuzz_target!(|i: Input| {
    let d = Diagnostic {
        severity: if i.warning { Severity::Warning } else { Severity::Error },
        message: i.message,
        path: i.path,
        line: i.line,
        column: i.column,
        pointer: None,
        help: i.help,
        len: i.len,
        at_key: i.at_key,
        snippet: i.snippet,
        missing_field: false,
    };
    let out = d.render(i.color);
    assert!(out.ends_with('\n'));
    if !i.color {
        // Without colour, nothing in it may move a terminal's cursor, start a line or
        // reorder text: user text is shown escaped.
        if let Some(c) = out.chars().find(|c| *c != '\n' && aimgen::text::is_unsafe_char(*c)) {
            panic!("U+{:04X} raw in {out:?}", c as u32);
        }
        // User text may hold any character; only what render itself adds is bounded. Unsafe
        // characters are shown as escapes, at most 6 bytes per byte (a 1-byte control is
        // `\u{1b}`; a 3-byte U+2028 is `\u{2028}`).
        let limit = 6
            * (d.message.len() + d.path.as_ref().map_or(0, String::len) + d.help.as_ref().map_or(0, String::len));
        for l in out.lines() {
            assert!(l.len() <= limit + 4 * 200 + 64, "line of {} bytes", l.len());
        }
    }
    let _ = serde_json::to_string(&d);
});
