//! A fleet spec from arbitrary bytes through the whole pipeline to rendered output.
//!
//! Properties checked on every input:
//! - nothing panics (load, validate, resolve, render, diagnostics);
//! - serde accepting the spec implies the JSON Schema has nothing to say (`load::parse_lenient`
//!   skips the schema for input serde accepts);
//! - a compiled plan always renders, in both layouts;
//! - the Compose file parses back as YAML, with exactly the spec's services plus
//!   `aimgen-prefetch` when the plan prefetches;
//! - no rendered file holds the value of `HF_TOKEN` from the environment;
//! - every rendered path is a plain relative path;
//! - no rendered file holds a raw line break other than `\n` (Compose's YAML parser also
//!   breaks at `\r`, U+0085, U+2028, U+2029) or any other unsafe character, every env-file
//!   line is `NAME=value`, and the Compose file has no top-level key but aimgen's own.
#![no_main]

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use aimgen::compile::{self, Failure, Options};
use aimgen::target::compose::COMPOSE_FILE;
use aimgen::target::{Layout, Target};
use aimgen::lockfile::Pins;
use aimgen::spec::FleetSpec;
use libfuzzer_sys::fuzz_target;

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
        assert_eq!(p.name, "aimgen-prefetch");
        expected.push(p.name.clone());
    }
    expected.sort();
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
                        aimgen::recipe::catalog::valid_env_name(name),
                        "{path}: a line that is not NAME=value: {line:?}"
                    );
                }
            }
        }
        let compose = files.get(COMPOSE_FILE).expect("a Compose file");
        let doc: serde_yaml::Value = match serde_yaml::from_str(compose) {
            Ok(d) => d,
            Err(e) => panic!("the Compose file ({layout:?}) does not parse back: {e}\n{compose}"),
        };
        let mut names: Vec<String> = doc["services"]
            .as_mapping()
            .expect("services mapping")
            .keys()
            .map(|k| k.as_str().expect("service names are strings").to_string())
            .collect();
        names.sort();
        assert_eq!(names, expected, "services in the Compose file ({layout:?})");
        // No text of the spec may add a top-level key.
        for k in doc.as_mapping().expect("top-level mapping").keys() {
            let k = k.as_str().expect("top-level keys are strings");
            assert!(
                ["name", "x-aimgen-build", "services", "volumes", "secrets"].contains(&k),
                "unexpected top-level key {k:?} ({layout:?})"
            );
        }
    }
});
