//! The Kubernetes target: the same plan as plain manifests and a kustomization.
//!
//! One PersistentVolumeClaim holds the cache; one download Job per (model, resolved revision)
//! fills it and then writes a completion marker; each server is a Deployment whose init
//! container waits for its model's marker, then serves from the claim mounted read-only, and
//! a ClusterIP Service, and a NetworkPolicy that admits only `allow_from` to its engine port
//! (another admits nothing to the Jobs). GPUs come from the vendor's device plugin (`amd.com/gpu`,
//! `nvidia.com/gpu`), never from host device files. This module owns the target's naming
//! (`names`), escaping (`escape`) and templates (`templates/kubernetes/`); its spec section
//! is `crate::spec::kubernetes`, resolved by `prepare`.

pub mod escape;
pub mod names;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{Environment, Value};
use serde::Serialize;

use super::{environment, header, render_template, text_of, Files, Layout, Prune};
use crate::diagnostic::Diagnostic;
use crate::plan::{ApiKey, ClusterPeer, ClusterPlan, Engine, GpuVendor, KeyDelivery, ModelSource, Plan, ServerPlan};
use crate::source::escape_segment;
use crate::spec::kubernetes::{AccessMode, KubernetesSpec};
use crate::spec::FleetSpec;

/// The kustomization in an output folder.
pub const KUSTOMIZATION: &str = "kustomization.yaml";
/// The ConfigMap with the prefetch program and the two shell steps.
pub const SCRIPTS_FILE: &str = "scripts.yaml";
/// The cache claim.
pub const CACHE_FILE: &str = "cache.yaml";
/// One file per download Job, named after the Job.
pub const JOB_DIR: &str = "jobs";
/// One file per server (its Deployment, Service and NetworkPolicy), named after its Kubernetes
/// name.
pub const SERVER_DIR: &str = "servers";
/// The NetworkPolicy that admits nothing to the download Jobs' pods.
pub const JOBS_POLICY_FILE: &str = "jobs-network-policy.yaml";
/// Its name, in aimgen's reserved `aimgen-` namespace (no server's policy can have it).
pub const JOBS_POLICY: &str = "aimgen-model-downloads";
/// A generated Job or server file the rendering no longer produces (a removed service, a Job
/// of an old lock) is stale, and so is the Jobs' policy after `network_policy: false`.
pub const PRUNE: &[Prune] = &[
    Prune { dir: JOB_DIR, suffix: ".yaml" },
    Prune { dir: SERVER_DIR, suffix: ".yaml" },
    Prune { dir: "", suffix: JOBS_POLICY_FILE },
];
/// The key of the one file a single-stream rendering holds (printed on standard output).
pub const STREAM_FILE: &str = "kubernetes.yaml";

/// Name of the scripts ConfigMap, in aimgen's reserved `aimgen-` namespace.
pub const SCRIPTS_CONFIGMAP: &str = "aimgen-scripts";
/// Where the scripts ConfigMap is mounted.
pub const SCRIPTS_MOUNT: &str = "/etc/aimgen";
/// Folder on the claim (under `cache.mount`) where Jobs put their completion markers.
pub const READY_DIR: &str = "aimgen-ready";
/// The `app.kubernetes.io/component` of the download Jobs' pods (their NetworkPolicy selects it).
const JOB_COMPONENT: &str = "model-download";
/// The variable that carries an API key to an engine that reads it from a flag.
pub const KEY_VAR: &str = "AIMGEN_API_KEY";

/// The Secret holding the API keys unless `kubernetes.api_key_secret` names another.
const DEFAULT_API_KEY_SECRET: &str = "aimgen-api-keys";

/// Download Job retries (each resumes where the last left off).
const BACKOFF_LIMIT: u32 = 4;
/// A finished Job is kept a day for its logs.
const JOB_TTL_SECONDS: u32 = 86_400;

