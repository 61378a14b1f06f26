//! Engine catalogues: the flags and environment variables each engine accepts, kept as data
//! (`recipes/engines/*.yaml`) derived from the engines' own sources. Every recipe and every
//! service's `args`/`env` is checked against them.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::diagnostic::Diagnostic;
use crate::spec::Backend;

use super::version::EngineVersion;

/// One engine version's catalogue file (`recipes/engines/<engine>/<version>.yaml`), either
/// complete or a delta on another version's (`base`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineCatalog {
    /// Engine this catalogue describes.
    pub engine: Backend,
    /// The engine release it describes (`0.11.0`, `0.4.6.post1`).
    pub version: String,
    /// A delta: this catalogue is the one of version `base` with `remove_flags` and
    /// `remove_env` taken out and `flags`/`env` added or replaced by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// What it was derived from (engine version and source files).
    #[serde(default)]
    pub source: String,
    /// Command-line flags, without leading dashes.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// Environment variables the engine reads.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// Variables that must never be emitted, with their replacement.
    #[serde(default)]
    pub deny_env: Vec<DeniedEnv>,
    /// In a delta: flags of `base` this version does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_flags: Vec<String>,
    /// In a delta: variables of `base` this version does not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_env: Vec<String>,
}

/// One command-line flag.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Name without leading dashes.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: FlagKind,
    /// Allowed values, for `choice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Accepts `--no-<name>`.
    #[serde(default)]
    pub negatable: bool,
    /// Set by aimgen itself; recipes and services may not set it.
    #[serde(default)]
    pub owned: bool,
    /// Other names for the same flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// How many values the flag takes, as argparse says it: `?`, `*`, `+` or a count.
    /// Absent: exactly one (none for `bool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nargs: Option<String>,
    /// The engine's default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    /// Smallest accepted value (numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest accepted value (numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// `min` itself is not accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclusive_min: bool,
    /// `max` itself is not accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclusive_max: bool,
    /// The value is a credential (an API key, a token, a key password).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A flag's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlagKind {
    /// Whole number.
    Int,
    /// Number.
    Float,
    /// Bare switch.
    Bool,
    /// Any text.
    String,
    /// One of `choices`.
    Choice,
    /// A JSON document (given as a mapping or list, or as text).
    Json,
}

/// An environment variable an engine reads.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The value is a credential.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A variable that must never be emitted.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeniedEnv {
    /// Variable name.
    pub name: String,
    /// What to use instead, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instead: Option<String>,
    /// Why it is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Every engine version's catalogue, indexed.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Catalogues given to `Catalog::new`, by engine and version.
    loaded: BTreeMap<Backend, BTreeMap<EngineVersion, Indexed>>,
    /// Use the built-in catalogues, each indexed on first use: a vLLM 0.11 fleet never pays
    /// for SGLang's flags, nor for the other vLLM releases.
    builtin: bool,
    /// Per engine (vLLM, SGLang), every flag name and alias of any catalogued version,
    /// gathered on first use: an unknown flag is then told apart with one lookup instead of
    /// two per version (100,000 unknown flags spent a third of their time there).
    names: [OnceLock<HashSet<String>>; 2],
}

#[derive(Debug, Clone, Default)]
pub(super) struct Indexed {
    pub(super) flags: BTreeMap<String, Flag>,
    aliases: BTreeMap<String, String>,
    pub(super) env: BTreeMap<String, EnvVar>,
    pub(super) deny: BTreeMap<String, DeniedEnv>,
}

impl Indexed {
    /// `base` with the catalogue file `f` applied: a whole catalogue on an empty base, or a
    /// delta on its base version's.
    fn apply(mut self, f: EngineCatalog) -> Indexed {
        for name in &f.remove_flags {
            if let Some(old) = self.flags.remove(name) {
                for a in &old.aliases {
                    self.aliases.remove(a);
                }
            }
        }
        for name in &f.remove_env {
            self.env.remove(name);
        }
        for flag in f.flags {
            if let Some(old) = self.flags.remove(&flag.name) {
                for a in &old.aliases {
                    self.aliases.remove(a);
                }
            }
            for a in &flag.aliases {
                self.aliases.insert(a.clone(), flag.name.clone());
            }
            self.flags.insert(flag.name.clone(), flag);
        }
        for e in f.env {
            self.env.insert(e.name.clone(), e);
        }
        for d in f.deny_env {
            self.deny.insert(d.name.clone(), d);
        }
        self
    }

    pub(super) fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.get(name).or_else(|| self.aliases.get(name).and_then(|n| self.flags.get(n)))
    }

    /// The flag `name`, or the negatable flag `name` turns off (`no-<flag>`).
    pub(super) fn flag_or_negation(&self, name: &str) -> Option<&Flag> {
        self.flag(name).or_else(|| name.strip_prefix("no-").and_then(|n| self.flag(n)).filter(|f| f.negatable))
    }
}

