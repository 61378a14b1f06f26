//! The fleet spec as the user writes it (format version 1).
//!
//! These types are the contract of `fleet.yaml`: serde reads them, schemars turns them (and
//! their doc comments) into `schemas/fleet.schema.json`. Everything is optional that has a
//! sensible default; defaults are applied in `resolve`, not here, so the schema stays honest
//! about what the user wrote.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod kubernetes;

/// Default cache mount inside containers (`cache.mount`).
pub const DEFAULT_MOUNT: &str = "/workspace/model-cache";
/// Where servers write engine scratch (compile caches, remote code): a container path the
/// spec's own paths must keep clear of.
pub const SCRATCH_MOUNT: &str = "/var/cache/aimgen";

/// An aimgen fleet: several LLM servers on one GPU host that share one base image and one
/// Hugging Face model cache.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Version of this spec format. Only `1` exists.
    pub version: u32,
    /// Compose project name; also prefixes the default cache volume and image names.
    /// Lowercase letters, digits, `-` and `_`, starting with a letter or digit.
    pub name: String,
    /// The GPU host every service runs on.
    pub host: HostSpec,
    /// The base images: one per engine the fleet uses, each built once from one
    /// `Dockerfile.optimized` (a stage per engine); the prefetch job runs in one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSpec>,
    /// The one shared Hugging Face model cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSpec>,
    /// How the model servers are exposed and run: bind address, API key, telemetry, logs,
    /// restarts. Every field has a safe default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<ServingSpec>,
    /// Extra recipe folders, searched before the built-in library (a recipe with the same id
    /// replaces the built-in one). Relative paths are resolved from this file's folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipes: Vec<String>,
    /// The model servers, by service name. GPUs and host ports are assigned in this order.
    pub services: IndexMap<String, ServiceSpec>,
    /// What `aimgen render` produces when the command line names no `--target`: `compose`
    /// (the default), `kubernetes`, or both, each then in its own folder (`DIR/compose/`,
    /// `DIR/kubernetes/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// Settings of the Kubernetes target (`--target kubernetes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<kubernetes::KubernetesSpec>,
}

/// A deployment target (`--target`, `targets:`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Deserialize,
    Serialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Docker Compose on one GPU host (the default).
    #[default]
    Compose,
    /// Plain Kubernetes manifests with a kustomization.
    Kubernetes,
}

/// The machine that runs the fleet.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// The host's GPUs. All GPUs of a host are of one model.
    pub gpu: GpuSpec,
}

/// The GPUs installed in the host.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// GPU vendor: `amd` (ROCm devices) or `nvidia` (NVIDIA container toolkit).
    pub vendor: Vendor,
    /// GPU model, e.g. `MI300X`, `MI325X`, `MI355X`, `MI250X`, `H100`, `H200`, `A100`, `L40S`.
    /// Recipes are matched on it; an unknown model needs `memory_gb`.
    pub model: String,
    /// Number of GPUs on the host; services get disjoint sets of them.
    pub count: u32,
    /// Memory per GPU in GB. Known models have a built-in value; set it for other models or
    /// to override (e.g. A100 40 GB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<u32>,
    /// AMD: numeric host group ids that own the GPU device files (the groups of `/dev/kfd`
    /// and `/dev/dri/renderD*`, read with `stat -c %g /dev/kfd /dev/dri/renderD*`), added to
    /// every server with `group_add`. Numbers work whether or not the image defines a group
    /// of that name. Only needed when the image runs as a non-root user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_ids: Vec<u32>,
    /// AMD only: the DRM render minor of each GPU, in ROCm index order (one per GPU; GPU 0
    /// first). Read it from the host's KFD topology: for each
    /// `/sys/class/kfd/kfd/topology/nodes/<N>` whose `gpu_id` file is not `0`, in ascending
    /// `<N>`, the `drm_render_minor` line of its `properties` file. With it, a server gets only
    /// `/dev/dri/renderD<minor>` of its own GPUs instead of all of `/dev/dri`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub render_nodes: Vec<u32>,
}

/// GPU vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// AMD Instinct with ROCm.
    Amd,
    /// NVIDIA with CUDA.
    Nvidia,
}