/// The node label each vendor's GPU discovery sets, and the values known for a GPU model:
/// AMD's node labeller (ROCm/k8s-device-plugin, `amd.com/gpu.product-name`, e.g.
/// `AMD_Instinct_MI300X_OAM` in its documentation's MI300X example) and NVIDIA's GPU feature
/// discovery (`nvidia.com/gpu.product`, e.g. `NVIDIA-H100-80GB-HBM3`). The value is the
/// product's marketing name as the driver reports it, so other boards of a model (PCIe, NVL)
/// have other values: `kubernetes.gpu_product` names them.
pub fn product_label(vendor: GpuVendor) -> &'static str {
    match vendor {
        GpuVendor::Amd => "amd.com/gpu.product-name",
        GpuVendor::Nvidia => "nvidia.com/gpu.product",
    }
}

fn known_products(model: &str) -> Option<Vec<String>> {
    let values: &[&str] = match model.to_ascii_uppercase().as_str() {
        "MI300X" => &["AMD_Instinct_MI300X_OAM"],
        "H100" => &["NVIDIA-H100-80GB-HBM3"],
        _ => return None,
    };
    Some(values.iter().map(|v| v.to_string()).collect())
}

/// The device plugin's resource name.
pub fn gpu_resource(vendor: GpuVendor) -> &'static str {
    match vendor {
        GpuVendor::Amd => "amd.com/gpu",
        GpuVendor::Nvidia => "nvidia.com/gpu",
    }
}

