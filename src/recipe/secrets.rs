//! Credentials in engine arguments and variables. Everything in `args` and `env` (a service's
//! or a recipe's) is written verbatim into the generated files, which are meant to be
//! committed, so a literal credential there is an error. Which flags and variables carry a
//! credential is derived from the engine catalogue of the version in use, in this one place: a
//! flag or variable the catalogue marks `secret` (the generator derives the mark from the
//! engine's parser), or whose name or help says it holds a key, token, password or secret
//! (for catalogues without marks, and for variables no catalogue lists). There is no
//! hand-kept list per engine version.

use serde_json::Value as Json;

use super::catalog::{Catalog, Flag, FlagKind};
use super::version::EngineVersion;
use crate::diagnostic::Diagnostic;
use crate::spec::Backend;

/// Whether a name (flag or variable, any case, `-` or `_` separated) says it holds a
/// credential: `api-key`, `admin-api-key`, `hf-token`, `ssl-keyfile-password`,
/// `S3_SECRET_ACCESS_KEY`, `S3_ACCESS_KEY_ID`, `HF_TOKEN`; not `ssl-keyfile` (a path),
/// `max-num-batched-tokens` or `tokenizer` (no credential word at the end).
pub fn name_is_secret(name: &str) -> bool {
    let parts: Vec<String> = name.split(['-', '_']).filter(|p| !p.is_empty()).map(|p| p.to_ascii_uppercase()).collect();
    let has = |w: &str| parts.iter().any(|p| p == w);
    if has("PASSWORD") || has("PASSWD") || has("SECRET") || has("APIKEY") {
        return true;
    }
    // `…_ACCESS_KEY_ID`: the public half of a key pair, still a credential to keep out.
    if parts.windows(2).any(|w| w[0] == "ACCESS" && w[1] == "KEY") {
        return true;
    }
    match parts.as_slice() {
        [.., prev, last] if last == "KEY" => ["API", "ADMIN", "PRIVATE", "AUTH"].contains(&prev.as_str()),
        [.., last] => last == "TOKEN",
        [] => false,
    }
}

/// Help text that says a value is a credential.
fn help_is_secret(help: &str) -> bool {
    let h = help.to_ascii_lowercase();
    ["password", "api key", "secret", "access token", "bearer"].iter().any(|w| h.contains(w))
}

/// Whether an engine flag takes a credential as its value: marked so by the catalogue, or
/// named or described so. Switches and numbers never do.
pub fn flag_is_secret(flag: &Flag) -> bool {
    if flag.secret {
        return true;
    }
    if !matches!(flag.kind, FlagKind::String | FlagKind::Json) {
        return false;
    }
    std::iter::once(flag.name.as_str()).chain(flag.aliases.iter().map(String::as_str)).any(name_is_secret)
        || flag.help.as_deref().is_some_and(help_is_secret)
}

/// Whether an environment variable holds a credential: by its name (catalogued or not), or by
/// the catalogue's description of it.
pub fn env_is_secret(catalog: &Catalog, engine: Backend, version: &EngineVersion, name: &str) -> bool {
    name_is_secret(name)
        || catalog
            .env_var(engine, version, name)
            .is_some_and(|v| v.secret || v.help.as_deref().is_some_and(help_is_secret))
}

/// What to do instead of writing the credential.
fn help_for(name: &str, engine: Backend, version: &EngineVersion, catalog: &Catalog) -> String {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    if upper.ends_with("TOKEN") && (upper.starts_with("HF") || upper.contains("HUGGING")) {
        return "export HF_TOKEN where you run `docker compose up`: aimgen passes `${HF_TOKEN}` by reference \
                to whatever downloads, and never writes the token"
            .into();
    }
    let is_server_key = match api_key_delivery(catalog, engine, version) {
        Some(KeyInput::Env(v)) => v == name || name == "api-key",
        Some(KeyInput::Flag(f)) => f.trim_start_matches('-') == name,
        None => false,
    };
    if is_server_key || upper == "API_KEY" {
        return "set `api_key_env: NAME` on the service (or `serving.api_key_env`) and export NAME where you run \
                `docker compose up`: the key then reaches the engine by reference"
            .into();
    }
    format!(
        "aimgen has no by-reference form for `{name}`: leave it out of the spec and recipes, and set it in a \
         Compose override file as `${{VARIABLE}}` read from the environment at `docker compose up`"
    )
}

