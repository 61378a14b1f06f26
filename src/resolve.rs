//! Spec + recipe library (+ lock pins) → plan: defaults applied, a recipe chosen per service,
//! GPUs and host ports assigned, engine command lines built. Problems are collected, each at
//! the place in the spec that causes it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::plan::*;
use crate::recipe::select::{self, Candidate, Query, Verdict};
use crate::recipe::{known_gpu_memory_gb, Library, LoadedRecipe, KNOWN_GPUS};
use crate::source::escape_segment;
use crate::spec::{Backend, FleetSpec, Precision, ServiceSpec, Vendor};

/// Default cache mount inside containers.
pub const DEFAULT_MOUNT: &str = "/workspace/model-cache";
/// Where servers write engine scratch (compile caches, remote code).
pub const SCRATCH_MOUNT: &str = "/var/cache/aimgen";
/// First host port handed out.
pub const FIRST_PORT: u16 = 8000;
/// Prefix of every prefetch job's name (in aimgen's reserved `aimgen-` namespace).
pub const PREFETCH_PREFIX: &str = "aimgen-prefetch-";
/// Files a prefetch job downloads at once unless the spec says otherwise.
pub const DEFAULT_DOWNLOAD_WORKERS: u32 = 8;

/// A lock file's pin for one (model, revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Resolved commit.
    pub sha: String,
    /// Files the engine loads, with sizes and content ids.
    pub files: Vec<ExpectedFile>,
}

/// Pins keyed by (repo, requested revision).
pub type Pins = BTreeMap<(String, String), Pin>;

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
}

impl Selection {
    /// Every recipe's verdict with its reason, compatible ones first in rank order, as judged
    /// when the service was resolved. `lib` is the library it was resolved with.
    pub fn candidates(&self, lib: &Library) -> Vec<(String, Verdict, String)> {
        let q = &self.query;
        let query = Query {
            model: &q.model,
            backend: q.backend,
            vendor: q.vendor,
            gpu_model: &q.gpu_model,
            memory_gb: q.memory_gb,
            gpus: q.gpus,
            available: q.available,
            precision: q.precision,
        };
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
pub fn resolve(spec: &FleetSpec, spec_path: &str, lib: &Library, pins: &Pins) -> Result<Resolution, Vec<Diagnostic>> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let gpu = &spec.host.gpu;
    let canonical_model = KNOWN_GPUS
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(&gpu.model))
        .map(|(m, _)| m.to_string())
        .unwrap_or_else(|| gpu.model.clone());
    let memory_gb = gpu.memory_gb.or_else(|| known_gpu_memory_gb(&gpu.model)).unwrap_or(0);
    let inventory = GpuInventory { vendor: gpu.vendor, model: canonical_model.clone(), count: gpu.count, memory_gb };

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

    let mut free: Vec<u32> = (0..gpu.count).collect();
    let mut holders: Vec<(String, Vec<u32>)> = Vec::new();
    let mut servers = Vec::new();
    let mut selections = Vec::new();
    let mut backends = BTreeSet::new();

