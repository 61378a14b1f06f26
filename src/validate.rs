//! Semantic checks on a schema-valid spec: what the JSON Schema cannot say. Every problem is
//! collected; none stops the others.

use std::collections::BTreeMap;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::ids::{is_repo_id, is_revision};
use crate::recipe::version::EngineVersion;
use crate::recipe::KNOWN_GPUS;
use crate::reserved::{check_env, TOKEN_VARS};
use crate::source::escape_segment;
use crate::spec::{FleetSpec, GpuSpec, ServiceSpec, Ulimit, Vendor, DEFAULT_MOUNT, SCRATCH_MOUNT};
use crate::text::{is_unsafe_char, single_line};

/// Service names aimgen reserves for its helper services.
pub const RESERVED_PREFIX: &str = "aimgen-";

/// The resource limits Docker can set (`ulimits:`, `docker run --ulimit`): the keys of
/// `ulimitNameMapping` in Docker's go-units (`ulimit.go`), which the daemon and the CLI check
/// names against. `as` is not among them (commented out there: unusable with how Docker starts
/// a container).
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// How to read `render_nodes` from the host.
const RENDER_NODES_HELP: &str = "read them on the host: for each /sys/class/kfd/kfd/topology/nodes/<N> whose \
     gpu_id file is not 0, in ascending <N>, the drm_render_minor line of its properties file (e.g. 128, 136, …)";

/// Checks a spec; `known_models` feeds "did you mean" for model ids.
pub fn check(spec: &FleetSpec, known_models: &[&str]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if spec.version != 1 {
        out.push(
            Diagnostic::error(format!("unsupported spec version {}", spec.version))
                .at("/version")
                .help("this aimgen reads `version: 1`"),
        );
    }
    if !is_project_name(&spec.name) {
        out.push(
            Diagnostic::error(format!("`{}` cannot be a Compose project name", spec.name))
                .at("/name")
                .help("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
        );
    }
    check_host(spec, &mut out);
    check_image(spec, &mut out);
    check_cache(spec, &mut out);
    check_mount_overlaps(spec, &mut out);
    check_serving(spec, &mut out);
    for (i, dir) in spec.recipes.iter().enumerate() {
        if dir.trim().is_empty() || single_line(dir).is_err() {
            out.push(Diagnostic::error("recipe folder must be a path").at(format!("/recipes/{i}")));
        }
    }
    if spec.services.is_empty() {
        out.push(
            Diagnostic::error("the fleet has no services")
                .at("/services")
                .help("add a service, e.g. `qwen: {model: Qwen/Qwen3-32B}`"),
        );
    }
    // Service names that become the same host name, by that name.
    let mut host_names: BTreeMap<String, &str> = BTreeMap::new();
    for (name, svc) in &spec.services {
        let at = format!("/services/{}", escape_segment(name));
        check_service_name(name, &at, &mut host_names, &mut out);
        check_service(svc, &at, known_models, &mut out);
    }
    out
}

/// A service name: a valid host name, not one of aimgen's, and no other service's once `_`
/// and `.` become `-` (as host names they would be the same).
fn check_service_name<'a>(
    name: &'a str,
    at: &str,
    host_names: &mut BTreeMap<String, &'a str>,
    out: &mut Vec<Diagnostic>,
) {
    if !is_service_name(name) {
        out.push(
            Diagnostic::error(format!("`{}` cannot be a service name", name.escape_debug()))
                .at_key(at)
                .help("use lowercase letters, digits, `_`, `.` and `-`, starting with a letter or digit (at most 63)"),
        );
    } else if name.starts_with(RESERVED_PREFIX) {
        out.push(
            Diagnostic::error(format!(
                "service names starting with `{RESERVED_PREFIX}` are reserved for aimgen's helper services"
            ))
            .at_key(at),
        );
    } else if let Some(other) = host_names.insert(name.replace(['_', '.'], "-"), name) {
        out.push(
            Diagnostic::error(format!(
                "services `{other}` and `{name}` collide: both become `{}` as host names",
                name.replace(['_', '.'], "-")
            ))
            .at_key(at)
            .help("rename one of them"),
        );
    }
}

