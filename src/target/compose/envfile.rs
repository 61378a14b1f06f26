//! `env/common.env` (the cache wiring shared by every server) and `env/services/<service>.env`
//! (each service's own variables), in the dotenv form Compose reads.

use std::collections::BTreeMap;

use super::{service_env_file, COMMON_ENV_FILE, PREFETCH_ENV};
use crate::plan::Plan;
use crate::target::{header, Files};
use crate::text::{comment_text, single_line, valid_env_name};

pub(super) fn render(plan: &Plan) -> anyhow::Result<Files> {
    let mut files = Files::new();
    let head: String = header(plan).iter().map(|l| format!("# {}\n", comment_text(l))).collect();
    if !plan.servers.is_empty() {
        files.insert(COMMON_ENV_FILE.into(), format!("{head}{}", lines(&plan.cache.server_env)?));
    }
    if let Some(p) = &plan.prefetch {
        files.insert(service_env_file(PREFETCH_ENV), format!("{head}{}", lines(&p.env)?));
    }
    for s in &plan.servers {
        files.insert(service_env_file(&s.name), format!("{head}{}", lines(&s.env)?));
    }
    Ok(files)
}

fn lines(env: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let mut out = String::new();
    for (k, v) in env {
        if !valid_env_name(k) {
            anyhow::bail!("`{}` cannot be written into an env file as a variable name", k.escape_debug());
        }
        out.push_str(&format!("{k}={}\n", value(k, v)?));
    }
    Ok(out)
}

/// Plain when that is unambiguous, else single-quoted (literal in Compose: no interpolation,
/// no escapes). Validation refuses, at the spec or recipe line, values with `'` or anything
/// that is not one printable line, which no dotenv quoting keeps intact; this is the
/// backstop.
fn value(k: &str, v: &str) -> anyhow::Result<String> {
    let plain = v.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:,@+=%".contains(c));
    if plain {
        return Ok(v.to_string());
    }
    if let Err(e) = single_line(v) {
        anyhow::bail!("the value of `{k}`: {e}");
    }
    if v.contains('\'') || v.ends_with('\\') {
        anyhow::bail!("the value of `{k}` contains `'` or ends in `\\`, which an env file cannot hold");
    }
    Ok(format!("'{v}'"))
}
