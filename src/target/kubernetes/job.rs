//! The download Jobs: one per (model, resolved revision), each filling the claim and then
//! writing the completion marker the servers' init containers wait for.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    labels, marker_path, names, render_one, Meta, Pairs, PodSecurity, Rendering, BACKOFF_LIMIT, JOB_COMPONENT, JOB_DIR,
    JOB_TTL_SECONDS, SCRIPTS_CONFIGMAP, SCRIPTS_MOUNT,
};
use crate::plan::{PrefetchJob, PrefetchPlan};

#[derive(Serialize)]
struct JobCtx {
    #[serde(flatten)]
    meta: Meta,
    comment: String,
    backoff_limit: u32,
    ttl_seconds: u32,
    pod: PodSecurity,
    image: String,
    command: Vec<String>,
    args: Vec<String>,
    env: Pairs,
    token_secret: String,
    cache_mount: String,
    scripts_mount: &'static str,
    claim: String,
    scripts: &'static str,
}

/// A Job's name on this target: it follows the resolved revision (the plan's, Compose's,
/// does not), so a new lock makes a new Job rather than reusing a finished one.
fn job_name(job: &PrefetchJob) -> String {
    names::job_name(&job.model.repo, job.model.effective_revision())
}

/// The plan's job name → this target's, for the servers that wait for them.
pub(super) fn job_names(r: &Rendering) -> BTreeMap<String, String> {
    let jobs = r.plan.prefetch.iter().flat_map(|p| &p.jobs);
    jobs.map(|job| (job.name.clone(), job_name(job))).collect()
}

/// Every Job's file, in the plan's order.
pub(super) fn job_docs(r: &Rendering) -> anyhow::Result<Vec<(String, String)>> {
    let mut docs = Vec::new();
    if let Some(p) = &r.plan.prefetch {
        for job in &p.jobs {
            let name = job_name(job);
            let ctx = job_ctx(r, p, job, &name)?;
            docs.push((format!("{JOB_DIR}/{name}.yaml"), render_one("job.yaml.j2", ctx)?));
        }
    }
    Ok(docs)
}

fn job_ctx(r: &Rendering, p: &PrefetchPlan, job: &PrefetchJob, name: &str) -> anyhow::Result<JobCtx> {
    let (plan, s) = (r.plan, r.cluster);
    let m = &job.model;
    let spec = job.program_argument(p)?;
    let mut env: Pairs = p.env.clone().into_iter().collect();
    if s.run_as_user.is_some() {
        // No passwd entry for the user: give it a writable home.
        env.push(("HOME".into(), "/tmp".into()));
    }
    let used_by: Vec<String> = job.used_by.iter().map(|u| s.names.get(u).cloned().unwrap_or_default()).collect();
    Ok(JobCtx {
        meta: r.meta(name, labels(plan, "aimgen-prefetch", name, JOB_COMPONENT, None)),
        comment: format!(
            "Downloads {}@{} into the shared cache, then marks it ready for {}",
            m.repo,
            m.effective_revision(),
            used_by.join(", ")
        ),
        backoff_limit: BACKOFF_LIMIT,
        ttl_seconds: JOB_TTL_SECONDS,
        pod: r.pod(false),
        image: r.image(p.image),
        command: vec!["sh".into(), format!("{SCRIPTS_MOUNT}/prefetch-job.sh")],
        args: vec![marker_path(plan, name), crate::text::ascii_json(&spec, false)?],
        env,
        token_secret: s.hf_token_secret.clone(),
        cache_mount: plan.cache.mount.clone(),
        scripts_mount: SCRIPTS_MOUNT,
        claim: s.claim.clone(),
        scripts: SCRIPTS_CONFIGMAP,
    })
}
