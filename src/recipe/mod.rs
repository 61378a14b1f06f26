//! The recipe library: tuned engine settings per (model, engine, GPU, GPU count, precision,
//! goal), like AMD AIM's and NVIDIA NIM's profiles, plus the engine catalogues that every
//! flag and variable is checked against.

pub mod catalog;
mod check;
pub mod library;
pub mod secrets;
pub mod select;
pub mod version;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{Backend, EnvValue, Precision, Vendor};

pub use catalog::{Catalog, EngineCatalog};
pub use library::{Library, LoadedRecipe, Origin};
pub use version::{version_from_image, EngineVersion, VersionReq};

/// A recipe file: model facts and recipes. Built-in files live in `recipes/`; users add
/// folders with `--recipes DIR` or the fleet's `recipes:` list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// Facts about models that recipes and the memory estimate rely on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelFacts>,
    /// The recipes in this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipes: Vec<Recipe>,
}

/// What aimgen knows about a model without downloading it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelFacts {
    /// Exact Hugging Face repo id.
    pub id: String,
    /// Parameters, in billions; weights take about `params_b × bytes per parameter` GB.
    pub params_b: f64,
    /// Longest context (positions) the model supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    /// One line about the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Tuned settings for serving some models on some GPUs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Unique id, by convention `<model-slug>/<engine>-<gpu>-<precision>-tp<N>-<metric>`, or
    /// `general/<engine>-<vendor>-<precision>` for a general recipe.
    pub id: String,
    /// Why these settings, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Exact Hugging Face ids this recipe is tuned for; empty = a general recipe for any model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// The engine these settings are for (`vllm` or `sglang`): selection uses the recipe only
    /// for a service of that engine, and its `args` and `env` are checked against that
    /// engine's catalogue.
    pub engine: Backend,
    /// The engine releases the recipe is valid for, by engine (the recipe's own), e.g.
    /// `{sglang: ">=0.4.7"}`: comparisons (`>=`, `>`, `<=`, `<`, `==`) joined by commas, all of
    /// which must hold; a bare version means that release. aimgen checks the recipe against
    /// every catalogued release in the range, and selection skips the recipe for an image
    /// running a release outside it. Absent: every catalogued release.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub engines: BTreeMap<Backend, String>,
    /// GPUs the recipe runs on.
    pub gpu: RecipeGpu,
    /// GPUs the recipe uses (its tensor-parallel size); absent = any count (general recipes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
    /// Weight precision (`bf16`, `fp16` or `fp8`; not `auto`).
    pub precision: Precision,
    /// What the settings optimise.
    pub metric: Metric,
    /// How the settings were obtained.
    #[serde(rename = "type")]
    pub kind: RecipeKind,
    /// Only used when a service pins it with `recipe:`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual_only: bool,
    /// Engine flags without leading dashes; `null`/`true` = bare flag, `false` = `--no-<flag>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Environment variables the engine reads (e.g. `VLLM_ROCM_USE_AITER: 1`), written to the
    /// server's env file; a service's own `env` overrides them. Checked against the engine's
    /// catalogue, and refused for what aimgen owns (the cache and Hub variables, `HF_TOKEN`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
}

/// The GPUs a recipe applies to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeGpu {
    /// The GPU vendor (`amd` or `nvidia`): the settings are for its software stack (ROCm or
    /// CUDA) only.
    pub vendor: Vendor,
    /// GPU models (e.g. `MI300X`); empty = any GPU of the vendor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// What a recipe's settings optimise; a service asks for one with `metric:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Time to first token and per-token latency.
    Latency,
    /// Tokens per second across many requests.
    Throughput,
}

/// How a recipe was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecipeKind {
    /// Tuned and measured for this model and GPU.
    Optimized,
    /// Settings known to start and serve correctly on the vendor's GPUs, not tuned for one
    /// model: used when no optimized recipe matches.
    General,
}

impl Recipe {
    /// A general recipe applies to any model.
    pub fn is_general(&self) -> bool {
        self.models.is_empty()
    }

    /// The fraction of GPU memory the engine may use, from the recipe's own flags.
    pub fn memory_fraction(&self) -> Option<f64> {
        memory_fraction(&self.args)
    }

    /// The releases of its engine the recipe is valid for; `None` when it states none (or
    /// states one that does not parse, which loading reports).
    pub fn versions(&self) -> Option<VersionReq> {
        self.engines.get(&self.engine).and_then(|r| VersionReq::parse(r).ok())
    }
}

/// The recipe file schema (`schemas/recipe.schema.json`).
pub fn schema_json() -> serde_json::Value {
    crate::schema::generate::<RecipeFile>("urn:aimgen:schema:recipe:1", "aimgen recipe file")
}

/// The fraction of GPU memory an engine may use, from its arguments
/// (`gpu-memory-utilization` for vLLM, `mem-fraction-static` for SGLang), when set to a number.
pub fn memory_fraction(args: &BTreeMap<String, serde_json::Value>) -> Option<f64> {
    ["gpu-memory-utilization", "mem-fraction-static"]
        .iter()
        .find_map(|k| args.get(*k).and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))))
}

impl Metric {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Latency => "latency",
            Metric::Throughput => "throughput",
        }
    }
}

impl RecipeKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipeKind::Optimized => "optimized",
            RecipeKind::General => "general",
        }
    }
}

/// Built-in memory per GPU, GB, from the vendors' data sheets. An unknown model needs `memory_gb`.
pub fn known_gpu_memory_gb(model: &str) -> Option<u32> {
    let m = model.to_ascii_uppercase();
    Some(match m.as_str() {
        "MI300X" => 192,
        "MI325X" => 256,
        "MI355X" | "MI350X" => 288,
        "MI300A" => 128,
        "MI250X" | "MI250" => 128,
        "MI210" => 64,
        "H100" => 80,
        "H200" => 141,
        "H20" => 96,
        "B200" => 180,
        "A100" => 80,
        "A10G" | "A10" => 24,
        "L40S" | "L40" => 48,
        "L4" => 24,
        _ => return None,
    })
}

/// Known GPU models, for suggestions.
pub const KNOWN_GPUS: &[(&str, Vendor)] = &[
    ("MI300X", Vendor::Amd),
    ("MI325X", Vendor::Amd),
    ("MI355X", Vendor::Amd),
    ("MI350X", Vendor::Amd),
    ("MI300A", Vendor::Amd),
    ("MI250X", Vendor::Amd),
    ("MI250", Vendor::Amd),
    ("MI210", Vendor::Amd),
    ("H100", Vendor::Nvidia),
    ("H200", Vendor::Nvidia),
    ("H20", Vendor::Nvidia),
    ("B200", Vendor::Nvidia),
    ("A100", Vendor::Nvidia),
    ("A10G", Vendor::Nvidia),
    ("A10", Vendor::Nvidia),
    ("L40S", Vendor::Nvidia),
    ("L40", Vendor::Nvidia),
    ("L4", Vendor::Nvidia),
];
