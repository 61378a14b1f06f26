//! Source text and positions: maps a JSON pointer into the YAML document back to the line
//! and column where the user wrote it, so every diagnostic can point at its place.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use saphyr_parser::{Event, Parser, Span};

/// A position in a source file: 1-based line and column, and the width to underline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Characters to underline (at least 1).
    pub len: usize,
}

/// Where a mapping entry's key and value sit.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Option<Pos>,
    value: Pos,
}

/// A loaded text file and, built on first use, the index from JSON pointers to positions.
#[derive(Debug)]
pub struct Source {
    /// The path as the user gave it; used in diagnostics and headers.
    pub name: String,
    /// The whole text.
    pub text: String,
    index: OnceLock<Index>,
    line_starts: OnceLock<Vec<usize>>,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    /// Keys that repeat within one mapping, in document order; the first is the first
    /// repeat (later ones may include keys inside a repeated key's value: see `build_index`).
    duplicates: Vec<Pos>,
}

impl Source {
    /// Wraps text read from `name`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source { name: name.into(), text: text.into(), index: OnceLock::new(), line_starts: OnceLock::new() }
    }

    /// The 1-based line `line` without its line break, if it exists.
    pub fn line(&self, line: usize) -> Option<&str> {
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        let rest = &self.text[*starts.get(line.checked_sub(1)?)?..];
        let l = rest.split('\n').next().unwrap_or("");
        Some(l.strip_suffix('\r').unwrap_or(l))
    }

    /// Position of the value at `pointer` (or of its key with `key`); falls back to the
    /// nearest ancestor that was written, so a missing field points at its parent.
    pub fn locate(&self, pointer: &str, key: bool) -> Option<Pos> {
        let index = &self.index.get_or_init(|| build_index(&self.text)).entries;
        let mut p = pointer;
        loop {
            if let Some(e) = index.get(p) {
                // An ancestor stands in for a missing node: its key is where the user looks.
                let want_key = key || p.len() != pointer.len();
                return Some(if want_key { e.key.unwrap_or(e.value) } else { e.value });
            }
            if p.is_empty() {
                return None;
            }
            p = match p.rfind('/') {
                Some(i) => &p[..i],
                None => "",
            };
        }
    }

    /// The first mapping key that repeats an earlier key of the same mapping.
    pub fn first_duplicate_key(&self) -> Option<Pos> {
        self.index.get_or_init(|| build_index(&self.text)).duplicates.first().copied()
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    // Most segments need no escape: copied once instead of through two `replace`s.
    if !s.contains(['~', '/']) {
        return s.to_string();
    }
    s.replace('~', "~0").replace('/', "~1")
}

/// A mapping or sequence being walked. `pointer` is its own JSON pointer.
enum Frame {
    Map {
        pointer: String,
        /// The pointer and position of the key just read, waiting for its value.
        key: Option<(String, Pos)>,
    },
    Seq {
        pointer: String,
        next: usize,
    },
}

fn pos_of(span: &Span) -> Pos {
    let len = span.end.index().saturating_sub(span.start.index()).max(1);
    Pos { line: span.start.line(), col: span.start.col() + 1, len }
}

/// Records `pointer` at its first occurrence (a repeated key keeps its first place).
fn record(index: &mut HashMap<String, Entry>, pointer: String, entry: Entry) {
    index.entry(pointer).or_insert(entry);
}

