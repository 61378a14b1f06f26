//! The plan: everything a deployment needs, explicit and target-neutral. Resolve produces
//! it; each renderer (Compose today, Kubernetes next) only lays it out. Nothing here knows
//! Compose syntax: GPU visibility, secret references and file layout are the renderer's.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::recipe::Origin;
use crate::spec::{Backend, Precision, Vendor, Verify};

/// A fully resolved fleet.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Project name.
    pub name: String,
    /// The spec file, as the user named it (for generated-file headers).
    pub spec_path: String,
    /// The host's GPUs.
    pub gpu: GpuInventory,
    /// One image per engine the fleet uses, in engine order (vLLM, SGLang).
    pub images: Vec<ImagePlan>,
    /// The one model cache.
    pub cache: CachePlan,
    /// The one-shot download jobs, when prefetching.
    pub prefetch: Option<PrefetchPlan>,
    /// Model servers in spec order.
    pub servers: Vec<ServerPlan>,
}

/// The host's GPUs.
#[derive(Debug, Clone, Serialize)]
pub struct GpuInventory {
    /// Vendor.
    pub vendor: Vendor,
    /// Model name as written in the spec.
    pub model: String,
    /// How many.
    pub count: u32,
    /// Memory per GPU, GB.
    pub memory_gb: u32,
    /// Numeric host groups owning the GPU device files, added to every server.
    pub group_ids: Vec<u32>,
    /// AMD: DRM render minor per GPU index, when known (else every server gets `/dev/dri`).
    pub render_nodes: Vec<u32>,
}

/// The image one engine's workloads run: one build stage, built once.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// The engine it serves; also the build stage's name.
    pub backend: Backend,
    /// Base image reference, as given or defaulted.
    pub base: String,
    /// The engine release the base runs, from its tag or `engine_version`, when known.
    pub engine_version: Option<String>,
    /// Name of the built image, without tag (the renderer tags it by content).
    pub name: String,
    /// Extra pip requirement specifiers.
    pub pip: Vec<String>,
    /// Hub models whose tokenizer files are baked into the image's cache copy.
    pub preload: Vec<HubModel>,
    /// Environment baked into the image.
    pub env: BTreeMap<String, String>,
}

/// A model revision on the Hub (or its mirror).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HubModel {
    /// Repo id.
    pub repo: String,
    /// Branch, tag or commit sha as requested.
    pub revision: String,
    /// The commit sha from the lock file, when pinned.
    pub sha: Option<String>,
}

impl HubModel {
    /// What to pass as the revision: the locked sha when there is one.
    pub fn effective_revision(&self) -> &str {
        self.sha.as_deref().unwrap_or(&self.revision)
    }
}

impl Plan {
    /// The image of an engine.
    pub fn image(&self, backend: Backend) -> Option<&ImagePlan> {
        self.images.iter().find(|i| i.backend == backend)
    }
}

/// Where the shared cache lives and how workloads see it.
#[derive(Debug, Clone, Serialize)]
pub struct CachePlan {
    /// Storage backing the cache.
    pub storage: CacheStorage,
    /// Path inside containers (`HF_HOME`).
    pub mount: String,
    /// Hub cache inside it (`HF_HUB_CACHE`).
    pub hub_dir: String,
    /// Hub mirror, set as `HF_ENDPOINT` where something downloads.
    pub hf_endpoint: Option<String>,
    /// Servers mount the cache read-only and run offline (true when prefetching).
    pub servers_read_only: bool,
    /// Writable scratch for engine compile caches and remote code, per server.
    pub scratch: ScratchPlan,
}

/// Cache storage.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheStorage {
    /// A named volume.
    Volume {
        /// Volume name.
        name: String,
    },
    /// A host folder.
    HostPath {
        /// Absolute host path.
        path: String,
    },
}

/// A writable volume for what engines write at run time (torch.compile caches, remote code),
/// kept off the read-only model cache.
#[derive(Debug, Clone, Serialize)]
pub struct ScratchPlan {
    /// Volume name.
    pub volume: String,
    /// Mount path inside servers; each server writes under `<mount>/<service>`.
    pub mount: String,
}

/// The download jobs: one per distinct (model, revision), so each server waits only for its
/// own model and one model's failure (gated, missing, disk full) stops only its servers.
#[derive(Debug, Clone, Serialize)]
pub struct PrefetchPlan {
    /// One job per distinct (model, revision), sorted by model.
    pub jobs: Vec<PrefetchJob>,
    /// The engine whose image the jobs run in.
    pub image: Backend,
    /// Environment shared by every job.
    pub env: BTreeMap<String, String>,
    /// Files each job downloads at once.
    pub workers: u32,
    /// What a job checks before it declares a snapshot complete.
    pub verify: Verify,
}

