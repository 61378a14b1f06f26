//! The base image of each engine: given, defaulted per vendor and engine, and the release it runs.

use super::*;

/// An engine's base image as resolved: the reference and the release it runs, when known.
pub(super) struct ImageBase {
    pub(super) base: String,
    pub(super) version: Option<EngineVersion>,
    /// Where the spec names it (`None` for aimgen's default).
    pub(super) at: Option<String>,
}

impl ImageBase {
    /// An image already reported as an error: the services are still checked (against the
    /// newest catalogue, without a second warning) so the rest of the spec's problems show.
    fn refused(base: &str) -> ImageBase {
        ImageBase { base: base.to_string(), version: None, at: None }
    }
}

pub(super) fn vendor_name(v: Vendor) -> &'static str {
    match v {
        Vendor::Amd => "AMD",
        Vendor::Nvidia => "NVIDIA",
    }
}

/// The base image of one engine: its own `image.<engine>.base`, else `image.base`, else the
/// default for the host. Problems (a contradicting vendor or engine, a floating tag, a stated
/// release the tag contradicts) are reported at the spec line that names the image.
pub(super) fn image_base(
    spec: &ImageSpec,
    backend: Backend,
    vendor: Vendor,
    gpu_model: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<ImageBase> {
    let engine = backend.as_str();
    let Some((base, stated, at)) = spec.base_for(backend) else {
        return match image::default_image(vendor, backend, gpu_model) {
            Ok(d) => {
                diags.push(
                    Diagnostic::warning(format!("no `image.base`: using aimgen's default `{}` for {engine}", d.reference))
                        .at("/image")
                        .help("set `image.base` (or `image.<engine>.base`) to the engine release you have validated; the default changes with aimgen"),
                );
                Some(ImageBase { base: d.reference.to_string(), version: EngineVersion::parse(d.version), at: None })
            }
            Err(msg) => {
                diags.push(
                    Diagnostic::error(msg)
                        .at("/services")
                        .help(format!("set `image.{engine}.base` to a {engine} image built for this GPU")),
                );
                None
            }
        };
    };
    let base_at = format!("{at}/base");
    let reference = image::Reference::parse(base);
    if let Some(family) = image::family(&reference) {
        if family.backend != backend {
            let other = if at == "/image" {
                format!("; give {engine} its own image with `image.{engine}.base`")
            } else {
                String::new()
            };
            diags.push(
                Diagnostic::error(format!(
                    "`{base}` is a {} image, but {engine} services run in it",
                    family.backend.as_str()
                ))
                .at(base_at)
                .help(format!("use a {engine} image{other}")),
            );
            return Some(ImageBase::refused(base));
        }
        if let Some(v) = family.vendor.filter(|v| *v != vendor) {
            diags.push(
                Diagnostic::error(format!(
                    "`{base}` is built for {} GPUs, but the host has {} GPUs",
                    vendor_name(v),
                    vendor_name(vendor)
                ))
                .at(base_at)
                .help(format!("use a {engine} image built for {}", vendor_name(vendor))),
            );
            return Some(ImageBase::refused(base));
        }
    }
    if let Some(tag) = reference.floating_tag() {
        diags.push(
            Diagnostic::warning(format!(
                "`{base}` follows the moving tag `{tag}`: the built image's tag is a hash of the Dockerfile, \
                 so it will not change (and nothing is rebuilt) when `{tag}` moves to a new release"
            ))
            .at(base_at.clone())
            .help("pin a release tag or a digest (`@sha256:…`) and change it deliberately"),
        );
    }
    let derived = version_from_image(base, backend);
    // `validate` reported a stated release that does not parse.
    let stated = stated.and_then(EngineVersion::parse);
    let version = match (stated, derived) {
        (Some(s), Some(d)) if s != d => {
            diags.push(
                Diagnostic::error(format!("`engine_version: {s}` contradicts `{base}`, whose tag names {engine} {d}"))
                    .at(format!("{at}/engine_version"))
                    .help(format!("drop `engine_version` or set it to {d}")),
            );
            return Some(ImageBase::refused(base));
        }
        (Some(s), _) => Some(s),
        (None, Some(d)) => Some(d),
        // `checked_release` warns, naming the nearest catalogue.
        (None, None) => None,
    };
    Some(ImageBase { base: base.to_string(), version, at: Some(base_at) })
}

/// The base image of every engine the fleet's services use, decided before the services:
/// the image says which engine release their arguments are checked against.
pub(super) fn image_bases(
    spec: &FleetSpec,
    image_spec: &ImageSpec,
    gpu_model: &str,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<Backend, ImageBase> {
    let backends: BTreeSet<Backend> = spec.services.values().map(|s| s.backend.unwrap_or(Backend::Vllm)).collect();
    backends
        .into_iter()
        .filter_map(|b| image_base(image_spec, b, spec.host.gpu.vendor, gpu_model, diags).map(|i| (b, i)))
        .collect()
}

/// One image per engine, named `<fleet>-<engine>`; with `preload_tokenizers`, each preloads
/// the tokenizers of every Hub model.
pub(super) fn image_plans(
    fleet_name: &str,
    bases: BTreeMap<Backend, ImageBase>,
    image_spec: &ImageSpec,
    hub_models: &BTreeMap<HubModel, Vec<String>>,
    cache: &CacheSettings,
) -> Vec<ImagePlan> {
    bases
        .into_iter()
        .map(|(backend, b)| ImagePlan {
            backend: backend.into(),
            base: b.base,
            engine_version: b.version.map(|v| v.to_string()),
            name: format!("{fleet_name}-{}", backend.as_str()),
            pip: image_spec.pip.clone(),
            preload: if image_spec.preload_tokenizers { hub_models.keys().cloned().collect() } else { Vec::new() },
            env: cache.image_env(),
        })
        .collect()
}
