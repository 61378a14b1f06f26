//! Spec + recipe library (+ lock pins) → plan: defaults applied, a recipe chosen per service,
//! GPUs and host ports assigned, engine command lines built. Problems are collected, each at
//! the place in the spec that causes it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::image;
use crate::lockfile::Pins;
use crate::plan::*;
use crate::recipe::catalog::{engine_name, Picked};
use crate::recipe::select::{self, Candidate, Query, Verdict};
use crate::recipe::{
    known_gpu_memory_gb, memory_fraction, version_from_image, EngineVersion, Library, LoadedRecipe, KNOWN_GPUS,
};
use crate::source::escape_segment;
use crate::spec::{Backend, FleetSpec, ImageSpec, Precision, ServiceSpec, Vendor};
use crate::text::ranges;

pub use crate::spec::{DEFAULT_MOUNT, SCRATCH_MOUNT};
/// First host port handed out.
pub const FIRST_PORT: u16 = 8000;
/// Prefix of every prefetch job's name (in aimgen's reserved `aimgen-` namespace).
pub use crate::plan::{prefetch_job_name, PREFETCH_PREFIX};
/// Files a prefetch job downloads at once unless the spec says otherwise.
pub const DEFAULT_DOWNLOAD_WORKERS: u32 = 8;
/// Where published ports listen unless the spec says otherwise: this host only.
pub const DEFAULT_BIND: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
/// The first vLLM release whose API-key middleware reads the raw request path
/// (GHSA-94f4-hr76-p5j6 / CVE-2026-48746: before it, `URL(scope)` rebuilt the path from the
/// unfiltered `Host:` header, so a crafted header skipped the check; the advisory lists
/// `>=0.3.0 <0.22.0` as affected, and 0.33.0's `authenticate.py` uses `scope["path"]`).
pub const VLLM_AUTH_FIXED: &str = "0.22.0";
/// Restarts after an error exit before Docker gives up (`on-failure:N`). Docker's restart
/// manager (moby `restartmanager.go`) restarts `unless-stopped` containers unconditionally and
/// resets its back-off after any run of 10 s or more, so a server that loads for minutes and
/// then fails (out of memory at start) would loop forever; `on-failure:N` stops after N.
pub const DEFAULT_RESTART_ATTEMPTS: u32 = 3;
/// Seconds from the stop signal to the kill. Docker's default is 10 s; vLLM 0.33.0 gives its
/// engine process 15 s to release the GPUs on ROCm before force-killing it
/// (`ROCM_ENGINE_PROCESS_SHUTDOWN_TIMEOUT_S`, vllm/v1/engine/utils.py: "force-killing during
/// teardown can leave VRAM resident"), and multi-GPU workers tear down one by one after it.
pub const STOP_GRACE_SECONDS: u32 = 60;
/// Log rotation defaults: at most 5 × 100 MB of logs per server.
pub const DEFAULT_LOG_MAX_SIZE: &str = "100m";
/// Rotated log files kept per server.
pub const DEFAULT_LOG_MAX_FILES: u32 = 5;

/// Where a cache variable applies.
enum CacheScope {
    /// Read by this engine; emitted only when the engine's catalogue lists it.
    Engine(Backend),
    /// Read by a library below the engine on this vendor's stack.
    Vendor(Vendor),
    /// Read by a library every engine uses.
    All,
}

/// Every JIT/compile cache the engines use, and its folder under the server's scratch.
/// Engine variables must exist in that engine's catalogue (so in the version it runs); the
/// others belong to libraries below the engine, each with its source:
const JIT_CACHES: &[(&str, &str, CacheScope)] = &[
    // vLLM: torch.compile artefacts and its other caches (vllm/envs.py, VLLM_CACHE_ROOT).
    ("VLLM_CACHE_ROOT", "vllm", CacheScope::Engine(Backend::Vllm)),
    // SGLang 0.5.23 (srt/environ.py): DeepGEMM and CuTe AOT caches follow SGLANG_CACHE_DIR …
    ("SGLANG_CACHE_DIR", "sglang", CacheScope::Engine(Backend::Sglang)),
    // … its kernel JIT cache does not (kernels/jit/utils/compile/cache.py: ~/.cache/sglang/jit).
    ("SGLANG_JIT_CACHE_DIR", "sglang/jit", CacheScope::Engine(Backend::Sglang)),
    // Triton (triton/runtime/cache.py; default ~/.triton/cache): every Triton kernel, AITER's too.
    ("TRITON_CACHE_DIR", "triton", CacheScope::All),
    // TorchInductor (torch/_inductor/runtime/cache_dir_utils.py; default /tmp/torchinductor_<user>).
    ("TORCHINDUCTOR_CACHE_DIR", "inductor", CacheScope::All),
    // FlashInfer (flashinfer/jit/env.py) appends `.cache/flashinfer` to this base.
    ("FLASHINFER_WORKSPACE_BASE", "flashinfer", CacheScope::Vendor(Vendor::Nvidia)),
    // CUDA's JIT compute cache (CUDA environment variables; default ~/.nv/ComputeCache).
    ("CUDA_CACHE_PATH", "cuda", CacheScope::Vendor(Vendor::Nvidia)),
    // MIOpen's user performance database (default ~/.config/miopen) and kernel binary cache
    // (default ~/.cache/miopen), from MIOpen's documentation.
    ("MIOPEN_USER_DB_PATH", "miopen/db", CacheScope::Vendor(Vendor::Amd)),
    ("MIOPEN_CUSTOM_CACHE_DIR", "miopen/cache", CacheScope::Vendor(Vendor::Amd)),
];

/// The cache variables a server of `engine` on `vendor` gets, with their folder names.
pub fn jit_caches(
    catalog: &crate::recipe::Catalog,
    engine: Backend,
    version: Option<&EngineVersion>,
    vendor: Vendor,
) -> Vec<(&'static str, &'static str)> {
    JIT_CACHES
        .iter()
        .filter(|(var, _, scope)| match scope {
            CacheScope::Engine(e) => *e == engine && version.is_some_and(|v| catalog.env_var(engine, v, var).is_some()),
            CacheScope::Vendor(v) => *v == vendor,
            CacheScope::All => true,
        })
        .map(|(var, dir, _)| (*var, *dir))
        .collect()
}