/// One service's fields: its model and revision (or local path), sizes, names, environment,
/// exposure and arguments.
fn check_service(svc: &ServiceSpec, at: &str, known_models: &[&str], out: &mut Vec<Diagnostic>) {
    check_model(svc, at, known_models, out);
    if let Some(p) = &svc.model_path {
        check_abs_path(p, &format!("{at}/model_path"), "model_path", out);
    }
    if svc.gpus == Some(0) {
        out.push(Diagnostic::error("`gpus` must be at least 1").at(format!("{at}/gpus")));
    }
    if svc.port == Some(0) {
        out.push(Diagnostic::error("port 0 is not a port").at(format!("{at}/port")));
    }
    if let Some(n) = &svc.served_model_name {
        if n.is_empty() || single_line(n).is_err() {
            out.push(
                Diagnostic::error("`served_model_name` must be one line of text").at(format!("{at}/served_model_name")),
            );
        }
    }
    out.extend(check_env(&svc.env, &format!("{at}/env")));
    check_exposure(svc, at, out);
    if let Some(u) = &svc.ulimits {
        check_ulimits(u, &format!("{at}/ulimits"), out);
    }
    for (k, v) in &svc.args {
        if v.as_str().is_some_and(|s| s.contains('\0')) {
            out.push(
                Diagnostic::error("argument values may not contain NUL").at(format!("{at}/args/{}", escape_segment(k))),
            );
        }
    }
}

/// The model id (a warning with a near miss when aimgen has no recipes for it) and its
/// revision, which a local `model_path` cannot have.
fn check_model(svc: &ServiceSpec, at: &str, known_models: &[&str], out: &mut Vec<Diagnostic>) {
    if !is_repo_id(&svc.model) {
        out.push(
            Diagnostic::error(format!("`{}` is not a Hugging Face repo id", svc.model.escape_debug()))
                .at(format!("{at}/model"))
                .help("write `org/name`, e.g. `Qwen/Qwen3-32B`"),
        );
    } else if !known_models.contains(&svc.model.as_str()) {
        if let Some(m) = did_you_mean(&svc.model, known_models.iter().copied()) {
            out.push(
                Diagnostic::warning(format!("`{}` is not a model aimgen has recipes for", svc.model))
                    .at(format!("{at}/model"))
                    .help(format!("did you mean `{m}`? (ids are case-sensitive)")),
            );
        }
    }
    if let Some(rev) = &svc.revision {
        if !is_revision(rev) {
            out.push(
                Diagnostic::error(format!("`{}` is not a valid revision", rev.escape_debug()))
                    .at(format!("{at}/revision"))
                    .help("use a branch, a tag or a 40-hex commit sha"),
            );
        }
        if svc.model_path.is_some() {
            out.push(
                Diagnostic::error("`revision` has no meaning with `model_path`: a local copy is served as it is")
                    .at_key(format!("{at}/revision"))
                    .help("remove `revision`, or remove `model_path` to download that revision"),
            );
        }
    }
}

/// Most GPUs one host may declare: far beyond real hosts, yet a bound on what a hostile count
/// can make aimgen allocate. Large enough for the 1,000-service benchmark fleets.
pub const MAX_GPUS: u32 = 1024;

/// The host's GPUs: count, model and vendor, memory, render nodes, groups.
fn check_host(spec: &FleetSpec, out: &mut Vec<Diagnostic>) {
    let gpu = &spec.host.gpu;
    if gpu.count == 0 {
        out.push(Diagnostic::error("the host needs at least one GPU").at("/host/gpu/count"));
    }
    if gpu.count > MAX_GPUS {
        out.push(
            Diagnostic::error(format!("{} GPUs on one host is more than aimgen supports ({MAX_GPUS})", gpu.count))
                .at("/host/gpu/count"),
        );
    }
    check_gpu_model(gpu, out);
    if gpu.memory_gb == Some(0) {
        out.push(Diagnostic::error("`memory_gb` must be more than 0").at("/host/gpu/memory_gb"));
    }
    if !gpu.render_nodes.is_empty() {
        check_render_nodes(gpu, out);
    }
    check_group_ids(gpu, out);
}