/// Walks the YAML events once and records where every node starts. Aliases are not
/// expanded (a pointer through an alias resolves to the alias itself), so this is linear in
/// the text even for an alias bomb. A syntax error ends the walk: whatever was indexed so
/// far still serves the diagnostics.
///
/// A key repeats an earlier key of its mapping exactly when its pointer is already indexed:
/// the earlier key's value was recorded under it. (A pointer inside a repeated key's value
/// can be indexed too, but only after that key, the first repeat, was found.) So repeats
/// cost one lookup, with no set of keys per mapping; complex keys get pointers of their own
/// (`\0complex<n>`, which no lookup reaches) so that they never meet each other.
fn build_index(text: &str) -> Index {
    // About one node per line in a block-style spec: sized once instead of grown (rehashing
    // was a fifth of the index's own cost at 100,000 keys).
    let lines = text.bytes().filter(|b| *b == b'\n').count();
    let mut index: HashMap<String, Entry> = HashMap::with_capacity(lines + 1);
    let mut duplicates = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut complex = 0usize;
    let mut parser = Parser::new_from_str(text);
    // Only the first document is a spec; later ones are reported by the loader.
    let mut documents = 0;
    while let Some(Ok((event, span))) = parser.next_event() {
        let is_node =
            matches!(event, Event::Scalar(..) | Event::Alias(..) | Event::MappingStart(..) | Event::SequenceStart(..));
        if !is_node {
            if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            }
            continue;
        }
        let pos = pos_of(&span);
        let container = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
        // Where does this node go? A scalar in key position is a key, not a node.
        let (pointer, key) = match stack.last_mut() {
            Some(Frame::Map { pointer, key }) => match key.take() {
                None => {
                    let segment = match &event {
                        Event::Scalar(v, ..) if v.contains(['~', '/']) => Cow::Owned(escape_segment(v)),
                        Event::Scalar(v, ..) => Cow::Borrowed(v.as_ref()),
                        _ => Cow::Borrowed("?"),
                    };
                    let mut child = String::with_capacity(pointer.len() + 1 + segment.len());
                    child.push_str(pointer);
                    child.push('/');
                    child.push_str(&segment);
                    if index.contains_key(&child) {
                        duplicates.push(pos);
                    }
                    *key = Some((child, pos));
                    if container {
                        // A complex key: nothing under it is reachable by a pointer.
                        complex += 1;
                        stack.push(Frame::Seq { pointer: format!("\u{0}complex{complex}"), next: 0 });
                    }
                    continue;
                }
                Some((child, kpos)) => (child, Some(kpos)),
            },
            Some(Frame::Seq { pointer, next }) => {
                let p = format!("{pointer}/{next}");
                *next += 1;
                (p, None)
            }
            None => {
                documents += 1;
                if documents > 1 {
                    break;
                }
                (String::new(), None)
            }
        };
        let entry = Entry { key, value: pos };
        match event {
            Event::MappingStart(..) => {
                record(&mut index, pointer.clone(), entry);
                stack.push(Frame::Map { pointer, key: None });
            }
            Event::SequenceStart(..) => {
                record(&mut index, pointer.clone(), entry);
                stack.push(Frame::Seq { pointer, next: 0 });
            }
            _ => record(&mut index, pointer, entry),
        }
    }
    Index { entries: index, duplicates }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_values_keys_and_flow_maps() {
        let src = Source::new(
            "f.yaml",
            "version: 1\nservices:\n  qwen:\n    model: Qwen/Qwen3-32B\n    args: {max-model-len: 32768}\n    list: [a, b]\n",
        );
        assert_eq!(src.locate("/version", false), Some(Pos { line: 1, col: 10, len: 1 }));
        assert_eq!(src.locate("/services/qwen/model", false).map(|p| (p.line, p.col)), Some((4, 12)));
        assert_eq!(src.locate("/services/qwen/model", true).map(|p| (p.line, p.col)), Some((4, 5)));
        assert_eq!(src.locate("/services/qwen/args/max-model-len", false).map(|p| (p.line, p.col)), Some((5, 27)));
        assert_eq!(src.locate("/services/qwen/list/1", false).map(|p| (p.line, p.col)), Some((6, 15)));
        // Missing: the nearest written ancestor.
        assert_eq!(src.locate("/services/qwen/gpus", false).map(|p| p.line), Some(3));
    }

    #[test]
    fn finds_the_first_repeated_key() {
        let src = Source::new("f.yaml", "a:\n  x: 1\nb: 2\na:\n  x: 3\n");
        assert_eq!(src.first_duplicate_key().map(|p| (p.line, p.col)), Some((4, 1)));
        // Equal complex keys in two mappings are not repeats of each other.
        let src = Source::new("f.yaml", "m:\n  ? {k: {y: 1}}\n  : 1\nn:\n  ? {k: {y: 1}}\n  : 2\n  z: 1\n  z: 2\n");
        assert_eq!(src.first_duplicate_key().map(|p| p.line), Some(8));
        assert_eq!(Source::new("f.yaml", "a: 1\nb: {a: 1}\n").first_duplicate_key(), None);
    }

    #[test]
    fn escapes_keys_with_slashes() {
        let src = Source::new("f.yaml", "a:\n  x/y~z: 1\n");
        assert_eq!(src.locate(&format!("/a/{}", escape_segment("x/y~z")), false).map(|p| p.line), Some(2));
    }
}
