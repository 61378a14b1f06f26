//! `Dockerfile.optimized`: one build stage per engine image, named after the engine
//! (`FROM <base> AS vllm`), which services select with `build.target`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{content_hash, header, render_template};
use crate::plan::{ImagePlan, Plan};
use crate::spec::Backend;

/// The rendered Dockerfile and the tag of each stage's image.
pub(super) struct Dockerfile {
    pub text: String,
    /// Per engine, a content hash of its stage: a changed stage gets a new tag, so
    /// `docker compose up` builds it instead of reusing a stale image, and a change to one
    /// engine's stage leaves the other image's tag alone.
    pub tags: BTreeMap<Backend, String>,
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

pub(super) fn render(plan: &Plan) -> anyhow::Result<Dockerfile> {
    let mut stages = Vec::new();
    let mut tags = BTreeMap::new();
    for image in &plan.images {
        let stage = render_template("Dockerfile.stage.j2", stage_ctx(plan, image))?;
        tags.insert(image.backend, content_hash(&stage));
        stages.push(stage);
    }
    let text = render_template(
        "Dockerfile.optimized.j2",
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
        preload_json: super::ascii_json(&pairs, false).unwrap_or_default(),
        hf_endpoint: plan.cache.hf_endpoint.is_some(),
    }
}
