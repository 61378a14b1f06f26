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

/// One engine's catalogue file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineCatalog {
    /// Engine this catalogue describes.
    pub engine: Backend,
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

/// Both engines' catalogues, indexed.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    engines: BTreeMap<Backend, Indexed>,
    /// Engines without an entry in `engines` use the built-in catalogue, indexed on first use:
    /// a vLLM fleet never pays for SGLang's 1,500 flags.
    builtin: bool,
}

#[derive(Debug, Clone, Default)]
struct Indexed {
    flags: BTreeMap<String, Flag>,
    aliases: BTreeMap<String, String>,
    env: BTreeMap<String, EnvVar>,
    deny: BTreeMap<String, DeniedEnv>,
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

impl Catalog {
    /// Indexes catalogue files.
    pub fn new(files: Vec<EngineCatalog>) -> Catalog {
        let mut engines: BTreeMap<Backend, Indexed> = BTreeMap::new();
        for f in files {
            let idx = engines.entry(f.engine).or_default();
            for flag in f.flags {
                for a in &flag.aliases {
                    idx.aliases.insert(a.clone(), flag.name.clone());
                }
                idx.flags.insert(flag.name.clone(), flag);
            }
            for e in f.env {
                idx.env.insert(e.name.clone(), e);
            }
            for d in f.deny_env {
                idx.deny.insert(d.name.clone(), d);
            }
        }
        Catalog { engines, builtin: false }
    }

    /// The built-in catalogues (`recipes/engines/`, as JSON made by build.rs), each parsed
    /// and indexed when an engine is first asked about.
    pub fn builtin() -> Catalog {
        Catalog { engines: BTreeMap::new(), builtin: true }
    }

    fn index(&self, engine: Backend) -> Option<&Indexed> {
        match self.engines.get(&engine) {
            Some(i) => Some(i),
            None if self.builtin => builtin_index(engine),
            None => None,
        }
    }

    /// Every engine's index, as text: for tests comparing two ways of loading.
    #[doc(hidden)]
    pub fn dump(&self) -> String {
        [Backend::Vllm, Backend::Sglang].iter().map(|e| format!("{e:?}: {:?}\n", self.index(*e))).collect()
    }

    /// The flag called `name` (or one of its aliases).
    pub fn flag(&self, engine: Backend, name: &str) -> Option<&Flag> {
        let idx = self.index(engine)?;
        idx.flags.get(name).or_else(|| idx.aliases.get(name).and_then(|n| idx.flags.get(n)))
    }

    /// Whether a catalogue for `engine` was loaded at all.
    pub fn knows(&self, engine: Backend) -> bool {
        self.index(engine).is_some_and(|i| !i.flags.is_empty())
    }

