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
mod job;
pub mod names;
mod network_policy;
mod prepare;
mod server;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{Environment, Value};
use serde::Serialize;

use super::{environment, header, render_template, text_of, Files, Layout, Prune};
use crate::plan::{ClusterPlan, Engine, GpuVendor, Plan};
pub use network_policy::{exposure, CLIENT_LABEL};
pub use prepare::prepare;

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

/// What every document of one rendering shares: the plan, its cluster settings, the header
/// and the images' names.
struct Rendering<'a> {
    plan: &'a Plan,
    cluster: &'a ClusterPlan,
    header: Vec<String>,
    images: BTreeMap<Engine, String>,
}

impl Rendering<'_> {
    fn meta(&self, name: &str, labels: Pairs) -> Meta {
        Meta { header: self.header.clone(), name: name.to_string(), namespace: self.cluster.namespace.clone(), labels }
    }

    /// The pod's user; GPU device groups only for pods that open the devices (servers), and
    /// only when not root (root needs none).
    fn pod(&self, groups: bool) -> PodSecurity {
        let s = self.cluster;
        PodSecurity {
            run_as_user: s.run_as_user,
            groups: if groups && s.run_as_user.is_some() { self.plan.gpu.group_ids.clone() } else { Vec::new() },
        }
    }

    fn image(&self, engine: Engine) -> String {
        self.images.get(&engine).cloned().unwrap_or_default()
    }
}

/// Renders the plan as manifests: a folder (with `kustomization.yaml` and the Dockerfile the
/// images are built from), or one multi-document stream (`STREAM_FILE`).
pub fn render(plan: &Plan, layout: Layout) -> anyhow::Result<Files> {
    let cluster = cluster(plan)?;
    let dockerfile = super::dockerfile::render(plan)?;
    let images = image_refs(plan, cluster, &dockerfile.tags);
    let r = Rendering { plan, cluster, header: header(plan), images };
    // The stream's order: what the others mount or wait for comes first.
    let mut docs = vec![scripts_doc(&r)?, cache_doc(&r)?];
    docs.extend(network_policy::jobs_policy_doc(&r)?);
    docs.extend(job::job_docs(&r)?);
    docs.extend(server::server_docs(&r, &job::job_names(&r))?);
    let mut files = Files::new();
    if layout == Layout::SingleFile {
        let stream = docs.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>().join("---\n");
        files.insert(STREAM_FILE.to_string(), stream);
    } else {
        files.insert(KUSTOMIZATION.to_string(), kustomization(&r, &docs)?);
        files.insert(super::dockerfile::DOCKERFILE.to_string(), dockerfile.text);
        files.extend(docs);
    }
    Ok(files)
}

/// The ConfigMap the Jobs and init containers run their scripts from (the templates' copies,
/// so a script is reviewed once, not per manifest).
fn scripts_doc(r: &Rendering) -> anyhow::Result<(String, String)> {
    let scripts = ScriptsCtx {
        meta: r.meta(SCRIPTS_CONFIGMAP, labels(r.plan, SCRIPTS_CONFIGMAP, SCRIPTS_CONFIGMAP, "scripts", None)),
        data: ["prefetch-job.sh", "prefetch.py", "wait-for-model.sh"]
            .iter()
            .map(|f| {
                let asset = if *f == "prefetch.py" { f.to_string() } else { format!("kubernetes/{f}") };
                super::asset(&asset).map(|t| (f.to_string(), t.to_string()))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    Ok((SCRIPTS_FILE.to_string(), render_one("scripts.yaml.j2", scripts)?))
}

/// The claim every Job writes and every server reads.
fn cache_doc(r: &Rendering) -> anyhow::Result<(String, String)> {
    let s = r.cluster;
    let cache = CacheCtx {
        meta: r.meta(&s.claim, labels(r.plan, "model-cache", &s.claim, "model-cache", None)),
        access_mode: s.access_mode.clone(),
        storage_class: s.storage_class.clone(),
        size: s.size.clone(),
    };
    Ok((CACHE_FILE.to_string(), render_one("cache.yaml.j2", cache)?))
}

/// The kustomization lists the folder's manifests (sorted, so a diff shows only real change)
/// and, as comments, the commands that build the images it names.
fn kustomization(r: &Rendering, docs: &[(String, String)]) -> anyhow::Result<String> {
    let mut resources: Vec<String> = docs.iter().map(|(f, _)| f.clone()).collect();
    resources.sort();
    let k = KustomizationCtx {
        header: r.header.clone(),
        namespace: r.cluster.namespace.clone(),
        build: build_commands(r.plan)?,
        resources,
    };
    render_one("kustomization.yaml.j2", k)
}
