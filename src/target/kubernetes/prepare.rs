//! The `kubernetes:` section's resolve step: what only this target checks (names, settings
//! that mean nothing on a cluster, the section's own values) and its defaults, into the
//! plan's `ClusterPlan`. Rendering then reads only the plan.

use std::collections::BTreeMap;

use super::network_policy::allow_from;
use super::{known_products, names, product_label, DEFAULT_API_KEY_SECRET};
use crate::diagnostic::Diagnostic;
use crate::plan::{ClusterPeer, ClusterPlan, Plan};
use crate::source::escape_segment;
use crate::spec::kubernetes::{AccessMode, KubernetesSpec};
use crate::spec::FleetSpec;

/// The `kubernetes:` section's resolve step (compile runs it when the target is asked for):
/// checks what only this target cares about and applies the defaults. Diagnostics carry spec
/// pointers (the caller locates them); `None` when there is an error among them. Rendering
/// then reads only the plan.
pub fn prepare(spec: &FleetSpec, plan: &Plan) -> (Option<ClusterPlan>, Vec<Diagnostic>) {
    let k = spec.kubernetes.clone().unwrap_or_default();
    let mut diags = Vec::new();
    // Keep this order: diagnostics are shown by position, those at one position in the
    // order they were made.
    let names = service_names(spec, &mut diags);
    compose_only_settings(spec, &mut diags);
    ulimits_warnings(spec, &mut diags);
    registry_warning(spec, &k, &mut diags);
    let gpu_product = gpu_product(&k, plan, &mut diags);
    let namespace = namespace(spec, &k, &mut diags);
    object_name_checks(&k, &mut diags);
    value_checks(&k, &mut diags);
    let allow_from = allow_from(&k, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let chosen = Chosen { namespace, names, gpu_product, allow_from };
    (Some(settings(spec, &k, chosen)), diags)
}

/// Each service's Kubernetes name; a service that has none is an error at its key (renaming
/// is the fix, so the key is what the caret points at).
fn service_names(spec: &FleetSpec, diags: &mut Vec<Diagnostic>) -> BTreeMap<String, String> {
    match names::service_names(spec.services.keys().map(String::as_str)) {
        Ok(n) => n,
        Err(problems) => {
            for (svc, msg) in problems {
                diags.push(
                    Diagnostic::error(msg)
                        .at_key(format!("/services/{}", escape_segment(&svc)))
                        .help("rename the service: Kubernetes names are lowercase letters, digits and `-`, start with a letter and have at most 63 characters"),
                );
            }
            BTreeMap::new()
        }
    }
}

/// Settings written for one host that a cluster cannot honour, or honours differently.
fn compose_only_settings(spec: &FleetSpec, diags: &mut Vec<Diagnostic>) {
    let cache = spec.cache.clone().unwrap_or_default();
    if cache.prefetch == Some(false) {
        diags.push(
            Diagnostic::error("`cache.prefetch: false` cannot be deployed to Kubernetes")
                .at("/cache/prefetch")
                .help("on a cluster each model is downloaded once by a Job and servers on every node read the shared claim; remove the line (Compose keeps its on-demand mode)"),
        );
    }
    if cache.host_path.is_some() {
        diags.push(
            Diagnostic::warning("`cache.host_path` is not used on Kubernetes: the cache is the PersistentVolumeClaim")
                .at("/cache/host_path")
                .help("size and class of the claim are `kubernetes.cache.size` and `kubernetes.cache.storage_class`"),
        );
    }
    for (svc, s) in &spec.services {
        if s.model_path.is_some() {
            diags.push(
                Diagnostic::warning(format!("`model_path` of `{svc}` is mounted from the node (hostPath) on Kubernetes"))
                    .at(format!("/services/{}/model_path", escape_segment(svc)))
                    .help("the folder must exist on every GPU node that can run this server; or serve the model from the Hub through the shared cache"),
            );
        }
    }
}

/// Kubernetes has no per-container rlimits: the node's runtime sets them. Only limits the
/// spec asks for are worth a word; the NVIDIA default is Compose's alone.
fn ulimits_warnings(spec: &FleetSpec, diags: &mut Vec<Diagnostic>) {
    let ulimits = spec.serving.as_ref().and_then(|s| s.ulimits.as_ref()).map(|u| ("/serving/ulimits".to_string(), u));
    let ulimits =
        ulimits.into_iter().chain(spec.services.iter().filter_map(|(svc, s)| {
            s.ulimits.as_ref().map(|u| (format!("/services/{}/ulimits", escape_segment(svc)), u))
        }));
    for (at, _) in ulimits.filter(|(_, u)| !u.is_empty()) {
        diags.push(
            Diagnostic::warning("`ulimits` are not applied on Kubernetes: a pod cannot set its containers' resource limits")
                .at_key(at)
                .help("the node's container runtime sets them (its default, or its configuration on the GPU nodes); the Compose target applies `ulimits`"),
        );
    }
}

/// Without a registry the nodes must already hold the images: legal, but rarely meant.
fn registry_warning(spec: &FleetSpec, k: &KubernetesSpec, diags: &mut Vec<Diagnostic>) {
    if k.registry.is_none() {
        diags.push(
            Diagnostic::warning("no `kubernetes.registry`: the images are named without a registry and must already be on every node")
                .at(if spec.kubernetes.is_some() { "/kubernetes" } else { "" })
                .help("set `kubernetes.registry` to the registry the cluster pulls from; `aimgen render` then prints the build and push commands"),
        );
    }
}

/// The node label values a server's node must carry: the spec's, else the ones aimgen knows
/// for the GPU model, else none (with a warning, as servers may then land on any GPU node).
fn gpu_product(k: &KubernetesSpec, plan: &Plan, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    match &k.gpu_product {
        Some(v) => v.clone(),
        None => known_products(&plan.gpu.model).unwrap_or_else(|| {
            diags.push(
                Diagnostic::warning(format!(
                    "no node affinity: aimgen knows no `{}` value for GPU model {}",
                    product_label(plan.gpu.vendor),
                    plan.gpu.model
                ))
                .at("/host/gpu/model")
                .help("set `kubernetes.gpu_product` to the label values of your GPU nodes (`kubectl get nodes -L <label>`), or to [] to schedule on any GPU node"),
            );
            Vec::new()
        }),
    }
}

/// The namespace: the spec's, else the fleet's name mapped. Only the mapped one is checked
/// here (at `/name`, with `kubernetes.namespace` as the way out); one the spec sets is
/// checked at its own line with the section's other values.
fn namespace(spec: &FleetSpec, k: &KubernetesSpec, diags: &mut Vec<Diagnostic>) -> String {
    let namespace = k.namespace.clone().unwrap_or_else(|| names::map(&spec.name));
    if k.namespace.is_none() && !names::is_dns1123_label(&namespace) {
        diags.push(
            Diagnostic::error(format!("the fleet's name `{}` is no Kubernetes namespace (`{namespace}`)", spec.name))
                .at("/name")
                .help("set `kubernetes.namespace`"),
        );
    }
    namespace
}

/// An error at `/kubernetes/<at>` unless `ok`.
fn refuse(diags: &mut Vec<Diagnostic>, ok: bool, at: &str, msg: String, help: &str) {
    if !ok {
        diags.push(Diagnostic::error(msg).at(format!("/kubernetes/{at}")).help(help.to_string()));
    }
}

/// The names the section gives objects: Kubernetes would refuse them at apply time, far from
/// the spec line.
fn object_name_checks(k: &KubernetesSpec, diags: &mut Vec<Diagnostic>) {
    if let Some(n) = &k.namespace {
        refuse(
            diags,
            names::is_dns1123_label(n),
            "namespace",
            format!("`{}` is no Kubernetes namespace name", n.escape_debug()),
            "lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit",
        );
    }
    let kc = k.cache.clone().unwrap_or_default();
    for (at, v) in
        [("hf_token_secret", &k.hf_token_secret), ("api_key_secret", &k.api_key_secret), ("cache/claim", &kc.claim)]
    {
        if let Some(v) = v {
            refuse(
                diags,
                names::is_dns1123_subdomain(v),
                at,
                format!("`{}` is no Kubernetes object name", v.escape_debug()),
                "lowercase letters, digits, `-` and `.`, at most 253, starting and ending with a letter or digit",
            );
        }
    }
}

/// The section's other values, each by the rule of the place it lands in a manifest.
fn value_checks(k: &KubernetesSpec, diags: &mut Vec<Diagnostic>) {
    let kc = k.cache.clone().unwrap_or_default();
    for (at, v) in [("shm_size", &k.shm_size), ("cache/size", &kc.size)] {
        if let Some(v) = v {
            let msg = format!("`{}` is no Kubernetes quantity", v.escape_debug());
            refuse(
                diags,
                names::is_quantity(v),
                at,
                msg,
                "a number with an optional unit: `16Gi`, `500Gi`, `1Ti`, `200G`",
            );
        }
    }
    for (at, v, max) in
        [("model_wait_minutes", k.model_wait_minutes, 10_080), ("startup_minutes", k.startup_minutes, 1_440)]
    {
        if let Some(v) = v {
            refuse(
                diags,
                (1..=max).contains(&v),
                at,
                format!("`{at}: {v}` is out of range"),
                &format!("1 to {max} minutes"),
            );
        }
    }
    for v in k.gpu_product.iter().flatten() {
        refuse(
            diags,
            names::label_value(v) == *v,
            "gpu_product",
            format!("`{}` is no node label value", v.escape_debug()),
            "at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
        );
    }
    if let Some(r) = &k.registry {
        refuse(
            diags,
            !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || "-._:/".contains(c)),
            "registry",
            format!("`{}` is no image registry path", r.escape_debug()),
            "a host (and port) with optional path, e.g. `registry.example.com/llm`",
        );
    }
}