/// Variables that switch usage statistics off. vLLM (vllm/usage/usage_lib.py,
/// `is_usage_stats_enabled`) honours `VLLM_NO_USAGE_STATS=1` and `DO_NOT_TRACK=1`; SGLang
/// 0.5.23 sends no usage statistics; `DO_NOT_TRACK=1` is also read by huggingface_hub.
fn telemetry_off(
    catalog: &crate::recipe::Catalog,
    engine: Backend,
    version: Option<&EngineVersion>,
) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("DO_NOT_TRACK", "1")];
    if version.is_some_and(|v| catalog.env_var(engine, v, "VLLM_NO_USAGE_STATS").is_some()) {
        out.push(("VLLM_NO_USAGE_STATS", "1"));
    }
    out
}

/// One service's recipe selection, for `explain`.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Service name.
    pub service: String,
    /// What the recipes were judged against; `candidates` ranks them again from it.
    query: SavedQuery,
    /// Estimated weights, GB, for the chosen precision.
    pub weights_gb: Option<f64>,
}

/// A `Query` that owns its text, kept so the full ranking is only built when asked for
/// (`explain`): for every service it is one verdict and one reason per recipe.
#[derive(Debug, Clone)]
struct SavedQuery {
    model: String,
    backend: Backend,
    vendor: Vendor,
    gpu_model: String,
    memory_gb: f64,
    gpus: Option<u32>,
    available: u32,
    precision: Precision,
    engine_version: Option<EngineVersion>,
    memory_fraction: Option<f64>,
    locked_gb: Option<f64>,
}

impl SavedQuery {
    fn new(q: &Query) -> SavedQuery {
        SavedQuery {
            model: q.model.to_string(),
            backend: q.backend,
            vendor: q.vendor,
            gpu_model: q.gpu_model.to_string(),
            memory_gb: q.memory_gb,
            gpus: q.gpus,
            available: q.available,
            precision: q.precision,
            engine_version: q.engine_version.cloned(),
            memory_fraction: q.memory_fraction,
            locked_gb: q.locked_gb,
        }
    }
}

impl Selection {
    /// What the recipes were judged against.
    pub fn query(&self) -> Query<'_> {
        let q = &self.query;
        Query {
            model: &q.model,
            backend: q.backend,
            vendor: q.vendor,
            gpu_model: &q.gpu_model,
            memory_gb: q.memory_gb,
            gpus: q.gpus,
            available: q.available,
            precision: q.precision,
            engine_version: q.engine_version.as_ref(),
            memory_fraction: q.memory_fraction,
            locked_gb: q.locked_gb,
        }
    }

    /// Every recipe's verdict with its reason, compatible ones first in rank order, as judged
    /// when the service was resolved. `lib` is the library it was resolved with.
    pub fn candidates(&self, lib: &Library) -> Vec<(String, Verdict, String)> {
        let query = self.query();
        select::rank(lib, &query)
            .iter()
            .map(|c| (c.recipe.recipe.id.clone(), c.verdict.clone(), c.verdict.reason(c.recipe, &query)))
            .collect()
    }
}

/// The outcome of resolving.
#[derive(Debug)]
pub struct Resolution {
    /// The plan.
    pub plan: Plan,
    /// Warnings (errors make `resolve` fail).
    pub warnings: Vec<Diagnostic>,
    /// Per-service selections.
    pub selections: Vec<Selection>,
}