/// Fleet-wide serving settings. A service may override `bind` and `api_key_env`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServingSpec {
    /// Host address the published ports listen on (default `127.0.0.1`: reachable from this
    /// host only). An IPv4 or IPv6 address; `0.0.0.0` or `::` listen on every interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// Name of an environment variable that holds the API key when `docker compose up` runs.
    /// The key reaches the engine only through Compose interpolation; `up` stops with a
    /// message when the variable is unset. It is never written into a generated file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Let the engines send usage statistics (default false: `VLLM_NO_USAGE_STATS=1` and
    /// `DO_NOT_TRACK=1` are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<bool>,
    /// Largest size of one server log file before Docker rotates it (json-file `max-size`:
    /// a number with an optional `k`, `m` or `g` unit; default `100m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_size: Option<String>,
    /// Number of rotated log files kept per server (json-file `max-file`; default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_files: Option<u32>,
    /// How many times Docker restarts a server that exits with an error before giving up
    /// (`restart: on-failure:N`; default 3). Counted over the container's life; a new
    /// `docker compose up` that recreates it starts again from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_attempts: Option<u32>,
    /// Resource limits (`ulimit`) of every server's processes, by name (`memlock`, `nofile`,
    /// `stack`, …; the names Docker knows). Given, this replaces the vendor default entirely
    /// (NVIDIA: `memlock: -1`, `stack: 67108864`, from NVIDIA's container guidance; AMD: none);
    /// `{}` sets none. Where Docker cannot raise a limit (rootless Docker, a lower hard limit on
    /// the host) the container does not start, so such hosts need `{stack: 67108864}` or `{}`.
    /// A service's own `ulimits` replaces this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ulimits: Option<BTreeMap<String, Ulimit>>,
}

/// One resource limit: a number for the soft and the hard limit alike, or each of them.
/// `-1` is unlimited (as Compose and `docker run --ulimit` write it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Ulimit {
    /// Soft and hard limit alike, e.g. `memlock: -1`.
    Both(i64),
    /// Different soft and hard limits, e.g. `nofile: {soft: 1024, hard: 65536}`.
    Range(UlimitRange),
}

/// A soft and a hard limit: processes start at the soft one and may raise it up to the hard
/// one, so soft may not exceed hard (unless hard is `-1`, unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UlimitRange {
    /// The limit processes get (`-1`: unlimited).
    pub soft: i64,
    /// The ceiling a process may raise its soft limit to (`-1`: unlimited).
    pub hard: i64,
}

impl Ulimit {
    /// `(soft, hard)`.
    pub fn soft_hard(self) -> (i64, i64) {
        match self {
            Ulimit::Both(n) => (n, n),
            Ulimit::Range(r) => (r.soft, r.hard),
        }
    }
}

/// The base images.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Base image reference for every engine the fleet uses that has no base of its own
    /// (`image.vllm.base`, `image.sglang.base`), e.g. `vllm/vllm-openai:v0.33.0`. An image
    /// known to be another engine's or another vendor's is an error. Default: a pinned engine
    /// release per vendor and engine (with a warning). aimgen never adds a tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The engine release `base` runs (`"0.33.0"`, `"0.4.6.post1"`), for a reference whose tag
    /// does not say (a custom build, a bare `@sha256:` digest). aimgen checks engine arguments
    /// against this release; it must agree with the tag when the tag names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// The vLLM image, when vLLM services need a base other than `base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vllm: Option<EngineImageSpec>,
    /// The SGLang image, when SGLang services need a base other than `base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sglang: Option<EngineImageSpec>,
    /// Extra Python packages (pip requirement specifiers), installed in one cached layer of
    /// every image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pip: Vec<String>,
    /// Bake each Hub model's tokenizer and config files into the image's copy of the cache,
    /// so a fresh named cache volume starts with them.
    #[serde(default)]
    pub preload_tokenizers: bool,
}

/// One engine's base image.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineImageSpec {
    /// Base image reference for this engine's services, e.g. `lmsysorg/sglang:v0.5.23`.
    pub base: String,
    /// The engine release `base` runs, for a reference whose tag does not say (a custom
    /// build, a bare `@sha256:` digest); it must agree with the tag when the tag names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
}

impl ImageSpec {
    /// The base (and stated release, and the spec path it sits at) an engine's services
    /// use: its own section, else the shared `base`; `None` when neither is given.
    pub fn base_for(&self, backend: Backend) -> Option<(&str, Option<&str>, &'static str)> {
        let own = match backend {
            Backend::Vllm => self.vllm.as_ref().map(|e| (e, "/image/vllm")),
            Backend::Sglang => self.sglang.as_ref().map(|e| (e, "/image/sglang")),
        };
        match own {
            Some((e, at)) => Some((e.base.as_str(), e.engine_version.as_deref(), at)),
            None => self.base.as_deref().map(|b| (b, self.engine_version.as_deref(), "/image")),
        }
    }
}