/// A known GPU model must be of the vendor given; an unknown one needs its memory (and is
/// named with its near miss, when there is one).
fn check_gpu_model(gpu: &GpuSpec, out: &mut Vec<Diagnostic>) {
    match KNOWN_GPUS.iter().find(|(m, _)| m.eq_ignore_ascii_case(&gpu.model)) {
        Some((m, vendor)) => {
            if *vendor != gpu.vendor {
                out.push(
                    Diagnostic::error(format!(
                        "{m} is an {} GPU, but the vendor is `{}`",
                        vendor_name(*vendor),
                        gpu.vendor.as_str()
                    ))
                    .at("/host/gpu/vendor")
                    .help(format!("set `vendor: {}`", vendor.as_str())),
                );
            }
        }
        None => {
            let close = did_you_mean(&gpu.model, KNOWN_GPUS.iter().map(|(m, _)| *m));
            match (close, gpu.memory_gb) {
                (Some(m), _) => out.push(
                    Diagnostic::error(format!("unknown GPU model `{}`", gpu.model))
                        .at("/host/gpu/model")
                        .help(format!("did you mean `{m}`?")),
                ),
                (None, None) => out.push(
                    Diagnostic::error(format!("unknown GPU model `{}`: its memory is not known", gpu.model))
                        .at("/host/gpu/model")
                        .help("set `memory_gb` for it"),
                ),
                (None, Some(_)) => out.push(
                    Diagnostic::warning(format!("unknown GPU model `{}`: only general recipes will match", gpu.model))
                        .at("/host/gpu/model"),
                ),
            }
        }
    }
}