/// The engine's name as its project writes it, for messages.
pub fn engine_name(engine: Backend) -> &'static str {
    match engine {
        Backend::Vllm => "vLLM",
        Backend::Sglang => "SGLang",
    }
}

/// Which catalogue a check used for an engine version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked {
    /// The catalogue of exactly that version.
    Exact(EngineVersion),
    /// No catalogue of the version asked for (or none asked for): the nearest one.
    Nearest(EngineVersion),
}

impl Picked {
    /// The version whose catalogue is used.
    pub fn version(&self) -> &EngineVersion {
        match self {
            Picked::Exact(v) | Picked::Nearest(v) => v,
        }
    }
}

/// Errors in a set of catalogue files (the file's version is in each message).
fn chain_problem(engine: Backend, version: &str, problem: &str) -> Diagnostic {
    Diagnostic::error(format!("{} catalogue {version}: {problem}", engine.as_str()))
}

impl Catalog {
    /// Indexes catalogue files, resolving deltas; every problem (a version that does not
    /// parse, twice the same version, a missing base, a cycle of bases) is reported.
    pub fn new(files: Vec<EngineCatalog>) -> Result<Catalog, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut by_version: BTreeMap<(Backend, EngineVersion), EngineCatalog> = BTreeMap::new();
        for f in files {
            let Some(v) = EngineVersion::parse(&f.version) else {
                problems.push(chain_problem(f.engine, &f.version, "the version does not parse"));
                continue;
            };
            match by_version.entry((f.engine, v)) {
                std::collections::btree_map::Entry::Occupied(_) => {
                    problems.push(chain_problem(f.engine, &f.version, "two catalogues describe this version"))
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(f);
                }
            }
        }
        let mut loaded: BTreeMap<Backend, BTreeMap<EngineVersion, Indexed>> = BTreeMap::new();
        for (engine, version) in by_version.keys() {
            // The chain of bases, newest first, each checked to exist and not to repeat.
            let mut chain = vec![version.clone()];
            let mut broken = None;
            while let Some(base) =
                by_version.get(&(*engine, chain[chain.len() - 1].clone())).and_then(|f| f.base.clone())
            {
                match EngineVersion::parse(&base) {
                    Some(b) if chain.contains(&b) => broken = Some(format!("its bases form a cycle through {base}")),
                    Some(b) if by_version.contains_key(&(*engine, b.clone())) => {
                        chain.push(b);
                        continue;
                    }
                    _ => broken = Some(format!("its base {base} is not a catalogued version")),
                }
                break;
            }
            if let Some(why) = broken {
                problems.push(chain_problem(*engine, &version.to_string(), &why));
                continue;
            }
            let idx = chain
                .iter()
                .rev()
                .filter_map(|v| by_version.get(&(*engine, v.clone())))
                .fold(Indexed::default(), |acc, f| acc.apply(f.clone()));
            loaded.entry(*engine).or_default().insert(version.clone(), idx);
        }
        if problems.is_empty() {
            Ok(Catalog { loaded, builtin: false, names: Default::default() })
        } else {
            Err(problems)
        }
    }

    /// The built-in catalogues (`recipes/engines/<engine>/<version>.yaml`, as JSON made by
    /// build.rs), each parsed and indexed when a version is first asked about.
    pub fn builtin() -> Catalog {
        Catalog { loaded: BTreeMap::new(), builtin: true, names: Default::default() }
    }

    /// The catalogued versions of an engine, oldest first.
    pub fn versions(&self, engine: Backend) -> Vec<EngineVersion> {
        if self.builtin {
            let mut v: Vec<EngineVersion> =
                builtin_entries().iter().filter(|e| e.engine == engine).map(|e| e.version.clone()).collect();
            v.sort();
            v.dedup();
            v
        } else {
            self.loaded.get(&engine).map(|m| m.keys().cloned().collect()).unwrap_or_default()
        }
    }

    /// The catalogue to check `engine` at `want` with: that version's, else the newest one
    /// not newer than it, else the oldest; with no version asked for, the newest. `None` when
    /// no catalogue of the engine exists.
    pub fn pick(&self, engine: Backend, want: Option<&EngineVersion>) -> Option<Picked> {
        let versions = self.versions(engine);
        let Some(want) = want else { return versions.last().cloned().map(Picked::Nearest) };
        if versions.contains(want) {
            return Some(Picked::Exact(want.clone()));
        }
        versions.iter().rev().find(|v| *v < want).or(versions.first()).cloned().map(Picked::Nearest)
    }

    /// The newest catalogued version of an engine.
    pub fn newest(&self, engine: Backend) -> Option<EngineVersion> {
        self.versions(engine).pop()
    }

    pub(super) fn index(&self, engine: Backend, version: &EngineVersion) -> Option<&Indexed> {
        if self.builtin {
            builtin_entries().iter().position(|e| e.engine == engine && e.version == *version).and_then(builtin_index)
        } else {
            self.loaded.get(&engine)?.get(version)
        }
    }

    /// Every engine version's index, as text: for tests comparing two ways of loading.
    #[doc(hidden)]
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for e in [Backend::Vllm, Backend::Sglang] {
            for v in self.versions(e) {
                out.push_str(&format!("{e:?} {v}: {:?}\n", self.index(e, &v)));
            }
        }
        out
    }

    /// The flag called `name` (or one of its aliases) in that version.
    pub fn flag(&self, engine: Backend, version: &EngineVersion, name: &str) -> Option<&Flag> {
        self.index(engine, version)?.flag(name)
    }

    /// The environment variable called `name`, when that version's catalogue lists it.
    pub fn env_var(&self, engine: Backend, version: &EngineVersion, name: &str) -> Option<&EnvVar> {
        self.index(engine, version)?.env.get(name)
    }

    /// Whether `name` may be a flag, or the negation (`no-<flag>`) of one, in some catalogued
    /// version of `engine`. `false` means in none: what `flag_or_negation` would find in no
    /// version, without asking each.
    pub(super) fn maybe_flag(&self, engine: Backend, name: &str) -> bool {
        let slot = match engine {
            Backend::Vllm => 0,
            Backend::Sglang => 1,
        };
        let names = self.names[slot].get_or_init(|| {
            self.versions(engine)
                .iter()
                .filter_map(|v| self.index(engine, v))
                .flat_map(|i| i.flags.keys().chain(i.aliases.keys()))
                .cloned()
                .collect()
        });
        names.contains(name) || name.strip_prefix("no-").is_some_and(|n| names.contains(n))
    }

    /// Whether a catalogue for `engine` was loaded at all.
    pub fn knows(&self, engine: Backend) -> bool {
        !self.versions(engine).is_empty()
    }

    /// The catalogued versions of `engine` for which `has` holds, oldest first.
    pub(super) fn versions_where(&self, engine: Backend, has: impl Fn(&Indexed) -> bool) -> Vec<EngineVersion> {
        self.versions(engine).into_iter().filter(|v| self.index(engine, v).is_some_and(&has)).collect()
    }

    /// The deny-list entry for `name`, from the newest catalogue of either engine.
    pub fn denied(&self, name: &str) -> Option<&DeniedEnv> {
        [Backend::Vllm, Backend::Sglang]
            .into_iter()
            .find_map(|e| self.newest(e).and_then(|v| self.index(e, &v)).and_then(|i| i.deny.get(name)))
    }

    /// Every flag of an engine version, sorted.
    pub fn flags(&self, engine: Backend, version: &EngineVersion) -> impl Iterator<Item = &Flag> {
        self.index(engine, version).into_iter().flat_map(|i| i.flags.values())
    }
}

