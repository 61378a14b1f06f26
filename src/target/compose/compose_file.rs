//! The Compose file: one service per fleet service plus the prefetch job, each in its
//! engine's image (built once, by the first service that uses it), all mounting one cache.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::encode::required_ref;
use super::{service_env_file, templates, COMMON_ENV_FILE, PREFETCH_ENV};
use crate::plan::{
    ApiKey, CacheStorage, Engine, GpuVendor, KeyDelivery, ModelSource, Plan, PrefetchJob, PrefetchPlan, ServerPlan,
};
use crate::target::dockerfile::Dockerfile;
use crate::target::{asset, header, render_template, Layout};
use crate::text::{ascii_json, ranges};

/// Key of the cache volume in the Compose file's `volumes:`.
const CACHE_KEY: &str = "model-cache";
/// Key of the engine scratch volume.
const SCRATCH_KEY: &str = "engine-scratch";

/// Everything the Compose template places. Each field is load-bearing: the template has no
/// logic beyond loops and presence checks.
#[derive(Serialize)]
struct Ctx {
    header: Vec<String>,
    project: String,
    dockerfile_inline: Option<String>,
    build_args: BTreeMap<String, String>,
    build_secret: bool,
    /// The prefetch program, written once (a YAML anchor) and run by every prefetch job.
    prefetch_script: Option<String>,
    services: Vec<Svc>,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
struct Svc {
    name: String,
    comment: String,
    /// `<name>:<tag>` of the engine image.
    image: String,
    /// The build stage, on the one service that builds this image.
    build_target: Option<String>,
    entrypoint: Vec<String>,
    labels: Vec<(String, String)>,
    depends_on: Vec<String>,
    /// Runs the prefetch program (the anchored script) with `command` as its argument.
    prefetch: bool,
    command: Vec<String>,
    /// Appended to `command` as Compose references (`${VAR:?…}`), the only text not escaped.
    command_refs: Vec<String>,
    env_files: Vec<String>,
    environment: Vec<(String, String)>,
    /// Variables whose value is a Compose reference, resolved at `up`.
    environment_refs: Vec<(String, String)>,
    token: bool,
    mounts: Vec<Mount>,
    ports: Vec<String>,
    amd: bool,
    /// AMD device files: `/dev/kfd` and all of `/dev/dri`, or the service's render nodes.
    devices: Vec<String>,
    /// Numeric group ids (never names: a name is looked up in the image).
    group_add: Vec<String>,
    nvidia: Vec<String>,
    ipc_host: bool,
    health: Vec<String>,
    restart: String,
    stop_grace_period: Option<String>,
    logging: Option<Logging>,
    ulimits: Vec<Limit>,
}

/// One `ulimits:` entry: `name: N` when soft and hard agree, else `name: {soft, hard}`.
#[derive(Serialize)]
struct Limit {
    /// The name as a YAML key: bare (Docker's names are lowercase words), quoted otherwise.
    key: String,
    /// Soft and hard alike.
    both: Option<String>,
    soft: String,
    hard: String,
}

#[derive(Serialize)]
struct Logging {
    max_size: String,
    max_files: String,
}

#[derive(Serialize)]
struct Mount {
    #[serde(rename = "type")]
    kind: &'static str,
    source: String,
    target: String,
    read_only: bool,
    create_host_path: bool,
}

#[derive(Serialize)]
struct Volume {
    key: String,
    name: Option<String>,
}

pub(super) fn render(plan: &Plan, layout: Layout, dockerfile: &Dockerfile) -> anyhow::Result<String> {
    let folder = layout == Layout::Folder;
    let mut services = Vec::new();
    let mut prefetch_script = None;
    if let Some(p) = &plan.prefetch {
        prefetch_script = Some(asset("prefetch.py")?.to_string());
        for job in &p.jobs {
            services.push(prefetch_service(plan, p, job, folder, dockerfile)?);
        }
    }
    for s in &plan.servers {
        services.push(server(plan, s, folder, image_ref(plan, s.backend, dockerfile)));
    }
    // Each image is built by the first service that runs it, and only by that one: Compose
    // would otherwise build it once per service.
    let mut built = BTreeSet::new();
    for (svc, backend) in services.iter_mut().zip(
        plan.prefetch
            .iter()
            .flat_map(|p| p.jobs.iter().map(move |_| p.image))
            .chain(plan.servers.iter().map(|s| s.backend)),
    ) {
        if built.insert(backend) {
            svc.build_target = Some(backend.as_str().to_string());
        }
    }
    let mut volumes = Vec::new();
    if let CacheStorage::Volume { name } = &plan.cache.storage {
        volumes.push(Volume { key: CACHE_KEY.into(), name: Some(name.clone()) });
    }
    volumes.push(Volume { key: SCRATCH_KEY.into(), name: None });
    let mut build_args = BTreeMap::new();
    let preload = plan.images.iter().any(|i| !i.preload.is_empty());
    if preload {
        if let Some(e) = &plan.cache.hf_endpoint {
            build_args.insert("HF_ENDPOINT".to_string(), e.clone());
        }
    }
    let ctx = Ctx {
        header: header(plan),
        project: plan.name.clone(),
        dockerfile_inline: (!folder).then(|| dockerfile.text.clone()),
        build_args,
        build_secret: preload,
        prefetch_script,
        services,
        volumes,
    };
    render_template(templates(), "compose/docker-compose.cache.yml.j2", ctx)
}

/// One model's download job: the anchored prefetch program with the job as a JSON argument.
fn prefetch_service(
    plan: &Plan,
    p: &PrefetchPlan,
    job: &PrefetchJob,
    folder: bool,
    dockerfile: &Dockerfile,
) -> anyhow::Result<Svc> {
    let m = &job.model;
    let spec = job.program_argument(p)?;
    Ok(Svc {
        name: job.name.clone(),
        comment: format!(
            "Downloads {}@{} into the shared cache, then exits; {} start{} after it",
            m.repo,
            m.effective_revision(),
            job.used_by.join(", "),
            if job.used_by.len() == 1 { "s" } else { "" }
        ),
        image: image_ref(plan, p.image, dockerfile),
        build_target: None,
        entrypoint: p.entrypoint.clone(),
        labels: Vec::new(),
        depends_on: Vec::new(),
        prefetch: true,
        command_refs: Vec::new(),
        environment_refs: Vec::new(),
        devices: Vec::new(),
        group_add: Vec::new(),
        stop_grace_period: None,
        logging: None,
        ulimits: Vec::new(),
        command: vec![format!("{}\n", ascii_json(&spec, true)?)],
        env_files: if folder { vec![service_env_file(PREFETCH_ENV)] } else { Vec::new() },
        environment: if folder { Vec::new() } else { p.env.clone().into_iter().collect() },
        token: true,
        mounts: vec![cache_mount(plan, false)],
        ports: Vec::new(),
        amd: false,
        nvidia: Vec::new(),
        ipc_host: false,
        health: Vec::new(),
        restart: "no".into(),
    })
}

/// `<name>:<tag>` of an engine's image.
fn image_ref(plan: &Plan, backend: Engine, dockerfile: &Dockerfile) -> String {
    let name = plan.image(backend).map_or_else(|| format!("{}-{}", plan.name, backend.as_str()), |i| i.name.clone());
    format!("{name}:{}", dockerfile.tags.get(&backend).map_or("", String::as_str))
}

fn cache_mount(plan: &Plan, read_only: bool) -> Mount {
    match &plan.cache.storage {
        CacheStorage::Volume { .. } => Mount {
            kind: "volume",
            source: CACHE_KEY.into(),
            target: plan.cache.mount.clone(),
            read_only,
            create_host_path: false,
        },
        CacheStorage::HostPath { path } => Mount {
            kind: "bind",
            source: path.clone(),
            target: plan.cache.mount.clone(),
            read_only,
            create_host_path: !read_only,
        },
    }
}

/// A fleet service: its engine on its GPUs, reading the shared cache.
fn server(plan: &Plan, s: &ServerPlan, folder: bool, image: String) -> Svc {
    let (command_refs, environment_refs) = key_refs(s);
    let (entrypoint, command) = s.argv.split_at(s.entrypoint_len.min(s.argv.len()));
    Svc {
        name: s.name.clone(),
        comment: server_comment(s),
        image,
        build_target: None,
        entrypoint: entrypoint.to_vec(),
        // What an engine-truth check reads to pick the parser of the release the image runs.
        labels: vec![
            ("aimgen.engine".into(), s.backend.as_str().into()),
            ("aimgen.engine-version".into(), s.engine_version.clone()),
        ],
        depends_on: s.prefetch_job.iter().cloned().collect(),
        prefetch: false,
        command: command.to_vec(),
        command_refs,
        environment_refs,
        environment: server_environment(plan, s, folder),
        devices: match render_nodes(plan, s) {
            Some(nodes) => std::iter::once("/dev/kfd".to_string()).chain(nodes).collect(),
            None => vec!["/dev/kfd".into(), "/dev/dri".into()],
        },
        group_add: plan.gpu.group_ids.iter().map(u32::to_string).collect(),
        env_files: if folder { vec![COMMON_ENV_FILE.into(), service_env_file(&s.name)] } else { Vec::new() },
        token: s.needs_token,
        mounts: server_mounts(plan, s),
        ports: vec![port_mapping(s.bind, s.host_port, s.port)],
        amd: plan.gpu.vendor == GpuVendor::Amd,
        nvidia: if plan.gpu.vendor == GpuVendor::Nvidia {
            s.gpus.iter().map(u32::to_string).collect()
        } else {
            Vec::new()
        },
        ipc_host: true,
        health: health_check(s),
        restart: format!("on-failure:{}", s.runtime.restart_attempts),
        stop_grace_period: Some(format!("{}s", s.runtime.stop_grace_seconds)),
        logging: Some(Logging {
            max_size: s.runtime.log_max_size.clone(),
            max_files: s.runtime.log_max_files.to_string(),
        }),
        ulimits: s.runtime.ulimits.iter().map(limit).collect(),
    }
}

/// The cache (read-only when the plan says servers only read it), the engine's scratch
/// volume, and a local model's folder at its own path (the engine's argument names it).
fn server_mounts(plan: &Plan, s: &ServerPlan) -> Vec<Mount> {
    let ro = plan.cache.servers_read_only;
    let mut mounts = vec![
        cache_mount(plan, ro),
        Mount {
            kind: "volume",
            source: SCRATCH_KEY.into(),
            target: plan.cache.scratch.mount.clone(),
            read_only: false,
            create_host_path: false,
        },
    ];
    if let ModelSource::Local { path } = &s.source {
        mounts.push(Mount {
            kind: "bind",
            source: path.clone(),
            target: path.clone(),
            read_only: true,
            create_host_path: false,
        });
    }
    mounts
}

/// Per-GPU render nodes, when the host's are known: the device files are the isolation.
/// ROCm's thunk skips every KFD node whose render node it cannot open (libhsakmt
/// topology.c, `topology_sysfs_check_node_supported`), so the container sees exactly its
/// GPUs, numbered from 0, and host indices in ROCR_VISIBLE_DEVICES would be wrong there.
fn render_nodes(plan: &Plan, s: &ServerPlan) -> Option<Vec<String>> {
    (plan.gpu.vendor == GpuVendor::Amd && !plan.gpu.render_nodes.is_empty()).then(|| {
        s.gpus
            .iter()
            .filter_map(|g| plan.gpu.render_nodes.get(*g as usize))
            .map(|minor| format!("/dev/dri/renderD{minor}"))
            .collect()
    })
}

/// Variables written into the Compose file itself. In a folder the cache's and the
/// service's own variables are in its env files instead; standard output has no files.
fn server_environment(plan: &Plan, s: &ServerPlan, folder: bool) -> Vec<(String, String)> {
    let mut environment: Vec<(String, String)> = Vec::new();
    if plan.gpu.vendor == GpuVendor::Amd && render_nodes(plan, s).is_none() {
        // One visibility variable, read by the whole ROCm runtime (HIP and everything above it).
        let gpu_list: Vec<String> = s.gpus.iter().map(u32::to_string).collect();
        environment.push(("ROCR_VISIBLE_DEVICES".into(), gpu_list.join(",")));
    }
    if !folder {
        environment.extend(plan.cache.server_env.clone());
        environment.extend(s.env.clone());
    }
    environment
}

/// The service's leading comment: what a reader checks first (recipe, GPUs, weights).
fn server_comment(s: &ServerPlan) -> String {
    let weights = s.recipe.weights_gb.map(|w| format!(", ~{w:.0} GB weights")).unwrap_or_default();
    format!(
        "recipe {} ({}{}), {}{}",
        s.recipe.id,
        s.recipe.origin,
        if s.recipe.pinned { ", pinned" } else { "" },
        ranges(&s.gpus),
        weights
    )
}

/// The API key as a Compose reference that `up` resolves (and refuses to start without),
/// never its value: after the engine's flag in `command`, or as the engine's variable.
fn key_refs(s: &ServerPlan) -> (Vec<String>, Vec<(String, String)>) {
    match &s.api_key {
        Some(ApiKey { variable, delivery: KeyDelivery::Flag(flag) }) => {
            (vec![flag.clone(), required_ref(variable, &key_message(variable, &s.name))], Vec::new())
        }
        Some(ApiKey { variable, delivery: KeyDelivery::Env(var) }) => {
            (Vec::new(), vec![(var.clone(), required_ref(variable, &key_message(variable, &s.name)))])
        }
        None => (Vec::new(), Vec::new()),
    }
}

/// Run inside the container with the Python every engine image has (vLLM and SGLang are
/// Python), so no other HTTP client is assumed in the image.
fn health_check(s: &ServerPlan) -> Vec<String> {
    vec![
        "CMD".into(),
        "python3".into(),
        "-c".into(),
        format!(
            "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{}{}', timeout=5)",
            s.port, s.health_path
        ),
    ]
}

/// One resolved limit as its `ulimits:` entry (see `Limit` for the two forms).
fn limit(u: &crate::plan::Ulimit) -> Limit {
    Limit {
        key: if !u.name.is_empty() && u.name.bytes().all(|b| b.is_ascii_lowercase()) {
            u.name.clone()
        } else {
            super::encode::yaml_quote(&u.name)
        },
        both: (u.soft == u.hard).then(|| u.soft.to_string()),
        soft: u.soft.to_string(),
        hard: u.hard.to_string(),
    }
}

/// `"<bind>:<host>:<container>"`, with an IPv6 address in brackets (Compose v2 refuses
/// `::1:8000:8000`: "too many colons").
pub fn port_mapping(bind: std::net::IpAddr, host: u16, container: u16) -> String {
    match bind {
        std::net::IpAddr::V4(ip) => format!("{ip}:{host}:{container}"),
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{host}:{container}"),
    }
}

/// What `docker compose up` prints when the key's variable is unset or empty.
fn key_message(variable: &str, service: &str) -> String {
    format!("set {variable} to the API key of service {service}")
}
