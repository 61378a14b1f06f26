//! The `kubernetes:` section of a fleet spec, as written (the Kubernetes target's `prepare`
//! applies the defaults). Only `--target kubernetes` (or `targets: [kubernetes]`) reads it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the fleet is laid out on a Kubernetes cluster. `host.gpu` then describes one GPU node
/// (`count` is GPUs per node); every server is its own Deployment.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSpec {
    /// Namespace every object goes into (default: the fleet's `name`, with `_` as `-`). It
    /// must exist: aimgen writes no Namespace object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The one model cache: a PersistentVolumeClaim every server mounts read-only and each
    /// download Job mounts read-write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<KubernetesCacheSpec>,
    /// Registry (and path) the built `Dockerfile.optimized` images are pushed to, e.g.
    /// `registry.example.com/llm`. aimgen prints the build and push commands and runs none.
    /// Without it the images are named without a registry and must already be on the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Values of the GPU product node label a server's node must carry (node affinity):
    /// `nvidia.com/gpu.product` (NVIDIA GPU feature discovery, e.g. `NVIDIA-H100-80GB-HBM3`)
    /// or `amd.com/gpu.product-name` (AMD's node labeller, e.g. `AMD_Instinct_MI300X_OAM`).
    /// Default: the known values for `host.gpu.model`; an empty list turns the affinity off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_product: Option<Vec<String>>,
    /// Existing Secret holding the Hugging Face token under the key `HF_TOKEN` (default
    /// `hf-token`). Only download Jobs read it, and it may be absent (public models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_token_secret: Option<String>,
    /// Existing Secret holding the servers' API keys, one key per variable named by
    /// `api_key_env` (default `aimgen-api-keys`). A server with a key does not start until it
    /// exists. aimgen never writes a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// Size limit of each server's memory-backed `/dev/shm` (default `16Gi`): the engines'
    /// tensor-parallel workers exchange data through it. It counts against the node's memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    /// User id every container runs as (default 10001, with `runAsNonRoot`); the group and
    /// `fsGroup` are the same number. `0` runs as root (the engine images' own default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    /// How long a server's init container waits for its model's download Job, in minutes
    /// (default 120). It then exits with an error naming the Job and is restarted by the
    /// kubelet, so a slow download only delays the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10080))]
    pub model_wait_minutes: Option<u32>,
    /// How long a server may take to load its model before its startup probe gives up and the
    /// kubelet restarts it, in minutes (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1440))]
    pub startup_minutes: Option<u32>,
    /// Write a NetworkPolicy per server that admits only `allow_from` to its engine port, and
    /// one that admits nothing to the download Jobs (default true). Without policies every pod
    /// in the cluster can call a server (a warning names each one that has no API key). A
    /// policy takes effect only with a network plugin that enforces NetworkPolicies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<bool>,
    /// Who may connect to the servers' engine port. Default: pods in the fleet's namespace
    /// labelled `aimgen.io/client: "true"`. An empty list admits no pod (the node the server
    /// runs on, and so the kubelet's probes, always reaches it). Egress is not restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<KubernetesPeer>>,
}

/// Pods that may call the servers (a NetworkPolicy `from` entry). With both selectors a pod
/// must match both (pods with these labels in namespaces with those); `{}` as a selector
/// matches everything. At least one of the two.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesPeer {
    /// Labels the calling pods carry (`podSelector.matchLabels`), e.g.
    /// `{app.kubernetes.io/name: gateway}`. Without `namespaces`, the pods are in the fleet's
    /// namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<BTreeMap<String, String>>,
    /// Labels of the namespaces the calling pods are in (`namespaceSelector.matchLabels`),
    /// e.g. `{kubernetes.io/metadata.name: ingress}`. Without `pods`, every pod there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<BTreeMap<String, String>>,
}

/// The cache claim.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesCacheSpec {
    /// Name of the PersistentVolumeClaim (default `<namespace>-model-cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Storage class (default: the cluster's default class). It must offer the access mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Requested size, a Kubernetes quantity (default: `cache.budget_gb` in G, else `1Ti`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `ReadWriteMany` (default: servers on several nodes share the claim), or
    /// `ReadWriteOnce` when every pod of the fleet runs on one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<AccessMode>,
}

/// PersistentVolumeClaim access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum AccessMode {
    /// Mounted by pods on many nodes.
    ReadWriteMany,
    /// Mounted by pods on one node.
    ReadWriteOnce,
}

impl AccessMode {
    /// The name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteMany => "ReadWriteMany",
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
        }
    }
}