/// AMD render nodes: one per GPU, each a DRM render minor, none twice.
fn check_render_nodes(gpu: &GpuSpec, out: &mut Vec<Diagnostic>) {
    if gpu.vendor != Vendor::Amd {
        out.push(
            Diagnostic::error("`render_nodes` are AMD render devices; NVIDIA GPUs are chosen by `device_ids`")
                .at_key("/host/gpu/render_nodes")
                .help("remove `render_nodes`"),
        );
    } else if gpu.render_nodes.len() != gpu.count as usize {
        out.push(
            Diagnostic::error(format!(
                "{} render nodes for {} GPUs: give one per GPU, GPU 0 first",
                gpu.render_nodes.len(),
                gpu.count
            ))
            .at("/host/gpu/render_nodes")
            .help(RENDER_NODES_HELP),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, minor) in gpu.render_nodes.iter().enumerate() {
        // DRM render minors start at 128 (`/dev/dri/renderD128`).
        if *minor < 128 || *minor > 1023 {
            out.push(
                Diagnostic::error(format!("{minor} is not a DRM render minor"))
                    .at(format!("/host/gpu/render_nodes/{i}"))
                    .help(RENDER_NODES_HELP),
            );
        } else if !seen.insert(*minor) {
            out.push(
                Diagnostic::error(format!("render node {minor} is listed twice"))
                    .at(format!("/host/gpu/render_nodes/{i}")),
            );
        }
    }
}

/// Group ids: each once, and only meaningful on AMD (device files' groups).
fn check_group_ids(gpu: &GpuSpec, out: &mut Vec<Diagnostic>) {
    if !gpu.group_ids.is_empty() && gpu.vendor == Vendor::Nvidia {
        out.push(
            Diagnostic::warning("`group_ids` has no effect on an NVIDIA host").at_key("/host/gpu/group_ids").help(
                "the NVIDIA container toolkit grants device access; `group_ids` is for AMD's /dev/kfd and /dev/dri",
            ),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, g) in gpu.group_ids.iter().enumerate() {
        if !seen.insert(*g) {
            out.push(Diagnostic::error(format!("group {g} is listed twice")).at(format!("/host/gpu/group_ids/{i}")));
        }
    }
}

fn vendor_name(v: Vendor) -> &'static str {
    match v {
        Vendor::Amd => "AMD",
        Vendor::Nvidia => "NVIDIA",
    }
}

fn check_image(spec: &FleetSpec, out: &mut Vec<Diagnostic>) {
    let Some(image) = &spec.image else { return };
    let engines = [("/image/vllm", image.vllm.as_ref()), ("/image/sglang", image.sglang.as_ref())];
    let bases = std::iter::once(("/image", image.base.as_deref(), image.engine_version.as_deref())).chain(
        engines.iter().filter_map(|(at, e)| e.map(|e| (*at, Some(e.base.as_str()), e.engine_version.as_deref()))),
    );
    for (at, base, version) in bases {
        if let Some(base) = base {
            if !is_image_ref(base) {
                out.push(
                    Diagnostic::error(format!("`{}` is not an image reference", base.escape_debug()))
                        .at(format!("{at}/base"))
                        .help("e.g. `vllm/vllm-openai:v0.33.0` or `vllm/vllm-openai@sha256:…`"),
                );
            }
        }
        if let Some(v) = version {
            if base.is_none() {
                out.push(
                    Diagnostic::error("`engine_version` says which release `base` runs, but there is no `base`")
                        .at_key(format!("{at}/engine_version"))
                        .help("set `base` beside it, or drop it (aimgen knows its default images' releases)"),
                );
            } else if EngineVersion::parse(v).is_none() {
                out.push(
                    Diagnostic::error(format!("`{}` is not an engine version", v.escape_debug()))
                        .at(format!("{at}/engine_version"))
                        .help("write the release the image runs, e.g. `0.11.0` or `0.4.6.post1`"),
                );
            }
        }
    }
    for (i, p) in image.pip.iter().enumerate() {
        let at = format!("/image/pip/{i}");
        if p.trim().is_empty() || single_line(p).is_err() {
            out.push(Diagnostic::error("a pip requirement must be one line of printable text").at(at));
        } else if p.starts_with('-') {
            out.push(
                Diagnostic::error(format!("`{p}` is a pip option, not a requirement"))
                    .at(at)
                    .help("list requirement specifiers like `transformers==4.46.0`; configure indexes in pip.conf"),
            );
        }
    }
}

fn check_cache(spec: &FleetSpec, out: &mut Vec<Diagnostic>) {
    let Some(cache) = &spec.cache else { return };
    if cache.volume.is_some() && cache.host_path.is_some() {
        out.push(
            Diagnostic::error("`volume` and `host_path` are both set: the cache is one or the other")
                .at_key("/cache/host_path")
                .help("keep `volume` for a named Docker volume, or `host_path` for a host folder"),
        );
    }
    if let Some(v) = &cache.volume {
        let ok = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && v.len() <= 128;
        if !ok {
            out.push(
                Diagnostic::error(format!("`{}` cannot be a Docker volume name", v.escape_debug()))
                    .at("/cache/volume")
                    .help("use letters, digits, `_`, `.` and `-`, starting with a letter or digit"),
            );
        }
    }
    if let Some(p) = &cache.host_path {
        check_abs_path(p, "/cache/host_path", "host_path", out);
    }
    if cache.budget_gb == Some(0) {
        out.push(
            Diagnostic::error("`budget_gb` must be more than 0")
                .at("/cache/budget_gb")
                .help("the disk space the cache may take, in GB; leave it out for no limit"),
        );
    }
    if let Some(p) = &cache.mount {
        check_abs_path(p, "/cache/mount", "mount", out);
        if p == "/" {
            out.push(Diagnostic::error("the cache cannot be mounted at `/`").at("/cache/mount"));
        }
    }
    if let Some(url) = &cache.hf_endpoint {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() > "https://".len()
            && !url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\'' || c == '"');
        if !ok {
            out.push(
                Diagnostic::error(format!("`{}` is not an http(s) URL", url.escape_debug()))
                    .at("/cache/hf_endpoint")
                    .help("e.g. `http://hf-mirror.internal:8080`"),
            );
        } else if url.contains('@') {
            out.push(
                Diagnostic::error("the mirror URL carries credentials, which would be written into committed files")
                    .at("/cache/hf_endpoint")
                    .help("use HF_TOKEN from the environment instead"),
            );
        }
    }
}