/// Resolves a checked spec.
///
/// With `per_node`, `host.gpu.count` is the GPUs of one node and every service may use up to
/// all of them (a cluster schedules each server on its own node); GPU indices then start at 0
/// for each service.
pub fn resolve(
    spec: &FleetSpec,
    spec_path: &str,
    lib: &Library,
    pins: &Pins,
    per_node: bool,
) -> Result<Resolution, Vec<Diagnostic>> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let gpu = &spec.host.gpu;
    let canonical_model = KNOWN_GPUS
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(&gpu.model))
        .map(|(m, _)| m.to_string())
        .unwrap_or_else(|| gpu.model.clone());
    let memory_gb = gpu.memory_gb.or_else(|| known_gpu_memory_gb(&gpu.model)).unwrap_or(0);
    let inventory = GpuInventory {
        vendor: gpu.vendor.into(),
        model: canonical_model.clone(),
        count: gpu.count,
        memory_gb,
        group_ids: gpu.group_ids.clone(),
        render_nodes: gpu.render_nodes.clone(),
    };
    let serving = spec.serving.clone().unwrap_or_default();

    let cache_spec = spec.cache.clone().unwrap_or_default();
    let prefetching = cache_spec.prefetch.unwrap_or(true);
    let mount = cache_spec.mount.clone().unwrap_or_else(|| DEFAULT_MOUNT.to_string());
    let mount = mount.trim_end_matches('/').to_string();
    let hub_dir = format!("{mount}/hub");
    let storage = match &cache_spec.host_path {
        Some(path) => CacheStorage::HostPath { path: path.clone() },
        None => CacheStorage::Volume {
            name: cache_spec.volume.clone().unwrap_or_else(|| format!("{}-model-cache", spec.name)),
        },
    };

    // Ports: explicit ones first, so defaults flow around them.
    let mut taken: BTreeMap<u16, &str> = BTreeMap::new();
    for (name, svc) in &spec.services {
        if let Some(p) = svc.port {
            if let Some(other) = taken.insert(p, name) {
                diags.push(
                    Diagnostic::error(format!("host port {p} is used by both `{other}` and `{name}`"))
                        .at(format!("/services/{}/port", escape_segment(name)))
                        .help("give each service its own port, or leave `port` out to get a free one"),
                );
            }
        }
    }
    let mut next_port = FIRST_PORT;

    // One image per engine, decided before the services: the image says which engine
    // release their arguments are checked against.
    let image_spec = spec.image.clone().unwrap_or_default();
    let backends: BTreeSet<Backend> = spec.services.values().map(|s| s.backend.unwrap_or(Backend::Vllm)).collect();
    let bases: BTreeMap<Backend, ImageBase> = backends
        .iter()
        .filter_map(|&b| image_base(&image_spec, b, gpu.vendor, &canonical_model, &mut diags).map(|i| (b, i)))
        .collect();

    let mut free: Vec<u32> = (0..gpu.count).collect();
    let mut holders: Vec<(String, Vec<u32>)> = Vec::new();
    let mut servers = Vec::new();
    let mut selections = Vec::new();

    // The engine release each engine's services run and are checked against.
    let releases: BTreeMap<Backend, Option<Release>> = bases
        .iter()
        .map(|(&b, base)| {
            // aimgen's own default: catalogueing its release is aimgen's job, not something
            // the user can fix with `engine_version`.
            let release = match &base.at {
                Some(at) => checked_release(lib, b, &base.base, base.version.as_ref(), at, &mut diags),
                None => checked_release(lib, b, &base.base, base.version.as_ref(), "/image", &mut Vec::new()),
            };
            (b, release)
        })
        .collect();

    for (name, svc) in &spec.services {
        if per_node {
            free = (0..gpu.count).collect();
            holders.clear();
        }
        let at = format!("/services/{}", escape_segment(name));
        let backend = svc.backend.unwrap_or(Backend::Vllm);
        let precision = svc.precision.unwrap_or(Precision::Auto);
        let release = releases.get(&backend).and_then(Option::as_ref);
        let revision = svc.revision.as_deref().unwrap_or("main");
        let locked_gb = pins
            .get(&(svc.model.clone(), revision.to_string()))
            .filter(|p| p.weights_bytes > 0 && svc.model_path.is_none())
            .map(|p| p.weights_bytes as f64 / 1e9);
        let query = Query {
            model: &svc.model,
            backend,
            vendor: gpu.vendor,
            gpu_model: &canonical_model,
            memory_gb: f64::from(memory_gb),
            gpus: svc.gpus,
            available: free.len() as u32,
            precision,
            engine_version: release.map(|r| &r.runs),
            memory_fraction: memory_fraction(&svc.args),
            locked_gb,
        };
        let facts = lib.models.get(&svc.model);
        let chosen: Option<(&LoadedRecipe, u32, bool)> = match &svc.recipe {
            Some(id) => pick_pinned(lib, id, &query, &at, &mut diags),
            None => match select::best(lib, &query) {
                Some(Candidate { recipe, verdict: Verdict::Compatible { gpus } }) => Some((recipe, gpus, false)),
                _ => {
                    // Only the closest few are named, never recipes for other models or engines:
                    // rank just those (a spec of thousands of unknown models sorted every recipe
                    // for each).
                    let near = select::rank_where(lib, &query, |v| {
                        !matches!(v, Verdict::ModelMismatch | Verdict::BackendMismatch)
                    });
                    diags.push(no_recipe(name, &query, &near, &at));
                    None
                }
            },
        };
        if let Some((recipe, _, pinned)) = chosen {
            let unsized_count = recipe.recipe.gpu_count.is_none() && svc.gpus.is_none();
            if unsized_count && facts.is_none() && locked_gb.is_none() {
                diags.push(unknown_size(svc, &at));
            }
            if !pinned {
                diags.extend(dropped_tuned(lib, &query, recipe, svc, &at));
            }
        }
        selections.push(Selection {
            service: name.clone(),
            query: SavedQuery::new(&query),
            weights_gb: chosen
                .and_then(|(r, _, _)| facts.map(|f| select::weights_gb(f, r.recipe.precision)).or(locked_gb)),
        });

        // GPUs: the next free ones, in spec order.
        let want = chosen.map(|(_, n, _)| n).or(svc.gpus).unwrap_or(0);
        let gpus: Vec<u32> = if want as usize <= free.len() {
            free.drain(..want as usize).collect()
        } else {
            diags.push(oversubscribed(name, want, gpu.count, &holders, &free, &at, svc));
            Vec::new()
        };
        if !gpus.is_empty() {
            holders.push((name.clone(), gpus.clone()));
        }

        let host_port = match svc.port {
            Some(p) => p,
            None => {
                while taken.contains_key(&next_port) && next_port < u16::MAX {
                    next_port += 1;
                }
                taken.insert(next_port, name);
                next_port
            }
        };

        let Some((recipe, _, pinned)) = chosen else { continue };
        let hub = match &svc.model_path {
            Some(_) => None,
            None => {
                let revision = svc.revision.clone().unwrap_or_else(|| "main".to_string());
                let sha = pins.get(&(svc.model.clone(), revision.clone())).map(|p| p.sha.clone());
                Some(HubModel { repo: svc.model.clone(), revision, sha })
            }
        };
        let source = match (&svc.model_path, &hub) {
            (Some(path), _) => ModelSource::Local { path: path.trim_end_matches('/').to_string() },
            (None, Some(h)) => ModelSource::Hub(h.clone()),
            (None, None) => continue,
        };

        // The catalogue the service is checked against.
        let version = release.map(|r| r.checked.clone());
        // Arguments: the recipe's, then the service's on top.
        let mut args: BTreeMap<String, Json> = recipe.recipe.args.clone();
        for (k, v) in &svc.args {
            // Aliases (`q`, `tp`, …) become the canonical flag, so an override replaces the
            // recipe's value instead of passing the flag twice.
            let name = version
                .as_ref()
                .and_then(|ver| lib.catalog.flag(backend, ver, k))
                .map(|f| f.name.clone())
                .unwrap_or_else(|| k.clone());
            args.insert(name, v.clone());
        }
        if let Some(ver) = &version {
            diags.extend(lib.catalog.check_args(backend, ver, &svc.args, &format!("{at}/args")));
            // The Hub token's names in a service's `env` are reported by `validate` already.
            let env: BTreeMap<String, crate::spec::EnvValue> = svc
                .env
                .iter()
                .filter(|(k, _)| !crate::reserved::TOKEN_VARS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            diags.extend(lib.catalog.check_env(backend, ver, &env, &format!("{at}/env")));
            diags.extend(recipe_outside_its_checks(lib, recipe, ver, &at));
        }
        let api_key = svc.api_key_env.as_ref().or(serving.api_key_env.as_ref()).and_then(|variable| {
            let delivery = version
                .as_ref()
                .and_then(|ver| crate::recipe::secrets::api_key_delivery(&lib.catalog, backend, ver))
                .map(KeyDelivery::from);
            if delivery.is_none() {
                diags.push(
                    Diagnostic::error(format!(
                        "the {} catalogue has no API-key variable or `--api-key` flag: `{name}` cannot be given a key",
                        backend.as_str()
                    ))
                    .at(if svc.api_key_env.is_some() {
                        format!("{at}/api_key_env")
                    } else {
                        "/serving/api_key_env".into()
                    }),
                );
            }
            delivery.map(|delivery| ApiKey { variable: variable.clone(), delivery })
        });
        let bind = svc.bind.as_deref().or(serving.bind.as_deref()).and_then(|b| b.parse().ok()).unwrap_or(DEFAULT_BIND);
        if let (Some(_), Backend::Vllm, Some(r)) = (&api_key, backend, release) {
            let fixed = EngineVersion::parse(VLLM_AUTH_FIXED).filter(|f| r.runs < *f);
            if let (Some(fixed), false) = (fixed, bind.is_loopback()) {
                diags.push(
                    Diagnostic::warning(format!(
                        "vLLM {}'s API-key check can be bypassed with a crafted `Host:` header \
                         (GHSA-94f4-hr76-p5j6, fixed in {fixed}), and `{name}` is published on {bind}",
                        r.runs
                    ))
                    .at(if svc.bind.is_some() { format!("{at}/bind") } else { "/serving/bind".into() })
                    .help(format!(
                        "use a vLLM {fixed} or newer image, or keep `{name}` on 127.0.0.1 behind a reverse proxy \
                         that rejects malformed Host headers (nginx does)"
                    )),
                );
            }
        }
        if let Some(limit) = facts.and_then(|f| f.context_length) {
            let key = match backend {
                Backend::Vllm => "max-model-len",
                Backend::Sglang => "context-length",
            };
            if let Some(len) = args.get(key).and_then(json_u64) {
                if len > limit {
                    let place =
                        if svc.args.contains_key(key) { format!("{at}/args/{key}") } else { format!("{at}/model") };
                    diags.push(
                        Diagnostic::error(format!(
                            "`--{key} {len}` is longer than {}'s context of {limit} tokens",
                            svc.model
                        ))
                        .at(place)
                        .help(format!("use at most {limit}")),
                    );
                }
            }
        }

        let port = match backend {
            Backend::Vllm => 8000,
            Backend::Sglang => 30000,
        };
        let served = svc.served_model_name.clone().unwrap_or_else(|| svc.model.clone());
        let argv = engine_argv(backend, &source, &served, port, gpus.len().max(1) as u32, &args);

        let scratch = format!("{SCRATCH_MOUNT}/{name}");
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &recipe.recipe.env {
            env.insert(k.clone(), v.as_text());
        }
        for (k, v) in &svc.env {
            env.insert(k.clone(), v.as_text());
        }
        // Remote code and compile caches are written at run time: keep them off the
        // (read-only) model cache, on the per-service scratch volume that outlives the
        // container, so a recreated server starts warm.
        env.insert("HF_MODULES_CACHE".into(), format!("{scratch}/hf-modules"));
        for (var, dir) in jit_caches(&lib.catalog, backend, version.as_ref(), gpu.vendor) {
            env.entry(var.to_string()).or_insert_with(|| format!("{scratch}/{dir}"));
        }
        if !serving.telemetry.unwrap_or(false) {
            for (var, value) in telemetry_off(&lib.catalog, backend, version.as_ref()) {
                env.entry(var.to_string()).or_insert_with(|| value.to_string());
            }
        }
        let mut cache_env = BTreeMap::new();
        cache_env.insert("HF_HOME".to_string(), mount.clone());
        cache_env.insert("HF_HUB_CACHE".to_string(), hub_dir.clone());
        cache_env.insert("HF_HUB_DISABLE_TELEMETRY".to_string(), "1".to_string());
        if prefetching {
            cache_env.insert("HF_HUB_OFFLINE".to_string(), "1".to_string());
        } else if let Some(e) = &cache_spec.hf_endpoint {
            cache_env.insert("HF_ENDPOINT".to_string(), e.clone());
        }

        // The label names the release the image runs, else the catalogue it was checked with.
        let engine_version = release.map(|r| r.runs.to_string()).unwrap_or_default();
        servers.push(ServerPlan {
            name: name.clone(),
            backend: backend.into(),
            entrypoint_len: image::entrypoint(backend).len(),
            engine_version,
            model_id: svc.model.clone(),
            source,
            served_model_name: served,
            gpus,
            host_port,
            port,
            argv,
            env,
            cache_env,
            needs_token: !prefetching && svc.model_path.is_none(),
            prefetch_job: (prefetching && svc.model_path.is_none())
                .then(|| prefetch_job_name(&svc.model, svc.revision.as_deref().unwrap_or("main"))),
            health_path: "/health".into(),
            bind,
            api_key,
            runtime: RuntimePlan {
                restart_attempts: serving.restart_attempts.unwrap_or(DEFAULT_RESTART_ATTEMPTS),
                stop_grace_seconds: STOP_GRACE_SECONDS
                    + match backend {
                        // `--shutdown-timeout N` lets in-flight requests drain for N seconds first.
                        Backend::Vllm => args.get("shutdown-timeout").and_then(json_u64).unwrap_or(0) as u32,
                        Backend::Sglang => 0,
                    },
                log_max_size: serving.log_max_size.clone().unwrap_or_else(|| DEFAULT_LOG_MAX_SIZE.to_string()),
                log_max_files: serving.log_max_files.unwrap_or(DEFAULT_LOG_MAX_FILES),
                nvidia_ulimits: gpu.vendor == Vendor::Nvidia,
            },
            recipe: ChosenRecipe {
                id: recipe.recipe.id.clone(),
                origin: recipe.origin.clone().into(),
                pinned,
                precision: recipe.recipe.precision.into(),
                weights_gb: facts.map(|f| select::weights_gb(f, recipe.recipe.precision)).or(locked_gb),
            },
        });
    }

    let hub_models: BTreeMap<HubModel, Vec<String>> = servers.iter().fold(BTreeMap::new(), |mut acc, s| {
        if let ModelSource::Hub(h) = &s.source {
            acc.entry(h.clone()).or_insert_with(Vec::new).push(s.name.clone());
        }
        acc
    });
    let prefetch = (prefetching && !hub_models.is_empty()).then(|| {
        let mut env = BTreeMap::new();
        env.insert("HF_HOME".to_string(), mount.clone());
        env.insert("HF_HUB_CACHE".to_string(), hub_dir.clone());
        env.insert("HF_HUB_DISABLE_TELEMETRY".to_string(), "1".to_string());
        env.insert("HF_XET_HIGH_PERFORMANCE".to_string(), "1".to_string());
        // Progress bars are terminal escape codes in `docker compose logs`.
        env.insert("HF_HUB_DISABLE_PROGRESS_BARS".to_string(), "1".to_string());
        if let Some(e) = &cache_spec.hf_endpoint {
            env.insert("HF_ENDPOINT".to_string(), e.clone());
        }
        PrefetchPlan {
            // The first server's engine: any engine image has huggingface_hub.
            image: servers.first().map_or(Engine::Vllm, |s| s.backend),
            entrypoint: image::PREFETCH_ENTRYPOINT.iter().map(|a| a.to_string()).collect(),
            jobs: hub_models
                .iter()
                .map(|(m, users)| PrefetchJob {
                    name: prefetch_job_name(&m.repo, &m.revision),
                    model: m.clone(),
                    files: match pins.get(&(m.repo.clone(), m.revision.clone())) {
                        Some(p) => FileSelection::Exact(
                            p.files
                                .iter()
                                .map(|f| ExpectedFile { path: f.path.clone(), size: f.size, blob: f.blob.clone() })
                                .collect(),
                        ),
                        None => FileSelection::Rule,
                    },
                    used_by: users.clone(),
                })
                .collect(),
            env,
            workers: cache_spec.download_workers.unwrap_or(DEFAULT_DOWNLOAD_WORKERS),
            verify: cache_spec.verify.unwrap_or_default().into(),
        }
    });
    let mut image_env = BTreeMap::new();
    image_env.insert("HF_HOME".to_string(), mount.clone());
    image_env.insert("HF_HUB_CACHE".to_string(), hub_dir.clone());
    image_env.insert("HF_HUB_DISABLE_TELEMETRY".to_string(), "1".to_string());

    let plan = Plan {
        name: spec.name.clone(),
        spec_path: spec_path.to_string(),
        gpu: inventory,
        images: bases
            .into_iter()
            .map(|(backend, b)| ImagePlan {
                backend: backend.into(),
                base: b.base,
                engine_version: b.version.map(|v| v.to_string()),
                name: format!("{}-{}", spec.name, backend.as_str()),
                pip: image_spec.pip.clone(),
                preload: if image_spec.preload_tokenizers { hub_models.keys().cloned().collect() } else { Vec::new() },
                env: image_env.clone(),
            })
            .collect(),
        cache: CachePlan {
            storage,
            mount: mount.clone(),
            hub_dir,
            hf_endpoint: cache_spec.hf_endpoint.clone(),
            servers_read_only: prefetching,
            scratch: ScratchPlan { volume: format!("{}-engine-scratch", spec.name), mount: SCRATCH_MOUNT.to_string() },
        },
        prefetch,
        servers,
        cluster: None,
    };
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok(Resolution { plan, warnings, selections })
    } else {
        Err(errors.into_iter().chain(warnings).collect())
    }
}

