//! A server's file: its Deployment (an init container waiting for its model's Job, then the
//! engine reading the claim), its ClusterIP Service and its NetworkPolicy.

use std::collections::BTreeMap;

use serde::Serialize;

use super::network_policy::{peer, PeerCtx};
use super::{
    gpu_resource, labels, marker_path, names, product_label, render_one, Meta, Pairs, PodSecurity, Rendering, KEY_VAR,
    SCRIPTS_CONFIGMAP, SCRIPTS_MOUNT, SERVER_DIR,
};
use crate::plan::{ApiKey, ClusterPlan, KeyDelivery, ModelSource, Plan, ServerPlan};

#[derive(Serialize)]
struct WaitCtx {
    job: String,
    command: Vec<String>,
    args: Vec<String>,
}

#[derive(Serialize)]
struct Affinity {
    key: &'static str,
    values: Vec<String>,
}

#[derive(Serialize)]
struct SecretEnv {
    name: String,
    secret: String,
    key: String,
}

#[derive(Serialize)]
struct ServerCtx {
    #[serde(flatten)]
    meta: Meta,
    comment: String,
    annotations: Pairs,
    selector: Pairs,
    grace_seconds: u32,
    pod: PodSecurity,
    affinity: Option<Affinity>,
    wait: Option<WaitCtx>,
    image: String,
    command: Vec<String>,
    args: Vec<String>,
    key_flag: Option<String>,
    key_var: &'static str,
    port: u16,
    env: Pairs,
    secret_env: Vec<SecretEnv>,
    gpu_resource: &'static str,
    gpus: String,
    cache_mount: String,
    cache_read_only: bool,
    scratch_mount: String,
    scripts_mount: &'static str,
    model_path: Option<String>,
    startup_minutes: u32,
    startup_failures: u32,
    health_path: String,
    claim: String,
    scripts: &'static str,
    shm_size: String,
    /// The NetworkPolicy's peers; `None`: no NetworkPolicy, empty: it admits no pod.
    allow_from: Option<Vec<PeerCtx>>,
}

/// Every server's file, in the plan's order; `job_names` maps the plan's job names to this
/// target's.
pub(super) fn server_docs(
    r: &Rendering,
    job_names: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut docs = Vec::new();
    for srv in &r.plan.servers {
        let name = r.cluster.names.get(&srv.name).cloned().unwrap_or_else(|| names::map(&srv.name));
        let job = srv.prefetch_job.as_ref().and_then(|j| job_names.get(j)).cloned();
        let ctx = server(r, srv, &name, job);
        docs.push((format!("{SERVER_DIR}/{name}.yaml"), render_one("server.yaml.j2", ctx)?));
    }
    Ok(docs)
}

fn server(r: &Rendering, srv: &ServerPlan, name: &str, job: Option<String>) -> ServerCtx {
    let (plan, s) = (r.plan, r.cluster);
    let (key_flag, secret_env) = api_key(s, srv);
    let (command, args) = srv.argv.split_at(srv.entrypoint_len.min(srv.argv.len()));
    let version = Some(srv.engine_version.as_str());
    ServerCtx {
        meta: r.meta(name, labels(plan, srv.backend.as_str(), name, "server", version)),
        comment: comment(srv, name),
        annotations: annotations(srv, job.as_deref()),
        selector: vec![
            ("app.kubernetes.io/component".into(), "server".into()),
            ("app.kubernetes.io/instance".into(), name.to_string()),
        ],
        grace_seconds: srv.runtime.stop_grace_seconds,
        pod: r.pod(true),
        affinity: (!s.gpu_product.is_empty())
            .then(|| Affinity { key: product_label(plan.gpu.vendor), values: s.gpu_product.clone() }),
        wait: job.map(|j| WaitCtx {
            command: vec!["sh".into(), format!("{SCRIPTS_MOUNT}/wait-for-model.sh")],
            args: vec![marker_path(plan, &j), s.wait_seconds.to_string(), j.clone()],
            job: j,
        }),
        image: r.image(srv.backend),
        command: command.to_vec(),
        args: args.to_vec(),
        key_flag,
        key_var: KEY_VAR,
        port: srv.port,
        env: env(plan, s, srv),
        secret_env,
        gpu_resource: gpu_resource(plan.gpu.vendor),
        gpus: srv.gpus.len().to_string(),
        cache_mount: plan.cache.mount.clone(),
        cache_read_only: plan.cache.servers_read_only,
        scratch_mount: plan.cache.scratch.mount.clone(),
        scripts_mount: SCRIPTS_MOUNT,
        model_path: match &srv.source {
            ModelSource::Local { path } => Some(path.clone()),
            ModelSource::Hub(_) => None,
        },
        startup_minutes: s.startup_minutes,
        startup_failures: s.startup_minutes * 6,
        health_path: srv.health_path.clone(),
        claim: s.claim.clone(),
        scripts: SCRIPTS_CONFIGMAP,
        shm_size: s.shm_size.clone(),
        allow_from: s.allow_from.as_ref().map(|peers| peers.iter().map(peer).collect()),
    }
}