/// Two mounts at one container path: Compose keeps only one of them, so the model cache (or a
/// local model) would silently disappear; a mount inside another hides part of it.
fn check_mount_overlaps(spec: &FleetSpec, out: &mut Vec<Diagnostic>) {
    let mount = spec.cache.as_ref().and_then(|c| c.mount.as_deref()).unwrap_or(DEFAULT_MOUNT);
    let mount = mount.trim_end_matches('/');
    if paths_overlap(mount, SCRATCH_MOUNT) {
        out.push(
            Diagnostic::error(format!(
                "the cache mount `{}` overlaps aimgen's engine scratch `{SCRATCH_MOUNT}`",
                mount.escape_debug()
            ))
            .at("/cache/mount")
            .help(format!("mount the cache elsewhere, e.g. `{DEFAULT_MOUNT}`")),
        );
    }
    for (name, svc) in &spec.services {
        let Some(p) = svc.model_path.as_deref() else { continue };
        let p = p.trim_end_matches('/');
        for (other, what) in [(mount, "the model cache mount"), (SCRATCH_MOUNT, "aimgen's engine scratch")] {
            if paths_overlap(p, other) {
                out.push(
                    Diagnostic::error(format!("`model_path` `{}` overlaps {what} `{}`", p.escape_debug(), other.escape_debug()))
                        .at(format!("/services/{}/model_path", escape_segment(name)))
                        .help("a local model is mounted at its own path inside the container: keep it apart from the cache and scratch paths"),
                );
            }
        }
    }
}

/// Equal, or one inside the other, comparing whole path segments.
fn paths_overlap(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || (x.starts_with(y) && x.as_bytes().get(y.len()) == Some(&b'/'));
    !a.is_empty() && !b.is_empty() && (inside(a, b) || inside(b, a))
}

fn check_serving(spec: &FleetSpec, out: &mut Vec<Diagnostic>) {
    if let Some(img) = &spec.image {
        if img.preload_tokenizers && spec.cache.as_ref().is_some_and(|c| c.host_path.is_some()) {
            out.push(
                Diagnostic::warning("`preload_tokenizers` has no effect with a `host_path` cache")
                    .at("/image/preload_tokenizers")
                    .help(
                        "the files are baked into the image's copy of the cache folder, which only a new named \
                         volume is seeded from; a bind-mounted host folder hides them. Remove `preload_tokenizers`, \
                         or use a named `volume`",
                    ),
            );
        }
    }
    let Some(serving) = &spec.serving else { return };
    if let Some(b) = &serving.bind {
        check_bind(b, "/serving/bind", out);
    }
    if let Some(v) = &serving.api_key_env {
        check_key_variable(v, "/serving/api_key_env", out);
    }
    if let Some(size) = &serving.log_max_size {
        let digits = size.trim_end_matches(['k', 'm', 'g']);
        let ok = !digits.is_empty()
            && digits.len() + 1 >= size.len()
            && digits.chars().all(|c| c.is_ascii_digit())
            && digits.parse::<u64>().is_ok_and(|n| n > 0);
        if !ok {
            out.push(
                Diagnostic::error(format!("`{}` is not a log size", size.escape_debug()))
                    .at("/serving/log_max_size")
                    .help("a positive number with an optional unit `k`, `m` or `g`, e.g. `100m`"),
            );
        }
    }
    if let Some(u) = &serving.ulimits {
        check_ulimits(u, "/serving/ulimits", out);
    }
    if serving.log_max_files == Some(0) {
        out.push(Diagnostic::error("`log_max_files` must be at least 1").at("/serving/log_max_files"));
    }
    if serving.restart_attempts == Some(0) {
        out.push(
            Diagnostic::error("`restart_attempts: 0` would mean \"restart forever\" to Docker (`on-failure:0`)")
                .at("/serving/restart_attempts")
                .help("use 1 or more"),
        );
    }
}

