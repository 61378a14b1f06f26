//! One server: its model source, engine arguments (checked against the engine's catalogue),
//! API key, listen address, command line, environment and runtime limits.

use super::*;

/// The server of a service whose recipe was chosen. Problems with its arguments, variables,
/// key or context length are reported at the service; the server is built regardless, so
/// every problem of the spec shows at once.
pub(super) fn server_plan(
    fleet: &Fleet,
    s: &Service,
    chosen: Chosen,
    gpus: Vec<u32>,
    host_port: u16,
    diags: &mut Vec<Diagnostic>,
) -> ServerPlan {
    let (svc, backend, recipe) = (s.spec, s.backend, chosen.recipe);
    let source = model_source(svc, fleet.pins);
    // The catalogue the service is checked against.
    let version = s.release.map(|r| r.checked.clone());
    let args = merged_args(fleet.lib, s, recipe, version.as_ref());
    if let Some(ver) = &version {
        catalogue_checks(fleet.lib, s, recipe, ver, diags);
    }
    let api_key = api_key(fleet, s, version.as_ref(), diags);
    let bind =
        svc.bind.as_deref().or(fleet.serving.bind.as_deref()).and_then(|b| b.parse().ok()).unwrap_or(DEFAULT_BIND);
    if api_key.is_some() {
        diags.extend(bypassable_key(s, bind));
    }
    diags.extend(context_too_long(s, &args));

    let port = engine_port(backend);
    let served = svc.served_model_name.clone().unwrap_or_else(|| svc.model.clone());
    let argv = engine_argv(backend, &source, &served, port, gpus.len().max(1) as u32, &args);
    let prefetching = fleet.cache.prefetching;
    ServerPlan {
        name: s.name.to_string(),
        backend: backend.into(),
        entrypoint_len: image::entrypoint(backend).len(),
        // The label names the release the image runs, else the catalogue it was checked with.
        engine_version: s.release.map(|r| r.runs.to_string()).unwrap_or_default(),
        model_id: svc.model.clone(),
        source,
        served_model_name: served,
        gpus,
        host_port,
        port,
        argv,
        env: server_env(fleet, s, recipe, version.as_ref()),
        needs_token: !prefetching && svc.model_path.is_none(),
        prefetch_job: (prefetching && svc.model_path.is_none())
            .then(|| prefetch_job_name(&svc.model, svc.revision.as_deref().unwrap_or("main"))),
        health_path: "/health".into(),
        bind,
        api_key,
        runtime: runtime_plan(fleet, s, &args),
        recipe: ChosenRecipe {
            id: recipe.recipe.id.clone(),
            origin: recipe.origin.clone().into(),
            pinned: chosen.pinned,
            precision: recipe.recipe.precision.into(),
            weights_gb: s.weights_gb(recipe),
        },
    }
}

/// Where the server loads its model from: a local folder, else the Hub at the service's
/// revision, pinned to the lock's commit when there is one.
fn model_source(svc: &ServiceSpec, pins: &Pins) -> ModelSource {
    if let Some(path) = &svc.model_path {
        return ModelSource::Local { path: path.trim_end_matches('/').to_string() };
    }
    let revision = svc.revision.clone().unwrap_or_else(|| "main".to_string());
    let sha = pins.get(&(svc.model.clone(), revision.clone())).map(|p| p.sha.clone());
    ModelSource::Hub(HubModel { repo: svc.model.clone(), revision, sha })
}

/// The port the engine listens on inside its container: each engine's own default.
fn engine_port(backend: Backend) -> u16 {
    match backend {
        Backend::Vllm => 8000,
        Backend::Sglang => 30000,
    }
}

/// The recipe's arguments with the service's on top.
fn merged_args(
    lib: &Library,
    s: &Service,
    recipe: &LoadedRecipe,
    version: Option<&EngineVersion>,
) -> BTreeMap<String, Json> {
    let mut args: BTreeMap<String, Json> = recipe.recipe.args.clone();
    for (k, v) in &s.spec.args {
        // Aliases (`q`, `tp`, …) become the canonical flag, so an override replaces the
        // recipe's value instead of passing the flag twice.
        let name = version
            .and_then(|ver| lib.catalog.flag(s.backend, ver, k))
            .map(|f| f.name.clone())
            .unwrap_or_else(|| k.clone());
        args.insert(name, v.clone());
    }
    args
}

