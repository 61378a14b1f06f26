//! Recipe selection, deterministic and explainable: every recipe gets a verdict for a query
//! (compatible, or the first reason it is not), compatible ones are ranked, the first wins.
//!
//! Ranking, in order: model-specific before general; `optimized` before `general` type;
//! with precision `auto`, lower precision first (fp8, bf16, fp16); with no `gpus` given,
//! fewest GPUs first; latency before throughput; then id. A `manual_only` recipe is a
//! candidate only when pinned or when the service asks for its precision explicitly.

use serde::Serialize;

use crate::spec::{Backend, Precision, Vendor};

use super::version::EngineVersion;
use super::{Library, LoadedRecipe, ModelFacts, RecipeKind};

/// Share of the engine's memory budget the weights may take; the rest is for the KV cache
/// and activations.
pub const WEIGHTS_SHARE: f64 = 0.8;
/// Memory fraction assumed when a recipe does not set one (vLLM's default).
pub const DEFAULT_MEMORY_FRACTION: f64 = 0.9;

/// What a service asks of a recipe.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// Hugging Face repo id.
    pub model: &'a str,
    /// The engine the service runs.
    pub backend: Backend,
    /// Host GPU vendor.
    pub vendor: Vendor,
    /// Host GPU model.
    pub gpu_model: &'a str,
    /// GPU memory, GB.
    pub memory_gb: f64,
    /// GPUs the service asked for, if it did.
    pub gpus: Option<u32>,
    /// GPUs still free on the host.
    pub available: u32,
    /// Requested precision.
    pub precision: Precision,
    /// The engine release the service's image runs (or the catalogue checked instead);
    /// `None` judges no recipe by its `engines:`.
    pub engine_version: Option<&'a EngineVersion>,
    /// The fraction of GPU memory the service itself gives the engine
    /// (`gpu-memory-utilization` / `mem-fraction-static` in its `args`), over any recipe's.
    pub memory_fraction: Option<f64>,
    /// Weights, GB, from the lock file's safetensors sizes: the size of a model without
    /// model facts.
    pub locked_gb: Option<f64>,
}

/// Why a recipe can or cannot serve a query (the names `recipes list` prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Verdict {
    /// Usable, with this many GPUs.
    Compatible {
        /// GPUs the service would get.
        gpus: u32,
    },
    /// Tuned for other models.
    ModelMismatch,
    /// For the other engine.
    BackendMismatch,
    /// For another GPU vendor or model.
    GpuMismatch,
    /// Not valid for the engine release the image runs.
    EngineVersionMismatch {
        /// The releases the recipe is valid for (`>= 0.4.7`).
        need: String,
        /// The release the image runs.
        have: String,
    },
    /// Needs a different number of GPUs.
    CountMismatch {
        /// GPUs the recipe needs.
        need: u32,
        /// GPUs asked for or free.
        have: u32,
        /// Whether `have` is what the service asked for (else what is free).
        asked: bool,
    },
    /// Another precision.
    PrecisionMismatch,
    /// Weights too large for the GPUs.
    DoesNotFit {
        /// Estimated weights, GB.
        weights_gb: f64,
        /// GPUs counted.
        gpus: u32,
        /// Memory per GPU, GB.
        memory_gb: f64,
    },
    /// Only used when pinned.
    ManualOnly,
}

