//! Environment variables aimgen owns: GPU visibility, the cache wiring and the Hub token.
//! Neither a service's `env` nor a recipe's may set them, and every value must be something an
//! env file holds exactly. Read by the spec checks, the recipe library and resolve.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::source::escape_segment;
use crate::spec::EnvValue;
use crate::text::single_line;

/// Variables aimgen sets itself from `gpus`: a hard-coded one would point a server at GPUs
/// another server holds.
pub const VISIBILITY_VARS: &[&str] = &[
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "GPU_DEVICE_ORDINAL",
];

/// Variables aimgen owns for the cache wiring.
pub const CACHE_VARS: &[&str] = &[
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "HF_ENDPOINT",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
];

/// The Hub token's names (current and deprecated): secrets, never spec values.
pub const TOKEN_VARS: &[&str] = &["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"];

/// Checks the variables a service (`/services/<name>/env`) or a recipe (`/recipes/<i>/env`)
/// sets, at `base`: neither may set what aimgen owns (GPU visibility, the cache wiring, the
/// token, offline mode), and every value must be one printable line without `'`, which is
/// what an env file holds exactly (see `target::compose::envfile`).
pub fn check_env(env: &BTreeMap<String, EnvValue>, base: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (k, v) in env {
        let kat = format!("{base}/{}", escape_segment(k));
        if VISIBILITY_VARS.contains(&k.as_str()) {
            out.push(
                Diagnostic::error(format!("`{k}` is set by aimgen from `gpus`"))
                    .at_key(kat)
                    .help("give the service `gpus: N`; aimgen assigns disjoint GPUs to each service"),
            );
        } else if TOKEN_VARS.contains(&k.as_str()) {
            // aimgen does not set the token: it passes the caller's `HF_TOKEN` through, so
            // the message is about where a secret belongs, not about who sets it.
            out.push(
                Diagnostic::error(format!("`{k}` is a secret: it would be written into committed files"))
                    .at_key(kat)
                    .help(
                    "export HF_TOKEN where you run `docker compose up`; aimgen passes it to the services that download",
                ),
            );
        } else if CACHE_VARS.contains(&k.as_str()) {
            out.push(
                Diagnostic::error(format!("`{k}` is set by aimgen"))
                    .at_key(kat)
                    .help("aimgen wires the cache itself; set `cache:` in the fleet spec instead"),
            );
        } else {
            let text = v.as_text();
            let problem = match single_line(&text) {
                Err(e) => Some(e),
                Ok(()) if text.contains('\'') => Some("`'` cannot be written into an env file".to_string()),
                // Compose's env-file parser takes `\'` for an escaped quote even inside single
                // quotes, so a value ending in `\` would run on (found by scripts/compose_diff.py).
                Ok(()) if text.ends_with('\\') => {
                    Some("a value ending in `\\` cannot be written into an env file".to_string())
                }
                Ok(()) => None,
            };
            if let Some(problem) = problem {
                out.push(
                    Diagnostic::error(format!("the value of `{k}` cannot be written safely to an env file: {problem}"))
                        .at(kat)
                        .help("values must be one line of printable text without `'`, not ending in `\\`"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let env: BTreeMap<String, EnvValue> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_yaml::from_str(&format!("'{v}'")).expect("value")))
            .collect();
        check_env(&env, "/services/s/env").into_iter().map(|d| (d.pointer.unwrap_or_default(), d.message)).collect()
    }

    #[test]
    fn what_aimgen_owns_is_refused_at_its_key() {
        for k in ["CUDA_VISIBLE_DEVICES", "HF_TOKEN", "HF_HOME"] {
            let d = check(&[(k, "x")]);
            assert_eq!(d.len(), 1, "{k}: {d:?}");
            assert_eq!(d[0].0, format!("/services/s/env/{k}"));
        }
    }

    #[test]
    fn values_an_env_file_cannot_hold_are_refused() {
        assert_eq!(check(&[("A", "plain value"), ("B", "x=y:z")]), Vec::new());
        for v in ["it''s", "ends\\\\", "bidi\u{202e}x"] {
            assert_eq!(check(&[("A", v)]).len(), 1, "{v:?}");
        }
    }
}
