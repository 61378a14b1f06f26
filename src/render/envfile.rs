//! `env/*.env`: the cache wiring shared by every server (`common.env`) and each service's own
//! variables, in the dotenv form Compose reads.

use std::collections::BTreeMap;

use super::{header, Files};
use crate::plan::Plan;

pub(super) fn render(plan: &Plan) -> Files {
    let mut files = Files::new();
    let head: String = header(plan).iter().map(|l| format!("# {l}\n")).collect();
    if let Some(first) = plan.servers.first() {
        files.insert("env/common.env".into(), format!("{head}{}", lines(&first.cache_env)));
    }
    if let Some(p) = &plan.prefetch {
        files.insert(format!("env/{}.env", super::PREFETCH_ENV), format!("{head}{}", lines(&p.env)));
    }
    for s in &plan.servers {
        files.insert(format!("env/{}.env", s.name), format!("{head}{}", lines(&s.env)));
    }
    files
}

fn lines(env: &BTreeMap<String, String>) -> String {
    env.iter().map(|(k, v)| format!("{k}={}\n", value(v))).collect()
}

/// Plain when that is unambiguous, else single-quoted (literal in Compose: no interpolation).
/// Validation rejects values with `'` or line breaks, which no dotenv quoting keeps intact.
fn value(v: &str) -> String {
    let plain = v.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:,@+=%".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{v}'")
    }
}
