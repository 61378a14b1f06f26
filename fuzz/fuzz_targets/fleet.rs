//! A fleet spec from arbitrary bytes through the whole pipeline to rendered output.
//!
//! Properties checked on every input:
//! - nothing panics (load, validate, resolve, render, diagnostics);
//! - serde accepting the spec implies the JSON Schema has nothing to say (`load::parse_lenient`
//!   skips the schema for input serde accepts);
//! - a compiled plan always renders, in both layouts;
//! - no rendered file holds the value of `HF_TOKEN` from the environment;
//! - every rendered path is a plain relative path;
//! - no rendered file holds a raw line break other than `\n` (Compose's YAML parser also
//!   breaks at `\r`, U+0085, U+2028, U+2029) or any other unsafe character;
//! - no text of the spec adds structure. The Compose file is parsed back with libyaml's
//!   rules (serde_norway wraps a port of libyaml; Go's yaml.v3, Compose's parser, is another
//!   port of it: both break lines at `\r`, `\n`, U+0085, U+2028 and U+2029) and must have
//!   exactly aimgen's top-level keys and volumes, exactly the spec's services plus one
//!   prefetch job per model, no service key but those aimgen writes, and every server's
//!   entrypoint + command, environment and env-file lines reading back (after Compose's `$$`
//!   unescaping) exactly as the plan has them; every prefetch job's JSON argument names its
//!   own model; the Dockerfile holds only aimgen's instructions, one `FROM` per image.
#![no_main]

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use aimgen::compile::{self, Failure, Options};
use aimgen::lockfile::Pins;
use aimgen::target::compose::{self as compose, COMPOSE_FILE};
use aimgen::target::{Files, Layout, Target};
use aimgen::spec::FleetSpec;
use libfuzzer_sys::fuzz_target;
use serde_yaml::Value as Yaml;

/// Set as `HF_TOKEN`; must never appear in output (unless the input itself holds it).
const SENTINEL: &str = "hf_fuzzSENTINELtoken0xC0FFEE";