/// The shared Hugging Face cache, mounted by every service.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// Named Docker volume holding the cache (default `<name>-model-cache`). Not with
    /// `host_path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Absolute host folder holding the cache, bind-mounted instead of a named volume.
    /// Not with `volume`. Written as Compose reads it (`/srv/./hf/` is `/srv/hf`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "clean_path")]
    pub host_path: Option<String>,
    /// Absolute path where containers see the cache (default `/workspace/model-cache`).
    /// `HF_HOME` points here and the hub cache is its `hub/` folder. Written as Compose reads
    /// it (`.` segments and a trailing `/` dropped).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "clean_path")]
    pub mount: Option<String>,
    /// Download every model once in a one-shot prefetch service before any server starts,
    /// then serve from a read-only cache with `HF_HUB_OFFLINE=1` (default true). With
    /// `false`, servers mount the cache read-write and download on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch: Option<bool>,
    /// Hugging Face Hub mirror URL, set as `HF_ENDPOINT` wherever something downloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_endpoint: Option<String>,
    /// Files each prefetch job downloads at once (1 to 64, default 8). One connection rarely
    /// fills a link: several in flight keep a mirror or plain-HTTP endpoint at line rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub download_workers: Option<u32>,
    /// What a prefetch job checks before it declares a model complete: `size` (default; every
    /// file present with the expected size) or `sha256` (also hashes each large (LFS) file
    /// against the lock file, reading every byte once more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// Disk space the model cache may take, in GB (10^9 bytes): the free space of the disk
    /// the volume or `host_path` lives on, or your quota. `aimgen check` warns when the
    /// fleet's models need more (exact sizes from the lock file, estimates from parameter
    /// counts otherwise; it says which), and `aimgen cache status` reports the cache's use
    /// against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_gb: Option<u32>,
}

/// How a prefetch job checks a downloaded snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Every file present with its expected size.
    #[default]
    Size,
    /// Sizes, and the sha256 of every LFS file as the lock file records it.
    Sha256,
}

impl Verify {
    /// Lowercase name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Size => "size",
            Verify::Sha256 => "sha256",
        }
    }
}

/// One model server.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Hugging Face repo id (`org/name`). Also the default served model name, and what
    /// model-specific recipes match on.
    pub model: String,
    /// Number of GPUs (the tensor-parallel size). Default: what the chosen recipe needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    /// Weight precision: `auto` (lowest precision a recipe offers), `bf16`, `fp16` or `fp8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Serving engine: `vllm` (default) or `sglang`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Branch, tag or 40-hex commit sha to serve (default `main`). `aimgen lock` pins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Host port; default: the next free port upward from 8000, in service order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Host address this server's port listens on; overrides `serving.bind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// Name of the environment variable holding this server's API key at `docker compose up`;
    /// overrides `serving.api_key_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Absolute host folder with a local copy of the model (a local model repository):
    /// bind-mounted read-only at the same path and loaded from there; nothing is downloaded
    /// for it. Written as Compose reads it (`/models/./x/` is `/models/x`); not `/`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "clean_path")]
    pub model_path: Option<String>,
    /// Name clients use in API requests (default: `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_model_name: Option<String>,
    /// Pin a recipe by id instead of letting aimgen choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    /// Engine argument overrides, without leading dashes. `null` or `true` = bare flag,
    /// `false` = `--no-<flag>`; objects and lists are passed as JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Extra environment variables for this server (override the recipe's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Resource limits of this server's processes; replaces `serving.ulimits` (and the vendor
    /// default) for this server entirely, `{}` sets none. Same form as `serving.ulimits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ulimits: Option<BTreeMap<String, Ulimit>>,
}

/// A mount path field, read as Compose reads it (`text::clean_abs_path`; Kubernetes gets the same): a
/// path that names the same folder is written the same way everywhere aimgen uses it (the
/// mount, the engine's `--model`, `HF_HOME`, the overlap check).
fn clean_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|p| crate::text::clean_abs_path(&p)))
}

/// An environment variable value; numbers and booleans are written as text.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    /// Text, written as is.
    String(String),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl EnvValue {
    /// The value as the process will see it.
    pub fn as_text(&self) -> String {
        match self {
            EnvValue::String(s) => s.clone(),
            EnvValue::Int(i) => i.to_string(),
            EnvValue::Float(f) => f.to_string(),
            EnvValue::Bool(b) => b.to_string(),
        }
    }
}

/// The precision the model's weights are served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Choose the lowest precision a matching recipe offers.
    Auto,
    /// 16-bit brain float.
    Bf16,
    /// 16-bit IEEE float.
    Fp16,
    /// 8-bit float (quantized weights).
    Fp8,
}

/// The inference engine a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// vLLM (`vllm serve`).
    Vllm,
    /// SGLang (`python3 -m sglang.launch_server`).
    Sglang,
}

impl Vendor {
    /// Lowercase name as written in specs and recipe ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Amd => "amd",
            Vendor::Nvidia => "nvidia",
        }
    }
}

impl Precision {
    /// Lowercase name as written in specs and recipe ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Fp8 => "fp8",
        }
    }

    /// Bytes per weight, for the memory estimate.
    pub fn bytes_per_param(self) -> f64 {
        match self {
            Precision::Fp8 => 1.0,
            _ => 2.0,
        }
    }
}

impl Backend {
    /// Lowercase name as written in specs and recipe ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Vllm => "vllm",
            Backend::Sglang => "sglang",
        }
    }
}
