//! Engine catalogues: the flags and environment variables each engine accepts, kept as data
//! (`recipes/engines/*.yaml`) derived from the engines' own sources. Every recipe and every
//! service's `args`/`env` is checked against them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::escape_segment;
use crate::spec::{Backend, EnvValue};

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
}

#[derive(Debug, Clone, Default)]
struct Indexed {
    flags: BTreeMap<String, Flag>,
    aliases: BTreeMap<String, String>,
    env: BTreeMap<String, EnvVar>,
    deny: BTreeMap<String, DeniedEnv>,
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

    fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.get(name).or_else(|| self.aliases.get(name).and_then(|n| self.flags.get(n)))
    }

    /// The flag `name`, or the negatable flag `name` turns off (`no-<flag>`).
    fn flag_or_negation(&self, name: &str) -> Option<&Flag> {
        self.flag(name).or_else(|| name.strip_prefix("no-").and_then(|n| self.flag(n)).filter(|f| f.negatable))
    }
}

/// Unknown flags per argument list that get a "did you mean" (the report shows 200 at most).
const SUGGESTIONS: usize = 200;

/// Variable prefixes an engine owns: an unknown name with such a prefix is a typo.
fn owned_prefixes(engine: Backend) -> &'static [&'static str] {
    match engine {
        Backend::Vllm => &["VLLM_"],
        Backend::Sglang => &["SGLANG_", "SGL_"],
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
            Ok(Catalog { loaded, builtin: false })
        } else {
            Err(problems)
        }
    }

    /// The built-in catalogues (`recipes/engines/<engine>/<version>.yaml`, as JSON made by
    /// build.rs), each parsed and indexed when a version is first asked about.
    pub fn builtin() -> Catalog {
        Catalog { loaded: BTreeMap::new(), builtin: true }
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

    fn index(&self, engine: Backend, version: &EngineVersion) -> Option<&Indexed> {
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

    /// Whether a catalogue for `engine` was loaded at all.
    pub fn knows(&self, engine: Backend) -> bool {
        !self.versions(engine).is_empty()
    }

    /// The catalogued versions of `engine` for which `has` holds, oldest first.
    fn versions_where(&self, engine: Backend, has: impl Fn(&Indexed) -> bool) -> Vec<EngineVersion> {
        self.versions(engine).into_iter().filter(|v| self.index(engine, v).is_some_and(&has)).collect()
    }

    /// Checks a service's engine arguments against the catalogue of `version`, the release
    /// its image runs; `base` is the JSON pointer of the `args` mapping.
    pub fn check_args(
        &self,
        engine: Backend,
        version: &EngineVersion,
        args: &BTreeMap<String, Json>,
        base: &str,
    ) -> Vec<Diagnostic> {
        self.check_args_in(engine, version, args, base, &format!("this image runs {version}"))
    }

    /// `check_args`, with `context` saying why `version` was checked (the end of each help).
    pub fn check_args_in(
        &self,
        engine: Backend,
        version: &EngineVersion,
        args: &BTreeMap<String, Json>,
        base: &str,
        context: &str,
    ) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let Some(idx) = self.index(engine, version) else { return out };
        if idx.flags.is_empty() {
            return out;
        }
        let mut suggested = 0usize;
        let at_version = format!("{} {version}", engine_name(engine));
        for (name, value) in args {
            let at = format!("{base}/{}", escape_segment(name));
            let bare = name.trim_start_matches('-');
            if bare.len() != name.len() {
                out.push(
                    Diagnostic::error(format!("write engine flags without leading dashes: `{name}`"))
                        .at_key(at)
                        .help(format!("use `{bare}`")),
                );
                continue;
            }
            let Some(flag) = idx.flag_or_negation(bare) else {
                let other = match engine {
                    Backend::Vllm => Backend::Sglang,
                    Backend::Sglang => Backend::Vllm,
                };
                let having = self.versions_where(engine, |i| i.flag_or_negation(bare).is_some());
                // A suggestion compares the name with every flag the engine has; past the first
                // `SUGGESTIONS` unknown flags (more than anyone reads) it is skipped, so 100,000
                // unknown flags stay well under a second.
                suggested += 1;
                let close = if suggested <= SUGGESTIONS {
                    did_you_mean(bare, idx.flags.keys().map(String::as_str))
                } else {
                    None
                };
                let help = if !having.is_empty() {
                    format!("`--{bare}` {}; {context}", which_versions(engine, &having, version))
                } else if let Some(f) = close {
                    format!("did you mean `{f}`?")
                } else if self.newest(other).is_some_and(|v| self.flag(other, &v, bare).is_some()) {
                    format!("`--{bare}` is a {} flag, not a {} one", other.as_str(), engine.as_str())
                } else {
                    format!("see `aimgen recipes flags {}` for the flags aimgen knows", engine.as_str())
                };
                out.push(Diagnostic::error(format!("`--{bare}` is not a flag of {at_version}")).at_key(at).help(help));
                continue;
            };
            if flag.owned {
                out.push(
                    Diagnostic::error(format!("`--{bare}` is set by aimgen itself"))
                        .at_key(at)
                        .help("use the service's own fields (model, gpus, port, revision, served_model_name) instead"),
                );
                continue;
            }
            // Credentials (the catalogue's `secret` marks, or names and help saying so): one
            // place decides and explains, `crate::secrets`.
            if crate::secrets::flag_is_secret(flag) && crate::secrets::is_literal(value) {
                out.push(crate::secrets::literal_flag(self, engine, version, &flag.name, at));
                continue;
            }
            if let Some(problem) = check_value(engine, flag, value) {
                let help = (flag.kind == FlagKind::Choice).then(|| {
                    let got = show(value);
                    let elsewhere =
                        self.versions_where(engine, |i| i.flag(&flag.name).is_some_and(|f| f.choices.contains(&got)));
                    if !elsewhere.is_empty() {
                        format!("`{got}` {}; {context}", which_versions(engine, &elsewhere, version))
                    } else {
                        did_you_mean(&got, flag.choices.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?"))
                            .unwrap_or_else(|| format!("{at_version} accepts {}", flag.choices.join(", ")))
                    }
                });
                out.push(Diagnostic::error(format!("`--{bare}`: {problem}")).at(at).help_opt(help));
            }
        }
        out
    }

    /// Checks a service's environment variables against the catalogue of `version`, the
    /// release its image runs; `base` is the JSON pointer of the `env` mapping.
    pub fn check_env(
        &self,
        engine: Backend,
        version: &EngineVersion,
        env: &BTreeMap<String, EnvValue>,
        base: &str,
    ) -> Vec<Diagnostic> {
        self.check_env_in(engine, version, env, base, &format!("this image runs {version}"))
    }

    /// `check_env`, with `context` saying why `version` was checked (the end of each help).
    pub fn check_env_in(
        &self,
        engine: Backend,
        version: &EngineVersion,
        env: &BTreeMap<String, EnvValue>,
        base: &str,
        context: &str,
    ) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let Some(idx) = self.index(engine, version) else { return out };
        for name in env.keys() {
            let at = format!("{base}/{}", escape_segment(name));
            if let Some(d) = self.denied(name).or_else(|| idx.deny.get(name)) {
                let mut msg = format!("`{name}` must not be used");
                if let Some(why) = &d.why {
                    msg.push_str(&format!(": {why}"));
                }
                out.push(
                    Diagnostic::error(msg)
                        .at_key(at)
                        .help_opt(d.instead.as_ref().map(|i| format!("use `{i}` instead"))),
                );
                continue;
            }
            if !valid_env_name(name) {
                out.push(
                    Diagnostic::error(format!("`{name}` is not a valid environment variable name"))
                        .at_key(at)
                        .help("use letters, digits and `_`, not starting with a digit"),
                );
                continue;
            }
            if crate::secrets::env_is_secret(self, engine, version, name) {
                out.push(crate::secrets::literal_env(self, engine, version, name, at));
                continue;
            }
            let prefixed = owned_prefixes(engine).iter().any(|p| name.starts_with(p));
            if prefixed && !idx.env.is_empty() && !idx.env.contains_key(name) {
                let having = self.versions_where(engine, |i| i.env.contains_key(name));
                let help = if !having.is_empty() {
                    format!("`{name}` is read by {}; {context}", list_versions(engine, &having))
                } else {
                    did_you_mean(name, idx.env.keys().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!("{} warns about unknown {} variables", engine.as_str(), owned_prefixes(engine)[0])
                        })
                };
                out.push(
                    Diagnostic::error(format!("`{name}` is not read by {} {version}", engine_name(engine)))
                        .at_key(at)
                        .help(help),
                );
            }
        }
        out
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

/// "needs vLLM >= 0.32.0" / "was removed after vLLM 0.11.2" / "exists in vLLM 0.11.0,
/// 0.33.0": which versions have something, relative to the one checked.
fn which_versions(engine: Backend, having: &[EngineVersion], version: &EngineVersion) -> String {
    let name = engine_name(engine);
    match (having.first(), having.last()) {
        (Some(lo), _) if lo > version => format!("needs {name} >= {lo}"),
        (_, Some(hi)) if hi < version => format!("was removed after {name} {hi}"),
        _ => format!("exists in {}", list_versions(engine, having)),
    }
}

fn list_versions(engine: Backend, versions: &[EngineVersion]) -> String {
    let list: Vec<String> = versions.iter().map(EngineVersion::to_string).collect();
    format!("{} {}", engine_name(engine), list.join(", "))
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

/// Ranges an engine documents but its parser does not enforce (it fails later, or runs
/// badly), used when a catalogue gives no range of its own: (min, max, exclusive min,
/// exclusive max).
/// - vLLM `--gpu-memory-utilization`: "a fraction between 0 and 1" (`CacheConfig`,
///   vllm/config/cache.py; newer releases declare it `Field(gt=0, le=1)`).
/// - vLLM `--max-num-seqs`, `--max-num-batched-tokens`: counts, at least 1
///   (`SchedulerConfig`, vllm/config/scheduler.py).
/// - SGLang `--mem-fraction-static`: a fraction of GPU memory (`ServerArgs`,
///   python/sglang/srt/server_args.py).
/// - SGLang `--max-running-requests`: a count, at least 1.
fn documented_range(engine: Backend, flag: &str) -> Option<(Option<f64>, Option<f64>, bool, bool)> {
    Some(match (engine, flag) {
        (Backend::Vllm, "gpu-memory-utilization") | (Backend::Sglang, "mem-fraction-static") => {
            (Some(0.0), Some(1.0), true, false)
        }
        (Backend::Vllm, "max-num-seqs" | "max-num-batched-tokens") | (Backend::Sglang, "max-running-requests") => {
            (Some(1.0), None, false, false)
        }
        _ => return None,
    })
}

fn check_value(engine: Backend, flag: &Flag, value: &Json) -> Option<String> {
    let takes_list = matches!(flag.nargs.as_deref(), Some("*" | "+"))
        || flag.nargs.as_deref().is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 1));
    if flag.kind != FlagKind::Bool && flag.kind != FlagKind::Json {
        match (value, flag.nargs.as_deref()) {
            // `--flag` alone: argparse takes the flag's `const` (`?`) or an empty list (`*`).
            (Json::Null, Some("?" | "*")) => return None,
            (Json::Array(items), _) if takes_list => {
                let count = flag.nargs.as_deref().and_then(|n| n.parse::<usize>().ok());
                if items.is_empty() && flag.nargs.as_deref() != Some("*") {
                    return Some("needs at least one value".into());
                }
                if let Some(n) = count.filter(|n| *n != items.len()) {
                    return Some(format!("takes exactly {n} values, found {}", items.len()));
                }
                return items.iter().find_map(|item| check_one(engine, flag, item));
            }
            (Json::Array(_), _) => return Some("takes one value, not a list".into()),
            _ => {}
        }
    }
    check_one(engine, flag, value)
}

