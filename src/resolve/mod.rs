//! Spec + recipe library (+ lock pins) → plan: defaults applied, a recipe chosen per service,
//! GPUs and host ports assigned, engine command lines built. Problems are collected, each at
//! the place in the spec that causes it.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::image;
use crate::lockfile::Pins;
use crate::plan::*;
use crate::recipe::catalog::{engine_name, Picked};
use crate::recipe::select::{self, Candidate, Query, Verdict};
use crate::recipe::{
    known_gpu_memory_gb, memory_fraction, version_from_image, EngineVersion, Library, LoadedRecipe, ModelFacts,
    KNOWN_GPUS,
};
use crate::source::escape_segment;
use crate::spec::{Backend, FleetSpec, GpuSpec, ImageSpec, Precision, ServiceSpec, ServingSpec, Vendor};
use crate::text::ranges;

mod argv;
mod base_image;
mod cache;
mod choice;
mod convert;
mod gpus;
mod ports;
mod prefetch;
mod server;

pub use self::argv::engine_argv;
use self::base_image::{image_bases, image_plans, ImageBase};
pub use self::cache::jit_caches;
use self::cache::{telemetry_off, CacheSettings};
pub use self::choice::{checked_release, Release, Selection};
use self::choice::{choose, engine_releases, recipe_outside_its_checks, Chosen, SavedQuery};
use self::gpus::{gpu_inventory, GpuPool};
use self::ports::HostPorts;
use self::prefetch::{hub_models, prefetch_plan};
use self::server::server_plan;
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
/// Resource limits of NVIDIA servers unless the spec sets `ulimits`: NVIDIA's container
/// guidance for its deep learning framework containers (`--ulimit memlock=-1 --ulimit
/// stack=67108864`: pinned host memory for fast GPU copies, deep framework stacks). AMD's
/// ROCm container guidance asks for none. Sorted by name, as the plan keeps them.
pub const NVIDIA_ULIMITS: &[(&str, i64)] = &[("memlock", -1), ("stack", 67_108_864)];

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
///
/// The steps, in the order their diagnostics appear: explicit host ports, the image of each
/// engine and the release it is checked against, then per service (in spec order) its recipe,
/// GPUs, host port and server; last the prefetch jobs and the images.
pub fn resolve(
    spec: &FleetSpec,
    spec_path: &str,
    lib: &Library,
    pins: &Pins,
    per_node: bool,
) -> Result<Resolution, Vec<Diagnostic>> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut ports = HostPorts::claim_explicit(&spec.services, &mut diags);
    let image_spec = spec.image.clone().unwrap_or_default();
    let inventory = gpu_inventory(&spec.host.gpu);
    let bases = image_bases(spec, &image_spec, &inventory.model, &mut diags);
    let fleet = Fleet {
        lib,
        pins,
        gpu: &spec.host.gpu,
        releases: engine_releases(lib, &bases, &mut diags),
        serving: spec.serving.clone().unwrap_or_default(),
        cache: CacheSettings::new(spec),
        inventory,
    };

    let mut pool = GpuPool::new(spec.host.gpu.count);
    let mut servers = Vec::new();
    let mut selections = Vec::new();
    for (name, svc) in &spec.services {
        if per_node {
            pool.refill();
        }
        let service = Service::new(&fleet, name, svc);
        let query = service.query(&fleet, pool.available());
        let chosen = choose(lib, &service, &query, &mut diags);
        selections.push(Selection {
            service: name.clone(),
            query: SavedQuery::new(&query),
            weights_gb: chosen.and_then(|c| service.weights_gb(c.recipe)),
        });
        let want = chosen.map(|c| c.gpus).or(svc.gpus).unwrap_or(0);
        let gpus = pool.take(&service, want, &mut diags);
        let host_port = ports.assign(name, svc.port);
        if let Some(chosen) = chosen {
            servers.push(server_plan(&fleet, &service, chosen, gpus, host_port, &mut diags));
        }
    }

    let hub_models = hub_models(&servers);
    let plan = Plan {
        name: spec.name.clone(),
        spec_path: spec_path.to_string(),
        gpu: fleet.inventory,
        images: image_plans(&spec.name, bases, &image_spec, &hub_models, &fleet.cache),
        prefetch: prefetch_plan(&fleet.cache, &servers, &hub_models, pins),
        cache: fleet.cache.plan,
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

/// What every service is resolved against, read from the spec once before the first one.
struct Fleet<'a> {
    lib: &'a Library,
    pins: &'a Pins,
    gpu: &'a GpuSpec,
    /// The host's GPUs, their model named as the recipes name it.
    inventory: GpuInventory,
    /// The engine release each engine's services run and are checked against.
    releases: BTreeMap<Backend, Option<Release>>,
    serving: ServingSpec,
    cache: CacheSettings,
}

/// One service with the fleet's defaults applied: what choosing its recipe and building its
/// server read.
struct Service<'a> {
    /// Its `services:` key.
    name: &'a str,
    spec: &'a ServiceSpec,
    /// Its place in the spec, for diagnostics.
    at: String,
    backend: Backend,
    release: Option<&'a Release>,
    /// What the recipe library knows of its model.
    facts: Option<&'a ModelFacts>,
    /// Its weights, GB, from the lock file's sizes (a Hub model with a pin only).
    locked_gb: Option<f64>,
}

impl<'a> Service<'a> {
    fn new(fleet: &'a Fleet, name: &'a str, spec: &'a ServiceSpec) -> Service<'a> {
        let backend = spec.backend.unwrap_or(Backend::Vllm);
        let locked_gb = fleet
            .pins
            .get(&(spec.model.clone(), spec.revision.as_deref().unwrap_or("main").to_string()))
            .filter(|p| p.weights_bytes > 0 && spec.model_path.is_none())
            .map(|p| p.weights_bytes as f64 / 1e9);
        Service {
            name,
            spec,
            at: format!("/services/{}", escape_segment(name)),
            backend,
            release: fleet.releases.get(&backend).and_then(Option::as_ref),
            facts: fleet.lib.models.get(&spec.model),
            locked_gb,
        }
    }

    /// What the recipes are judged against, with `available` GPUs still free.
    fn query(&self, fleet: &'a Fleet, available: u32) -> Query<'a> {
        Query {
            model: &self.spec.model,
            backend: self.backend,
            vendor: fleet.gpu.vendor,
            gpu_model: &fleet.inventory.model,
            memory_gb: f64::from(fleet.inventory.memory_gb),
            gpus: self.spec.gpus,
            available,
            precision: self.spec.precision.unwrap_or(Precision::Auto),
            engine_version: self.release.map(|r| &r.runs),
            memory_fraction: memory_fraction(&self.spec.args),
            locked_gb: self.locked_gb,
        }
    }

    /// Estimated weights, GB, when it runs `recipe`: from the model's facts, else the lock.
    fn weights_gb(&self, recipe: &LoadedRecipe) -> Option<f64> {
        self.facts.map(|f| select::weights_gb(f, recipe.recipe.precision)).or(self.locked_gb)
    }
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
