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

/// A network rate, in bits per second, as `explain --bandwidth` reads it: a number and a unit,
/// decimal prefixes (k, M, G, T), bits written `bit`, `b` or `bps` and bytes `B` or `byte`,
/// with or without `/s`: `1Gbit`, `10 Gbit/s`, `500Mbps`, `125MB/s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bandwidth {
    /// Bits per second.
    pub bits_per_sec: f64,
}

impl std::str::FromStr for Bandwidth {
    type Err = String;

    fn from_str(text: &str) -> Result<Bandwidth, String> {
        let bad = || format!("`{text}` is not a rate: write e.g. `1Gbit`, `10Gbit/s`, `500Mbps` or `125MB/s`");
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let number: f64 = t[..split].parse().map_err(|_| bad())?;
        let unit = t[split..].trim();
        let unit = unit.strip_suffix("/s").unwrap_or(unit);
        let (scale, rest) = match unit.chars().next() {
            Some('k' | 'K') => (1e3, &unit[1..]),
            Some('M') => (1e6, &unit[1..]),
            Some('G') => (1e9, &unit[1..]),
            Some('T') => (1e12, &unit[1..]),
            _ => (1.0, unit),
        };
        let per_unit = match rest {
            "bit" | "bits" | "b" | "bps" => 1.0,
            "B" | "byte" | "bytes" | "Bps" => 8.0,
            _ => return Err(bad()),
        };
        let bits_per_sec = number * scale * per_unit;
        if !(bits_per_sec.is_finite() && bits_per_sec > 0.0) {
            return Err(bad());
        }
        Ok(Bandwidth { bits_per_sec })
    }
}

impl std::fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.bits_per_sec;
        let (v, unit) = if b >= 1e12 {
            (b / 1e12, "Tbit/s")
        } else if b >= 1e9 {
            (b / 1e9, "Gbit/s")
        } else if b >= 1e6 {
            (b / 1e6, "Mbit/s")
        } else if b >= 1e3 {
            (b / 1e3, "kbit/s")
        } else {
            (b, "bit/s")
        };
        let v = format!("{v:.2}");
        write!(f, "{} {unit}", v.trim_end_matches('0').trim_end_matches('.'))
    }
}

impl Bandwidth {
    /// How long `bytes` take at this rate, for people: `0 s`, `42 s`, `12 min 49 s`, `2 h 05 min`.
    pub fn time(&self, bytes: u64) -> String {
        let secs = (bytes as f64 * 8.0 / self.bits_per_sec).ceil() as u64;
        match secs {
            0 => "0 s".into(),
            s if s < 60 => format!("{s} s"),
            s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
            s => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        }
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
    fn rates_parse_in_bits_or_bytes_and_times_read_well() {
        let r = |t: &str| t.parse::<Bandwidth>().map(|b| b.bits_per_sec);
        assert_eq!(r("1Gbit"), Ok(1e9));
        assert_eq!(r("10 Gbit/s"), Ok(1e10));
        assert_eq!(r("500Mbps"), Ok(5e8));
        assert_eq!(r("125MB/s"), Ok(1e9));
        assert_eq!(r("2.5Gb"), Ok(2.5e9));
        assert!(r("fast").is_err());
        assert!(r("1 Gallon").is_err());
        assert!(r("0Gbit").is_err());
        let gbit: Bandwidth = "1Gbit".parse().expect("rate");
        assert_eq!(gbit.to_string(), "1 Gbit/s");
        assert_eq!("125MB/s".parse::<Bandwidth>().expect("rate").to_string(), "1 Gbit/s");
        assert_eq!("2.5Gbit".parse::<Bandwidth>().expect("rate").to_string(), "2.5 Gbit/s");
        assert_eq!(gbit.time(0), "0 s");
        assert_eq!(gbit.time(1_000_000_000), "8 s");
        assert_eq!(gbit.time(96_100_000_000), "12 min 49 s");
        assert_eq!(gbit.time(1_000_000_000_000), "2 h 13 min");
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
