//! Engine images: the defaults aimgen picks per vendor and engine, what each default's own
//! Dockerfile sets as ENTRYPOINT, what a reference says about its vendor and engine, and how
//! its tag behaves.
//!
//! Generated services set `entrypoint:` themselves (see `entrypoint`), so a base image's
//! ENTRYPOINT never changes what runs; the records below say what each default image would
//! otherwise have run, and where that was read.

use crate::spec::{Backend, Vendor};

/// One default base image, with where its tag and its ENTRYPOINT come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultImage {
    /// GPU vendor it is built for.
    pub vendor: Vendor,
    /// Engine it runs.
    pub backend: Backend,
    /// GPU models it is built for (empty: every model of the vendor).
    pub gpus: &'static [&'static str],
    /// The full reference, pinned to a release tag.
    pub reference: &'static str,
    /// The engine release the tag names.
    pub version: &'static str,
    /// Where the tag convention is stated by the engine's own release tooling.
    pub tag_source: &'static str,
    /// The image's ENTRYPOINT as the engine's own Dockerfile for that release sets it
    /// (empty: none of its own; the base image's, if any, applies).
    pub entrypoint: &'static [&'static str],
    /// Where the ENTRYPOINT was read.
    pub entrypoint_source: &'static str,
}

/// The default images, newest engine release whose image tag the engine's own release tooling
/// states. A spec without `image.base` gets these (with a warning: they change with aimgen).
pub const DEFAULT_IMAGES: &[DefaultImage] = &[
    DefaultImage {
        vendor: Vendor::Nvidia,
        backend: Backend::Vllm,
        gpus: &[],
        reference: "vllm/vllm-openai:v0.33.0",
        version: "0.33.0",
        // `publish_image_family ""` tags the default CUDA (13.0) build
        // `vllm/vllm-openai:v${RELEASE_VERSION}` (a multi-arch manifest).
        tag_source: "vLLM 0.33.0 .buildkite/scripts/publish-release-images.sh, publish_image_family",
        entrypoint: &["vllm", "serve"],
        entrypoint_source: "vLLM 0.33.0 docker/Dockerfile, target vllm-openai (sdist on the Python registry)",
    },
    DefaultImage {
        vendor: Vendor::Amd,
        backend: Backend::Vllm,
        gpus: &[],
        reference: "vllm/vllm-openai-rocm:v0.33.0",
        version: "0.33.0",
        // `publish_rocm_stack docker/Dockerfile.rocm_base 1`: the default ROCm stack (10.0)
        // owns the plain `v${RELEASE_VERSION}` tag; the ROCm 7.2 stack gets `-rocm72`.
        tag_source: "vLLM 0.33.0 .buildkite/scripts/publish-release-images.sh, publish_rocm_stack",
        entrypoint: &["vllm", "serve"],
        entrypoint_source: "vLLM 0.33.0 docker/Dockerfile.rocm, target vllm-openai (sdist on the Python registry)",
    },
    DefaultImage {
        vendor: Vendor::Nvidia,
        backend: Backend::Sglang,
        gpus: &[],
        reference: "lmsysorg/sglang:v0.5.23",
        version: "0.5.23",
        // release-docker.yml hands `v{version}` to _docker-build-and-publish.yml for the
        // default CUDA lane (`-cu130` names the CUDA 13.0 build beside it).
        tag_source: "SGLang .github/workflows/release-docker.yml + _docker-build-and-publish.yml tag_config",
        entrypoint: &[],
        entrypoint_source: "SGLang docker/Dockerfile sets no ENTRYPOINT or CMD (read at the 0.5.5 release, \
                            commit 004740a9); whatever its nvidia/cuda base sets applies",
    },
    DefaultImage {
        vendor: Vendor::Amd,
        backend: Backend::Sglang,
        gpus: &["MI300X", "MI325X", "MI300A"],
        reference: "lmsysorg/sglang:v0.5.23-rocm720-mi30x",
        version: "0.5.23",
        // release-docker-amd.yml: `tag=v${version}-${rocm_tag}`, rocm_tag `rocm720-mi30x` for
        // gfx942 (MI300 series) and `rocm720-mi35x` for gfx950 (MI350 series).
        tag_source: "SGLang .github/workflows/release-docker-amd.yml (rocm720 × gfx942)",
        entrypoint: &[],
        entrypoint_source: "SGLang docker/rocm.Dockerfile ends in CMD [\"/bin/bash\"], no ENTRYPOINT",
    },
    DefaultImage {
        vendor: Vendor::Amd,
        backend: Backend::Sglang,
        gpus: &["MI350X", "MI355X"],
        reference: "lmsysorg/sglang:v0.5.23-rocm720-mi35x",
        version: "0.5.23",
        tag_source: "SGLang .github/workflows/release-docker-amd.yml (rocm720 × gfx950)",
        entrypoint: &[],
        entrypoint_source: "SGLang docker/rocm.Dockerfile ends in CMD [\"/bin/bash\"], no ENTRYPOINT",
    },
];