/// One model revision's download job.
#[derive(Debug, Clone, Serialize)]
pub struct PrefetchJob {
    /// Workload name, in aimgen's reserved `aimgen-` namespace: stable for a (model,
    /// revision), distinct for distinct ones.
    pub name: String,
    /// Model and revision.
    pub model: HubModel,
    /// Which files.
    pub files: FileSelection,
    /// Services that use it.
    pub used_by: Vec<String>,
}

impl PrefetchJob {
    /// The prefetch program's argument (`templates/prefetch.py`), the same for every target:
    /// `{"repo", "revision", "sha", "files", "workers", "verify"}`.
    pub fn program_argument(&self, plan: &PrefetchPlan) -> serde_json::Result<serde_json::Value> {
        let m = &self.model;
        Ok(serde_json::json!({
            "repo": m.repo,
            "revision": m.revision,
            "sha": m.sha,
            "files": match &self.files {
                FileSelection::Rule => serde_json::Value::Null,
                FileSelection::Exact(f) => serde_json::to_value(f)?,
            },
            "workers": plan.workers,
            "verify": plan.verify.as_str(),
        }))
    }
}

/// One file the lock names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedFile {
    /// Path inside the repo.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256 (LFS) or git blob sha1.
    pub blob: String,
}

/// Which files of a repo the engine loads.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSelection {
    /// Decided at download time from the repo listing by the engine-file rule.
    Rule,
    /// Exactly these files (from the lock), with their sizes and content ids.
    Exact(Vec<ExpectedFile>),
}

/// Where a server's weights come from.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSource {
    /// The Hub, through the shared cache.
    Hub(HubModel),
    /// A local model repository folder, mounted read-only at the same path.
    Local {
        /// Absolute host (and container) path.
        path: String,
    },
}

/// The recipe a server got, and why.
#[derive(Debug, Clone, Serialize)]
pub struct ChosenRecipe {
    /// Recipe id.
    pub id: String,
    /// Where it came from.
    pub origin: Origin,
    /// It was pinned by the service.
    pub pinned: bool,
    /// Precision it serves at.
    pub precision: Precision,
    /// Estimated weights, GB, when the model's size is known.
    pub weights_gb: Option<f64>,
}

/// One model server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    /// Service name.
    pub name: String,
    /// Engine.
    pub backend: Backend,
    /// The model id as the user named it.
    pub model_id: String,
    /// Where the weights come from.
    pub source: ModelSource,
    /// API model name.
    pub served_model_name: String,
    /// GPU indices, ascending.
    pub gpus: Vec<u32>,
    /// Port on the host.
    pub host_port: u16,
    /// Port the engine listens on inside the container.
    pub port: u16,
    /// The full engine command line; it starts with `image::entrypoint(backend)`.
    pub argv: Vec<String>,
    /// The engine release the server is checked against (its image's, else the catalogue's).
    pub engine_version: String,
    /// Service-specific environment (recipe, user, scratch paths).
    pub env: BTreeMap<String, String>,
    /// Cache wiring shared by every server.
    pub cache_env: BTreeMap<String, String>,
    /// Needs the Hub token at run time (downloads on demand).
    pub needs_token: bool,
    /// The prefetch job that must complete before it starts (`None` for a local model or
    /// without prefetching).
    pub prefetch_job: Option<String>,
    /// HTTP path answering 200 when ready (needs no API key in either engine).
    pub health_path: String,
    /// Host address the published port listens on.
    pub bind: std::net::IpAddr,
    /// How the API key reaches the engine, when the server has one.
    pub api_key: Option<ApiKey>,
    /// How the container is run and supervised.
    pub runtime: RuntimePlan,
    /// The chosen recipe.
    pub recipe: ChosenRecipe,
}

/// An API key passed by reference: its value exists only in the environment of whoever
/// starts the deployment, never in the plan or in a generated file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// The variable that holds the key where the deployment is started.
    pub variable: String,
    /// Where the engine reads it from.
    pub delivery: KeyDelivery,
}

/// Where an engine reads its API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum KeyDelivery {
    /// An environment variable of the engine (vLLM's `VLLM_API_KEY`).
    Env(String),
    /// A command-line flag followed by the key (SGLang's `--api-key`).
    Flag(String),
}

/// Container settings for one server: supervision, logs, limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimePlan {
    /// Restarts after an exit with an error before giving up.
    pub restart_attempts: u32,
    /// Seconds between the stop signal and the kill.
    pub stop_grace_seconds: u32,
    /// Rotate a log file at this size (json-file `max-size`).
    pub log_max_size: String,
    /// Rotated log files kept.
    pub log_max_files: u32,
    /// `memlock` unlimited and a 64 MiB stack (NVIDIA's container guidance).
    pub nvidia_ulimits: bool,
}