fn json_u64(v: &Json) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// An engine's base image as resolved: the reference and the release it runs, when known.
struct ImageBase {
    base: String,
    version: Option<EngineVersion>,
    /// Where the spec names it (`None` for aimgen's default).
    at: Option<String>,
}

impl ImageBase {
    /// An image already reported as an error: the services are still checked (against the
    /// newest catalogue, without a second warning) so the rest of the spec's problems show.
    fn refused(base: &str) -> ImageBase {
        ImageBase { base: base.to_string(), version: None, at: None }
    }
}

fn vendor_name(v: Vendor) -> &'static str {
    match v {
        Vendor::Amd => "AMD",
        Vendor::Nvidia => "NVIDIA",
    }
}

/// The base image of one engine: its own `image.<engine>.base`, else `image.base`, else the
/// default for the host. Problems (a contradicting vendor or engine, a floating tag, a stated
/// release the tag contradicts) are reported at the spec line that names the image.
fn image_base(
    spec: &ImageSpec,
    backend: Backend,
    vendor: Vendor,
    gpu_model: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<ImageBase> {
    let engine = backend.as_str();
    let Some((base, stated, at)) = spec.base_for(backend) else {
        return match image::default_image(vendor, backend, gpu_model) {
            Ok(d) => {
                diags.push(
                    Diagnostic::warning(format!("no `image.base`: using aimgen's default `{}` for {engine}", d.reference))
                        .at("/image")
                        .help("set `image.base` (or `image.<engine>.base`) to the engine release you have validated; the default changes with aimgen"),
                );
                Some(ImageBase { base: d.reference.to_string(), version: EngineVersion::parse(d.version), at: None })
            }
            Err(msg) => {
                diags.push(
                    Diagnostic::error(msg)
                        .at("/services")
                        .help(format!("set `image.{engine}.base` to a {engine} image built for this GPU")),
                );
                None
            }
        };
    };
    let base_at = format!("{at}/base");
    let reference = image::Reference::parse(base);
    if let Some(family) = image::family(&reference) {
        if family.backend != backend {
            let other = if at == "/image" {
                format!("; give {engine} its own image with `image.{engine}.base`")
            } else {
                String::new()
            };
            diags.push(
                Diagnostic::error(format!(
                    "`{base}` is a {} image, but {engine} services run in it",
                    family.backend.as_str()
                ))
                .at(base_at)
                .help(format!("use a {engine} image{other}")),
            );
            return Some(ImageBase::refused(base));
        }
        if let Some(v) = family.vendor.filter(|v| *v != vendor) {
            diags.push(
                Diagnostic::error(format!(
                    "`{base}` is built for {} GPUs, but the host has {} GPUs",
                    vendor_name(v),
                    vendor_name(vendor)
                ))
                .at(base_at)
                .help(format!("use a {engine} image built for {}", vendor_name(vendor))),
            );
            return Some(ImageBase::refused(base));
        }
    }
    if let Some(tag) = reference.floating_tag() {
        diags.push(
            Diagnostic::warning(format!(
                "`{base}` follows the moving tag `{tag}`: the built image's tag is a hash of the Dockerfile, \
                 so it will not change (and nothing is rebuilt) when `{tag}` moves to a new release"
            ))
            .at(base_at.clone())
            .help("pin a release tag or a digest (`@sha256:…`) and change it deliberately"),
        );
    }
    let derived = version_from_image(base, backend);
    // `validate` reported a stated release that does not parse.
    let stated = stated.and_then(EngineVersion::parse);
    let version = match (stated, derived) {
        (Some(s), Some(d)) if s != d => {
            diags.push(
                Diagnostic::error(format!("`engine_version: {s}` contradicts `{base}`, whose tag names {engine} {d}"))
                    .at(format!("{at}/engine_version"))
                    .help(format!("drop `engine_version` or set it to {d}")),
            );
            return Some(ImageBase::refused(base));
        }
        (Some(s), _) => Some(s),
        (None, Some(d)) => Some(d),
        // `checked_release` warns, naming the nearest catalogue.
        (None, None) => None,
    };
    Some(ImageBase { base: base.to_string(), version, at: Some(base_at) })
}

/// The engine command line. Flags aimgen owns come first, then the recipe's and the
/// service's, sorted by name.
pub fn engine_argv(
    backend: Backend,
    source: &ModelSource,
    served: &str,
    port: u16,
    tp: u32,
    args: &BTreeMap<String, Json>,
) -> Vec<String> {
    let model = match source {
        ModelSource::Hub(h) => h.repo.clone(),
        ModelSource::Local { path } => path.clone(),
    };
    let mut argv: Vec<String> = image::entrypoint(backend).iter().map(|a| a.to_string()).collect();
    match backend {
        Backend::Vllm => argv.push(model),
        Backend::Sglang => argv.extend(["--model-path".into(), model]),
    }
    let tp_flag = match backend {
        Backend::Vllm => "--tensor-parallel-size",
        Backend::Sglang => "--tp-size",
    };
    argv.extend([
        "--host".into(),
        "0.0.0.0".into(),
        "--port".into(),
        port.to_string(),
        "--served-model-name".into(),
        served.to_string(),
        tp_flag.into(),
        tp.to_string(),
    ]);
    if let ModelSource::Hub(h) = source {
        argv.extend(["--revision".into(), h.effective_revision().to_string()]);
        if backend == Backend::Vllm {
            // The tokenizer otherwise resolves `main`, which an offline cache pinned to a
            // sha does not have.
            argv.extend(["--tokenizer-revision".into(), h.effective_revision().to_string()]);
        }
    }
    for (k, v) in args {
        match v {
            Json::Null | Json::Bool(true) => argv.push(format!("--{k}")),
            Json::Bool(false) => argv.push(format!("--no-{k}")),
            Json::String(s) => argv.extend([format!("--{k}"), s.clone()]),
            Json::Number(n) => argv.extend([format!("--{k}"), n.to_string()]),
            other => argv.extend([format!("--{k}"), other.to_string()]),
        }
    }
    argv
}

/// The engine release an engine's services run and the catalogue they are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The release the image runs, or, when that is not known, the catalogue's.
    pub runs: EngineVersion,
    /// The release whose catalogue checks the services' arguments and variables.
    pub checked: EngineVersion,
}