/// Resource limits: names Docker knows, values of 0 or more or -1 (unlimited), and soft no
/// higher than hard, as Docker's go-units `ParseUlimit` requires; Compose passes the values on
/// unchecked, so without this the mistake would surface only when the container is created.
fn check_ulimits(limits: &BTreeMap<String, Ulimit>, at: &str, out: &mut Vec<Diagnostic>) {
    for (name, limit) in limits {
        let here = format!("{at}/{}", escape_segment(name));
        if !ULIMIT_NAMES.contains(&name.as_str()) {
            let names = ULIMIT_NAMES.join(", ");
            let help = match did_you_mean(name, ULIMIT_NAMES.iter().copied()) {
                Some(m) => format!("did you mean `{m}`? Docker's limits: {names}"),
                None => format!("Docker's limits: {names}"),
            };
            out.push(
                Diagnostic::error(format!("`{}` is not a resource limit Docker knows", name.escape_debug()))
                    .at_key(&here)
                    .help(help),
            );
            continue;
        }
        let values: Vec<(String, i64)> = match limit {
            Ulimit::Both(n) => vec![(here.clone(), *n)],
            Ulimit::Range(r) => vec![(format!("{here}/soft"), r.soft), (format!("{here}/hard"), r.hard)],
        };
        let mut valid = true;
        for (place, n) in values {
            if n < -1 {
                valid = false;
                out.push(
                    Diagnostic::error(format!("{n} is not a valid `{name}` limit"))
                        .at(place)
                        .help("use 0 or more, or -1 for unlimited"),
                );
            }
        }
        let (soft, hard) = limit.soft_hard();
        if valid && hard != -1 && (soft == -1 || soft > hard) {
            let shown = |n: i64| if n == -1 { "unlimited (-1)".to_string() } else { n.to_string() };
            out.push(
                Diagnostic::error(format!(
                    "the soft `{name}` limit {} is above its hard limit {hard}",
                    shown(soft)
                ))
                .at(format!("{here}/soft"))
                .help("a process may raise its soft limit only up to the hard one: lower `soft` or raise `hard` (-1 is unlimited)"),
            );
        }
    }
}

/// The syntax of a service's `bind` and `api_key_env` (whether an open bind needs a key is the
/// Compose target's question: `target::compose::exposure`).
fn check_exposure(svc: &ServiceSpec, at: &str, out: &mut Vec<Diagnostic>) {
    if let Some(b) = &svc.bind {
        check_bind(b, &format!("{at}/bind"), out);
    }
    if let Some(v) = &svc.api_key_env {
        check_key_variable(v, &format!("{at}/api_key_env"), out);
    }
}

fn check_bind(b: &str, at: &str, out: &mut Vec<Diagnostic>) {
    if b.parse::<std::net::IpAddr>().is_err() {
        let help = if b.starts_with('[') {
            "write an IPv6 address without brackets, e.g. `::1`".to_string()
        } else {
            "an IPv4 or IPv6 address: `127.0.0.1` (this host only), `0.0.0.0` (every interface), `::1`, or one \
             of the host's addresses"
                .to_string()
        };
        out.push(Diagnostic::error(format!("`{}` is not an IP address", b.escape_debug())).at(at).help(help));
    }
}

fn check_key_variable(v: &str, at: &str, out: &mut Vec<Diagnostic>) {
    if !crate::text::valid_env_name(v) {
        out.push(
            Diagnostic::error(format!("`{}` is not an environment variable name", v.escape_debug()))
                .at(at)
                .help("name the variable that holds the key, e.g. `AIM_API_KEY` (letters, digits and `_`)"),
        );
    } else if TOKEN_VARS.contains(&v) {
        out.push(
            Diagnostic::error(format!("`{v}` is the Hub's variable, not an API key for the servers"))
                .at(at)
                .help("use a variable of its own, e.g. `AIM_API_KEY`"),
        );
    }
}

