//! `Dockerfile.optimized`: one build stage per engine image, named after the engine
//! (`FROM <base> AS vllm`), which services select with `build.target`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;

use minijinja::{Environment, Value};

use super::{environment, header, refused, render_template, text_of};
use crate::plan::{Engine, ImagePlan, Plan};
use crate::text::{ascii_json, content_hash, shell_quote, single_line};

/// The rendered Dockerfile and the tag of each stage's image.
pub struct Dockerfile {
    /// The whole file.
    pub text: String,
    /// Per engine, a content hash of its stage: a changed stage gets a new tag, so
    /// `docker compose up` builds it instead of reusing a stale image, and a change to one
    /// engine's stage leaves the other image's tag alone.
    pub tags: BTreeMap<Engine, String>,
}

#[derive(Serialize)]
struct Ctx {
    header: Vec<String>,
    preload: bool,
    stages: Vec<String>,
}

#[derive(Serialize)]
struct StageCtx {
    engine: &'static str,
    version: Option<String>,
    base: String,
    env: BTreeMap<String, String>,
    pip: Vec<String>,
    preload: bool,
    preload_json: String,
    hf_endpoint: bool,
}

/// The Dockerfile's name in an output folder.
pub const DOCKERFILE: &str = "Dockerfile.optimized";

/// The Dockerfile templates, with their encoders: `dq` (an `ENV` value) and `sq` (a shell
/// word in a `RUN`), both refusing text that is not one printable line.
pub(super) fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        environment("dockerfile", |env| {
            env.add_filter("dq", |v: Value| docker_quote(&text_of(&v)).map(Value::from_safe_string).map_err(refused));
            env.add_filter("sq", |v: Value| {
                let t = text_of(&v);
                single_line(&t).map(|()| Value::from_safe_string(shell_quote(&t))).map_err(refused)
            });
        })
    })
}

/// Renders the Dockerfile of a plan's images.
pub fn render(plan: &Plan) -> anyhow::Result<Dockerfile> {
    let mut stages = Vec::new();
    let mut tags = BTreeMap::new();
    for image in &plan.images {
        let stage = render_template(templates(), "dockerfile/Dockerfile.stage.j2", stage_ctx(plan, image))?;
        tags.insert(image.backend, content_hash(&stage));
        stages.push(stage);
    }
    let text = render_template(
        templates(),
        "dockerfile/Dockerfile.optimized.j2",
        Ctx { header: header(plan), preload: plan.images.iter().any(|i| !i.preload.is_empty()), stages },
    )?;
    Ok(Dockerfile { text, tags })
}

fn stage_ctx(plan: &Plan, image: &ImagePlan) -> StageCtx {
    let pairs: Vec<(String, String)> =
        image.preload.iter().map(|m| (m.repo.clone(), m.effective_revision().to_string())).collect();
    StageCtx {
        engine: image.backend.as_str(),
        version: image.engine_version.clone(),
        base: image.base.clone(),
        env: image.env.clone(),
        pip: image.pip.clone(),
        preload: !pairs.is_empty(),
        preload_json: ascii_json(&pairs, false).unwrap_or_default(),
        hf_endpoint: plan.cache.hf_endpoint.is_some(),
    }
}

/// A Dockerfile `ENV` value in double quotes. A Dockerfile instruction ends at a line break
/// whatever the quoting, so text that is not one printable line is refused.
pub fn docker_quote(s: &str) -> Result<String, String> {
    single_line(s)?;
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_sinks_refuse_line_breaks() {
        assert!(docker_quote("a\nRUN evil").is_err());
        assert!(docker_quote("a\rb").is_err());
        assert_eq!(docker_quote("a \"$b\\").as_deref(), Ok("\"a \\\"\\$b\\\\\""));
    }
}