/// The server's variables, sorted (a BTreeMap): the cache's, then its own over them.
fn env(plan: &Plan, s: &ClusterPlan, srv: &ServerPlan) -> Pairs {
    let mut env: BTreeMap<String, String> = plan.cache.server_env.clone();
    env.extend(srv.env.clone());
    if s.run_as_user.is_some() && !env.contains_key("HOME") {
        // No passwd entry for the user: libraries that write under `~` get the scratch space.
        env.insert("HOME".into(), format!("{}/{}/home", plan.cache.scratch.mount, srv.name));
    }
    env.into_iter().collect()
}

/// The API key comes from the Secret, never from the manifest: as the engine's own variable,
/// or (for an engine that reads a flag) as `KEY_VAR`, which the flag then references.
fn api_key(s: &ClusterPlan, srv: &ServerPlan) -> (Option<String>, Vec<SecretEnv>) {
    let secret =
        |name: String, variable: &String| SecretEnv { name, secret: s.api_key_secret.clone(), key: variable.clone() };
    match &srv.api_key {
        Some(ApiKey { variable, delivery: KeyDelivery::Env(var) }) => (None, vec![secret(var.clone(), variable)]),
        Some(ApiKey { variable, delivery: KeyDelivery::Flag(flag) }) => {
            (Some(flag.clone()), vec![secret(KEY_VAR.into(), variable)])
        }
        None => (None, Vec::new()),
    }
}

/// The Deployment's leading comment: what a reader checks first (recipe, GPUs, weights), and
/// the service's own name when Kubernetes' rules renamed it.
fn comment(srv: &ServerPlan, name: &str) -> String {
    let weights = srv.recipe.weights_gb.map(|w| format!(", ~{w:.0} GB weights")).unwrap_or_default();
    let gpus = srv.gpus.len();
    let renamed = if srv.name == name { String::new() } else { format!(" (service `{}`)", srv.name) };
    format!(
        "{name}{renamed}: recipe {} ({}{}), {gpus} GPU{}{weights}",
        srv.recipe.id,
        srv.recipe.origin,
        if srv.recipe.pinned { ", pinned" } else { "" },
        if gpus == 1 { "" } else { "s" }
    )
}

/// What a reader (or a tool) finds out with `kubectl describe` without reading the pod spec:
/// engine, release, model, recipe, and the Job it waits for; sorted for a stable output.
fn annotations(srv: &ServerPlan, job: Option<&str>) -> Pairs {
    let mut annotations: Pairs = vec![
        ("aimgen.engine".into(), srv.backend.as_str().into()),
        ("aimgen.engine-version".into(), srv.engine_version.clone()),
        ("aimgen.model".into(), srv.model_id.clone()),
        ("aimgen.recipe".into(), srv.recipe.id.clone()),
    ];
    if let Some(j) = job {
        annotations.push(("aimgen.prefetch-job".into(), j.to_string()));
    }
    annotations.sort();
    annotations
}