/// Checks one value of a flag: its type, then its range.
fn check_one(engine: Backend, flag: &Flag, value: &Json) -> Option<String> {
    let text = match value {
        Json::String(s) => Some(s.as_str()),
        _ => None,
    };
    let number = match flag.kind {
        FlagKind::Bool => {
            return match value {
                Json::Null | Json::Bool(true) => None,
                Json::Bool(false) if flag.negatable => None,
                Json::Bool(false) => Some("is a switch that cannot be turned off; remove it instead".into()),
                _ => Some("is a switch: write `null` or `true`".into()),
            }
        }
        FlagKind::Int => match value {
            Json::Number(n) if n.is_i64() || n.is_u64() => n.as_f64(),
            Json::String(s) if s.parse::<i64>().is_ok() => s.parse::<f64>().ok(),
            _ => return Some(format!("expected a whole number, found `{}`", show(value))),
        },
        FlagKind::Float => match value {
            Json::Number(n) => n.as_f64(),
            Json::String(s) => match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Some(f),
                _ => return Some(format!("expected a number, found `{}`", show(value))),
            },
            _ => return Some(format!("expected a number, found `{}`", show(value))),
        },
        FlagKind::Choice => {
            return match text {
                Some(t) if flag.choices.iter().any(|c| c == t) => None,
                _ => match value {
                    Json::Number(n) if flag.choices.contains(&n.to_string()) => None,
                    _ => Some(format!("`{}` is not an accepted value", show(value))),
                },
            }
        }
        FlagKind::String => {
            return match value {
                Json::String(_) | Json::Number(_) => None,
                _ => Some(format!("expected a value, found `{}`", show(value))),
            }
        }
        FlagKind::Json => {
            return match value {
                Json::Object(_) | Json::Array(_) => None,
                Json::String(s) if serde_json::from_str::<Json>(s).is_ok() => None,
                Json::Number(_) => None,
                _ => Some(format!("expected a JSON value, found `{}`", show(value))),
            }
        }
    };
    let x = number?;
    let (min, max, ex_min, ex_max) = if flag.min.is_some() || flag.max.is_some() {
        (flag.min, flag.max, flag.exclusive_min, flag.exclusive_max)
    } else {
        documented_range(engine, &flag.name)?
    };
    let below = min.is_some_and(|m| if ex_min { x <= m } else { x < m });
    let above = max.is_some_and(|m| if ex_max { x >= m } else { x > m });
    (below || above).then(|| format!("`{}` is out of range: {}", show(value), describe_range(min, max, ex_min, ex_max)))
}