/// What the checks above worked out, for `settings`.
struct Chosen {
    namespace: String,
    names: BTreeMap<String, String>,
    gpu_product: Vec<String>,
    allow_from: Option<Vec<ClusterPeer>>,
}

/// The section with its defaults applied (every value already checked).
fn settings(spec: &FleetSpec, k: &KubernetesSpec, chosen: Chosen) -> ClusterPlan {
    let Chosen { namespace, names, gpu_product, allow_from } = chosen;
    let kc = k.cache.clone().unwrap_or_default();
    let budget_gb = spec.cache.clone().unwrap_or_default().budget_gb;
    ClusterPlan {
        claim: kc.claim.clone().unwrap_or_else(|| format!("{namespace}-model-cache")),
        namespace,
        storage_class: kc.storage_class.clone(),
        size: kc.size.clone().unwrap_or_else(|| match budget_gb {
            Some(gb) => format!("{gb}G"),
            None => "1Ti".to_string(),
        }),
        access_mode: kc.access_mode.unwrap_or(AccessMode::ReadWriteMany).as_str().to_string(),
        registry: k.registry.clone().map(|r| r.trim_end_matches('/').to_string()),
        gpu_product,
        hf_token_secret: k.hf_token_secret.clone().unwrap_or_else(|| "hf-token".to_string()),
        api_key_secret: k.api_key_secret.clone().unwrap_or_else(|| DEFAULT_API_KEY_SECRET.to_string()),
        shm_size: k.shm_size.clone().unwrap_or_else(|| "16Gi".to_string()),
        run_as_user: match k.run_as_user {
            Some(0) => None,
            Some(u) => Some(u),
            // A high uid no host account has (checkov CKV_K8S_40: 10000 or more).
            None => Some(10001),
        },
        wait_seconds: k.model_wait_minutes.unwrap_or(120) * 60,
        startup_minutes: k.startup_minutes.unwrap_or(30),
        names,
        allow_from,
    }
}
