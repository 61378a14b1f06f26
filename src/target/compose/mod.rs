//! The Compose target: one Compose file (`compose_file`), the shared Dockerfile, and, in a
//! folder, the env files (`envfile`). Every value placed into YAML goes through one of the
//! encoders in `encode`, so no model id, argument or variable can break or inject structure.

mod compose_file;
pub mod encode;
mod envfile;

use std::sync::OnceLock;

use minijinja::{Environment, Value};

use self::encode::{interpolated, yaml_block, yaml_quote};
use super::dockerfile::{self, DOCKERFILE};
use super::{environment, text_of, Files, Layout, Prune};
use crate::plan::Plan;

/// The Compose file's name in an output folder.
pub const COMPOSE_FILE: &str = "docker-compose.cache.yml";

/// The env file every prefetch job reads (`env/services/aimgen-prefetch.env`; no service may be named `aimgen-…`), one for all of them.
pub const PREFETCH_ENV: &str = "aimgen-prefetch";
/// The env file every server reads (the cache wiring).
pub const COMMON_ENV_FILE: &str = "env/common.env";
/// The folder of per-service env files. Service names cannot contain `/`, so no service's
/// file can be `env/common.env` or any other file aimgen writes (a service named `common`
/// once overwrote the cache wiring).
pub const SERVICE_ENV_DIR: &str = "env/services";

/// Servers that Compose publishes beyond this host without an API key: open to anyone who can
/// reach the host. A Compose concern: on Kubernetes a server is a ClusterIP Service and `bind`
/// is not used, so a render for Kubernetes alone does not say this.
pub fn exposure(spec: &crate::spec::FleetSpec) -> Vec<crate::diagnostic::Diagnostic> {
    let mut out = Vec::new();
    let serving = spec.serving.as_ref();
    for (name, svc) in &spec.services {
        let at = format!("/services/{}", crate::source::escape_segment(name));
        let (bind, place) = match (&svc.bind, serving.and_then(|s| s.bind.as_ref())) {
            (Some(b), _) => (b, format!("{at}/bind")),
            (None, Some(b)) => (b, "/serving/bind".to_string()),
            (None, None) => continue,
        };
        let Ok(ip) = bind.parse::<std::net::IpAddr>() else { continue };
        if ip.is_loopback() || super::has_api_key(spec, svc) {
            continue;
        }
        let suggested = super::suggested_key_variable(name);
        out.push(
            crate::diagnostic::Diagnostic::warning(format!(
                "service `{name}` is published on {ip}{} without an API key: anyone who can reach this host can use it",
                if ip.is_unspecified() { " (every interface)" } else { "" }
            ))
            .at(place)
            .help(format!(
                "add `api_key_env: {suggested}` to service `{name}` (or `serving.api_key_env`) and export {suggested} \
                 where you run `docker compose up`, or bind it to 127.0.0.1"
            )),
        );
    }
    out
}

/// The env files of removed services go stale: in `env/services`, and in `env/` where older
/// aimgen versions wrote them.
pub const PRUNE: &[Prune] = &[Prune { dir: SERVICE_ENV_DIR, suffix: ".env" }, Prune { dir: "env", suffix: ".env" }];

/// The env file of one service (user or helper).
pub fn service_env_file(service: &str) -> String {
    format!("{SERVICE_ENV_DIR}/{service}.env")
}

/// The Compose templates, with their encoders: `q` (a quoted scalar), `block` (a literal block
/// when the text allows one), `arg` (either, by content) and `interp` (a required-variable
/// reference kept for Compose to interpolate, anything else quoted).
pub(super) fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        environment("compose", |env| {
            env.add_filter("q", |v: Value| Value::from_safe_string(yaml_quote(&text_of(&v))));
            env.add_filter("block", |v: Value, indent: usize| {
                Value::from_safe_string(yaml_block(&text_of(&v), indent))
            });
            env.add_filter("arg", |v: Value, indent: usize| {
                let t = text_of(&v);
                Value::from_safe_string(if t.contains('\n') { yaml_block(&t, indent) } else { yaml_quote(&t) })
            });
            env.add_filter("interp", |v: Value| Value::from_safe_string(interpolated(&text_of(&v))));
        })
    })
}

/// Renders a plan: the Compose file alone (`SingleFile`: environment inline, the Dockerfile as
/// `dockerfile_inline`), or with the Dockerfile and env files beside it (`Folder`).
pub fn render(plan: &Plan, layout: Layout) -> anyhow::Result<Files> {
    let mut files = Files::new();
    let dockerfile = dockerfile::render(plan)?;
    let env_files = match layout {
        Layout::Folder => envfile::render(plan)?,
        Layout::SingleFile => Files::new(),
    };
    let compose = compose_file::render(plan, layout, &dockerfile)?;
    files.insert(COMPOSE_FILE.to_string(), compose);
    if layout == Layout::Folder {
        files.insert(DOCKERFILE.to_string(), dockerfile.text);
        files.extend(env_files);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn unfiltered_values_stay_on_one_line_beside_quoted_ones() {
        let out =
            templates().render_str("# {{ x }}\nk: {{ x|q }}\n", minijinja::context! { x => "1\nevil: true\u{2028}y" });
        let out = out.expect("renders");
        assert_eq!(out.lines().count(), 2, "{out}");
        let doc: BTreeMap<String, String> = serde_yaml::from_str(&out).expect("parses");
        assert_eq!(doc.len(), 1);
        assert_eq!(doc["k"], "1\nevil: true\u{2028}y");
    }
}
