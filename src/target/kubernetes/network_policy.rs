//! Who may call the servers: `network_policy` and `allow_from` checked into the plan's peers,
//! each server's NetworkPolicy `from` entries, the policy that admits nothing to the download
//! Jobs, and the warning for servers left open to the whole cluster.

use std::collections::BTreeMap;

use super::{
    labels, names, render_one, Pairs, Rendering, DEFAULT_API_KEY_SECRET, JOBS_POLICY, JOBS_POLICY_FILE, JOB_COMPONENT,
};
use crate::diagnostic::Diagnostic;
use crate::plan::ClusterPeer;
use crate::source::escape_segment;
use crate::spec::kubernetes::{KubernetesPeer, KubernetesSpec};
use crate::spec::FleetSpec;

/// The label the default peer's pods carry: who may call the servers unless `allow_from` says.
pub const CLIENT_LABEL: (&str, &str) = ("aimgen.io/client", "true");

/// `network_policy` and `allow_from`, checked (label keys and values by Kubernetes' rules, at
/// their lines): the peers, or `None` for no NetworkPolicies.
pub(super) fn allow_from(k: &KubernetesSpec, diags: &mut Vec<Diagnostic>) -> Option<Vec<ClusterPeer>> {
    let enabled = k.network_policy.unwrap_or(true);
    let Some(peers) = &k.allow_from else {
        let label = BTreeMap::from([(CLIENT_LABEL.0.to_string(), CLIENT_LABEL.1.to_string())]);
        return enabled.then(|| vec![ClusterPeer { pods: Some(label), namespaces: None }]);
    };
    if !enabled {
        diags.push(
            Diagnostic::warning("`kubernetes.allow_from` is not used: `network_policy: false` writes no NetworkPolicy")
                .at("/kubernetes/allow_from")
                .help("remove one of the two lines"),
        );
    } else if peers.is_empty() {
        diags.push(
            Diagnostic::warning("`kubernetes.allow_from` is empty: no pod can call the servers")
                .at("/kubernetes/allow_from")
                .help(format!(
                    "only each server's own node reaches it (the kubelet's probes); list the pods that call the servers, \
                     e.g. `- pods: {{app.kubernetes.io/name: gateway}}`, or remove the line to admit pods labelled `{}: \"{}\"`",
                    CLIENT_LABEL.0, CLIENT_LABEL.1
                )),
        );
    }
    for (i, p) in peers.iter().enumerate() {
        check_peer(&format!("/kubernetes/allow_from/{i}"), p, diags);
    }
    enabled
        .then(|| peers.iter().map(|p| ClusterPeer { pods: p.pods.clone(), namespaces: p.namespaces.clone() }).collect())
}

/// One `allow_from` entry: a selector at least, and labels the API server would accept (it
/// would refuse the whole policy at apply time, far from the spec line).
fn check_peer(at: &str, p: &KubernetesPeer, diags: &mut Vec<Diagnostic>) {
    if p.pods.is_none() && p.namespaces.is_none() {
        diags.push(
            Diagnostic::error("an `allow_from` entry needs `pods`, `namespaces` or both")
                .at(at)
                .help("`pods: {app: gateway}` admits those pods of the fleet's namespace, `namespaces: {kubernetes.io/metadata.name: web}` every pod of that namespace, both together those pods of those namespaces; `{}` as a selector matches all"),
        );
    }
    for (field, map) in [("pods", &p.pods), ("namespaces", &p.namespaces)] {
        for (key, value) in map.iter().flatten() {
            let here = format!("{at}/{field}/{}", escape_segment(key));
            if let Some(why) = names::label_key_problem(key) {
                diags.push(
                    Diagnostic::error(format!("`{}` is no label key: {why}", key.escape_debug())).at_key(&here).help(
                        "an optional DNS-subdomain prefix and `/`, then the name: `app`, `app.kubernetes.io/name`",
                    ),
                );
            }
            if let Some(why) = names::label_value_problem(value) {
                diags.push(
                    Diagnostic::error(format!(
                        "`{}` is no label value (of `{}`)",
                        value.escape_debug(),
                        key.escape_debug()
                    ))
                    .at(&here)
                    .help(why),
                );
            }
        }
    }
}

/// Servers every pod in the cluster can call: no NetworkPolicy (`network_policy: false`) and
/// no API key. The Kubernetes side of `compose::exposure`: compile asks only when this target
/// is rendered.
pub fn exposure(spec: &FleetSpec) -> Vec<Diagnostic> {
    let Some(k) = &spec.kubernetes else { return Vec::new() };
    if k.network_policy != Some(false) {
        return Vec::new();
    }
    let secret = k.api_key_secret.as_deref().unwrap_or(DEFAULT_API_KEY_SECRET);
    let mut out = Vec::new();
    for (name, svc) in &spec.services {
        if crate::target::has_api_key(spec, svc) {
            continue;
        }
        let suggested = crate::target::suggested_key_variable(name);
        out.push(
            Diagnostic::warning(format!(
                "service `{name}` has no API key and no NetworkPolicy: every pod in the cluster can call it"
            ))
            .at("/kubernetes/network_policy")
            .help(format!(
                "add `api_key_env: {suggested}` to service `{name}` (or `serving.api_key_env`) and put the key into \
                 the Secret `{secret}` under {suggested}, or remove `network_policy: false`"
            )),
        );
    }
    out
}

/// One `from` entry of a server's NetworkPolicy: `podSelector` and/or `namespaceSelector`
/// (Kubernetes ANDs the two), each with its labels (empty: `{}`, matching all).
pub(super) type PeerCtx = Vec<(&'static str, Pairs)>;

pub(super) fn peer(p: &ClusterPeer) -> PeerCtx {
    let pairs = |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Pairs>();
    let mut out = Vec::new();
    if let Some(m) = &p.pods {
        out.push(("podSelector", pairs(m)));
    }
    if let Some(m) = &p.namespaces {
        out.push(("namespaceSelector", pairs(m)));
    }
    out
}

#[derive(serde::Serialize)]
struct JobsPolicyCtx {
    #[serde(flatten)]
    meta: super::Meta,
    selector: Pairs,
}

/// The policy that admits nothing to the download Jobs' pods: written only when the servers
/// get policies too (`network_policy: false` turns both off) and there are Jobs to cover.
pub(super) fn jobs_policy_doc(r: &Rendering) -> anyhow::Result<Option<(String, String)>> {
    let has_jobs = r.plan.prefetch.as_ref().is_some_and(|p| !p.jobs.is_empty());
    if r.cluster.allow_from.is_none() || !has_jobs {
        return Ok(None);
    }
    // The Jobs' pods by the labels every Job's template gives them (`labels` in `job`).
    let ctx = JobsPolicyCtx {
        meta: r.meta(JOBS_POLICY, labels(r.plan, "aimgen-prefetch", JOBS_POLICY, JOB_COMPONENT, None)),
        selector: vec![
            ("app.kubernetes.io/component".into(), JOB_COMPONENT.into()),
            ("app.kubernetes.io/part-of".into(), names::label_value(&r.plan.name)),
        ],
    };
    Ok(Some((JOBS_POLICY_FILE.to_string(), render_one("jobs-network-policy.yaml.j2", ctx)?)))
}