/// The engine release an engine's services are checked against: the catalogue of `known`
/// (the release `image` runs, when its tag or `engine_version` says), else the nearest
/// catalogue, with a warning at `at` naming it. `None` when aimgen has no catalogue of the
/// engine at all.
pub fn checked_release(
    lib: &Library,
    backend: Backend,
    image: &str,
    known: Option<&EngineVersion>,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Release> {
    let picked = lib.catalog.pick(backend, known)?;
    let name = engine_name(backend);
    if let Picked::Nearest(v) = &picked {
        let list: Vec<String> = lib.catalog.versions(backend).iter().map(EngineVersion::to_string).collect();
        let d = match known {
            Some(k) => Diagnostic::warning(format!(
                "aimgen has no catalogue of {name} {k} (`{image}`): checking {} arguments against {name} {v}, the nearest",
                backend.as_str()
            ))
            .help(format!("catalogued {name} releases: {}", list.join(", "))),
            None => Diagnostic::warning(format!(
                "`{image}` does not say which {name} release it runs: checking {} arguments against {name} {v}, the nearest catalogue",
                backend.as_str()
            ))
            .help(format!(
                "set `{}` to the release the image runs (catalogued: {})",
                engine_version_field(at),
                list.join(", ")
            )),
        };
        diags.push(d.at(at));
    }
    let checked = picked.version().clone();
    Some(Release { runs: known.cloned().unwrap_or_else(|| checked.clone()), checked })
}

/// Loading checked the recipe against every catalogued release in its `engines:` range; when
/// the catalogue used here lies outside that range (the image runs an uncatalogued release
/// and the nearest catalogue is older than the range), check it against this one too,
/// reporting at the service's model.
fn recipe_outside_its_checks(
    lib: &Library,
    recipe: &LoadedRecipe,
    checked: &EngineVersion,
    at: &str,
) -> Vec<Diagnostic> {
    let r = &recipe.recipe;
    if recipe.versions.as_ref().is_none_or(|q| q.matches(checked)) {
        return Vec::new();
    }
    let context = format!("recipe `{}` is checked against {checked}, the nearest catalogue", r.id);
    lib.catalog
        .check_args_in(r.engine, checked, &r.args, "/args", &context)
        .into_iter()
        .chain(lib.catalog.check_env_in(r.engine, checked, &r.env, "/env", &context))
        .map(|mut d| {
            d.message = format!("recipe `{}`: {}", r.id, d.message);
            d.pointer = Some(format!("{at}/model"));
            d.at_key = false;
            d
        })
        .collect()
}

/// The spec field that states the release of the image named at `at`.
fn engine_version_field(at: &str) -> String {
    match at.strip_prefix("/image/").and_then(|r| r.split('/').next()) {
        Some(engine @ ("vllm" | "sglang")) => format!("image.{engine}.engine_version"),
        _ => "image.engine_version".to_string(),
    }
}

/// The error for a service whose model has no known size and whose GPU count nothing states.
fn unknown_size(svc: &ServiceSpec, at: &str) -> Diagnostic {
    let fix = if svc.model_path.is_some() { "set `gpus:`" } else { "set `gpus:` or run `aimgen lock`" };
    Diagnostic::error(format!("`{}`: aimgen does not know its size; {fix}", svc.model)).at(format!("{at}/model")).help(
        "aimgen sizes a model from its recipe file's `params_b`, or from the lock file's safetensors sizes; \
         without either it cannot tell how many GPUs the weights need",
    )
}

/// A warning when the service's own `gpus:` or `precision:` ruled out a tuned recipe that
/// would otherwise have been chosen, naming the settings the service loses with it.
fn dropped_tuned(lib: &Library, q: &Query, chosen: &LoadedRecipe, svc: &ServiceSpec, at: &str) -> Option<Diagnostic> {
    let mut relaxed = q.clone();
    let mut culprits = Vec::new();
    if let Some(n) = svc.gpus {
        if n > q.available {
            // The service cannot be placed at all: that error says enough.
            return None;
        }
        relaxed.gpus = None;
        culprits.push((format!("gpus: {n}"), format!("{at}/gpus")));
    }
    if let Some(p) = svc.precision.filter(|p| *p != Precision::Auto) {
        relaxed.precision = Precision::Auto;
        culprits.push((format!("precision: {}", p.as_str()), format!("{at}/precision")));
    }
    // Only a general recipe standing in for a tuned one loses settings worth a warning; a
    // tuned recipe for another count is the service's choice.
    if !chosen.recipe.is_general() {
        return None;
    }
    let (culprit, place) = culprits.first()?.clone();
    let Candidate { recipe: tuned, .. } = select::best(lib, &relaxed)?;
    if tuned.recipe.id == chosen.recipe.id || tuned.recipe.is_general() {
        return None;
    }
    let (t, c) = (&tuned.recipe, &chosen.recipe);
    let mut lost: Vec<String> = t
        .args
        .iter()
        .filter(|(k, v)| c.args.get(*k) != Some(v))
        .map(|(k, v)| match v {
            Json::Null | Json::Bool(true) => format!("`--{k}`"),
            Json::Bool(false) => format!("`--no-{k}`"),
            Json::String(s) => format!("`--{k} {s}`"),
            other => format!("`--{k} {other}`"),
        })
        .collect();
    lost.extend(t.env.iter().filter(|(k, v)| c.env.get(*k) != Some(v)).map(|(k, v)| format!("`{k}={}`", v.as_text())));
    let what = if culprits.len() > 1 {
        culprits.iter().map(|(c, _)| format!("`{c}`")).collect::<Vec<_>>().join(" and ")
    } else {
        format!("`{culprit}`")
    };
    let loses = if lost.is_empty() { String::new() } else { format!(": the service loses {}", lost.join(", ")) };
    Some(Diagnostic::warning(format!("{what} rules out the tuned recipe `{}`{loses}", t.id)).at(place).help(format!(
        "`{}` is used instead; remove `{}` to get the tuned recipe, or pin one with `recipe:`",
        c.id,
        culprit.split(':').next().unwrap_or_default()
    )))
}

fn pick_pinned<'l>(
    lib: &'l Library,
    id: &str,
    q: &Query,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(&'l LoadedRecipe, u32, bool)> {
    let Some(r) = lib.get(id) else {
        let help = did_you_mean(id, lib.recipes.iter().map(|r| r.recipe.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| "`aimgen recipes list` shows every recipe".into());
        diags.push(Diagnostic::error(format!("no recipe `{id}`")).at(format!("{at}/recipe")).help(help));
        return None;
    };
    match select::evaluate(r, q, lib.models.get(q.model), true) {
        Verdict::Compatible { gpus } => Some((r, gpus, true)),
        Verdict::ModelMismatch => {
            diags.push(
                Diagnostic::warning(format!(
                    "recipe `{id}` is tuned for {}, not {}",
                    r.recipe.models.join(", "),
                    q.model
                ))
                .at(format!("{at}/recipe")),
            );
            let mut general = r.clone();
            general.recipe.models.clear();
            match select::evaluate(&general, q, lib.models.get(q.model), true) {
                Verdict::Compatible { gpus } => Some((r, gpus, true)),
                v => {
                    diags.push(
                        Diagnostic::error(format!("recipe `{id}` cannot be used: {}", v.reason(r, q)))
                            .at(format!("{at}/recipe")),
                    );
                    None
                }
            }
        }
        v => {
            diags.push(
                Diagnostic::error(format!("recipe `{id}` cannot be used: {}", v.reason(r, q)))
                    .at(format!("{at}/recipe")),
            );
            None
        }
    }
}

fn no_recipe(name: &str, q: &Query, ranked: &[Candidate], at: &str) -> Diagnostic {
    let closest: Vec<String> = ranked
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::ModelMismatch | Verdict::BackendMismatch))
        .take(3)
        .map(|c| format!("`{}`: {}", c.recipe.recipe.id, c.verdict.reason(c.recipe, q)))
        .collect();
    // The GPUs the service asked for, else the ones still free: what the title talks about.
    let on = q.gpus.unwrap_or(q.available);
    // When a recipe fails only on size, say so in the title, with the sizes: "no recipe"
    // reads as a gap in the library when the model is simply too big for these GPUs.
    let too_big = ranked.iter().find_map(|c| match c.verdict {
        Verdict::DoesNotFit { weights_gb, gpus, memory_gb } => Some((c.recipe, weights_gb, gpus, memory_gb)),
        _ => None,
    });
    let (title, needs) = match too_big {
        Some((r, weights, gpus, memory)) => {
            let fraction = q.memory_fraction.or(r.recipe.memory_fraction()).unwrap_or(select::DEFAULT_MEMORY_FRACTION);
            let room = select::WEIGHTS_SHARE * f64::from(gpus) * memory * fraction;
            let need = (0..=10).map(|p| 1u32 << p).find(|n| select::fits(weights, *n, memory, fraction));
            (
                format!(
                    "`{}` does not fit on {gpus} × {} ({memory:.0} GB each): ~{weights:.0} GB of {} weights, room for {room:.0} GB",
                    q.model,
                    q.gpu_model,
                    r.recipe.precision.as_str()
                ),
                need.map(|n| {
                    format!(
                        "the weights need at least {n} × {} (weights may take {:.0}% of the engine's {:.0}% of each GPU; the rest is KV cache); ",
                        q.gpu_model,
                        select::WEIGHTS_SHARE * 100.0,
                        fraction * 100.0
                    )
                }),
            )
        }
        None => (
            format!(
                "no recipe serves `{}` with {} on {on} × {}{}",
                q.model,
                q.backend.as_str(),
                q.gpu_model,
                if q.precision == Precision::Auto { String::new() } else { format!(" at {}", q.precision.as_str()) }
            ),
            None,
        ),
    };
    let help = if closest.is_empty() {
        format!("no recipe matches at all; add one with `--recipes DIR` (service `{name}`)")
    } else {
        format!("closest: {}", closest.join("; "))
    };
    Diagnostic::error(title).at(format!("{at}/model")).help(format!("{}{help}", needs.unwrap_or_default()))
}