/// The `kubernetes:` section's resolve step (compile runs it when the target is asked for):
/// checks what only this target cares about and applies the defaults. Diagnostics carry spec
/// pointers (the caller locates them); `None` when there is an error among them. Rendering
/// then reads only the plan.
pub fn prepare(spec: &FleetSpec, plan: &Plan) -> (Option<ClusterPlan>, Vec<Diagnostic>) {
    let k = spec.kubernetes.clone().unwrap_or_default();
    let mut diags = Vec::new();
    let names = match names::service_names(spec.services.keys().map(String::as_str)) {
        Ok(n) => n,
        Err(problems) => {
            for (svc, msg) in problems {
                diags.push(
                    Diagnostic::error(msg)
                        .at_key(format!("/services/{}", escape_segment(&svc)))
                        .help("rename the service: Kubernetes names are lowercase letters, digits and `-`, start with a letter and have at most 63 characters"),
                );
            }
            BTreeMap::new()
        }
    };
    let cache = spec.cache.clone().unwrap_or_default();
    if cache.prefetch == Some(false) {
        diags.push(
            Diagnostic::error("`cache.prefetch: false` cannot be deployed to Kubernetes")
                .at("/cache/prefetch")
                .help("on a cluster each model is downloaded once by a Job and servers on every node read the shared claim; remove the line (Compose keeps its on-demand mode)"),
        );
    }
    if cache.host_path.is_some() {
        diags.push(
            Diagnostic::warning("`cache.host_path` is not used on Kubernetes: the cache is the PersistentVolumeClaim")
                .at("/cache/host_path")
                .help("size and class of the claim are `kubernetes.cache.size` and `kubernetes.cache.storage_class`"),
        );
    }
    for (svc, s) in &spec.services {
        if s.model_path.is_some() {
            diags.push(
                Diagnostic::warning(format!("`model_path` of `{svc}` is mounted from the node (hostPath) on Kubernetes"))
                    .at(format!("/services/{}/model_path", escape_segment(svc)))
                    .help("the folder must exist on every GPU node that can run this server; or serve the model from the Hub through the shared cache"),
            );
        }
    }
    // Kubernetes has no per-container rlimits: the node's runtime sets them. Only limits the
    // spec asks for are worth a word; the NVIDIA default is Compose's alone.
    let ulimits = spec.serving.as_ref().and_then(|s| s.ulimits.as_ref()).map(|u| ("/serving/ulimits".to_string(), u));
    let ulimits =
        ulimits.into_iter().chain(spec.services.iter().filter_map(|(svc, s)| {
            s.ulimits.as_ref().map(|u| (format!("/services/{}/ulimits", escape_segment(svc)), u))
        }));
    for (at, _) in ulimits.filter(|(_, u)| !u.is_empty()) {
        diags.push(
            Diagnostic::warning("`ulimits` are not applied on Kubernetes: a pod cannot set its containers' resource limits")
                .at_key(at)
                .help("the node's container runtime sets them (its default, or its configuration on the GPU nodes); the Compose target applies `ulimits`"),
        );
    }
    if k.registry.is_none() {
        diags.push(
            Diagnostic::warning("no `kubernetes.registry`: the images are named without a registry and must already be on every node")
                .at(if spec.kubernetes.is_some() { "/kubernetes" } else { "" })
                .help("set `kubernetes.registry` to the registry the cluster pulls from; `aimgen render` then prints the build and push commands"),
        );
    }
    let gpu_product = match &k.gpu_product {
        Some(v) => v.clone(),
        None => known_products(&plan.gpu.model).unwrap_or_else(|| {
            diags.push(
                Diagnostic::warning(format!(
                    "no node affinity: aimgen knows no `{}` value for GPU model {}",
                    product_label(plan.gpu.vendor),
                    plan.gpu.model
                ))
                .at("/host/gpu/model")
                .help("set `kubernetes.gpu_product` to the label values of your GPU nodes (`kubectl get nodes -L <label>`), or to [] to schedule on any GPU node"),
            );
            Vec::new()
        }),
    };
    let namespace = k.namespace.clone().unwrap_or_else(|| names::map(&spec.name));
    if !names::is_dns1123_label(&namespace) {
        diags.push(
            Diagnostic::error(format!("the fleet's name `{}` is no Kubernetes namespace (`{namespace}`)", spec.name))
                .at("/name")
                .help("set `kubernetes.namespace`"),
        );
    }
    let kc = k.cache.clone().unwrap_or_default();
    let mut refuse = |ok: bool, at: &str, msg: String, help: &str| {
        if !ok {
            diags.push(Diagnostic::error(msg).at(format!("/kubernetes/{at}")).help(help.to_string()));
        }
    };
    if let Some(n) = &k.namespace {
        refuse(
            names::is_dns1123_label(n),
            "namespace",
            format!("`{}` is no Kubernetes namespace name", n.escape_debug()),
            "lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit",
        );
    }
    for (at, v) in
        [("hf_token_secret", &k.hf_token_secret), ("api_key_secret", &k.api_key_secret), ("cache/claim", &kc.claim)]
    {
        if let Some(v) = v {
            refuse(
                names::is_dns1123_subdomain(v),
                at,
                format!("`{}` is no Kubernetes object name", v.escape_debug()),
                "lowercase letters, digits, `-` and `.`, at most 253, starting and ending with a letter or digit",
            );
        }
    }
    for (at, v) in [("shm_size", &k.shm_size), ("cache/size", &kc.size)] {
        if let Some(v) = v {
            refuse(
                names::is_quantity(v),
                at,
                format!("`{}` is no Kubernetes quantity", v.escape_debug()),
                "a number with an optional unit: `16Gi`, `500Gi`, `1Ti`, `200G`",
            );
        }
    }
    for (at, v, max) in
        [("model_wait_minutes", k.model_wait_minutes, 10_080), ("startup_minutes", k.startup_minutes, 1_440)]
    {
        if let Some(v) = v {
            refuse((1..=max).contains(&v), at, format!("`{at}: {v}` is out of range"), &format!("1 to {max} minutes"));
        }
    }
    for v in k.gpu_product.iter().flatten() {
        refuse(
            names::label_value(v) == *v,
            "gpu_product",
            format!("`{}` is no node label value", v.escape_debug()),
            "at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
        );
    }
    if let Some(r) = &k.registry {
        refuse(
            !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || "-._:/".contains(c)),
            "registry",
            format!("`{}` is no image registry path", r.escape_debug()),
            "a host (and port) with optional path, e.g. `registry.example.com/llm`",
        );
    }
    let allow_from = allow_from(&k, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let settings = ClusterPlan {
        claim: kc.claim.clone().unwrap_or_else(|| format!("{namespace}-model-cache")),
        namespace,
        storage_class: kc.storage_class.clone(),
        size: kc.size.clone().unwrap_or_else(|| match cache.budget_gb {
            Some(gb) => format!("{gb}G"),
            None => "1Ti".to_string(),
        }),
        access_mode: kc.access_mode.unwrap_or(AccessMode::ReadWriteMany).as_str().to_string(),
        registry: k.registry.clone().map(|r| r.trim_end_matches('/').to_string()),
        gpu_product,
        hf_token_secret: k.hf_token_secret.clone().unwrap_or_else(|| "hf-token".to_string()),
        api_key_secret: k.api_key_secret.clone().unwrap_or_else(|| DEFAULT_API_KEY_SECRET.to_string()),
        shm_size: k.shm_size.clone().unwrap_or_else(|| "16Gi".to_string()),
        run_as_user: match k.run_as_user {
            Some(0) => None,
            Some(u) => Some(u),
            // A high uid no host account has (checkov CKV_K8S_40: 10000 or more).
            None => Some(10001),
        },
        wait_seconds: k.model_wait_minutes.unwrap_or(120) * 60,
        startup_minutes: k.startup_minutes.unwrap_or(30),
        names,
        allow_from,
    };
    (Some(settings), diags)
}