/// One embedded catalogue file, as build.rs tagged it.
struct BuiltinEntry {
    engine: Backend,
    version: EngineVersion,
    base: Option<EngineVersion>,
    json: &'static str,
}

/// The embedded catalogue files whose tags parse (the test suite checks every file in full,
/// `library::check_builtin`).
fn builtin_entries() -> &'static [BuiltinEntry] {
    static ENTRIES: OnceLock<Vec<BuiltinEntry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        crate::embedded::ENGINE_JSON
            .iter()
            .filter_map(|(tag, json)| {
                let mut parts = tag.split(' ');
                let engine = match parts.next()? {
                    "vllm" => Backend::Vllm,
                    "sglang" => Backend::Sglang,
                    _ => return None,
                };
                let version = EngineVersion::parse(parts.next()?)?;
                let base = match parts.next() {
                    Some(b) if !b.is_empty() => Some(EngineVersion::parse(b)?),
                    _ => None,
                };
                Some(BuiltinEntry { engine, version, base, json: (*json)? })
            })
            .collect()
    })
}

/// The built-in catalogue of entry `i`, parsed, its deltas applied, and indexed once. A file
/// that does not parse, or whose bases are missing or form a cycle, leaves the version
/// without a catalogue (`check_builtin` says why).
fn builtin_index(i: usize) -> Option<&'static Indexed> {
    static SLOTS: OnceLock<Vec<OnceLock<Option<Indexed>>>> = OnceLock::new();
    let entries = builtin_entries();
    let slots = SLOTS.get_or_init(|| entries.iter().map(|_| OnceLock::new()).collect());
    slots
        .get(i)?
        .get_or_init(|| {
            let e = &entries[i];
            // The base's entry, after checking the chain of bases ends (no cycle), so the
            // recursion below never waits on a slot it is filling.
            let mut seen = vec![i];
            let mut at = i;
            while let Some(b) = &entries[at].base {
                at = entries.iter().position(|x| x.engine == e.engine && x.version == *b)?;
                if seen.contains(&at) {
                    return None;
                }
                seen.push(at);
            }
            let base = match &e.base {
                Some(_) => builtin_index(seen[1])?.clone(),
                None => Indexed::default(),
            };
            let file: EngineCatalog = serde_json::from_str(e.json).ok()?;
            Some(base.apply(file))
        })
        .as_ref()
}