/// An empty folder as the spec's own folder, so relative `recipes:` entries read nothing.
fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        // SAFETY-free: edition 2021, set once before any rendering reads the environment.
        std::env::set_var("HF_TOKEN", SENTINEL);
        std::env::set_var("HUGGING_FACE_HUB_TOKEN", SENTINEL);
        let dir = std::env::temp_dir().join(format!("aimgen-fuzz-base-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

fn plain_relative(p: &str) -> bool {
    !p.is_empty() && Path::new(p).components().all(|c| matches!(c, Component::Normal(_)))
}

fuzz_target!(|data: &[u8]| {
    let base = base();
    let Ok(source) = aimgen::load::from_bytes("fleet.yaml", data.to_vec()) else { return };

    // serde ⇒ schema: the shortcut in parse_lenient must not hide a schema problem.
    if let Ok(json) = aimgen::load::parse_json(&source) {
        if aimgen::load::deserialize_strict::<FleetSpec>(&json).is_ok() {
            let problems = compile::fleet_schema().check(&json);
            assert!(problems.is_empty(), "serde accepts what the schema rejects: {problems:?}");
        }
    }

    let compiled = match compile::compile_source(source, base, &Options::default(), &Pins::new()) {
        Ok(c) => c,
        Err(Failure::Invalid(diags)) => {
            for d in &diags {
                let _ = d.render(false);
                let _ = d.render(true);
            }
            return;
        }
        Err(Failure::Read(_)) => return,
    };
    for d in &compiled.resolution.warnings {
        let _ = d.render(false);
    }
    let plan = &compiled.resolution.plan;
    let holds_sentinel = data.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes());
    let mut expected: Vec<String> = compiled.spec.services.keys().cloned().collect();
    if let Some(p) = &plan.prefetch {
        for job in &p.jobs {
            assert!(job.name.starts_with(aimgen::resolve::PREFETCH_PREFIX), "prefetch job {:?}", job.name);
            expected.push(job.name.clone());
        }
    }
    expected.sort();
    let expected_len = expected.len();
    expected.dedup();
    assert_eq!(expected.len(), expected_len, "two services share a name: {expected:?}");
    for layout in [Layout::SingleFile, Layout::Folder] {
        let files = match Target::Compose.render(plan, layout) {
            Ok(f) => f,
            Err(e) => panic!("a compiled plan failed to render ({layout:?}): {e:#}"),
        };
        for (path, text) in &files {
            assert!(plain_relative(path), "rendered path {path:?} is not a plain relative path");
            assert!(holds_sentinel || !text.contains(SENTINEL), "{path} contains the HF_TOKEN value");
            // Compose's YAML parser (Go yaml.v3, YAML 1.1 rules) also breaks lines at `\r`,
            // U+0085, U+2028 and U+2029, and env files and Dockerfiles end a line at `\r`:
            // the only raw line break any generated file may hold is `\n`, and nothing else
            // that is not printable text (tab aside) may appear raw either.
            if let Some(c) = text.chars().find(|c| *c != '\n' && *c != '\t' && aimgen::text::is_unsafe_char(*c)) {
                panic!("{path} holds U+{:04X} raw:\n{text}", c as u32);
            }
            if path.ends_with(".env") {
                for line in text.lines().filter(|l| !l.starts_with('#')) {
                    let name = line.split_once('=').map(|(k, _)| k).unwrap_or("");
                    assert!(
                        aimgen::text::valid_env_name(name),
                        "{path}: a line that is not NAME=value: {line:?}"
                    );
                }
            }
        }
        let compose = files.get(COMPOSE_FILE).expect("a Compose file");
        let doc: Yaml = match serde_yaml::from_str(compose) {
            Ok(d) => d,
            Err(e) => panic!("the Compose file ({layout:?}) does not parse back: {e}\n{compose}"),
        };
        let services = doc["services"].as_mapping().expect("services mapping");
        let mut names: Vec<String> =
            services.keys().map(|k| k.as_str().expect("service names are strings").to_string()).collect();
        names.sort();
        assert_eq!(names, expected, "services in the Compose file ({layout:?})");
        // No text of the spec may add a top-level key, a volume or a service key.
        assert_keys(&doc, &["name", "x-aimgen-prefetch-script", "services", "volumes", "secrets"], "top level");
        assert_keys(&doc["volumes"], &["model-cache", "engine-scratch"], "volumes");
        assert_eq!(unescape(str_of(&doc["name"])), plan.name, "project name");
        for (name, svc) in services {
            assert_keys(svc, SERVICE_KEYS, &format!("service {name:?}"));
        }
        for s in &plan.servers {
            let svc = &doc["services"][s.name.as_str()];
            let raw: Vec<&str> = strings(&svc["entrypoint"]).chain(strings(&svc["command"])).collect();
            assert!(raw.len() >= s.argv.len(), "{}: command {raw:?} shorter than {:?}", s.name, s.argv);
            let argv: Vec<String> = raw[..s.argv.len()].iter().map(|a| unescape(a)).collect();
            assert_eq!(argv, s.argv, "{}: entrypoint + command ({layout:?})", s.name);
            // After the plan's argv, nothing but the API key flag and its `${VAR:?…}` reference.
            match (&raw[s.argv.len()..], &s.api_key) {
                ([], _) => {}
                ([flag, reference], Some(aimgen::plan::ApiKey { variable, delivery: aimgen::plan::KeyDelivery::Flag(f) })) => {
                    assert_eq!(unescape(flag), *f, "{}: API key flag", s.name);
                    assert!(reference.starts_with(&format!("${{{variable}:?")), "{}: {reference:?}", s.name);
                }
                (extra, _) => panic!("{}: command items not in the plan: {extra:?}", s.name),
            }
            let mut want: BTreeMap<String, String> = BTreeMap::new();
            match layout {
                Layout::SingleFile => {
                    want.extend(plan.cache.server_env.clone());
                    want.extend(s.env.clone());
                }
                Layout::Folder => {
                    let common = env_file(&files, compose::COMMON_ENV_FILE);
                    assert_eq!(common, plan.cache.server_env, "{}", compose::COMMON_ENV_FILE);
                    let own = compose::service_env_file(&s.name);
                    assert_eq!(env_file(&files, &own), s.env, "{own}");
                }
            }
            let env = svc["environment"].as_mapping();
            for (k, v) in env.into_iter().flatten() {
                let k = k.as_str().expect("variable names are strings");
                match want.remove(k) {
                    Some(w) => assert_eq!(unescape(str_of(v)), w, "{}: environment {k} ({layout:?})", s.name),
                    // aimgen's own: GPU visibility, the token and the API key by reference.
                    None => assert!(
                        k == "ROCR_VISIBLE_DEVICES"
                            || k == "HF_TOKEN"
                            || s.api_key.as_ref().is_some_and(|a| matches!(&a.delivery,
                                aimgen::plan::KeyDelivery::Env(var) if var == k)),
                        "{}: environment {k:?} not in the plan ({layout:?})",
                        s.name
                    ),
                }
            }
            assert!(want.is_empty(), "{}: environment lacks {want:?} ({layout:?})", s.name);
        }
        for job in plan.prefetch.iter().flat_map(|p| &p.jobs) {
            let cmd: Vec<&str> = strings(&doc["services"][job.name.as_str()]["command"]).collect();
            assert_eq!(cmd.len(), 3, "{}: command {cmd:?}", job.name);
            let arg: serde_json::Value = serde_json::from_str(&unescape(cmd[2])).expect("the job's JSON argument");
            assert_eq!(arg["repo"], job.model.repo.as_str(), "{}: repo", job.name);
            assert_eq!(arg["revision"], job.model.revision.as_str(), "{}: revision", job.name);
        }
        let dockerfile = match layout {
            Layout::Folder => files.get(aimgen::target::dockerfile::DOCKERFILE).expect("a Dockerfile").clone(),
            Layout::SingleFile => {
                let build = services.values().find_map(|s| s["build"]["dockerfile_inline"].as_str());
                unescape(build.expect("an inline Dockerfile"))
            }
        };
        let froms = dockerfile_instructions(&dockerfile);
        assert_eq!(froms, plan.images.len(), "FROM lines in the Dockerfile ({layout:?}):\n{dockerfile}");
    }
});

/// Every key a Compose service of aimgen's may have (see the template).
const SERVICE_KEYS: &[&str] = &[
    "image", "build", "pull_policy", "depends_on", "entrypoint", "command", "labels", "env_file", "environment",
    "volumes", "ports", "devices", "group_add", "cap_add", "security_opt", "deploy", "ipc", "ulimits",
    "healthcheck", "restart", "stop_grace_period", "logging",
];

fn assert_keys(v: &Yaml, allowed: &[&str], what: &str) {
    for k in v.as_mapping().unwrap_or_else(|| panic!("{what} is not a mapping")).keys() {
        let k = k.as_str().unwrap_or_else(|| panic!("{what}: a key that is not a string: {k:?}"));
        assert!(allowed.contains(&k), "{what}: unexpected key {k:?}");
    }
}

fn str_of(v: &Yaml) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn strings(v: &Yaml) -> impl Iterator<Item = &str> {
    v.as_sequence().into_iter().flatten().map(str_of)
}

/// Compose's interpolation undone for text aimgen escaped: `$$` is `$`. A lone `$` would be
/// interpolated by Compose; aimgen writes none into text it escapes.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '$' {
            assert_eq!(chars.next(), Some('$'), "a `$` Compose would interpolate in {s:?}");
        }
        out.push(c);
    }
    out
}

