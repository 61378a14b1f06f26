//! `Dockerfile.optimized`: the one image every service runs.

use serde::Serialize;

use super::{content_hash, header, render_template};
use crate::plan::Plan;

/// The rendered Dockerfile and the tag derived from its content.
pub(super) struct Dockerfile {
    pub text: String,
    /// Content hash of everything but the header: a changed Dockerfile gets a new tag, so
    /// `docker compose up` builds it instead of reusing a stale image.
    pub tag: String,
}

#[derive(Serialize)]
struct Ctx {
    header: Vec<String>,
    base: String,
    env: std::collections::BTreeMap<String, String>,
    pip: Vec<String>,
    preload: bool,
    preload_json: String,
    hf_endpoint: bool,
}

pub(super) fn render(plan: &Plan) -> anyhow::Result<Dockerfile> {
    let pairs: Vec<(String, String)> =
        plan.image.preload.iter().map(|m| (m.repo.clone(), m.effective_revision().to_string())).collect();
    let ctx = |header: Vec<String>| Ctx {
        header,
        base: plan.image.base.clone(),
        env: plan.image.env.clone(),
        pip: plan.image.pip.clone(),
        preload: !pairs.is_empty(),
        preload_json: super::ascii_json(&pairs, false).unwrap_or_default(),
        hf_endpoint: plan.cache.hf_endpoint.is_some(),
    };
    let text = render_template("Dockerfile.optimized.j2", ctx(header(plan)))?;
    let body = render_template("Dockerfile.optimized.j2", ctx(Vec::new()))?;
    Ok(Dockerfile { text, tag: content_hash(&body) })
}