impl Verdict {
    /// The state's short name.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Compatible { .. } => "compatible",
            Verdict::ModelMismatch => "model_mismatch",
            Verdict::BackendMismatch => "backend_mismatch",
            Verdict::GpuMismatch => "gpu_mismatch",
            Verdict::EngineVersionMismatch { .. } => "engine_version_mismatch",
            Verdict::CountMismatch { .. } => "count_mismatch",
            Verdict::PrecisionMismatch => "precision_mismatch",
            Verdict::DoesNotFit { .. } => "does_not_fit",
            Verdict::ManualOnly => "manual_only",
        }
    }

    /// A reason a person reads ("needs 2 GPUs, 1 left").
    pub fn reason(&self, recipe: &LoadedRecipe, query: &Query) -> String {
        let r = &recipe.recipe;
        match self {
            Verdict::Compatible { gpus } => format!("compatible on {gpus} GPU{}", plural(*gpus)),
            Verdict::ModelMismatch => format!("tuned for {}", r.models.join(", ")),
            Verdict::BackendMismatch => format!("for {}, not {}", r.engine.as_str(), query.backend.as_str()),
            Verdict::GpuMismatch => {
                if r.gpu.vendor != query.vendor {
                    format!("for {} GPUs, not {}", r.gpu.vendor.as_str(), query.vendor.as_str())
                } else {
                    format!("for {}, not {}", r.gpu.models.join("/"), query.gpu_model)
                }
            }
            Verdict::EngineVersionMismatch { need, have } => {
                format!("needs {} {need}, image runs {have}", r.engine.as_str())
            }
            Verdict::CountMismatch { need, have, asked: true } => {
                format!("needs {need} GPU{}, the service asks for {have}", plural(*need))
            }
            Verdict::CountMismatch { need, have, .. } => format!("needs {need} GPU{}, {have} left", plural(*need)),
            Verdict::PrecisionMismatch => format!("{}, not {}", r.precision.as_str(), query.precision.as_str()),
            Verdict::DoesNotFit { weights_gb, gpus, memory_gb } => {
                format!("{weights_gb:.0} GB of weights do not fit in {gpus} × {memory_gb:.0} GB")
            }
            Verdict::ManualOnly => {
                format!("manual only: pin it with `recipe:` or ask for `precision: {}`", r.precision.as_str())
            }
        }
    }

    /// How far from usable, for listing the closest candidates first.
    fn distance(&self) -> u8 {
        match self {
            Verdict::Compatible { .. } => 0,
            Verdict::DoesNotFit { .. } | Verdict::CountMismatch { .. } => 1,
            Verdict::PrecisionMismatch | Verdict::ManualOnly | Verdict::EngineVersionMismatch { .. } => 2,
            Verdict::GpuMismatch => 3,
            Verdict::BackendMismatch => 4,
            Verdict::ModelMismatch => 5,
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Estimated weights in GB.
pub fn weights_gb(facts: &ModelFacts, precision: Precision) -> f64 {
    facts.params_b * precision.bytes_per_param()
}

/// Whether weights fit on `gpus` GPUs with the recipe's memory fraction.
pub fn fits(weights: f64, gpus: u32, memory_gb: f64, fraction: f64) -> bool {
    weights <= WEIGHTS_SHARE * f64::from(gpus) * memory_gb * fraction
}

/// Judges one recipe. `pinned` skips the manual-only rule.
pub fn evaluate(recipe: &LoadedRecipe, q: &Query, facts: Option<&ModelFacts>, pinned: bool) -> Verdict {
    let r = &recipe.recipe;
    if !r.is_general() && !r.models.iter().any(|m| m == q.model) {
        return Verdict::ModelMismatch;
    }
    if r.engine != q.backend {
        return Verdict::BackendMismatch;
    }
    if r.gpu.vendor != q.vendor
        || (!r.gpu.models.is_empty() && !r.gpu.models.iter().any(|m| m.eq_ignore_ascii_case(q.gpu_model)))
    {
        return Verdict::GpuMismatch;
    }
    if let (Some(have), Some(need)) = (q.engine_version, &recipe.versions) {
        if !need.matches(have) {
            return Verdict::EngineVersionMismatch { need: need.to_string(), have: have.to_string() };
        }
    }
    if q.precision != Precision::Auto && r.precision != q.precision {
        return Verdict::PrecisionMismatch;
    }
    // Manual-only recipes (e.g. FP8 quantization) need an explicit opt-in: a pin, or the
    // service asking for exactly that precision.
    if r.manual_only && !pinned && q.precision != r.precision {
        return Verdict::ManualOnly;
    }
    let fraction = q.memory_fraction.or(r.memory_fraction()).unwrap_or(DEFAULT_MEMORY_FRACTION);
    let weights = facts.map(|f| weights_gb(f, r.precision)).or(q.locked_gb);
    let gpus = match (r.gpu_count, q.gpus) {
        (Some(need), Some(asked)) if need != asked => {
            return Verdict::CountMismatch { need, have: asked, asked: true };
        }
        (Some(need), _) => need,
        (None, Some(asked)) => asked,
        // A general recipe without a count: the fewest GPUs (a power of two, which every
        // attention head count divides) that hold the weights.
        (None, None) => {
            let mut n = 1;
            if let Some(w) = weights {
                while n < q.available && !fits(w, n, q.memory_gb, fraction) {
                    n *= 2;
                }
            }
            n.min(q.available.max(1))
        }
    };
    if q.gpus.is_none() && gpus > q.available {
        return Verdict::CountMismatch { need: gpus, have: q.available, asked: false };
    }
    if let Some(w) = weights {
        if !fits(w, gpus, q.memory_gb, fraction) {
            return Verdict::DoesNotFit { weights_gb: w, gpus, memory_gb: q.memory_gb };
        }
    }
    Verdict::Compatible { gpus }
}

/// One recipe's verdict in a selection.
#[derive(Debug, Clone)]
pub struct Candidate<'l> {
    /// The recipe.
    pub recipe: &'l LoadedRecipe,
    /// Its verdict.
    pub verdict: Verdict,
}

/// Every recipe judged for `q`: compatible ones first in rank order (the first is the
/// choice), then the others, closest first.
pub fn rank<'l>(lib: &'l Library, q: &Query) -> Vec<Candidate<'l>> {
    rank_where(lib, q, |_| true)
}