/// The label the default peer's pods carry: who may call the servers unless `allow_from` says.
pub const CLIENT_LABEL: (&str, &str) = ("aimgen.io/client", "true");

/// `network_policy` and `allow_from`, checked (label keys and values by Kubernetes' rules, at
/// their lines): the peers, or `None` for no NetworkPolicies.
fn allow_from(k: &KubernetesSpec, diags: &mut Vec<Diagnostic>) -> Option<Vec<ClusterPeer>> {
    let enabled = k.network_policy.unwrap_or(true);
    let Some(peers) = &k.allow_from else {
        let label = BTreeMap::from([(CLIENT_LABEL.0.to_string(), CLIENT_LABEL.1.to_string())]);
        return enabled.then(|| vec![ClusterPeer { pods: Some(label), namespaces: None }]);
    };
    if !enabled {
        diags.push(
            Diagnostic::warning("`kubernetes.allow_from` is not used: `network_policy: false` writes no NetworkPolicy")
                .at("/kubernetes/allow_from")
                .help("remove one of the two lines"),
        );
    } else if peers.is_empty() {
        diags.push(
            Diagnostic::warning("`kubernetes.allow_from` is empty: no pod can call the servers")
                .at("/kubernetes/allow_from")
                .help(format!(
                    "only each server's own node reaches it (the kubelet's probes); list the pods that call the servers, \
                     e.g. `- pods: {{app.kubernetes.io/name: gateway}}`, or remove the line to admit pods labelled `{}: \"{}\"`",
                    CLIENT_LABEL.0, CLIENT_LABEL.1
                )),
        );
    }
    for (i, p) in peers.iter().enumerate() {
        let at = format!("/kubernetes/allow_from/{i}");
        if p.pods.is_none() && p.namespaces.is_none() {
            diags.push(
                Diagnostic::error("an `allow_from` entry needs `pods`, `namespaces` or both")
                    .at(&at)
                    .help("`pods: {app: gateway}` admits those pods of the fleet's namespace, `namespaces: {kubernetes.io/metadata.name: web}` every pod of that namespace, both together those pods of those namespaces; `{}` as a selector matches all"),
            );
        }
        for (field, map) in [("pods", &p.pods), ("namespaces", &p.namespaces)] {
            for (key, value) in map.iter().flatten() {
                let here = format!("{at}/{field}/{}", escape_segment(key));
                if let Some(why) = names::label_key_problem(key) {
                    diags.push(
                        Diagnostic::error(format!("`{}` is no label key: {why}", key.escape_debug()))
                            .at_key(&here)
                            .help(
                            "an optional DNS-subdomain prefix and `/`, then the name: `app`, `app.kubernetes.io/name`",
                        ),
                    );
                }
                if let Some(why) = names::label_value_problem(value) {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{}` is no label value (of `{}`)",
                            value.escape_debug(),
                            key.escape_debug()
                        ))
                        .at(&here)
                        .help(why),
                    );
                }
            }
        }
    }
    enabled
        .then(|| peers.iter().map(|p| ClusterPeer { pods: p.pods.clone(), namespaces: p.namespaces.clone() }).collect())
}

/// Servers every pod in the cluster can call: no NetworkPolicy (`network_policy: false`) and
/// no API key. The Kubernetes side of `compose::exposure`: compile asks only when this target
/// is rendered.
pub fn exposure(spec: &FleetSpec) -> Vec<Diagnostic> {
    let Some(k) = &spec.kubernetes else { return Vec::new() };
    if k.network_policy != Some(false) {
        return Vec::new();
    }
    let secret = k.api_key_secret.as_deref().unwrap_or(DEFAULT_API_KEY_SECRET);
    let mut out = Vec::new();
    for (name, svc) in &spec.services {
        if super::has_api_key(spec, svc) {
            continue;
        }
        let suggested = super::suggested_key_variable(name);
        out.push(
            Diagnostic::warning(format!(
                "service `{name}` has no API key and no NetworkPolicy: every pod in the cluster can call it"
            ))
            .at("/kubernetes/network_policy")
            .help(format!(
                "add `api_key_env: {suggested}` to service `{name}` (or `serving.api_key_env`) and put the key into \
                 the Secret `{secret}` under {suggested}, or remove `network_policy: false`"
            )),
        );
    }
    out
}

/// The Kubernetes templates, with their encoders: `q` (a quoted scalar), `xq` (a quoted
/// `command`/`args`/`env` value, `$` doubled against the kubelet's expansion), `vref` (a
/// `$(NAME)` reference the kubelet fills) and `block` (file content).
pub(super) fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        environment("kubernetes", |env| {
            env.add_filter("q", |v: Value| Value::from_safe_string(escape::quote(&text_of(&v))));
            env.add_filter("xq", |v: Value| Value::from_safe_string(escape::expand_quote(&text_of(&v))));
            env.add_filter("vref", |v: Value| Value::from_safe_string(escape::var_ref(&text_of(&v))));
            env.add_filter("block", |v: Value, indent: usize| {
                Value::from_safe_string(escape::block(&text_of(&v), indent))
            });
        })
    })
}

fn render_one(name: &str, ctx: impl Serialize) -> anyhow::Result<String> {
    render_template(templates(), &format!("kubernetes/{name}"), ctx)
}

type Pairs = Vec<(String, String)>;

#[derive(Serialize)]
struct Meta {
    header: Vec<String>,
    name: String,
    namespace: String,
    labels: Pairs,
}

#[derive(Serialize)]
struct PodSecurity {
    run_as_user: Option<u32>,
    groups: Vec<u32>,
}

#[derive(Serialize)]
struct KustomizationCtx {
    header: Vec<String>,
    namespace: String,
    build: Vec<String>,
    resources: Vec<String>,
}

#[derive(Serialize)]
struct ScriptsCtx {
    #[serde(flatten)]
    meta: Meta,
    data: Pairs,
}

#[derive(Serialize)]
struct CacheCtx {
    #[serde(flatten)]
    meta: Meta,
    access_mode: String,
    storage_class: Option<String>,
    size: String,
}

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

/// One `from` entry of a server's NetworkPolicy: `podSelector` and/or `namespaceSelector`
/// (Kubernetes ANDs the two), each with its labels (empty: `{}`, matching all).
type PeerCtx = Vec<(&'static str, Pairs)>;

#[derive(Serialize)]
struct JobsPolicyCtx {
    #[serde(flatten)]
    meta: Meta,
    selector: Pairs,
}

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

/// The recommended `app.kubernetes.io/*` labels.
fn labels(plan: &Plan, name: &str, instance: &str, component: &str, version: Option<&str>) -> Pairs {
    let mut l = vec![
        ("app.kubernetes.io/name".to_string(), names::label_value(name)),
        ("app.kubernetes.io/instance".to_string(), names::label_value(instance)),
        ("app.kubernetes.io/component".to_string(), component.to_string()),
        ("app.kubernetes.io/part-of".to_string(), names::label_value(&plan.name)),
        ("app.kubernetes.io/managed-by".to_string(), "aimgen".to_string()),
    ];
    if let Some(v) = version {
        l.push(("app.kubernetes.io/version".to_string(), names::label_value(v)));
    }
    l
}

/// The completion marker of a Job, on the claim.
pub fn marker_path(plan: &Plan, job: &str) -> String {
    format!("{}/{READY_DIR}/{job}", plan.cache.mount.trim_end_matches('/'))
}

/// The cluster settings of a plan compile prepared for this target.
fn cluster(plan: &Plan) -> anyhow::Result<&ClusterPlan> {
    plan.cluster.as_ref().ok_or_else(|| anyhow::anyhow!("the plan was not compiled for the Kubernetes target"))
}

/// Each engine image's name as the cluster pulls it: `[<registry>/]<name>:<tag of its stage>`.
fn image_refs(plan: &Plan, s: &ClusterPlan, tags: &BTreeMap<Engine, String>) -> BTreeMap<Engine, String> {
    plan.images
        .iter()
        .map(|i| {
            let tag = tags.get(&i.backend).map_or("", String::as_str);
            let r = match &s.registry {
                Some(reg) => format!("{reg}/{}:{tag}", i.name),
                None => format!("{}:{tag}", i.name),
            };
            (i.backend, r)
        })
        .collect()
}

/// The commands that build (and, with a registry, push) each image from
/// `Dockerfile.optimized` in the output folder. aimgen prints them and runs none.
pub fn build_commands(plan: &Plan) -> anyhow::Result<Vec<String>> {
    let s = cluster(plan)?;
    let tags = super::dockerfile::render(plan)?.tags;
    let mut build = Vec::new();
    let preload = plan.images.iter().any(|i| !i.preload.is_empty());
    for (engine, r) in image_refs(plan, s, &tags) {
        let mut cmd = format!("docker build -f Dockerfile.optimized --target {} -t {r}", engine.as_str());
        if preload {
            cmd.push_str(" --secret id=hf_token,env=HF_TOKEN");
            if let Some(e) = &plan.cache.hf_endpoint {
                cmd.push_str(&format!(" --build-arg HF_ENDPOINT={}", crate::text::shell_quote(e)));
            }
        }
        build.push(format!("{cmd} ."));
        if s.registry.is_some() {
            build.push(format!("docker push {r}"));
        }
    }
    Ok(build)
}

/// Renders the plan as manifests: a folder (with `kustomization.yaml` and the Dockerfile the
/// images are built from), or one multi-document stream (`STREAM_FILE`).
pub fn render(plan: &Plan, layout: Layout) -> anyhow::Result<Files> {
    let s = cluster(plan)?;
    let header = header(plan);
    let dockerfile = super::dockerfile::render(plan)?;
    let refs = image_refs(plan, s, &dockerfile.tags);
    let image_ref = |e: Engine| refs.get(&e).cloned().unwrap_or_default();
    let build = build_commands(plan)?;
    let pod = |groups: bool| PodSecurity {
        run_as_user: s.run_as_user,
        groups: if groups && s.run_as_user.is_some() { plan.gpu.group_ids.clone() } else { Vec::new() },
    };
    let meta = |name: &str, labels: Pairs| Meta {
        header: header.clone(),
        name: name.to_string(),
        namespace: s.namespace.clone(),
        labels,
    };
    let mut files = Files::new();
    let mut docs = Vec::new();

    let scripts = ScriptsCtx {
        meta: meta(SCRIPTS_CONFIGMAP, labels(plan, SCRIPTS_CONFIGMAP, SCRIPTS_CONFIGMAP, "scripts", None)),
        data: ["prefetch-job.sh", "prefetch.py", "wait-for-model.sh"]
            .iter()
            .map(|f| {
                let asset = if *f == "prefetch.py" { f.to_string() } else { format!("kubernetes/{f}") };
                super::asset(&asset).map(|t| (f.to_string(), t.to_string()))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    docs.push((SCRIPTS_FILE.to_string(), render_one("scripts.yaml.j2", scripts)?));
    let cache = CacheCtx {
        meta: meta(&s.claim, labels(plan, "model-cache", &s.claim, "model-cache", None)),
        access_mode: s.access_mode.clone(),
        storage_class: s.storage_class.clone(),
        size: s.size.clone(),
    };
    docs.push((CACHE_FILE.to_string(), render_one("cache.yaml.j2", cache)?));

    // Compose's job name (the plan's) → this target's, which follows the resolved revision.
    let mut job_names = BTreeMap::new();
    let has_jobs = plan.prefetch.as_ref().is_some_and(|p| !p.jobs.is_empty());
    if s.allow_from.is_some() && has_jobs {
        // The Jobs' pods by the labels every Job's template gives them (`labels` below).
        let ctx = JobsPolicyCtx {
            meta: meta(JOBS_POLICY, labels(plan, "aimgen-prefetch", JOBS_POLICY, JOB_COMPONENT, None)),
            selector: vec![
                ("app.kubernetes.io/component".into(), JOB_COMPONENT.into()),
                ("app.kubernetes.io/part-of".into(), names::label_value(&plan.name)),
            ],
        };
        docs.push((JOBS_POLICY_FILE.to_string(), render_one("jobs-network-policy.yaml.j2", ctx)?));
    }
    if let Some(p) = &plan.prefetch {
        for job in &p.jobs {
            let m = &job.model;
            let name = names::job_name(&m.repo, m.effective_revision());
            job_names.insert(job.name.clone(), name.clone());
            let spec = job.program_argument(p)?;
            let mut env: Pairs = p.env.clone().into_iter().collect();
            if s.run_as_user.is_some() {
                // No passwd entry for the user: give it a writable home.
                env.push(("HOME".into(), "/tmp".into()));
            }
            let used_by: Vec<String> =
                job.used_by.iter().map(|u| s.names.get(u).cloned().unwrap_or_default()).collect();
            let ctx = JobCtx {
                meta: meta(&name, labels(plan, "aimgen-prefetch", &name, JOB_COMPONENT, None)),
                comment: format!(
                    "Downloads {}@{} into the shared cache, then marks it ready for {}",
                    m.repo,
                    m.effective_revision(),
                    used_by.join(", ")
                ),
                backoff_limit: BACKOFF_LIMIT,
                ttl_seconds: JOB_TTL_SECONDS,
                pod: pod(false),
                image: image_ref(p.image),
                command: vec!["sh".into(), format!("{SCRIPTS_MOUNT}/prefetch-job.sh")],
                args: vec![marker_path(plan, &name), crate::text::ascii_json(&spec, false)?],
                env,
                token_secret: s.hf_token_secret.clone(),
                cache_mount: plan.cache.mount.clone(),
                scripts_mount: SCRIPTS_MOUNT,
                claim: s.claim.clone(),
                scripts: SCRIPTS_CONFIGMAP,
            };
            docs.push((format!("{JOB_DIR}/{name}.yaml"), render_one("job.yaml.j2", ctx)?));
        }
    }
    for srv in &plan.servers {
        let name = s.names.get(&srv.name).cloned().unwrap_or_else(|| names::map(&srv.name));
        let job = srv.prefetch_job.as_ref().and_then(|j| job_names.get(j)).cloned();
        let ctx = server(plan, s, srv, &name, job, image_ref(srv.backend), pod(true), &header);
        docs.push((format!("{SERVER_DIR}/{name}.yaml"), render_one("server.yaml.j2", ctx)?));
    }
    if layout == Layout::SingleFile {
        let stream = docs.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>().join("---\n");
        files.insert(STREAM_FILE.to_string(), stream);
    } else {
        let mut resources: Vec<String> = docs.iter().map(|(f, _)| f.clone()).collect();
        resources.sort();
        let k = KustomizationCtx {
            header: header.clone(),
            namespace: s.namespace.clone(),
            build: build.clone(),
            resources,
        };
        files.insert(KUSTOMIZATION.to_string(), render_one("kustomization.yaml.j2", k)?);
        files.insert(super::dockerfile::DOCKERFILE.to_string(), dockerfile.text);
        files.extend(docs);
    }
    Ok(files)
}

#[allow(clippy::too_many_arguments)]
fn server(
    plan: &Plan,
    s: &ClusterPlan,
    srv: &ServerPlan,
    name: &str,
    job: Option<String>,
    image: String,
    pod: PodSecurity,
    header: &[String],
) -> ServerCtx {
    let mut env: BTreeMap<String, String> = plan.cache.server_env.clone();
    env.extend(srv.env.clone());
    if s.run_as_user.is_some() && !env.contains_key("HOME") {
        // No passwd entry for the user: libraries that write under `~` get the scratch space.
        env.insert("HOME".into(), format!("{}/{}/home", plan.cache.scratch.mount, srv.name));
    }
    let (mut key_flag, mut secret_env) = (None, Vec::new());
    match &srv.api_key {
        Some(ApiKey { variable, delivery: KeyDelivery::Env(var) }) => {
            secret_env.push(SecretEnv { name: var.clone(), secret: s.api_key_secret.clone(), key: variable.clone() })
        }
        Some(ApiKey { variable, delivery: KeyDelivery::Flag(flag) }) => {
            key_flag = Some(flag.clone());
            secret_env.push(SecretEnv {
                name: KEY_VAR.into(),
                secret: s.api_key_secret.clone(),
                key: variable.clone(),
            });
        }
        None => {}
    }
    let entry = srv.entrypoint_len.min(srv.argv.len());
    let (command, args) = srv.argv.split_at(entry);
    let weights = srv.recipe.weights_gb.map(|w| format!(", ~{w:.0} GB weights")).unwrap_or_default();
    let gpus = srv.gpus.len();
    let renamed = if srv.name == name { String::new() } else { format!(" (service `{}`)", srv.name) };
    let comment = format!(
        "{name}{renamed}: recipe {} ({}{}), {gpus} GPU{}{weights}",
        srv.recipe.id,
        srv.recipe.origin,
        if srv.recipe.pinned { ", pinned" } else { "" },
        if gpus == 1 { "" } else { "s" }
    );
    let mut annotations: Pairs = vec![
        ("aimgen.engine".into(), srv.backend.as_str().into()),
        ("aimgen.engine-version".into(), srv.engine_version.clone()),
        ("aimgen.model".into(), srv.model_id.clone()),
        ("aimgen.recipe".into(), srv.recipe.id.clone()),
    ];
    if let Some(j) = &job {
        annotations.push(("aimgen.prefetch-job".into(), j.clone()));
    }
    annotations.sort();
    let version = Some(srv.engine_version.as_str());
    ServerCtx {
        meta: Meta {
            header: header.to_vec(),
            name: name.to_string(),
            namespace: s.namespace.clone(),
            labels: labels(plan, srv.backend.as_str(), name, "server", version),
        },
        comment,
        annotations,
        selector: vec![
            ("app.kubernetes.io/component".into(), "server".into()),
            ("app.kubernetes.io/instance".into(), name.to_string()),
        ],
        grace_seconds: srv.runtime.stop_grace_seconds,
        pod,
        affinity: (!s.gpu_product.is_empty())
            .then(|| Affinity { key: product_label(plan.gpu.vendor), values: s.gpu_product.clone() }),
        wait: job.map(|j| WaitCtx {
            command: vec!["sh".into(), format!("{SCRIPTS_MOUNT}/wait-for-model.sh")],
            args: vec![marker_path(plan, &j), s.wait_seconds.to_string(), j.clone()],
            job: j,
        }),
        image,
        command: command.to_vec(),
        args: args.to_vec(),
        key_flag,
        key_var: KEY_VAR,
        port: srv.port,
        env: env.into_iter().collect(),
        secret_env,
        gpu_resource: gpu_resource(plan.gpu.vendor),
        gpus: gpus.to_string(),
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

fn peer(p: &ClusterPeer) -> PeerCtx {
    let pairs = |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Pairs>();
    let mut out = Vec::new();
    if let Some(m) = &p.pods {
        out.push(("podSelector", pairs(m)));
    }
    if let Some(m) = &p.namespaces {
        out.push(("namespaceSelector", pairs(m)));
    }
    out
}
