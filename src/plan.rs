//! The plan: everything a deployment needs, explicit and target-neutral. Resolve produces
//! it; each renderer (Compose today, Kubernetes next) only lays it out. Nothing here knows
//! Compose syntax: GPU visibility, secret references and file layout are the renderer's.

use std::collections::BTreeMap;

use serde::Serialize;

/// The prefix of the download jobs' names, reserved for aimgen (no service may use it).
pub const PREFETCH_PREFIX: &str = "aimgen-prefetch-";

/// The prefetch job of a (model, revision): `aimgen-prefetch-<name>-<hash>`, where `<name>` is
/// the repo's name made fit for a Compose service name and `<hash>` 8 hex digits of a stable hash of
/// the exact repo id and requested revision. The name tells a person which model it is; the
/// hash keeps `org-a/m` and `org-b/m`, or two revisions, apart. Compose passes the requested revision (so
/// `aimgen lock --update` does not rename the service); Kubernetes the resolved one (a Job's
/// pod template cannot change, so a new lock needs a new Job).
pub fn prefetch_job_name(repo: &str, revision: &str) -> String {
    let name = repo.rsplit('/').next().unwrap_or(repo);
    let mut slug = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    // Compose names have no length limit, but container names become host names (63 bytes).
    slug.truncate(32);
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "model" } else { slug };
    let hash = crate::text::content_hash(&format!("{repo}@{revision}"));
    format!("{PREFETCH_PREFIX}{slug}-{}", &hash[..8])
}

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
    /// The Kubernetes target's settings (the spec's `kubernetes:` section with its defaults),
    /// set by compile only when that target is asked for.
    pub cluster: Option<ClusterPlan>,
}

/// Where and how a fleet runs on a Kubernetes cluster. Cluster-scoped: only the Kubernetes
/// target reads it; `gpu.count` is then the GPUs of one node.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterPlan {
    /// Namespace of every object.
    pub namespace: String,
    /// Name of the cache claim.
    pub claim: String,
    /// Storage class, when named (else the cluster's default).
    pub storage_class: Option<String>,
    /// Requested size, a Kubernetes quantity.
    pub size: String,
    /// `ReadWriteMany` or `ReadWriteOnce`.
    pub access_mode: String,
    /// Registry prefix of the images, when named.
    pub registry: Option<String>,
    /// Node affinity: GPU product label values a server's node must carry (empty: none).
    pub gpu_product: Vec<String>,
    /// Secret holding `HF_TOKEN`.
    pub hf_token_secret: String,
    /// Secret holding the API keys, one key per variable.
    pub api_key_secret: String,
    /// Size limit of the memory-backed `/dev/shm`.
    pub shm_size: String,
    /// User (and group) id of every container; `None` runs as root.
    pub run_as_user: Option<u32>,
    /// How long a server's init container waits for its model, seconds.
    pub wait_seconds: u32,
    /// How long a server may take to start, minutes.
    pub startup_minutes: u32,
    /// Service name → Kubernetes name (a DNS-1035 label).
    pub names: BTreeMap<String, String>,
    /// Who may connect to the servers (each a NetworkPolicy `from` entry; empty: no pod);
    /// `None` writes no NetworkPolicy.
    pub allow_from: Option<Vec<ClusterPeer>>,
}

/// Pods admitted to the servers: label selectors, `None` when not given (a peer has at least
/// one); an empty map matches every pod (namespace).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterPeer {
    /// `podSelector.matchLabels`.
    pub pods: Option<BTreeMap<String, String>>,
    /// `namespaceSelector.matchLabels`; `None`: the fleet's namespace.
    pub namespaces: Option<BTreeMap<String, String>>,
}

/// The GPUs of the machine a server runs on (`host.gpu`). Indices into them (`ServerPlan::gpus`,
/// `render_nodes`, `group_ids`) are facts of one host; a target that schedules GPUs itself
/// (a cluster's device plugin) uses the vendor, model and counts only.
#[derive(Debug, Clone, Serialize)]
pub struct GpuInventory {
    /// Whose GPUs: decides device files, visibility variables and the device-plugin resource.
    pub vendor: GpuVendor,
    /// Model name as written in the spec.
    pub model: String,
    /// GPUs on the host (GPU indices run from 0 to `count - 1`).
    pub count: u32,
    /// Memory per GPU, GB.
    pub memory_gb: u32,
    /// Host-scoped: numeric host groups owning the GPU device files, added to every server.
    pub group_ids: Vec<u32>,
    /// Host-scoped, AMD: DRM render minor per GPU index, when known (else every server gets
    /// `/dev/dri`).
    pub render_nodes: Vec<u32>,
}

/// The image one engine's workloads run: one build stage, built once.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// The engine it serves; also the build stage's name.
    pub backend: Engine,
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
    /// Hugging Face repo id (`org/name`).
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
    pub fn image(&self, backend: Engine) -> Option<&ImagePlan> {
        self.images.iter().find(|i| i.backend == backend)
    }
}