/// `rank`, keeping only the verdicts `keep` accepts (sorting only those).
pub fn rank_where<'l>(lib: &'l Library, q: &Query, keep: impl Fn(&Verdict) -> bool) -> Vec<Candidate<'l>> {
    let facts = lib.models.get(q.model);
    let mut all: Vec<(usize, Candidate)> = lib
        .recipes
        .iter()
        .enumerate()
        .map(|(i, r)| (i, Candidate { recipe: r, verdict: evaluate(r, q, facts, false) }))
        .filter(|(_, c)| keep(&c.verdict))
        .collect();
    all.sort_by(|(ia, a), (ib, b)| rank_key(a, *ia, q).cmp(&rank_key(b, *ib, q)));
    all.into_iter().map(|(_, c)| c).collect()
}

/// The first of `rank`, without sorting the rest: a linear scan (resolving a fleet asks this
/// once per service). `None` when no recipe is compatible.
pub fn best<'l>(lib: &'l Library, q: &Query) -> Option<Candidate<'l>> {
    let facts = lib.models.get(q.model);
    lib.recipes
        .iter()
        .enumerate()
        .map(|(i, r)| (i, Candidate { recipe: r, verdict: evaluate(r, q, facts, false) }))
        // Compatible ones rank before all others, so the first overall is among them.
        .filter(|(_, c)| matches!(c.verdict, Verdict::Compatible { .. }))
        .min_by(|(ia, a), (ib, b)| rank_key(a, *ia, q).cmp(&rank_key(b, *ib, q)))
        .map(|(_, c)| c)
}

/// Sort key of a candidate; `i` is its place in the search order, so no two keys tie.
/// Borrows the id: this runs for every comparison.
#[allow(clippy::type_complexity)]
fn rank_key<'c>(
    c: &'c Candidate,
    i: usize,
    q: &Query,
) -> (u8, bool, bool, bool, u8, u32, super::Metric, &'c str, usize) {
    let r = &c.recipe.recipe;
    let gpus = match c.verdict {
        Verdict::Compatible { gpus } => gpus,
        _ => u32::MAX,
    };
    (
        c.verdict.distance(),
        // User recipes first (search order), then model-specific before general.
        !matches!(c.recipe.origin, super::Origin::User(_)),
        r.is_general(),
        r.kind != RecipeKind::Optimized,
        if q.precision == Precision::Auto { precision_rank(r.precision) } else { 0 },
        if q.gpus.is_none() { gpus } else { 0 },
        r.metric,
        r.id.as_str(),
        i,
    )
}

