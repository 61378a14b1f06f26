//! A service's or a recipe's `args` and `env` checked against the engine catalogue of the
//! release it runs: unknown flags and variables (with the releases that have them), values out
//! of range or not among the choices, flags aimgen sets itself, denied variables, and
//! credentials written as literals (which `secrets` decides from the same catalogue).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::catalog::{engine_name, Catalog, Flag, FlagKind};
use super::secrets;
use super::version::EngineVersion;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::escape_segment;
use crate::spec::{Backend, EnvValue};
use crate::text::valid_env_name;

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
                let having = if self.maybe_flag(engine, bare) {
                    self.versions_where(engine, |i| i.flag_or_negation(bare).is_some())
                } else {
                    Vec::new()
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
                let help = if !having.is_empty() {
                    format!("`--{bare}` {}; {context}", which_versions(engine, &having, version))
                } else if let Some(f) = close {
                    format!("did you mean `{f}`?")
                } else if self.maybe_flag(other, bare)
                    && self.newest(other).is_some_and(|v| self.flag(other, &v, bare).is_some())
                {
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
            // place decides and explains, `recipe::secrets`.
            if secrets::flag_is_secret(flag) && secrets::is_literal(value) {
                out.push(secrets::literal_flag(self, engine, version, &flag.name, at));
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
            if secrets::env_is_secret(self, engine, version, name) {
                out.push(secrets::literal_env(self, engine, version, name, at));
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
    use crate::recipe::catalog::tests::{two_versions, v};

    fn errors(c: &Catalog, version: &str, args: &[(&str, Json)]) -> Vec<String> {
        let args: BTreeMap<String, Json> = args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        c.check_args(Backend::Vllm, &v(version), &args, "/args")
            .iter()
            .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
            .collect()
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
        assert!(!secrets::name_is_secret("VLLM_KEY"));
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