/// Whether an argument value writes something: `true`/`null` switch a flag on without a
/// value (vLLM's `--hf-token` alone means "the token saved by `hf auth login`").
pub fn is_literal(value: &Json) -> bool {
    matches!(value, Json::String(_) | Json::Number(_) | Json::Object(_) | Json::Array(_))
}

/// The error for a credential flag given a value; `at` is the JSON pointer of the argument.
pub fn literal_flag(catalog: &Catalog, engine: Backend, version: &EngineVersion, flag: &str, at: String) -> Diagnostic {
    Diagnostic::error(format!(
        "`--{flag}` takes a credential: its value would be written in plain text into the generated files"
    ))
    .at(at)
    .help(help_for(flag, engine, version, catalog))
}

/// The error for a credential variable given a value; `at` is the JSON pointer of the variable.
pub fn literal_env(catalog: &Catalog, engine: Backend, version: &EngineVersion, name: &str, at: String) -> Diagnostic {
    Diagnostic::error(format!(
        "`{name}` holds a credential: its value would be written in plain text into the generated files"
    ))
    .at_key(at)
    .help(help_for(name, engine, version, catalog))
}

/// Where an engine version reads its server API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInput {
    /// An environment variable of the engine.
    Env(String),
    /// A command-line flag followed by the key.
    Flag(String),
}

/// How an engine takes its server API key, read from its catalogue: vLLM's variable when the
/// version has it (`VLLM_API_KEY`; a variable keeps the key out of `ps` and the container's
/// command line), else the `--api-key` flag (SGLang, which reads no variable for it).
pub fn api_key_delivery(catalog: &Catalog, engine: Backend, version: &EngineVersion) -> Option<KeyInput> {
    let var = match engine {
        Backend::Vllm => Some("VLLM_API_KEY"),
        Backend::Sglang => None,
    };
    if let Some(v) = var.filter(|v| catalog.env_var(engine, version, v).is_some()) {
        return Some(KeyInput::Env(v.to_string()));
    }
    catalog.flag(engine, version, "api-key").map(|f| KeyInput::Flag(format!("--{}", f.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_recognised_and_look_alikes_are_not() {
        for n in [
            "api-key",
            "admin-api-key",
            "hf-token",
            "ssl-keyfile-password",
            "HF_TOKEN",
            "HUGGING_FACE_HUB_TOKEN",
            "VLLM_API_KEY",
            "EXA_API_KEY",
            "S3_SECRET_ACCESS_KEY",
            "S3_ACCESS_KEY_ID",
            "OPENAI_APIKEY",
        ] {
            assert!(name_is_secret(n), "{n}");
        }
        for n in [
            "ssl-keyfile",
            "max-num-batched-tokens",
            "tokenizer",
            "skip-tokenizer-init",
            "allow-credentials",
            "VLLM_USE_FASTOKENS",
            "SGLANG_MAX_THINK_TOKENS",
            "routing-key",
            "kv-cache-dtype",
        ] {
            assert!(!name_is_secret(n), "{n}");
        }
    }

    #[test]
    fn the_builtin_catalogues_yield_the_known_credentials() {
        let cat = Catalog::builtin();
        for engine in [Backend::Vllm, Backend::Sglang] {
            // Every catalogued version of both engines can take a key one way or the other.
            for v in cat.versions(engine) {
                assert!(api_key_delivery(&cat, engine, &v).is_some(), "{engine:?} {v:?}");
            }
        }
        let newest = |e| cat.newest(e).expect("a catalogue");
        for (engine, flags) in [
            (Backend::Vllm, &["api-key", "hf-token"][..]),
            (Backend::Sglang, &["api-key", "admin-api-key", "ssl-keyfile-password"][..]),
        ] {
            let found: Vec<&str> =
                cat.flags(engine, &newest(engine)).filter(|f| flag_is_secret(f)).map(|f| f.name.as_str()).collect();
            for f in flags {
                assert!(found.contains(f), "{engine:?}: {f} not found in {found:?}");
            }
            // Derived, not everything: a handful of flags out of hundreds.
            assert!(found.len() < 10, "{engine:?}: too many secret flags: {found:?}");
        }
        assert_eq!(
            api_key_delivery(&cat, Backend::Vllm, &newest(Backend::Vllm)),
            Some(KeyInput::Env("VLLM_API_KEY".into()))
        );
        assert_eq!(
            api_key_delivery(&cat, Backend::Sglang, &newest(Backend::Sglang)),
            Some(KeyInput::Flag("--api-key".into()))
        );
    }
}
