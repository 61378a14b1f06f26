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

mod argv;
mod base_image;
mod cache;
mod choice;
mod convert;
mod gpus;

pub use self::argv::engine_argv;
use self::base_image::{image_base, ImageBase};
pub use self::cache::jit_caches;
use self::cache::telemetry_off;
pub use self::choice::{checked_release, Release, Selection};
use self::choice::{dropped_tuned, no_recipe, pick_pinned, recipe_outside_its_checks, unknown_size, SavedQuery};
use self::gpus::oversubscribed;
pub use crate::plan::{prefetch_job_name, PREFETCH_PREFIX};
pub use crate::spec::{DEFAULT_MOUNT, SCRATCH_MOUNT};
/// First host port handed out.
pub const FIRST_PORT: u16 = 8000;
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

/// The outcome of resolving.
#[derive(Debug)]
pub struct Resolution {
    /// What every target renders.
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
    // The cache as every Hugging Face client finds it, built once: servers add offline mode
    // (or the mirror), the prefetch jobs their download settings, the images nothing.
    let hub_cache_env: BTreeMap<String, String> =
        [("HF_HOME", mount.clone()), ("HF_HUB_CACHE", hub_dir.clone()), ("HF_HUB_DISABLE_TELEMETRY", "1".to_string())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
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
        let mut cache_env = hub_cache_env.clone();
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
        let mut env = hub_cache_env.clone();
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
    let image_env = hub_cache_env.clone();

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::{LockedFile, Pin};
    use crate::recipe::library::builtin;

    fn plan(yaml: &str, pins: &Pins) -> Plan {
        let spec: FleetSpec = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
        let lib = builtin().expect("built-in library");
        resolve(&spec, "fleet.yaml", lib, pins, false).unwrap_or_else(|d| panic!("{d:?}")).plan
    }

    const FLEET: &str = "version: 1\nname: f\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\nservices:\n  \
                         a: {model: Qwen/Qwen3-32B, gpus: 2}\n  b: {model: Qwen/Qwen3-32B, gpus: 1}\n  \
                         c: {model: some-org/unknown-7b, gpus: 4}\n";

    #[test]
    fn gpus_go_in_spec_order_lowest_first_and_ports_differ() {
        let p = plan(FLEET, &Pins::new());
        let gpus: Vec<(String, Vec<u32>)> = p.servers.iter().map(|s| (s.name.clone(), s.gpus.clone())).collect();
        assert_eq!(
            gpus,
            [("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2]), ("c".to_string(), vec![3, 4, 5, 6])]
        );
        let ports: BTreeSet<u16> = p.servers.iter().map(|s| s.host_port).collect();
        assert_eq!(ports.len(), 3);
        assert_eq!(ports.first(), Some(&FIRST_PORT));
    }

    #[test]
    fn one_prefetch_job_per_model_and_a_pin_selects_exact_files() {
        let mut pins = Pins::new();
        let sha = "c".repeat(40);
        let file = LockedFile { path: "model.safetensors".into(), size: 7, blob: "0".repeat(64) };
        pins.insert(
            ("Qwen/Qwen3-32B".to_string(), "main".to_string()),
            Pin { sha: sha.clone(), files: vec![file], weights_bytes: 7 },
        );
        let p = plan(FLEET, &pins);
        let prefetch = p.prefetch.expect("prefetching by default");
        assert_eq!(prefetch.jobs.len(), 2, "{:?}", prefetch.jobs);
        let qwen = prefetch.jobs.iter().find(|j| j.model.repo == "Qwen/Qwen3-32B").expect("qwen job");
        assert_eq!(qwen.used_by, ["a", "b"]);
        assert!(matches!(&qwen.files, FileSelection::Exact(f) if f.len() == 1 && f[0].path == "model.safetensors"));
        let a = &p.servers[0];
        assert!(a.argv.windows(2).any(|w| w[0] == "--revision" && w[1] == sha), "{:?}", a.argv);
        assert_eq!(a.prefetch_job.as_deref(), Some(qwen.name.as_str()));
    }
}
