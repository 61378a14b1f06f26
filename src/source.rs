//! Source text and positions: maps a JSON pointer into the YAML document back to the line
//! and column where the user wrote it, so every diagnostic can point at its place.

use std::collections::{HashMap, HashSet};
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
    /// Keys that repeat within one mapping, in document order.
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
    s.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Map {
        pointer: String,
        /// The key just read, waiting for its value.
        key: Option<(String, Pos)>,
        /// Keys seen so far.
        seen: HashSet<String>,
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

/// Walks the YAML events once and records where every node starts. Aliases are not
/// expanded (a pointer through an alias resolves to the alias itself), so this is linear in
/// the text even for an alias bomb. A syntax error ends the walk: whatever was indexed so
/// far still serves the diagnostics.
fn build_index(text: &str) -> Index {
    let mut index = HashMap::new();
    let mut duplicates = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // Only the first document is a spec; later ones are reported by the loader.
    let mut documents = 0;
    while let Some(Ok((event, span))) = parser.next_event() {
        let pos = pos_of(&span);
        // Where does this node go? A scalar in key position is a key, not a node.
        let node_pointer: Option<(String, Option<Pos>)> = match (&event, stack.last_mut()) {
            (Event::MappingEnd | Event::SequenceEnd, _) => None,
            (
                Event::Scalar(..) | Event::Alias(..) | Event::MappingStart(..) | Event::SequenceStart(..),
                Some(Frame::Map { pointer, key, seen }),
            ) => match key.take() {
                None => {
                    let k = match &event {
                        Event::Scalar(v, ..) => v.to_string(),
                        _ => "?".to_string(),
                    };
                    if !seen.insert(k.clone()) {
                        duplicates.push(pos);
                    }
                    *key = Some((k, pos));
                    if matches!(event, Event::MappingStart(..) | Event::SequenceStart(..)) {
                        // A complex key: index nothing under it.
                        stack.push(Frame::Seq { pointer: "\u{0}complex".into(), next: 0 });
                    }
                    None
                }
                Some((k, kpos)) => Some((format!("{pointer}/{}", escape_segment(&k)), Some(kpos))),
            },
            (
                Event::Scalar(..) | Event::Alias(..) | Event::MappingStart(..) | Event::SequenceStart(..),
                Some(Frame::Seq { pointer, next }),
            ) => {
                let p = format!("{pointer}/{next}");
                *next += 1;
                Some((p, None))
            }
            (Event::Scalar(..) | Event::Alias(..) | Event::MappingStart(..) | Event::SequenceStart(..), None) => {
                documents += 1;
                if documents > 1 {
                    break;
                }
                Some((String::new(), None))
            }
            _ => None,
        };
        match event {
            Event::MappingStart(..) => {
                if let Some((p, key)) = node_pointer {
                    index.entry(p.clone()).or_insert(Entry { key, value: pos });
                    stack.push(Frame::Map { pointer: p, key: None, seen: HashSet::new() });
                }
            }
            Event::SequenceStart(..) => {
                if let Some((p, key)) = node_pointer {
                    index.entry(p.clone()).or_insert(Entry { key, value: pos });
                    stack.push(Frame::Seq { pointer: p, next: 0 });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(..) | Event::Alias(..) => {
                if let Some((p, key)) = node_pointer {
                    index.entry(p).or_insert(Entry { key, value: pos });
                }
            }
            _ => {}
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
    fn escapes_keys_with_slashes() {
        let src = Source::new("f.yaml", "a:\n  x/y~z: 1\n");
        assert_eq!(src.locate(&format!("/a/{}", escape_segment("x/y~z")), false).map(|p| p.line), Some(2));
    }
}
