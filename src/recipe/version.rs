//! Engine versions: which release an image runs, and which releases a recipe is valid for.
//!
//! Versions are the engines' own release numbers as their Python packages and image tags write
//! them (`0.11.0`, `0.4.6.post1`, `0.5.0rc2`), ordered the way PEP 440 orders such releases:
//! release numbers (missing ones count as 0), then a pre-release before the release, then a
//! post-release after it.

use std::cmp::Ordering;
use std::fmt;

use crate::spec::Backend;

/// A release of an engine.
#[derive(Debug, Clone, Eq)]
pub struct EngineVersion {
    /// Release numbers (`0.4.6` → `[0, 4, 6]`), at least one.
    release: Vec<u64>,
    /// Pre-release (`rc2` → (Rc, 2)).
    pre: Option<(Pre, u64)>,
    /// Post-release number (`.post1` → 1).
    post: Option<u64>,
}

/// Pre-release kinds, in PEP 440 order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pre {
    Alpha,
    Beta,
    Rc,
}

impl EngineVersion {
    /// Parses `X[.Y[.Z…]][{a|b|rc}N][.postN]`, with an optional leading `v`.
    pub fn parse(text: &str) -> Option<EngineVersion> {
        let s = text.strip_prefix('v').unwrap_or(text);
        let (s, post) = match s.split_once(".post") {
            Some((head, n)) => (head, Some(number(n)?)),
            None => (s, None),
        };
        // The release ends where the first letter starts (a pre-release marker).
        let cut = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
        let (release_text, pre_text) = s.split_at(cut);
        let release = release_text.split('.').map(number).collect::<Option<Vec<u64>>>()?;
        if release.len() > 6 {
            return None;
        }
        let pre = if pre_text.is_empty() {
            None
        } else {
            let (kind, n) = [("rc", Pre::Rc), ("a", Pre::Alpha), ("b", Pre::Beta)]
                .iter()
                .find_map(|(p, k)| pre_text.strip_prefix(p).map(|n| (*k, n)))?;
            Some((kind, number(n)?))
        };
        Some(EngineVersion { release, pre, post })
    }

    /// Release numbers padded to `len` places, for comparing `0.11` with `0.11.0`.
    fn padded(&self, len: usize) -> impl Iterator<Item = u64> + '_ {
        self.release.iter().copied().chain(std::iter::repeat(0)).take(len)
    }
}

/// A decimal number of at most 9 digits (no sign, no empty text).
fn number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

impl Ord for EngineVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.release.len().max(other.release.len());
        self.padded(len)
            .cmp(other.padded(len))
            // No pre-release sorts after every pre-release of the same release.
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then_with(|| self.post.cmp(&other.post))
    }
}

impl PartialOrd for EngineVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for EngineVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        if let Some((kind, n)) = self.pre {
            let k = match kind {
                Pre::Alpha => "a",
                Pre::Beta => "b",
                Pre::Rc => "rc",
            };
            write!(f, "{k}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        Ok(())
    }
}

/// A comparison in a version requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
        }
    }
}

/// The versions a recipe is valid for: comparisons joined by commas, all of which must hold
/// (`">=0.4.7"`, `"<0.12"`, `">=0.5,<0.6"`); a bare version means exactly that release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReq {
    terms: Vec<(Op, EngineVersion)>,
}

impl VersionReq {
    /// Parses a requirement; the error says what is wrong.
    pub fn parse(text: &str) -> Result<VersionReq, String> {
        let mut terms = Vec::new();
        for part in text.split(',') {
            let p = part.trim();
            let (op, rest) =
                [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), (">", Op::Gt), ("<", Op::Lt), ("=", Op::Eq)]
                    .iter()
                    .find_map(|(s, op)| p.strip_prefix(s).map(|r| (*op, r.trim())))
                    .unwrap_or((Op::Eq, p));
            if rest.is_empty() {
                return Err(format!("`{text}` has an empty comparison; write e.g. `>=0.11.0` or `>=0.5,<0.6`"));
            }
            let v = EngineVersion::parse(rest)
                .ok_or_else(|| format!("`{rest}` is not a version (e.g. `0.11.0`, `0.4.6.post1`)"))?;
            terms.push((op, v));
        }
        Ok(VersionReq { terms })
    }

    /// Whether `v` satisfies every comparison.
    pub fn matches(&self, v: &EngineVersion) -> bool {
        self.terms.iter().all(|(op, want)| match op {
            Op::Ge => v >= want,
            Op::Gt => v > want,
            Op::Le => v <= want,
            Op::Lt => v < want,
            Op::Eq => v == want,
        })
    }
}