/// "must be in (0, 1]", "must be at least 1", "must be below 2".
fn describe_range(min: Option<f64>, max: Option<f64>, ex_min: bool, ex_max: bool) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => {
            format!("must be in {}{lo}, {hi}{}", if ex_min { '(' } else { '[' }, if ex_max { ')' } else { ']' })
        }
        (Some(lo), None) if ex_min => format!("must be more than {lo}"),
        (Some(lo), None) => format!("must be at least {lo}"),
        (None, Some(hi)) if ex_max => format!("must be below {hi}"),
        (None, Some(hi)) => format!("must be at most {hi}"),
        (None, None) => String::new(),
    }
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(yaml: &str) -> EngineCatalog {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
    }

    fn v(s: &str) -> EngineVersion {
        EngineVersion::parse(s).unwrap_or_else(|| panic!("`{s}` parses"))
    }

    /// Two vLLM versions: 0.11.0 complete, 0.33.0 a delta on it that drops `swap-space`,
    /// adds `attention-backend`, widens a choice and reads one more variable.
    fn two_versions() -> Catalog {
        let old = file(
            "engine: vllm\nversion: '0.11.0'\nflags:\n  - {name: swap-space, type: float}\n  - {name: dtype, type: choice, choices: [auto, half]}\n  - {name: max-num-seqs, type: int}\n  - {name: gpu-memory-utilization, type: float}\n  - {name: seed, type: int, min: 0, max: 100, exclusive_max: true}\n  - {name: tensor-parallel-size, type: int, owned: true, aliases: [tp]}\nenv:\n  - {name: VLLM_OLD}\n",
        );
        let new = file(
            "engine: vllm\nversion: '0.33.0'\nbase: '0.11.0'\nremove_flags: [swap-space]\nremove_env: [VLLM_OLD]\nflags:\n  - {name: attention-backend, type: string}\n  - {name: dtype, type: choice, choices: [auto, half, bfloat16]}\n  - {name: api-key, type: string, nargs: '+', secret: true}\n  - {name: tags, type: string, nargs: '+'}\n  - {name: pair, type: int, nargs: '2'}\n  - {name: maybe, type: string, nargs: '?'}\nenv:\n  - {name: VLLM_NEW}\n  - {name: VLLM_KEY, secret: true}\n",
        );
        Catalog::new(vec![new, old]).unwrap_or_else(|d| panic!("{d:?}"))
    }

    fn errors(c: &Catalog, version: &str, args: &[(&str, Json)]) -> Vec<String> {
        let args: BTreeMap<String, Json> = args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        c.check_args(Backend::Vllm, &v(version), &args, "/args")
            .iter()
            .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
            .collect()
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

    #[test]
    fn a_flag_of_one_version_only_names_the_versions_that_have_it() {
        let c = two_versions();
        assert_eq!(
            errors(&c, "0.11.0", &[("attention-backend", Json::from("FLASH_ATTN"))]),
            ["`--attention-backend` is not a flag of vLLM 0.11.0 | `--attention-backend` needs vLLM >= 0.33.0; this image runs 0.11.0"]
        );
        assert!(errors(&c, "0.33.0", &[("attention-backend", Json::from("FLASH_ATTN"))]).is_empty());
        assert!(errors(&c, "0.11.0", &[("swap-space", Json::from(4))]).is_empty());
        assert_eq!(
            errors(&c, "0.33.0", &[("swap-space", Json::from(4))]),
            ["`--swap-space` is not a flag of vLLM 0.33.0 | `--swap-space` was removed after vLLM 0.11.0; this image runs 0.33.0"]
        );
    }

    #[test]
    fn a_choice_of_one_version_only_names_the_versions_that_accept_it() {
        let c = two_versions();
        assert!(errors(&c, "0.33.0", &[("dtype", Json::from("bfloat16"))]).is_empty());
        assert_eq!(
            errors(&c, "0.11.0", &[("dtype", Json::from("bfloat16"))]),
            ["`--dtype`: `bfloat16` is not an accepted value | `bfloat16` needs vLLM >= 0.33.0; this image runs 0.11.0"]
        );
        assert_eq!(
            errors(&c, "0.11.0", &[("dtype", Json::from("fp4"))]),
            ["`--dtype`: `fp4` is not an accepted value | vLLM 0.11.0 accepts auto, half"]
        );
    }

    #[test]
    fn variables_of_one_version_only_name_the_versions_that_read_them() {
        let c = two_versions();
        let env: BTreeMap<String, EnvValue> = [("VLLM_NEW".to_string(), EnvValue::Int(1))].into();
        let d = c.check_env(Backend::Vllm, &v("0.11.0"), &env, "/env");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "`VLLM_NEW` is not read by vLLM 0.11.0");
        assert_eq!(d[0].help.as_deref(), Some("`VLLM_NEW` is read by vLLM 0.33.0; this image runs 0.11.0"));
        assert!(c.check_env(Backend::Vllm, &v("0.33.0"), &env, "/env").is_empty());
    }

    #[test]
    fn numbers_are_checked_against_their_ranges() {
        let c = two_versions();
        let out = errors(
            &c,
            "0.11.0",
            &[("gpu-memory-utilization", Json::from(1.5)), ("max-num-seqs", Json::from(-4)), ("seed", Json::from(100))],
        );
        assert_eq!(
            out,
            [
                "`--gpu-memory-utilization`: `1.5` is out of range: must be in (0, 1] | ",
                "`--max-num-seqs`: `-4` is out of range: must be at least 1 | ",
                "`--seed`: `100` is out of range: must be in [0, 100) | ",
            ]
        );
        let fine =
            [("gpu-memory-utilization", Json::from(1.0)), ("max-num-seqs", Json::from("256")), ("seed", Json::from(0))];
        assert!(errors(&c, "0.11.0", &fine).is_empty());
        assert_eq!(
            errors(&c, "0.11.0", &[("gpu-memory-utilization", Json::from(0))]),
            ["`--gpu-memory-utilization`: `0` is out of range: must be in (0, 1] | "]
        );
    }

    #[test]
    fn secrets_are_refused() {
        let c = two_versions();
        assert_eq!(
            errors(&c, "0.33.0", &[("api-key", Json::from("sk-1"))]),
            ["`--api-key` takes a credential: its value would be written in plain text into the generated files | set `api_key_env: NAME` on the service (or `serving.api_key_env`) and export NAME where you run `docker compose up`: the key then reaches the engine by reference"]
        );
        let env: BTreeMap<String, EnvValue> = [("VLLM_KEY".to_string(), EnvValue::String("x".into()))].into();
        let d = c.check_env(Backend::Vllm, &v("0.33.0"), &env, "/env");
        assert_eq!(d.len(), 1);
        // Marked by the catalogue, though its name says nothing.
        assert!(!crate::secrets::name_is_secret("VLLM_KEY"));
        assert_eq!(
            d[0].message,
            "`VLLM_KEY` holds a credential: its value would be written in plain text into the generated files"
        );
    }

    #[test]
    fn nargs_decides_whether_a_list_is_accepted() {
        let c = two_versions();
        assert!(errors(&c, "0.33.0", &[("tags", serde_json::json!(["a", "b"]))]).is_empty());
        assert_eq!(errors(&c, "0.33.0", &[("tags", serde_json::json!([]))]), ["`--tags`: needs at least one value | "]);
        assert_eq!(
            errors(&c, "0.33.0", &[("pair", serde_json::json!([1, 2, 3]))]),
            ["`--pair`: takes exactly 2 values, found 3 | "]
        );
        assert!(errors(&c, "0.33.0", &[("pair", serde_json::json!([1, 2]))]).is_empty());
        assert!(errors(&c, "0.33.0", &[("maybe", Json::Null)]).is_empty());
        assert_eq!(
            errors(&c, "0.33.0", &[("max-num-seqs", serde_json::json!([1, 2]))]),
            ["`--max-num-seqs`: takes one value, not a list | "]
        );
    }
}