fn oversubscribed(
    name: &str,
    want: u32,
    total: u32,
    holders: &[(String, Vec<u32>)],
    free: &[u32],
    at: &str,
    svc: &ServiceSpec,
) -> Diagnostic {
    let held: Vec<String> = holders.iter().map(|(n, g)| format!("{n} holds {}", ranges(g))).collect();
    let place = if svc.gpus.is_some() { format!("{at}/gpus") } else { at.to_string() };
    Diagnostic::error(format!(
        "`{name}` needs {want} GPU{} but only {} of the host's {total} remain",
        if want == 1 { "" } else { "s" },
        free.len()
    ))
    .at(place)
    .help(if held.is_empty() {
        "the host has too few GPUs".to_string()
    } else {
        format!("{}; {} free", held.join(", "), free.len())
    })
}

// The plan names engines, vendors and precisions with its own types, so the targets read the
// plan alone; these are the only places the spec's (or the library's) become the plan's.

impl From<Backend> for Engine {
    fn from(b: Backend) -> Engine {
        match b {
            Backend::Vllm => Engine::Vllm,
            Backend::Sglang => Engine::Sglang,
        }
    }
}

impl From<Vendor> for GpuVendor {
    fn from(v: Vendor) -> GpuVendor {
        match v {
            Vendor::Amd => GpuVendor::Amd,
            Vendor::Nvidia => GpuVendor::Nvidia,
        }
    }
}