fn check_abs_path(p: &str, at: &str, what: &str, out: &mut Vec<Diagnostic>) {
    if !p.starts_with('/') {
        out.push(
            Diagnostic::error(format!("`{what}` must be an absolute path, not `{}`", p.escape_debug()))
                .at(at)
                .help(format!("e.g. `/{}`", p.trim_start_matches("./"))),
        );
    } else if p == "/" {
        // Paths arrive cleaned (`/.` is `/`): the whole file system is no model or cache folder,
        // and Compose reads a mount of `/` as the project folder.
        out.push(
            Diagnostic::error(format!("`{what}` cannot be `/`, the root folder"))
                .at(at)
                .help("name the folder itself, e.g. `/models/llama`"),
        );
    } else if p.chars().any(|c| is_unsafe_char(c) || matches!(c, ':' | '$' | '\'' | '\\'))
        || p.split('/').any(|s| s == "..")
    {
        out.push(
            Diagnostic::error(format!("`{}` cannot be used as a mount path", p.escape_debug()))
                .at(at)
                // The cache mount becomes HF_HOME in an env file, which holds no `'` and no
                // trailing `\`; host folders are bind-mount sources, where `:` separates fields.
                .help("no `..`, `:`, `$`, `'`, `\\` or control characters"),
        );
    }
}

/// Compose project names.
pub fn is_project_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && s.len() <= 63
}

/// Service names: safe as Compose service names, host names and file names.
pub fn is_service_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        && s.len() <= 63
        && !s.contains("..")
}

/// Image references: `[registry/]name[:tag][@digest]`, no whitespace or shell characters.
pub fn is_image_ref(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> FleetSpec {
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
    }

    /// Each error as `pointer: message`.
    fn errors(yaml: &str) -> Vec<String> {
        check(&spec(yaml), &["Qwen/Qwen3-32B"])
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(|d| format!("{}: {}", d.pointer.unwrap_or_default(), d.message))
            .collect()
    }

    const HOST: &str = "version: 1\nname: fleet\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\n";

    #[test]
    fn a_plain_fleet_has_no_errors() {
        assert_eq!(errors(&format!("{HOST}services:\n  qwen: {{model: Qwen/Qwen3-32B}}\n")), Vec::<String>::new());
    }

    #[test]
    fn service_names_are_checked_where_they_are_written() {
        let e = errors(&format!(
            "{HOST}services:\n  aimgen-x: {{model: Qwen/Qwen3-32B}}\n  a_b: {{model: Qwen/Qwen3-32B}}\n  a-b: {{model: Qwen/Qwen3-32B}}\n"
        ));
        assert!(e.iter().any(|e| e.starts_with("/services/aimgen-x: ") && e.contains("reserved")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("collide")), "{e:?}");
    }

    #[test]
    fn model_ids_and_revisions_are_checked() {
        let e = errors(&format!("{HOST}services:\n  q: {{model: not-a-repo, revision: 'a..b'}}\n"));
        assert!(e.iter().any(|e| e.starts_with("/services/q/model: ")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("/services/q/revision: ")), "{e:?}");
    }

    #[test]
    fn an_empty_fleet_and_a_wrong_version_are_errors() {
        let e = errors("version: 2\nname: fleet\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\nservices: {}\n");
        assert!(e.iter().any(|e| e.starts_with("/version: ")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("/services: ")), "{e:?}");
    }

    #[test]
    fn a_near_miss_model_id_is_a_warning_with_the_fix() {
        let s = spec(&format!("{HOST}services:\n  q: {{model: qwen/qwen3-32b}}\n"));
        let d = check(&s, &["Qwen/Qwen3-32B"]);
        let w = d.iter().find(|d| !d.is_error()).expect("a warning");
        assert_eq!(w.pointer.as_deref(), Some("/services/q/model"));
        assert!(w.help.as_deref().is_some_and(|h| h.contains("Qwen/Qwen3-32B")), "{w:?}");
    }
}