/// Why a compatible recipe ranked below the chosen one: the first ranking rule that differs.
pub fn why_lower(chosen: &LoadedRecipe, other: &LoadedRecipe, q: &Query, gpus: (u32, u32)) -> String {
    let (c, o) = (&chosen.recipe, &other.recipe);
    let user = |r: &LoadedRecipe| matches!(r.origin, super::Origin::User(_));
    if user(chosen) != user(other) {
        "user recipes come first".into()
    } else if c.is_general() != o.is_general() {
        "general recipe; a model-specific one exists".into()
    } else if c.kind != o.kind {
        format!("{} recipe; an optimized one exists", o.kind.as_str())
    } else if q.precision == Precision::Auto && precision_rank(c.precision) != precision_rank(o.precision) {
        format!("{} ranks after {}", o.precision.as_str(), c.precision.as_str())
    } else if q.gpus.is_none() && gpus.0 != gpus.1 {
        format!("needs {} GPUs, {} suffice", gpus.1, gpus.0)
    } else if c.metric != o.metric {
        format!("{} goal ranks after {}", o.metric.as_str(), c.metric.as_str())
    } else {
        "same rank; ids break the tie".into()
    }
}

fn precision_rank(p: Precision) -> u8 {
    match p {
        Precision::Fp8 => 0,
        Precision::Bf16 => 1,
        Precision::Fp16 => 2,
        Precision::Auto => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::library::builtin;

    fn query(model: &str, backend: Backend, gpus: Option<u32>) -> Query<'_> {
        Query {
            model,
            backend,
            vendor: Vendor::Amd,
            gpu_model: "MI300X",
            memory_gb: 192.0,
            gpus,
            available: 8,
            precision: Precision::Auto,
            engine_version: None,
            memory_fraction: None,
            locked_gb: None,
        }
    }

    #[test]
    fn best_is_the_first_compatible_of_the_ranking() {
        let lib = builtin().expect("built-in library");
        for model in ["Qwen/Qwen3-32B", "some-org/unknown-7b", "meta-llama/Llama-3.1-405B-Instruct"] {
            for backend in [Backend::Vllm, Backend::Sglang] {
                for gpus in [None, Some(1), Some(8)] {
                    let q = query(model, backend, gpus);
                    let first = rank(lib, &q).into_iter().find(|c| matches!(c.verdict, Verdict::Compatible { .. }));
                    let best = best(lib, &q);
                    assert_eq!(
                        best.map(|c| c.recipe.recipe.id.clone()),
                        first.map(|c| c.recipe.recipe.id.clone()),
                        "{model} {backend:?} {gpus:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_recipe_for_the_other_engine_or_model_is_not_compatible() {
        let lib = builtin().expect("built-in library");
        let q = query("Qwen/Qwen3-32B", Backend::Vllm, None);
        let facts = lib.models.get(q.model);
        for r in &lib.recipes {
            let v = evaluate(r, &q, facts, false);
            if r.recipe.engine != Backend::Vllm {
                assert!(!matches!(v, Verdict::Compatible { .. }), "{} is compatible with vLLM", r.recipe.id);
            }
            if !r.recipe.is_general() && !r.recipe.models.iter().any(|m| m == q.model) {
                assert_eq!(v, Verdict::ModelMismatch, "{}", r.recipe.id);
            }
        }
    }

    #[test]
    fn more_gpus_never_stop_weights_fitting() {
        for weights in [10.0, 70.0, 400.0, 800.0] {
            for gpus in 1..8 {
                if fits(weights, gpus, 192.0, 0.9) {
                    assert!(fits(weights, gpus + 1, 192.0, 0.9), "{weights} GB on {gpus}");
                }
            }
        }
        assert!(!fits(800.0, 1, 192.0, 0.9));
        assert!(fits(10.0, 1, 192.0, 0.9));
    }
}