impl From<Precision> for Dtype {
    fn from(p: Precision) -> Dtype {
        match p {
            // A recipe never has `auto` (the library refuses it when loading); bf16 is what
            // an engine's `auto` loads for the models aimgen knows.
            Precision::Auto | Precision::Bf16 => Dtype::Bf16,
            Precision::Fp16 => Dtype::Fp16,
            Precision::Fp8 => Dtype::Fp8,
        }
    }
}

impl From<crate::spec::Verify> for Verify {
    fn from(v: crate::spec::Verify) -> Verify {
        match v {
            crate::spec::Verify::Size => Verify::Size,
            crate::spec::Verify::Sha256 => Verify::Sha256,
        }
    }
}

impl From<crate::recipe::Origin> for RecipeOrigin {
    fn from(o: crate::recipe::Origin) -> RecipeOrigin {
        match o {
            crate::recipe::Origin::Builtin(p) => RecipeOrigin::Builtin(p),
            crate::recipe::Origin::User(p) => RecipeOrigin::User(p),
        }
    }
}

impl From<crate::recipe::secrets::KeyInput> for KeyDelivery {
    fn from(k: crate::recipe::secrets::KeyInput) -> KeyDelivery {
        match k {
            crate::recipe::secrets::KeyInput::Env(v) => KeyDelivery::Env(v),
            crate::recipe::secrets::KeyInput::Flag(f) => KeyDelivery::Flag(f),
        }
    }
}