impl fmt::Display for VersionReq {
    /// `>= 0.4.7, < 0.6`: spaced, for messages ("needs sglang >= 0.4.7").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self.terms.iter().map(|(op, v)| format!("{} {v}", op.as_str())).collect();
        f.write_str(&terms.join(", "))
    }
}

/// The engine release an image runs, read from the tag conventions of the images that
/// publish one engine release per tag:
///
/// - `vllm/vllm-openai:vX.Y.Z[-suffix]` and `vllm/vllm-openai-rocm:vX.Y.Z` (vLLM's own images;
///   the suffix names a CUDA build, `v0.21.0-cu129`, or an architecture);
/// - `rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210` (AMD's; older tags write `…_vllm0.8.3_…`);
/// - `lmsysorg/sglang:vX.Y.Z[.postN][-suffix]` (`v0.4.6.post1-cu124`, `v0.5.23-rocm700-mi30x`).
///
/// `None` for any other image, for an image of the other engine, and for a reference without
/// a tag (a bare digest or a name alone says nothing about the release).
pub fn version_from_image(reference: &str, engine: Backend) -> Option<EngineVersion> {
    // A digest pins the content; the tag before it (if any) still names the release.
    let named = reference.split('@').next().unwrap_or(reference);
    let (name, tag) = match named.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => return None,
    };
    let repo = repository(name);
    match (engine, repo.as_str()) {
        (Backend::Vllm, "vllm/vllm-openai" | "vllm/vllm-openai-rocm") => {
            let v = tag.strip_prefix('v')?;
            EngineVersion::parse(v.split('-').next().unwrap_or(v))
        }
        (Backend::Vllm, "rocm/vllm") => {
            let parts: Vec<&str> = tag.split('_').collect();
            parts.iter().enumerate().find_map(|(i, p)| {
                if *p == "vllm" {
                    parts.get(i + 1).and_then(|v| EngineVersion::parse(v))
                } else {
                    p.strip_prefix("vllm")
                        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                        .and_then(EngineVersion::parse)
                }
            })
        }
        (Backend::Sglang, "lmsysorg/sglang") => {
            let v = tag.strip_prefix('v')?;
            EngineVersion::parse(v.split('-').next().unwrap_or(v))
        }
        _ => None,
    }
}