/// The default image for an engine on a host, or why there is none.
pub fn default_image(vendor: Vendor, backend: Backend, gpu_model: &str) -> Result<&'static DefaultImage, String> {
    let mut of_engine = DEFAULT_IMAGES.iter().filter(|d| d.vendor == vendor && d.backend == backend).peekable();
    if of_engine.peek().is_none() {
        return Err(format!("there is no default {} image for {}", backend.as_str(), vendor.as_str()));
    }
    let candidates: Vec<&DefaultImage> = of_engine.collect();
    candidates
        .iter()
        .find(|d| d.gpus.is_empty() || d.gpus.iter().any(|g| g.eq_ignore_ascii_case(gpu_model)))
        .copied()
        .ok_or_else(|| {
            let built_for: Vec<&str> = candidates.iter().flat_map(|d| d.gpus.iter().copied()).collect();
            format!(
                "the {} images for {} are built per GPU series ({}), none for {gpu_model}",
                backend.as_str(),
                vendor.as_str(),
                built_for.join(", ")
            )
        })
}

/// The argv prefix every generated service sets as `entrypoint:`; the service's `command:`
/// is the rest. With both set, no image's ENTRYPOINT or CMD takes part.
pub fn entrypoint(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Vllm => &["vllm", "serve"],
        Backend::Sglang => &["python3", "-m", "sglang.launch_server"],
    }
}

/// The prefetch job's entrypoint: the Python of whichever engine image it runs in (both have
/// `huggingface_hub`); its `command:` is `-c <program> <jobs>`.
pub const PREFETCH_ENTRYPOINT: &[&str] = &["python3"];

/// What an image reference says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Repository path without a registry host or Docker Hub's `library/` (`vllm/vllm-openai`).
    pub repository: String,
    /// The tag, when there is one.
    pub tag: Option<&'a str>,
    /// The `sha256:…` digest, when pinned by one.
    pub digest: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// Splits `[host[:port]/]path[:tag][@digest]`.
    pub fn parse(reference: &'a str) -> Reference<'a> {
        let (named, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (reference, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let (name, tag) = match named.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (named, None),
        };
        Reference { repository: repository(name), tag, digest }
    }

    /// The tag moves when its publisher pushes again: none (Docker reads `latest`) or a
    /// `latest`/`nightly`-style tag, and no digest to hold it still.
    pub fn floating_tag(&self) -> Option<&'a str> {
        if self.digest.is_some() {
            return None;
        }
        match self.tag {
            None => Some("latest"),
            Some(t) if FLOATING.iter().any(|f| t == *f || t.starts_with(&format!("{f}-"))) => Some(t),
            Some(_) => None,
        }
    }
}

/// Tags their publishers move on every release or build.
const FLOATING: &[&str] = &["latest", "nightly", "main", "dev"];

/// The repository path of an image name, without a registry host or Docker Hub's implicit
/// prefixes (`docker.io/library/x` → `x`); a mirror keeps the path it mirrors.
fn repository(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost") {
        parts.remove(0);
        if parts.len() > 1 && parts[0] == "library" {
            parts.remove(0);
        }
    }
    parts.join("/").to_ascii_lowercase()
}

/// The vendor and engine a well-known image repository is built for. `vendor` is `None`
/// for builds that run on either (or on CPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// GPU vendor the image is built for.
    pub vendor: Option<Vendor>,
    /// Engine the image runs.
    pub backend: Backend,
}