pub use crate::text::valid_env_name;

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn file(yaml: &str) -> EngineCatalog {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
    }

    pub(crate) fn v(s: &str) -> EngineVersion {
        EngineVersion::parse(s).unwrap_or_else(|| panic!("`{s}` parses"))
    }

    /// Two vLLM versions: 0.11.0 complete, 0.33.0 a delta on it that drops `swap-space`,
    /// adds `attention-backend`, widens a choice and reads one more variable.
    pub(crate) fn two_versions() -> Catalog {
        let old = file(
            "engine: vllm\nversion: '0.11.0'\nflags:\n  - {name: swap-space, type: float}\n  - {name: dtype, type: choice, choices: [auto, half]}\n  - {name: max-num-seqs, type: int}\n  - {name: gpu-memory-utilization, type: float}\n  - {name: seed, type: int, min: 0, max: 100, exclusive_max: true}\n  - {name: tensor-parallel-size, type: int, owned: true, aliases: [tp]}\nenv:\n  - {name: VLLM_OLD}\n",
        );
        let new = file(
            "engine: vllm\nversion: '0.33.0'\nbase: '0.11.0'\nremove_flags: [swap-space]\nremove_env: [VLLM_OLD]\nflags:\n  - {name: attention-backend, type: string}\n  - {name: dtype, type: choice, choices: [auto, half, bfloat16]}\n  - {name: api-key, type: string, nargs: '+', secret: true}\n  - {name: tags, type: string, nargs: '+'}\n  - {name: pair, type: int, nargs: '2'}\n  - {name: maybe, type: string, nargs: '?'}\nenv:\n  - {name: VLLM_NEW}\n  - {name: VLLM_KEY, secret: true}\n",
        );
        Catalog::new(vec![new, old]).unwrap_or_else(|d| panic!("{d:?}"))
    }

    #[test]
    fn deltas_apply_on_their_base() {
        let c = two_versions();
        assert_eq!(c.versions(Backend::Vllm), vec![v("0.11.0"), v("0.33.0")]);
        assert!(c.flag(Backend::Vllm, &v("0.11.0"), "swap-space").is_some());
        assert!(c.flag(Backend::Vllm, &v("0.33.0"), "swap-space").is_none());
        assert!(c.flag(Backend::Vllm, &v("0.33.0"), "tp").is_some_and(|f| f.name == "tensor-parallel-size"));
        assert_eq!(c.flag(Backend::Vllm, &v("0.33.0"), "dtype").map(|f| f.choices.len()), Some(3));
        assert!(c.flag(Backend::Vllm, &v("0.33.0"), "api-key").is_some_and(|f| f.secret));
        assert_eq!(c.pick(Backend::Vllm, Some(&v("0.11.0"))), Some(Picked::Exact(v("0.11.0"))));
        assert_eq!(c.pick(Backend::Vllm, Some(&v("0.20.1"))), Some(Picked::Nearest(v("0.11.0"))));
        assert_eq!(c.pick(Backend::Vllm, Some(&v("0.9.0"))), Some(Picked::Nearest(v("0.11.0"))));
        assert_eq!(c.pick(Backend::Vllm, None), Some(Picked::Nearest(v("0.33.0"))));
        assert_eq!(c.pick(Backend::Sglang, None), None);
    }

    #[test]
    fn broken_chains_are_reported() {
        let a = file("engine: vllm\nversion: '0.2.0'\nbase: '0.3.0'\n");
        let b = file("engine: vllm\nversion: '0.3.0'\nbase: '0.2.0'\n");
        let c = file("engine: vllm\nversion: '0.4.0'\nbase: '0.1.0'\n");
        let d = file("engine: vllm\nversion: 'x'\n");
        let e = file("engine: vllm\nversion: '0.4'\n");
        let problems: Vec<String> =
            Catalog::new(vec![a, b, c, d, e]).err().unwrap_or_default().into_iter().map(|d| d.message).collect();
        assert_eq!(
            problems,
            [
                "vllm catalogue x: the version does not parse",
                "vllm catalogue 0.4: two catalogues describe this version",
                "vllm catalogue 0.2.0: its bases form a cycle through 0.2.0",
                "vllm catalogue 0.3.0: its bases form a cycle through 0.3.0",
                "vllm catalogue 0.4.0: its base 0.1.0 is not a catalogued version",
            ]
        );
    }
}