/// An env file's variables, read as Compose reads aimgen's two forms: `NAME=plain` and
/// `NAME='literal'`.
fn env_file(files: &Files, path: &str) -> BTreeMap<String, String> {
    let text = files.get(path).unwrap_or_else(|| panic!("no {path}"));
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("{path}: {line:?}"));
        let v = match v.strip_prefix('\'') {
            Some(q) => q.strip_suffix('\'').unwrap_or_else(|| panic!("{path}: unterminated quote: {line:?}")),
            None => v,
        };
        assert!(out.insert(k.to_string(), v.to_string()).is_none(), "{path}: {k} twice");
    }
    out
}

/// Checks every instruction of a Dockerfile is one aimgen writes, and returns how many `FROM`
/// lines it has. Continuation lines (after a trailing `\`) and the preload heredoc belong to
/// the instruction before them.
fn dockerfile_instructions(text: &str) -> usize {
    let mut froms = 0;
    let mut continued = false;
    let mut heredoc: Option<&str> = None;
    for line in text.lines() {
        if let Some(end) = heredoc {
            if line == end {
                heredoc = None;
            }
            continue;
        }
        let was_continued = continued;
        continued = line.ends_with('\\');
        if was_continued || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let word = line.split(' ').next().unwrap_or("");
        assert!(["FROM", "ENV", "RUN", "ARG"].contains(&word), "Dockerfile instruction {line:?}\n{text}");
        froms += usize::from(word == "FROM");
        if line.ends_with("<<'PY'") {
            heredoc = Some("PY");
        }
    }
    assert!(heredoc.is_none() && !continued, "the Dockerfile ends inside an instruction:\n{text}");
    froms
}