/// The family of a known repository; `None` for any other image (a custom build may hold
/// anything).
pub fn family(reference: &Reference) -> Option<Family> {
    let tag = reference.tag.unwrap_or("").to_ascii_lowercase();
    let (vendor, backend) = match reference.repository.as_str() {
        "vllm/vllm-openai" => (Some(Vendor::Nvidia), Backend::Vllm),
        "vllm/vllm-openai-rocm" | "rocm/vllm" | "rocm/vllm-dev" => (Some(Vendor::Amd), Backend::Vllm),
        "vllm/vllm-openai-cpu" => (None, Backend::Vllm),
        "rocm/sgl-dev" => (Some(Vendor::Amd), Backend::Sglang),
        "lmsysorg/sglang" => {
            // One repository for every platform; the tag suffix names it (a bare digest
            // says nothing).
            let vendor = if reference.tag.is_none() {
                None
            } else if tag.contains("rocm") {
                Some(Vendor::Amd)
            } else if ["xeon", "cpu", "npu", "xpu", "musa"].iter().any(|p| tag.contains(p)) {
                None
            } else {
                Some(Vendor::Nvidia)
            };
            (vendor, Backend::Sglang)
        }
        _ => return None,
    };
    Some(Family { vendor, backend })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendor_and_engine_has_a_default_that_names_its_own_release() {
        for vendor in [Vendor::Amd, Vendor::Nvidia] {
            for backend in [Backend::Vllm, Backend::Sglang] {
                let gpu = if vendor == Vendor::Amd { "MI300X" } else { "H100" };
                let d = default_image(vendor, backend, gpu).expect("a default");
                let r = Reference::parse(d.reference);
                assert!(r.tag.is_some_and(|t| t.starts_with(&format!("v{}", d.version))), "{}", d.reference);
                assert_eq!(family(&r), Some(Family { vendor: Some(vendor), backend }), "{}", d.reference);
                assert!(r.floating_tag().is_none());
                assert!(!d.tag_source.is_empty() && !d.entrypoint_source.is_empty());
            }
        }
        assert_eq!(
            default_image(Vendor::Amd, Backend::Sglang, "mi355x").map(|d| d.reference),
            Ok("lmsysorg/sglang:v0.5.23-rocm720-mi35x")
        );
        let err = default_image(Vendor::Amd, Backend::Sglang, "MI250X").expect_err("no gfx90a build");
        assert!(err.contains("MI250X") && err.contains("MI300X"), "{err}");
    }

    /// A default image is checked against the catalogue of the release it runs, exactly:
    /// its tag must read back to its version, and that version must be catalogued (else flags
    /// would be checked against the nearest other release, which the image does not run).
    #[test]
    fn every_default_image_runs_a_catalogued_release() {
        let catalog = crate::recipe::catalog::Catalog::builtin();
        for d in DEFAULT_IMAGES {
            let version = crate::recipe::version::EngineVersion::parse(d.version).expect("a version");
            assert_eq!(
                crate::recipe::version::version_from_image(d.reference, d.backend).as_ref(),
                Some(&version),
                "{}",
                d.reference
            );
            assert!(
                matches!(catalog.pick(d.backend, Some(&version)), Some(crate::recipe::catalog::Picked::Exact(_))),
                "{} runs {} {}, which has no catalogue in recipes/engines/",
                d.reference,
                crate::recipe::catalog::engine_name(d.backend),
                d.version
            );
        }
    }

    #[test]
    fn references_split_into_repository_tag_and_digest() {
        let r = Reference::parse("registry.local:5000/vllm/vllm-openai:v0.11.0@sha256:abc");
        assert_eq!((r.repository.as_str(), r.tag, r.digest), ("vllm/vllm-openai", Some("v0.11.0"), Some("sha256:abc")));
        let r = Reference::parse("localhost:5000/img");
        assert_eq!((r.repository.as_str(), r.tag), ("img", None));
        assert_eq!(Reference::parse("docker.io/library/ubuntu").repository, "ubuntu");
    }

    #[test]
    fn floating_tags_are_the_untagged_and_latest_ones_without_a_digest() {
        assert_eq!(Reference::parse("rocm/vllm").floating_tag(), Some("latest"));
        assert_eq!(Reference::parse("rocm/vllm:latest").floating_tag(), Some("latest"));
        assert_eq!(Reference::parse("vllm/vllm-openai-rocm:nightly-rocm72").floating_tag(), Some("nightly-rocm72"));
        assert_eq!(Reference::parse("lmsysorg/sglang:latest@sha256:ab").floating_tag(), None);
        assert_eq!(Reference::parse("vllm/vllm-openai@sha256:ab").floating_tag(), None);
        assert_eq!(Reference::parse("lmsysorg/sglang:v0.5.23").floating_tag(), None);
        // A release tag that merely contains the word is not floating.
        assert_eq!(Reference::parse("a/b:latest_fix_2").floating_tag(), None);
    }

    #[test]
    fn families_come_from_repository_and_tag_suffix() {
        let fam = |s: &str| family(&Reference::parse(s));
        assert_eq!(
            fam("rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210").map(|f| (f.vendor, f.backend)),
            Some((Some(Vendor::Amd), Backend::Vllm))
        );
        assert_eq!(fam("lmsysorg/sglang:v0.5.23-rocm720-mi30x").and_then(|f| f.vendor), Some(Vendor::Amd));
        assert_eq!(fam("lmsysorg/sglang:v0.4.6.post1-cu124").and_then(|f| f.vendor), Some(Vendor::Nvidia));
        assert_eq!(fam("lmsysorg/sglang:v0.5.20-xeon").map(|f| f.vendor), Some(None));
        assert_eq!(fam("vllm/vllm-openai-cpu:v0.32.0").map(|f| (f.vendor, f.backend)), Some((None, Backend::Vllm)));
        assert_eq!(fam("lmsysorg/sglang@sha256:ab").map(|f| f.vendor), Some(None));
        assert_eq!(fam("example/custom:1"), None);
    }
}