/// Where the shared cache lives and how workloads see it.
#[derive(Debug, Clone, Serialize)]
pub struct CachePlan {
    /// Where the cache's bytes live.
    pub storage: CacheStorage,
    /// Path inside containers (`HF_HOME`).
    pub mount: String,
    /// Hub cache inside it (`HF_HUB_CACHE`).
    pub hub_dir: String,
    /// Hub mirror, set as `HF_ENDPOINT` where something downloads.
    pub hf_endpoint: Option<String>,
    /// Servers mount the cache read-only and run offline (true when prefetching).
    pub servers_read_only: bool,
    /// The cache variables every server gets, held once: where the cache is, and offline
    /// mode (prefetching) or the mirror. Each target puts them in every server's environment.
    pub server_env: BTreeMap<String, String>,
    /// Writable scratch for engine compile caches and remote code, per server.
    pub scratch: ScratchPlan,
}

/// Cache storage.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheStorage {
    /// A named volume.
    Volume {
        /// The volume's name where it is created (not the key inside one Compose file).
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
    /// The volume's key; every server gets its own folder in it.
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
    pub image: Engine,
    /// The program every job runs before its one argument (the job as JSON): the prefetch
    /// program itself is the target's embedded `templates/prefetch.py`.
    pub entrypoint: Vec<String>,
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
    /// What it downloads.
    pub model: HubModel,
    /// Which of the revision's files it downloads.
    pub files: FileSelection,
    /// Servers that wait for it, in spec order.
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
    /// The recipe's id (`<model or family>/<vendor>/<engine>/…`).
    pub id: String,
    /// The file it was read from.
    pub origin: RecipeOrigin,
    /// The service named it (`recipe:`) rather than leaving the choice to ranking.
    pub pinned: bool,
    /// Precision it serves at.
    pub precision: Dtype,
    /// Estimated weights, GB, when the model's size is known.
    pub weights_gb: Option<f64>,
}

/// One model server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    /// Service name, as the spec's `services:` key.
    pub name: String,
    /// The engine it runs.
    pub backend: Engine,
    /// The model id as the user named it.
    pub model_id: String,
    /// Where the weights come from.
    pub source: ModelSource,
    /// The model name clients send in API requests.
    pub served_model_name: String,
    /// Host-scoped: the host's GPU indices it gets, ascending, disjoint from every other
    /// server's. Their number is the tensor-parallel size.
    pub gpus: Vec<u32>,
    /// Host-scoped: the host port published for it, distinct across the fleet.
    pub host_port: u16,
    /// Port the engine listens on inside the container.
    pub port: u16,
    /// The full engine command line; it starts with `image::entrypoint(backend)`.
    pub argv: Vec<String>,
    /// How many leading words of `argv` are the program (what a container's entrypoint runs);
    /// the rest are its arguments.
    pub entrypoint_len: usize,
    /// The engine release the server is checked against (its image's, else the catalogue's).
    pub engine_version: String,
    /// Service-specific environment (recipe, user, scratch paths); the cache variables
    /// every server shares are the plan's `cache.server_env`.
    pub env: BTreeMap<String, String>,
    /// Needs the Hub token at run time (downloads on demand).
    pub needs_token: bool,
    /// The prefetch job that must complete before it starts (`None` for a local model or
    /// without prefetching).
    pub prefetch_job: Option<String>,
    /// HTTP path answering 200 when ready (needs no API key in either engine).
    pub health_path: String,
    /// Host-scoped: the address the published port listens on.
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
    /// Resource limits of its processes, sorted by name: the spec's (the service's, else
    /// `serving.ulimits`), else the vendor default (NVIDIA: `memlock` unlimited and a 64 MiB
    /// stack; AMD: none). Empty: the container runtime's own.
    pub ulimits: Vec<Ulimit>,
}

/// One resource limit (`setrlimit`) of a server's processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ulimit {
    /// Docker's name of the limit (`memlock`, `nofile`, …).
    pub name: String,
    /// The limit processes start with; `-1` is unlimited.
    pub soft: i64,
    /// The ceiling they may raise it to; `-1` is unlimited.
    pub hard: i64,
}

/// A serving engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
}

impl Engine {
    /// Lowercase name: the image's build stage, labels, file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
        }
    }
}

/// A GPU vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuVendor {
    /// AMD Instinct, ROCm.
    Amd,
    /// NVIDIA, CUDA.
    Nvidia,
}

impl GpuVendor {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            GpuVendor::Amd => "amd",
            GpuVendor::Nvidia => "nvidia",
        }
    }
}

/// The precision a server's weights are loaded at (never `auto`: resolve chose one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 16-bit brain float.
    Bf16,
    /// 16-bit IEEE float.
    Fp16,
    /// 8-bit float (quantized weights).
    Fp8,
}

impl Dtype {
    /// Lowercase name, as recipe ids write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp16 => "fp16",
            Dtype::Fp8 => "fp8",
        }
    }
}

/// What a prefetch job checks before it declares a snapshot complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Every file present with its expected size.
    Size,
    /// Sizes, and the sha256 of every LFS file the lock names.
    Sha256,
}

impl Verify {
    /// Lowercase name, as the prefetch program reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Size => "size",
            Verify::Sha256 => "sha256",
        }
    }
}

/// The recipe file a server's recipe was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum RecipeOrigin {
    /// One of aimgen's embedded recipe files (its path under `recipes/`).
    Builtin(String),
    /// A file in a user recipe folder (its path as the user named it).
    User(String),
}

impl std::fmt::Display for RecipeOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecipeOrigin::Builtin(p) => write!(f, "built-in {p}"),
            RecipeOrigin::User(p) => write!(f, "{p}"),
        }
    }
}
