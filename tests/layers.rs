//! The crate's import graph: the stages only look back. Every `crate::`, `super::` and `self::`
//! path in `src/` (outside `#[cfg(test)]` modules and comments) is an arrow from the file it is
//! in to the module it names. Two checks:
//!
//! 1. No cycle: between top-level modules (a folder counts as one), and between the files of
//!    one folder (arrows to or from the folder's `mod.rs`, its public face, left out).
//! 2. No arrow from an earlier stage to a later one, in the order of `STAGES`.
//!
//! It reads the source as text (no parser): a path spelled in a string would count too, which
//! errs on the side of failing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Top-level modules by stage, earliest first; a module may use its own stage's and earlier
/// stages' modules. The data flows load → validate → resolve (whose output type is the plan)
/// → target → emit; `compile` drives those stages, the commands drive `compile`.
const STAGES: &[(&str, &[&str])] = &[
    ("foundation", &["text", "ids", "source", "safe_fs", "embedded", "spec", "diagnostic", "image", "reserved"]),
    ("load", &["load", "schema"]),
    ("inputs: recipe library and lock file", &["recipe", "lockfile"]),
    ("validate", &["validate", "hub"]),
    ("resolve → plan", &["resolve", "plan", "footprint"]),
    ("target", &["target"]),
    ("emit", &["emit"]),
    ("pipeline", &["compile"]),
    ("commands", &["cmd"]),
    ("command line", &["cli"]),
];

/// Each `.rs` file under `src/` as its module path (`recipe::catalog`; `mod.rs` is its folder).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).expect("src is readable").flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            if p.is_dir() {
                let mut sub = prefix.to_vec();
                sub.push(name);
                walk(&p, &sub, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let mut path = prefix.to_vec();
                if name != "mod" && !(prefix.is_empty() && (name == "lib" || name == "main")) {
                    path.push(name);
                }
                if !path.is_empty() {
                    out.insert(path.join("::"), fs::read_to_string(&p).expect("readable"));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &[], &mut out);
    out
}

/// The code of a file without its test module and its comments.
fn code(text: &str) -> String {
    let end = ["\n#[cfg(test)]\nmod ", "\n#[cfg(test)]\npub(super) mod ", "\n#[cfg(test)]\npub(crate) mod "]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.split(" // ").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names that starts at `crate`, `super` or `self`, as absolute segments,
/// with one level of `{…}` groups expanded (`crate::a::{b, c::d}` → `a::b`, `a::c::d`).
fn paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let here: Vec<String> = module.split("::").map(str::to_string).collect();
    // `super` of module `a::b` is `a`, whether it is `a/b.rs` or `a/b/mod.rs`.
    let parent: Vec<String> = here[..here.len() - 1].to_vec();
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let (start, skip) = if rest.starts_with("crate::") {
            (Vec::new(), 7)
        } else if rest.starts_with("super::") {
            (parent.clone(), 7)
        } else if rest.starts_with("self::") {
            (here.clone(), 6)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':') {
            i += skip;
            continue;
        }
        // `super::super::x` and `super::self` are not used in this crate; `super::` once.
        let mut j = i + skip;
        let mut segs = start.clone();
        loop {
            let k = j + code[j..].bytes().take_while(|c| ident(*c)).count();
            if k > j {
                segs.push(code[j..k].to_string());
            }
            if code[k..].starts_with("::{") {
                let close = code[k..].find('}').map_or(code.len(), |c| k + c);
                for item in code[k + 3..close].split(',') {
                    let mut s = segs.clone();
                    s.extend(item.trim().split("::").map(str::trim).filter(|p| !p.is_empty()).map(str::to_string));
                    out.push(s);
                }
                j = close;
                break;
            }
            if code[k..].starts_with("::") {
                j = k + 2;
                continue;
            }
            out.push(segs.clone());
            j = k;
            break;
        }
        i = j.max(i + 1);
    }
    out
}

/// Arrows between modules: each path names the longest module it starts with.
fn arrows() -> BTreeSet<(String, String)> {
    let mods = modules();
    let names: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let mut out = BTreeSet::new();
    for (module, text) in &mods {
        for segs in paths(module, &code(text)) {
            let target = (1..=segs.len()).rev().map(|n| segs[..n].join("::")).find(|m| names.contains(m.as_str()));
            if let Some(t) = target {
                if t != *module {
                    out.insert((module.clone(), t));
                }
            }
        }
    }
    out
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap_or(m)
}

/// A cycle in a directed graph, as its nodes in order, if there is one.
fn cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| *s == n) {
            return Some(stack[pos..].iter().chain(std::iter::once(&n)).map(|s| s.to_string()).collect());
        }
        if !done.insert(n) {
            return None;
        }
        stack.push(n);
        for m in next.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, next, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    next.keys().find_map(|n| visit(n, &next, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_form_no_cycle() {
    let edges: BTreeSet<(String, String)> =
        arrows().into_iter().map(|(a, b)| (top(&a).to_string(), top(&b).to_string())).filter(|(a, b)| a != b).collect();
    assert_eq!(cycle(&edges), None, "arrows: {edges:?}");
}

#[test]
fn files_of_a_folder_form_no_cycle() {
    let mods = modules();
    let folders: BTreeSet<&str> =
        mods.keys().filter(|m| mods.keys().any(|n| n.starts_with(&format!("{m}::")))).map(String::as_str).collect();
    let edges: BTreeSet<(String, String)> =
        arrows().into_iter().filter(|(a, b)| !folders.contains(a.as_str()) && !folders.contains(b.as_str())).collect();
    assert_eq!(cycle(&edges), None);
}

#[test]
fn no_stage_uses_a_later_one() {
    let stage_of = |m: &str| STAGES.iter().position(|(_, ms)| ms.contains(&top(m)));
    let mods = modules();
    for m in mods.keys() {
        assert!(stage_of(m).is_some(), "`{m}` is in no stage of STAGES: add it where it belongs");
    }
    let back: Vec<String> = arrows()
        .into_iter()
        .filter(|(a, b)| stage_of(a) < stage_of(b))
        .map(|(a, b)| {
            format!("{a} ({}) uses {b} ({})", STAGES[stage_of(&a).unwrap_or(0)].0, STAGES[stage_of(&b).unwrap_or(0)].0)
        })
        .collect();
    assert!(back.is_empty(), "arrows from an earlier stage to a later one:\n{}", back.join("\n"));
}

#[test]
fn the_reader_sees_known_arrows() {
    // The checks above are only as good as the reading: these arrows exist in the code.
    let a = arrows();
    for (from, to) in [("compile", "resolve"), ("target::compose", "target::dockerfile"), ("cmd::render", "emit")] {
        assert!(a.contains(&(from.to_string(), to.to_string())), "{from} -> {to} not seen");
    }
}