    for (name, svc) in &spec.services {
        let at = format!("/services/{}", escape_segment(name));
        let backend = svc.backend.unwrap_or(Backend::Vllm);
        backends.insert(backend);
        let precision = svc.precision.unwrap_or(Precision::Auto);
        let query = Query {
            model: &svc.model,
            backend,
            vendor: gpu.vendor,
            gpu_model: &canonical_model,
            memory_gb: f64::from(memory_gb),
            gpus: svc.gpus,
            available: free.len() as u32,
            precision,
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
        selections.push(Selection {
            service: name.clone(),
            query: SavedQuery {
                model: svc.model.clone(),
                backend,
                vendor: gpu.vendor,
                gpu_model: canonical_model.clone(),
                memory_gb: f64::from(memory_gb),
                gpus: svc.gpus,
                available: query.available,
                precision,
            },
            weights_gb: chosen.and_then(|(r, _, _)| facts.map(|f| select::weights_gb(f, r.recipe.precision))),
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
        let version = lib.catalog.newest(backend);
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
            diags.extend(lib.catalog.check_env(backend, ver, &svc.env, &format!("{at}/env")));
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
        // (read-only) model cache.
        env.insert("HF_MODULES_CACHE".into(), format!("{scratch}/hf-modules"));
        if backend == Backend::Vllm {
            env.insert("VLLM_CACHE_ROOT".into(), format!("{scratch}/vllm"));
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

        servers.push(ServerPlan {
            name: name.clone(),
            backend,
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
            recipe: ChosenRecipe {
                id: recipe.recipe.id.clone(),
                origin: recipe.origin.clone(),
                pinned,
                precision: recipe.recipe.precision,
                weights_gb: facts.map(|f| select::weights_gb(f, recipe.recipe.precision)),
            },
        });
    }

    // The one image.
    let image_spec = spec.image.clone().unwrap_or_default();
    let base = match &image_spec.base {
        Some(b) => b.clone(),
        None => match default_base(gpu.vendor, &backends) {
            Ok(b) => {
                diags.push(
                    Diagnostic::warning(format!("no `image.base`: using aimgen's default `{b}`")).at("/image").help(
                        "set `image.base` to the engine release you have validated; the default changes with aimgen",
                    ),
                );
                b.to_string()
            }
            Err(msg) => {
                diags.push(
                    Diagnostic::error(msg)
                        .at("/services")
                        .help("set `image.base` to an image that has every engine the fleet uses"),
                );
                String::new()
            }
        },
    };

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
            jobs: hub_models
                .iter()
                .map(|(m, users)| PrefetchJob {
                    name: prefetch_job_name(&m.repo, &m.revision),
                    model: m.clone(),
                    files: match pins.get(&(m.repo.clone(), m.revision.clone())) {
                        Some(p) => FileSelection::Exact(p.files.clone()),
                        None => FileSelection::Rule,
                    },
                    used_by: users.clone(),
                })
                .collect(),
            env,
            workers: cache_spec.download_workers.unwrap_or(DEFAULT_DOWNLOAD_WORKERS),
            verify: cache_spec.verify.unwrap_or_default(),
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
        image: ImagePlan {
            base,
            name: format!("{}-base", spec.name),
            pip: image_spec.pip.clone(),
            preload: if image_spec.preload_tokenizers { hub_models.keys().cloned().collect() } else { Vec::new() },
            env: image_env,
        },
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
    };
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok(Resolution { plan, warnings, selections })
    } else {
        Err(errors.into_iter().chain(warnings).collect())
    }
}

/// The prefetch job of a (model, revision): `aimgen-prefetch-<name>-<hash>`, where `<name>` is
/// the repo's name made fit for a Compose service name and `<hash>` 8 hex digits of a stable hash of
/// the exact repo id and requested revision. The name tells a person which model it is; the
/// hash keeps `org-a/m` and `org-b/m`, or two revisions, apart. It depends only on the spec (not
/// the locked commit), so `aimgen lock --update` does not rename the job.
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
    let hash = crate::render::content_hash(&format!("{repo}@{revision}"));
    format!("{PREFETCH_PREFIX}{slug}-{}", &hash[..8])
}

fn json_u64(v: &Json) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn default_base(vendor: Vendor, backends: &BTreeSet<Backend>) -> Result<&'static str, String> {
    if backends.len() > 1 {
        return Err("the fleet uses both vLLM and SGLang, and no default image has both".into());
    }
    match (vendor, backends.iter().next().copied().unwrap_or(Backend::Vllm)) {
        // Pinned release tags, so an unpinned spec still builds the same image tomorrow.
        (Vendor::Amd, Backend::Vllm) => Ok("rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210"),
        (Vendor::Nvidia, Backend::Vllm) => Ok("vllm/vllm-openai:v0.11.0"),
        (Vendor::Nvidia, Backend::Sglang) => Ok("lmsysorg/sglang:v0.4.6.post1-cu124"),
        (Vendor::Amd, Backend::Sglang) => Err("there is no default SGLang image for ROCm".into()),
    }
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
    let mut argv: Vec<String> = match backend {
        Backend::Vllm => vec!["vllm".into(), "serve".into(), model],
        Backend::Sglang => {
            vec!["python3".into(), "-m".into(), "sglang.launch_server".into(), "--model-path".into(), model]
        }
    };
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
            let fraction = r.recipe.memory_fraction().unwrap_or(select::DEFAULT_MEMORY_FRACTION);
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

/// "0-3", "4,6" — GPU lists as people write them.
pub fn ranges(gpus: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < gpus.len() {
        let start = gpus[i];
        let mut end = start;
        while i + 1 < gpus.len() && gpus[i + 1] == end + 1 {
            i += 1;
            end = gpus[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    if out.is_empty() {
        "no GPUs".into()
    } else {
        format!("GPU{} {}", if gpus.len() == 1 { "" } else { "s" }, out.join(","))
    }
}