/// The service's arguments and variables against the catalogue of `ver`, and the recipe
/// against the releases it was checked with.
fn catalogue_checks(
    lib: &Library,
    s: &Service,
    recipe: &LoadedRecipe,
    ver: &EngineVersion,
    diags: &mut Vec<Diagnostic>,
) {
    let at = &s.at;
    diags.extend(lib.catalog.check_args(s.backend, ver, &s.spec.args, &format!("{at}/args")));
    // The Hub token's names in a service's `env` are reported by `validate` already.
    let env: BTreeMap<String, crate::spec::EnvValue> = s
        .spec
        .env
        .iter()
        .filter(|(k, _)| !crate::reserved::TOKEN_VARS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    diags.extend(lib.catalog.check_env(s.backend, ver, &env, &format!("{at}/env")));
    diags.extend(recipe_outside_its_checks(lib, recipe, ver, at));
}

/// The server's API key (its own `api_key_env`, else the fleet's) and how the engine takes
/// it; an error when the engine's catalogue offers no way.
fn api_key(fleet: &Fleet, s: &Service, version: Option<&EngineVersion>, diags: &mut Vec<Diagnostic>) -> Option<ApiKey> {
    let variable = s.spec.api_key_env.as_ref().or(fleet.serving.api_key_env.as_ref())?;
    let delivery = version
        .and_then(|ver| crate::recipe::secrets::api_key_delivery(&fleet.lib.catalog, s.backend, ver))
        .map(KeyDelivery::from);
    if delivery.is_none() {
        diags.push(
            Diagnostic::error(format!(
                "the {} catalogue has no API-key variable or `--api-key` flag: `{}` cannot be given a key",
                s.backend.as_str(),
                s.name
            ))
            .at(if s.spec.api_key_env.is_some() {
                format!("{}/api_key_env", s.at)
            } else {
                "/serving/api_key_env".into()
            }),
        );
    }
    delivery.map(|delivery| ApiKey { variable: variable.clone(), delivery })
}

/// A warning when a keyed vLLM server older than [`VLLM_AUTH_FIXED`] listens beyond this host.
fn bypassable_key(s: &Service, bind: std::net::IpAddr) -> Option<Diagnostic> {
    let r = s.release.filter(|_| s.backend == Backend::Vllm)?;
    let fixed = EngineVersion::parse(VLLM_AUTH_FIXED).filter(|f| r.runs < *f)?;
    if bind.is_loopback() {
        return None;
    }
    let name = s.name;
    Some(
        Diagnostic::warning(format!(
            "vLLM {}'s API-key check can be bypassed with a crafted `Host:` header \
             (GHSA-94f4-hr76-p5j6, fixed in {fixed}), and `{name}` is published on {bind}",
            r.runs
        ))
        .at(if s.spec.bind.is_some() { format!("{}/bind", s.at) } else { "/serving/bind".into() })
        .help(format!(
            "use a vLLM {fixed} or newer image, or keep `{name}` on 127.0.0.1 behind a reverse proxy \
             that rejects malformed Host headers (nginx does)"
        )),
    )
}

/// An error when the context length the arguments ask for exceeds the model's.
fn context_too_long(s: &Service, args: &BTreeMap<String, Json>) -> Option<Diagnostic> {
    let limit = s.facts.and_then(|f| f.context_length)?;
    let key = match s.backend {
        Backend::Vllm => "max-model-len",
        Backend::Sglang => "context-length",
    };
    let len = args.get(key).and_then(json_u64).filter(|len| *len > limit)?;
    let place = if s.spec.args.contains_key(key) { format!("{}/args/{key}", s.at) } else { format!("{}/model", s.at) };
    Some(
        Diagnostic::error(format!("`--{key} {len}` is longer than {}'s context of {limit} tokens", s.spec.model))
            .at(place)
            .help(format!("use at most {limit}")),
    )
}

/// The server's own variables: the recipe's, the service's on top, then what aimgen adds
/// unless the spec set it.
fn server_env(
    fleet: &Fleet,
    s: &Service,
    recipe: &LoadedRecipe,
    version: Option<&EngineVersion>,
) -> BTreeMap<String, String> {
    let scratch = format!("{SCRATCH_MOUNT}/{}", s.name);
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in recipe.recipe.env.iter().chain(&s.spec.env) {
        env.insert(k.clone(), v.as_text());
    }
    // Remote code and compile caches are written at run time: keep them off the
    // (read-only) model cache, on the per-service scratch volume that outlives the
    // container, so a recreated server starts warm.
    env.insert("HF_MODULES_CACHE".into(), format!("{scratch}/hf-modules"));
    for (var, dir) in jit_caches(&fleet.lib.catalog, s.backend, version, fleet.gpu.vendor) {
        env.entry(var.to_string()).or_insert_with(|| format!("{scratch}/{dir}"));
    }
    if !fleet.serving.telemetry.unwrap_or(false) {
        for (var, value) in telemetry_off(&fleet.lib.catalog, s.backend, version) {
            env.entry(var.to_string()).or_insert_with(|| value.to_string());
        }
    }
    env
}

/// Restarts, stop grace, log rotation and resource limits.
fn runtime_plan(fleet: &Fleet, s: &Service, args: &BTreeMap<String, Json>) -> RuntimePlan {
    let backend = s.backend;
    let serving = &fleet.serving;
    RuntimePlan {
        restart_attempts: serving.restart_attempts.unwrap_or(DEFAULT_RESTART_ATTEMPTS),
        stop_grace_seconds: STOP_GRACE_SECONDS
            + match backend {
                // `--shutdown-timeout N` lets in-flight requests drain for N seconds first.
                Backend::Vllm => args.get("shutdown-timeout").and_then(json_u64).unwrap_or(0) as u32,
                Backend::Sglang => 0,
            },
        log_max_size: serving.log_max_size.clone().unwrap_or_else(|| DEFAULT_LOG_MAX_SIZE.to_string()),
        log_max_files: serving.log_max_files.unwrap_or(DEFAULT_LOG_MAX_FILES),
        ulimits: ulimits(fleet, s.spec),
    }
}

/// The server's resource limits: its own, else the fleet's, else the vendor default; sorted by
/// name (the spec's maps are), so the output is byte-stable.
fn ulimits(fleet: &Fleet, svc: &ServiceSpec) -> Vec<Ulimit> {
    match svc.ulimits.as_ref().or(fleet.serving.ulimits.as_ref()) {
        Some(given) => given
            .iter()
            .map(|(name, u)| {
                let (soft, hard) = u.soft_hard();
                Ulimit { name: name.clone(), soft, hard }
            })
            .collect(),
        None if fleet.gpu.vendor == Vendor::Nvidia => {
            NVIDIA_ULIMITS.iter().map(|(name, n)| Ulimit { name: name.to_string(), soft: *n, hard: *n }).collect()
        }
        None => Vec::new(),
    }
}

fn json_u64(v: &Json) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::library::builtin;

    fn resolved(services: &str, serving: &str) -> Result<Resolution, Vec<Diagnostic>> {
        let yaml = format!(
            "version: 1\nname: f\nhost: {{gpu: {{vendor: amd, model: MI300X, count: 8}}}}\n{serving}services:\n{services}"
        );
        let spec: FleetSpec = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
        resolve(&spec, "fleet.yaml", builtin().expect("built-in library"), &Pins::new(), false)
    }

    fn flag_values<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
        argv.windows(2).filter(|w| w[0] == flag).map(|w| w[1].as_str()).collect()
    }

    #[test]
    fn a_service_argument_replaces_the_recipes_and_the_context_is_checked_against_the_model() {
        let r = resolved("  a: {model: Qwen/Qwen3-32B, args: {max-model-len: 1000}}\n", "").expect("resolves");
        assert_eq!(flag_values(&r.plan.servers[0].argv, "--max-model-len"), ["1000"]);

        let errors =
            resolved("  a: {model: Qwen/Qwen3-32B, args: {max-model-len: 50000}}\n", "").expect_err("too long");
        let d = errors.iter().find(|d| d.message.contains("is longer than")).expect("context error");
        assert_eq!(d.message, "`--max-model-len 50000` is longer than Qwen/Qwen3-32B's context of 40960 tokens");
        assert_eq!(d.pointer.as_deref(), Some("/services/a/args/max-model-len"));
    }

    #[test]
    fn the_services_env_wins_and_aimgen_adds_scratch_caches_and_switches_telemetry_off() {
        let r = resolved("  a: {model: Qwen/Qwen3-32B, env: {TRITON_CACHE_DIR: /mine}}\n", "").expect("resolves");
        let env = &r.plan.servers[0].env;
        assert_eq!(env.get("TRITON_CACHE_DIR").map(String::as_str), Some("/mine"));
        assert_eq!(env.get("HF_MODULES_CACHE"), Some(&format!("{SCRATCH_MOUNT}/a/hf-modules")));
        assert_eq!(env.get("VLLM_CACHE_ROOT"), Some(&format!("{SCRATCH_MOUNT}/a/vllm")));
        assert_eq!(env.get("DO_NOT_TRACK").map(String::as_str), Some("1"));

        let r = resolved("  a: {model: Qwen/Qwen3-32B}\n", "serving: {telemetry: true}\n").expect("resolves");
        assert_eq!(r.plan.servers[0].env.get("DO_NOT_TRACK"), None);
    }
}