    /// Checks engine arguments; `base` is the JSON pointer of the `args` mapping.
    pub fn check_args(&self, engine: Backend, args: &BTreeMap<String, Json>, base: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let Some(idx) = self.index(engine) else { return out };
        if idx.flags.is_empty() {
            return out;
        }
        let mut suggested = 0usize;
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
            let negated = bare.strip_prefix("no-").and_then(|n| self.flag(engine, n).filter(|f| f.negatable));
            let Some(flag) = self.flag(engine, bare).or(negated) else {
                let other = match engine {
                    Backend::Vllm => Backend::Sglang,
                    Backend::Sglang => Backend::Vllm,
                };
                // A suggestion compares the name with every flag the engine has; past the first
                // `SUGGESTIONS` unknown flags (more than anyone reads) it is skipped, so 100,000
                // unknown flags stay well under a second.
                suggested += 1;
                let close = if suggested <= SUGGESTIONS {
                    did_you_mean(bare, idx.flags.keys().map(String::as_str))
                } else {
                    None
                };
                let help = if let Some(f) = close {
                    format!("did you mean `{f}`?")
                } else if self.flag(other, bare).is_some() {
                    format!("`--{bare}` is a {} flag, not a {} one", other.as_str(), engine.as_str())
                } else {
                    format!("see `aimgen recipes flags {}` for the flags aimgen knows", engine.as_str())
                };
                out.push(
                    Diagnostic::error(format!("`--{bare}` is not a {} flag", engine.as_str())).at_key(at).help(help),
                );
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
            if let Some(problem) = check_value(flag, value) {
                out.push(Diagnostic::error(format!("`--{bare}`: {problem}")).at(at).help_opt(
                    (flag.kind == FlagKind::Choice).then(|| {
                        let got = value.as_str().unwrap_or_default();
                        did_you_mean(got, flag.choices.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?"))
                            .unwrap_or_else(|| format!("expected one of {}", flag.choices.join(", ")))
                    }),
                ));
            }
        }
        out
    }

    /// Checks environment variables; `base` is the JSON pointer of the `env` mapping.
    pub fn check_env(&self, engine: Backend, env: &BTreeMap<String, EnvValue>, base: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let Some(idx) = self.index(engine) else { return out };
        for name in env.keys() {
            let at = format!("{base}/{}", escape_segment(name));
            if let Some(d) = self.denied(name) {
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
            let prefixed = owned_prefixes(engine).iter().any(|p| name.starts_with(p));
            if prefixed && !idx.env.is_empty() && !idx.env.contains_key(name) {
                let help = did_you_mean(name, idx.env.keys().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!("{} warns about unknown {} variables", engine.as_str(), owned_prefixes(engine)[0])
                    });
                out.push(
                    Diagnostic::error(format!("`{name}` is not a {} variable", engine.as_str())).at_key(at).help(help),
                );
            }
        }
        out
    }

    /// The deny-list entry for `name`, from any engine.
    pub fn denied(&self, name: &str) -> Option<&DeniedEnv> {
        [Backend::Vllm, Backend::Sglang].into_iter().find_map(|e| self.index(e).and_then(|i| i.deny.get(name)))
    }

    /// Every flag of an engine, sorted.
    pub fn flags(&self, engine: Backend) -> impl Iterator<Item = &Flag> {
        self.index(engine).into_iter().flat_map(|i| i.flags.values())
    }
}

/// One engine's built-in catalogue, parsed and indexed once. The JSON is the YAML that the
/// test suite checks in full (`library::check_builtin`); a file that would not parse leaves
/// the engine without a catalogue, as when none is shipped.
fn builtin_index(engine: Backend) -> Option<&'static Indexed> {
    static VLLM: OnceLock<Option<Indexed>> = OnceLock::new();
    static SGLANG: OnceLock<Option<Indexed>> = OnceLock::new();
    let slot = match engine {
        Backend::Vllm => &VLLM,
        Backend::Sglang => &SGLANG,
    };
    slot.get_or_init(|| {
        let files: Vec<EngineCatalog> = crate::embedded::ENGINE_JSON
            .iter()
            .filter(|(e, _)| *e == engine.as_str())
            .filter_map(|(_, json)| serde_json::from_str(json.as_ref()?).ok())
            .collect();
        Catalog::new(files).engines.remove(&engine)
    })
    .as_ref()
}

/// POSIX-portable variable names (what Compose and shells accept everywhere).
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_value(flag: &Flag, value: &Json) -> Option<String> {
    let text = match value {
        Json::String(s) => Some(s.as_str()),
        _ => None,
    };
    match flag.kind {
        FlagKind::Bool => match value {
            Json::Null | Json::Bool(true) => None,
            Json::Bool(false) if flag.negatable => None,
            Json::Bool(false) => Some("is a switch that cannot be turned off; remove it instead".into()),
            _ => Some("is a switch: write `null` or `true`".into()),
        },
        FlagKind::Int => match value {
            Json::Number(n) if n.is_i64() || n.is_u64() => None,
            Json::String(s) if s.parse::<i64>().is_ok() => None,
            _ => Some(format!("expected a whole number, found `{}`", show(value))),
        },
        FlagKind::Float => match value {
            Json::Number(_) => None,
            Json::String(s) if s.parse::<f64>().is_ok() => None,
            _ => Some(format!("expected a number, found `{}`", show(value))),
        },
        FlagKind::Choice => match text {
            Some(t) if flag.choices.iter().any(|c| c == t) => None,
            _ => match value {
                Json::Number(n) if flag.choices.contains(&n.to_string()) => None,
                _ => Some(format!("`{}` is not an accepted value", show(value))),
            },
        },
        FlagKind::String => match value {
            Json::String(_) | Json::Number(_) => None,
            _ => Some(format!("expected a value, found `{}`", show(value))),
        },
        FlagKind::Json => match value {
            Json::Object(_) | Json::Array(_) => None,
            Json::String(s) if serde_json::from_str::<Json>(s).is_ok() => None,
            Json::Number(_) => None,
            _ => Some(format!("expected a JSON value, found `{}`", show(value))),
        },
    }
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
