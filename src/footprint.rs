//! What the fleet's models take on disk and on the wire: per distinct Hub (model, revision),
//! exact bytes from the lock file, else an estimate from the model's parameter count, else
//! unknown. `check` compares it with `cache.budget_gb`, `cache status` reports against the
//! budget, and `explain --bandwidth` turns it into download volumes and times.

use std::collections::BTreeMap;

use crate::hub::human_bytes;
use crate::lockfile::{services_by_model, LockFile};
use crate::recipe::ModelFacts;
use crate::spec::FleetSpec;

/// How well a size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The sum of the locked files' sizes.
    Exact(u64),
    /// From the parameter count (see `estimate_bytes`).
    Estimate(u64),
    /// Neither locked nor a model aimgen has facts for.
    Unknown,
}

impl Size {
    /// The bytes, exact or estimated.
    pub fn bytes(self) -> Option<u64> {
        match self {
            Size::Exact(n) | Size::Estimate(n) => Some(n),
            Size::Unknown => None,
        }
    }

    /// For people: `16.1 GB`, `~16 GB (estimate)`, `unknown`.
    pub fn human(self) -> String {
        match self {
            Size::Exact(n) => human_bytes(n),
            Size::Estimate(n) => format!("~{} (estimate)", human_bytes(n)),
            Size::Unknown => "unknown".into(),
        }
    }
}

/// One distinct Hub model revision of the fleet.
#[derive(Debug, Clone)]
pub struct ModelSize {
    /// Repo id.
    pub repo: String,
    /// Revision as the spec asks for it.
    pub revision: String,
    /// Services that serve it, in spec order.
    pub services: Vec<String>,
    /// Its download.
    pub size: Size,
}

/// Every distinct Hub model revision of a fleet (local `model_path` copies excluded: they are
/// neither downloaded nor in the cache).
#[derive(Debug, Clone)]
pub struct Footprint {
    /// Sorted by repo and revision.
    pub models: Vec<ModelSize>,
}

/// A checkpoint's size from its parameter count. Repos publish weights at the precision their
/// name says: FP8 at one byte per parameter, 4-bit (AWQ, GPTQ, INT4) at half a byte, anything
/// else at two (BF16/FP16) — the precision a service *serves* at does not change what it
/// downloads.
pub fn estimate_bytes(repo: &str, facts: &ModelFacts) -> u64 {
    let id = repo.to_ascii_lowercase();
    let per_param = if id.contains("fp8") {
        1.0
    } else if ["awq", "gptq", "int4", "4bit"].iter().any(|q| id.contains(q)) {
        0.5
    } else {
        2.0
    };
    (facts.params_b * 1e9 * per_param).round() as u64
}

impl Footprint {
    /// The fleet's models, sized from `lock` where it has an entry, else from `facts`.
    pub fn of(spec: &FleetSpec, facts: &BTreeMap<String, ModelFacts>, lock: Option<&LockFile>) -> Footprint {
        let models = services_by_model(spec)
            .into_iter()
            .map(|((repo, revision), services)| {
                let size = match lock.and_then(|l| l.get(&repo, &revision)) {
                    Some(entry) => Size::Exact(entry.bytes()),
                    None => facts.get(&repo).map_or(Size::Unknown, |f| Size::Estimate(estimate_bytes(&repo, f))),
                };
                ModelSize { repo, revision, services, size }
            })
            .collect();
        Footprint { models }
    }

    /// Bytes of every model whose size is known (exact or estimated).
    pub fn known_bytes(&self) -> u64 {
        self.models.iter().filter_map(|m| m.size.bytes()).sum()
    }

    /// Bytes if every server downloaded its own copy (no shared cache).
    pub fn per_server_bytes(&self) -> u64 {
        self.models.iter().filter_map(|m| m.size.bytes().map(|b| b * m.services.len() as u64)).sum()
    }

    /// How the total was obtained: "exact, from the lock file", or the mix.
    pub fn provenance(&self) -> String {
        let count = |f: fn(&Size) -> bool| self.models.iter().filter(|m| f(&m.size)).count();
        let exact = count(|s| matches!(s, Size::Exact(_)));
        let estimated = count(|s| matches!(s, Size::Estimate(_)));
        let unknown = count(|s| matches!(s, Size::Unknown));
        let models = |n: usize| format!("{n} model{}", if n == 1 { "" } else { "s" });
        let mut parts = Vec::new();
        if exact > 0 {
            parts.push(if estimated + unknown == 0 {
                "exact, from the lock file".to_string()
            } else {
                format!("{} exact from the lock file", models(exact))
            });
        }
        if estimated > 0 {
            parts.push(format!("{} estimated from parameter counts", models(estimated)));
        }
        if unknown > 0 {
            parts.push(format!("{} of unknown size, not counted", models(unknown)));
        }
        parts.join(", ")
    }

    /// Whether any size is not exact.
    pub fn is_exact(&self) -> bool {
        self.models.iter().all(|m| matches!(m.size, Size::Exact(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(params_b: f64) -> ModelFacts {
        ModelFacts { id: String::new(), params_b, context_length: None, description: None }
    }

    #[test]
    fn estimates_follow_the_checkpoint_precision_in_the_name() {
        assert_eq!(estimate_bytes("Qwen/Qwen3-32B", &facts(32.8)), 65_600_000_000);
        assert_eq!(estimate_bytes("Qwen/Qwen3-32B-FP8", &facts(32.8)), 32_800_000_000);
        assert_eq!(estimate_bytes("org/Model-7B-AWQ", &facts(7.0)), 3_500_000_000);
    }

    #[test]
    fn provenance_says_which_sizes_are_exact() {
        let mk = |size| ModelSize { repo: "a/b".into(), revision: "main".into(), services: vec!["s".into()], size };
        let f = Footprint { models: vec![mk(Size::Exact(10)), mk(Size::Exact(5))] };
        assert_eq!(f.provenance(), "exact, from the lock file");
        let f = Footprint { models: vec![mk(Size::Exact(10)), mk(Size::Estimate(5)), mk(Size::Unknown)] };
        assert_eq!(
            f.provenance(),
            "1 model exact from the lock file, 1 model estimated from parameter counts, 1 model of unknown size, not counted"
        );
        assert_eq!(f.known_bytes(), 15);
    }
}
