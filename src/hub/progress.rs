//! A one-line progress display on standard error, only when it is a terminal: what the Hub
//! requests and the bundle copies show while they run.

use std::io::{IsTerminal as _, Write as _};

/// The line, redrawn in place.
pub struct ProgressLine {
    on: bool,
}

impl ProgressLine {
    /// A line that shows only if standard error is a terminal (a log file gets no escape codes).
    pub fn new() -> ProgressLine {
        ProgressLine { on: std::io::stderr().is_terminal() }
    }

    /// Replaces the line.
    pub fn set(&self, text: &str) {
        if self.on {
            let t: String = text.chars().take(110).collect();
            write(&format!("\r\x1b[2K{t}"));
        }
    }

    /// Clears the line.
    pub fn clear(&self) {
        if self.on {
            write("\r\x1b[2K");
        }
    }
}

impl Default for ProgressLine {
    fn default() -> ProgressLine {
        ProgressLine::new()
    }
}

/// Progress is best effort: a closed standard error is ignored.
fn write(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