/// The repository path of an image name, without a registry host or Docker Hub's implicit
/// prefixes (`docker.io/library/x` → `x`, `registry.example:5000/a/b` → `a/b`).
fn repository(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost") {
        let host = parts.remove(0);
        if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
            if parts.first() == Some(&"library") && parts.len() > 1 {
                parts.remove(0);
            }
        } else {
            // Another registry: its mirror of a Docker Hub repository keeps the path.
        }
    }
    parts.join("/").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> EngineVersion {
        EngineVersion::parse(s).unwrap_or_else(|| panic!("`{s}` parses"))
    }

    fn req(s: &str) -> VersionReq {
        VersionReq::parse(s).unwrap_or_else(|e| panic!("`{s}`: {e}"))
    }

    #[test]
    fn versions_order_like_releases() {
        let sorted =
            ["0.4.6", "0.4.6.post1", "0.4.6.post2", "0.4.7", "0.5.0rc1", "0.5.0rc2", "0.5", "0.5.23", "0.11.0"];
        for w in sorted.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("0.11"), v("0.11.0"));
        assert_eq!(v("v0.11.0"), v("0.11.0"));
        assert_eq!(v("0.4.6.post1").to_string(), "0.4.6.post1");
        assert_eq!(v("0.5.0rc2").to_string(), "0.5.0rc2");
        assert!(v("0.10.0") > v("0.9.2"), "numeric, not text, order");
    }

    #[test]
    fn bad_versions_are_refused() {
        for bad in ["", "v", "0..1", "x.y", "0.1-dev", "0.1.post", "0.1rc", "1.2.3.4.5.6.7", "1234567890", "-1"] {
            assert!(EngineVersion::parse(bad).is_none(), "`{bad}` should not parse");
        }
    }

    #[test]
    fn requirements() {
        let r = req(">=0.4.7");
        assert!(r.matches(&v("0.4.7")) && r.matches(&v("0.5.23")));
        assert!(!r.matches(&v("0.4.6.post1")));
        assert_eq!(r.to_string(), ">= 0.4.7");
        let r = req("<0.12");
        assert!(r.matches(&v("0.11.2")) && !r.matches(&v("0.12.0")) && !r.matches(&v("0.33.0")));
        let r = req(">=0.5, <0.6");
        assert!(r.matches(&v("0.5.23")) && !r.matches(&v("0.4.9")) && !r.matches(&v("0.6.0")));
        assert_eq!(r.to_string(), ">= 0.5, < 0.6");
        let r = req("0.11.2");
        assert!(r.matches(&v("0.11.2")) && !r.matches(&v("0.11.0")));
        assert!(req(">0.11.0").matches(&v("0.11.0.post1")));
        assert!(req("<=0.4.6.post1").matches(&v("0.4.6")));
        for bad in ["", ">=", ">=x", "0.1,,0.2", "~=0.1"] {
            assert!(VersionReq::parse(bad).is_err(), "`{bad}` should not parse");
        }
    }

    #[test]
    fn versions_from_each_tag_convention() {
        let cases: &[(&str, Backend, Option<&str>)] = &[
            ("vllm/vllm-openai:v0.11.0", Backend::Vllm, Some("0.11.0")),
            ("docker.io/vllm/vllm-openai:v0.33.0", Backend::Vllm, Some("0.33.0")),
            ("vllm/vllm-openai-rocm:v0.33.0", Backend::Vllm, Some("0.33.0")),
            ("rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210", Backend::Vllm, Some("0.11.2")),
            ("rocm/vllm:rocm6.3.1_instinct_vllm0.8.3_20250410", Backend::Vllm, Some("0.8.3")),
            ("lmsysorg/sglang:v0.4.6.post1-cu124", Backend::Sglang, Some("0.4.6.post1")),
            ("lmsysorg/sglang:v0.5.23-rocm700-mi30x", Backend::Sglang, Some("0.5.23")),
            ("lmsysorg/sglang:v0.5.23", Backend::Sglang, Some("0.5.23")),
            ("lmsysorg/sglang:v0.4.6.post1-cu124@sha256:0123abcd", Backend::Sglang, Some("0.4.6.post1")),
            // No version in the reference, or another engine's image.
            ("vllm/vllm-openai:v0.21.0-cu129", Backend::Vllm, Some("0.21.0")),
            ("vllm/vllm-openai:v0.12.0-cu130@sha256:0123abcd", Backend::Vllm, Some("0.12.0")),
            ("vllm/vllm-openai:latest-cu130", Backend::Vllm, None),
            ("vllm/vllm-openai:cu130-nightly", Backend::Vllm, None),
            ("vllm/vllm-openai:latest", Backend::Vllm, None),
            ("vllm/vllm-openai", Backend::Vllm, None),
            ("vllm/vllm-openai@sha256:0123abcd", Backend::Vllm, None),
            ("rocm/vllm:latest", Backend::Vllm, None),
            ("lmsysorg/sglang:latest", Backend::Sglang, None),
            ("lmsysorg/sglang:v0.5.23", Backend::Vllm, None),
            ("vllm/vllm-openai:v0.11.0", Backend::Sglang, None),
            ("registry.internal:5000/team/vllm:v0.11.0", Backend::Vllm, None),
            ("localhost:5000/vllm/vllm-openai", Backend::Vllm, None),
        ];
        for (image, engine, want) in cases {
            let got = version_from_image(image, *engine).map(|v| v.to_string());
            assert_eq!(got.as_deref(), *want, "{image} ({engine:?})");
        }
    }
}
