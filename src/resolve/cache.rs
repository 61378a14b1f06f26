//! The caches: the shared model cache (where it is stored and the variables every Hugging
//! Face client finds it by), and the variables a server's engine and the libraries below it
//! read: JIT and compile caches on the server's scratch volume, telemetry switched off.

use super::*;

/// The fleet's model cache as resolving needs it, read from `cache:` once.
pub(super) struct CacheSettings {
    /// What the plan states about the cache.
    pub(super) plan: CachePlan,
    /// Whether prefetch jobs download every model before its servers start.
    pub(super) prefetching: bool,
    /// Files a prefetch job downloads at once.
    pub(super) workers: u32,
    pub(super) verify: Verify,
    /// The cache as every Hugging Face client finds it: the servers, the prefetch jobs and the
    /// images start from the same variables.
    hub_env: BTreeMap<String, String>,
}

impl CacheSettings {
    pub(super) fn new(spec: &FleetSpec) -> CacheSettings {
        let cache = spec.cache.clone().unwrap_or_default();
        let prefetching = cache.prefetch.unwrap_or(true);
        let mount = cache.mount.clone().unwrap_or_else(|| DEFAULT_MOUNT.to_string());
        let mount = mount.trim_end_matches('/').to_string();
        let hub_dir = format!("{mount}/hub");
        let hub_env: BTreeMap<String, String> =
            [("HF_HOME", mount.clone()), ("HF_HUB_CACHE", hub_dir.clone()), ("HF_HUB_DISABLE_TELEMETRY", "1".into())]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        let storage = match &cache.host_path {
            Some(path) => CacheStorage::HostPath { path: path.clone() },
            None => CacheStorage::Volume {
                name: cache.volume.clone().unwrap_or_else(|| format!("{}-model-cache", spec.name)),
            },
        };
        CacheSettings {
            plan: CachePlan {
                storage,
                mount,
                hub_dir,
                hf_endpoint: cache.hf_endpoint.clone(),
                servers_read_only: prefetching,
                server_env: server_env(&hub_env, prefetching, cache.hf_endpoint.as_deref()),
                scratch: ScratchPlan {
                    volume: format!("{}-engine-scratch", spec.name),
                    mount: SCRATCH_MOUNT.to_string(),
                },
            },
            prefetching,
            workers: cache.download_workers.unwrap_or(DEFAULT_DOWNLOAD_WORKERS),
            verify: cache.verify.unwrap_or_default().into(),
            hub_env,
        }
    }

    /// The prefetch jobs' cache variables: their download settings and the mirror.
    pub(super) fn prefetch_env(&self) -> BTreeMap<String, String> {
        let mut env = self.hub_env.clone();
        env.insert("HF_XET_HIGH_PERFORMANCE".to_string(), "1".to_string());
        // Progress bars are terminal escape codes in `docker compose logs`.
        env.insert("HF_HUB_DISABLE_PROGRESS_BARS".to_string(), "1".to_string());
        if let Some(e) = &self.plan.hf_endpoint {
            env.insert("HF_ENDPOINT".to_string(), e.clone());
        }
        env
    }

    /// An image's cache variables: where the cache is, nothing more.
    pub(super) fn image_env(&self) -> BTreeMap<String, String> {
        self.hub_env.clone()
    }
}

/// A server's cache variables: offline when the prefetch jobs download, else the mirror.
fn server_env(hub_env: &BTreeMap<String, String>, prefetching: bool, mirror: Option<&str>) -> BTreeMap<String, String> {
    let mut env = hub_env.clone();
    if prefetching {
        env.insert("HF_HUB_OFFLINE".to_string(), "1".to_string());
    } else if let Some(e) = mirror {
        env.insert("HF_ENDPOINT".to_string(), e.to_string());
    }
    env
}

/// Where a cache variable applies.
pub(super) enum CacheScope {
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
pub(super) const JIT_CACHES: &[(&str, &str, CacheScope)] = &[
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
pub(super) fn telemetry_off(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(cache: &str) -> CacheSettings {
        let yaml = format!(
            "version: 1\nname: f\nhost: {{gpu: {{vendor: amd, model: MI300X, count: 1}}}}\n{cache}services: {{}}\n"
        );
        CacheSettings::new(&serde_yaml::from_str(&yaml).expect("fleet spec"))
    }

    #[test]
    fn prefetched_servers_are_offline_and_only_the_jobs_see_the_mirror() {
        let c = settings("cache: {mount: /cache/, hf_endpoint: 'http://hub-mirror.example'}\n");
        assert_eq!(c.plan.mount, "/cache");
        assert_eq!(c.plan.hub_dir, "/cache/hub");
        let server = &c.plan.server_env;
        assert_eq!(server.get("HF_HUB_OFFLINE").map(String::as_str), Some("1"));
        assert_eq!(server.get("HF_ENDPOINT"), None);
        assert_eq!(c.prefetch_env().get("HF_ENDPOINT").map(String::as_str), Some("http://hub-mirror.example"));
        assert_eq!(c.image_env().keys().collect::<Vec<_>>(), ["HF_HOME", "HF_HUB_CACHE", "HF_HUB_DISABLE_TELEMETRY"]);
    }

    #[test]
    fn without_prefetch_servers_download_through_the_mirror_into_a_writable_cache() {
        let c = settings("cache: {prefetch: false, hf_endpoint: 'http://hub-mirror.example'}\n");
        assert!(!c.plan.servers_read_only);
        let server = &c.plan.server_env;
        assert_eq!(server.get("HF_HUB_OFFLINE"), None);
        assert_eq!(server.get("HF_ENDPOINT").map(String::as_str), Some("http://hub-mirror.example"));
        assert!(matches!(&c.plan.storage, CacheStorage::Volume { name } if name == "f-model-cache"));
    }
}
