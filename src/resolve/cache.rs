//! The cache variables a server's engine and the libraries below it read: JIT and compile
//! caches on the server's scratch volume, telemetry switched off.

use super::*;

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
