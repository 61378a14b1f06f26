//! The recipe library: every built-in recipe is valid and renders; selection is a table of
//! inputs → chosen recipe id, failures included; `recipes list` and `explain` are snapshotted.

mod common;

use std::path::Path;

use aimgen::compile::{compile_source, Failure, Options};
use aimgen::lockfile::Pins;
use aimgen::recipe::library::builtin;
use aimgen::source::Source;
use common::*;

fn compile(spec: &str) -> Result<aimgen::compile::Compiled, Vec<String>> {
    match compile_source(Source::new("fleet.yaml", spec), Path::new("."), &Options::default(), &Pins::new()) {
        Ok(c) => Ok(c),
        Err(Failure::Invalid(d)) => Err(d.iter().filter(|d| d.is_error()).map(|d| d.render(false)).collect()),
        Err(Failure::Read(e)) => Err(vec![e.to_string()]),
    }
}

fn fleet(vendor: &str, gpu: &str, count: u32, service: &str) -> String {
    format!(
        "version: 1\nname: t\nimage: {{base: example/base:1}}\nhost: {{gpu: {{vendor: {vendor}, model: {gpu}, count: {count}}}}}\nservices:\n  s: {service}\n"
    )
}

fn chosen(spec: &str) -> Result<String, String> {
    compile(spec).map(|c| c.resolution.plan.servers[0].recipe.id.clone()).map_err(|e| e.join("\n"))
}

#[test]
fn the_builtin_library_loads_and_every_recipe_passes_the_catalogue() {
    let lib = match builtin() {
        Ok(l) => l,
        Err(d) => panic!("{}", d.iter().map(|d| d.render(false)).collect::<String>()),
    };
    assert!(lib.recipes.len() >= 50, "only {} recipes", lib.recipes.len());
    for model in [
        "Qwen/Qwen3-32B",
        "Qwen/Qwen2.5-72B-Instruct",
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Llama-3.1-70B-Instruct",
        "mistralai/Mistral-7B-Instruct-v0.2",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
    ] {
        assert!(lib.models.contains_key(model), "no facts for {model}");
        for gpu in ["MI300X", "H100"] {
            assert!(
                lib.recipes.iter().any(|r| r.recipe.models.iter().any(|m| m == model)
                    && r.recipe.gpu.models.iter().any(|g| g == gpu)
                    && r.recipe.engine == aimgen::spec::Backend::Vllm),
                "no vLLM recipe for {model} on {gpu}"
            );
        }
    }
    for vendor in [aimgen::spec::Vendor::Amd, aimgen::spec::Vendor::Nvidia] {
        for engine in [aimgen::spec::Backend::Vllm, aimgen::spec::Backend::Sglang] {
            assert!(
                lib.recipes
                    .iter()
                    .any(|r| r.recipe.is_general() && r.recipe.gpu.vendor == vendor && r.recipe.engine == engine),
                "no general {engine:?} recipe for {vendor:?}"
            );
        }
    }
}

/// (vendor, GPU model, GPU count, service spec, chosen id or an error excerpt)
type Case = (&'static str, &'static str, u32, &'static str, Result<&'static str, &'static str>);

#[test]
fn selection_table() {
    let cases: &[Case] = &[
        // The reference fleet's Qwen on 4 of 8 MI300X: the model-specific tp4 recipe.
        ("amd", "MI300X", 8, "{model: Qwen/Qwen3-32B, gpus: 4}", Ok("qwen3-32b/vllm-mi300x-bf16-tp4-latency")),
        // No count given: fewest GPUs among the best-ranked kind.
        ("amd", "MI300X", 8, "{model: Qwen/Qwen3-32B}", Ok("qwen3-32b/vllm-mi300x-bf16-tp1-throughput")),
        // FP8 only when asked for.
        ("amd", "MI300X", 8, "{model: Qwen/Qwen3-32B, precision: fp8}", Ok("qwen3-32b/vllm-mi300x-fp8-tp1-throughput")),
        // A model without recipes still compiles with a general one.
        ("amd", "MI300X", 8, "{model: some-org/unknown-7b, gpus: 1}", Ok("general/vllm-amd-bf16")),
        (
            "nvidia",
            "H100",
            8,
            "{model: some-org/unknown-7b, backend: sglang, gpus: 2}",
            Ok("general/sglang-nvidia-bf16"),
        ),
        // 70B in bf16 needs more than one H100.
        ("nvidia", "H100", 8, "{model: meta-llama/Llama-3.1-70B-Instruct, gpus: 1}", Err("do not fit in 1 × 80 GB")),
        // More GPUs asked than recipes exist for and too few on the host.
        ("amd", "MI300X", 2, "{model: Qwen/Qwen3-32B, gpus: 4}", Err("needs 4 GPUs but only 2 of the host's 2 remain")),
        // A pinned recipe for another GPU is refused with the reason.
        (
            "amd",
            "MI300X",
            8,
            "{model: Qwen/Qwen3-32B, recipe: qwen3-32b/vllm-h100-bf16-tp4-latency}",
            Err("for nvidia GPUs, not amd"),
        ),
        // A pinned recipe that does not exist gets a suggestion.
        (
            "amd",
            "MI300X",
            8,
            "{model: Qwen/Qwen3-32B, recipe: qwen3-32b/vllm-mi300x-bf16-tp4-latncy}",
            Err("did you mean `qwen3-32b/vllm-mi300x-bf16-tp4-latency`?"),
        ),
    ];
    for (vendor, gpu, count, svc, want) in cases {
        let got = chosen(&fleet(vendor, gpu, *count, svc));
        match (want, &got) {
            (Ok(id), Ok(g)) => assert_eq!(g, id, "{svc} on {count} × {gpu}"),
            (Err(needle), Err(e)) => {
                assert!(e.contains(needle), "{svc} on {count} × {gpu}: expected {needle:?} in\n{e}")
            }
            _ => panic!("{svc} on {count} × {gpu}: expected {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn a_failed_selection_lists_the_closest_candidates_and_why() {
    let err =
        chosen(&fleet("nvidia", "H100", 8, "{model: meta-llama/Llama-3.1-70B-Instruct, gpus: 1, precision: bf16}"))
            .expect_err("does not fit");
    assert!(
        err.contains("error: `meta-llama/Llama-3.1-70B-Instruct` does not fit on 1 × H100 (80 GB each): ~141 GB of bf16 weights, room for 58 GB"),
        "{err}"
    );
    assert!(err.contains("closest: `"), "{err}");
    assert!(err.contains("GB of weights do not fit in 1 × 80 GB"), "{err}");
}

#[test]
fn user_recipes_come_first_and_replace_builtin_ids() {
    let dir = scratch("user-recipes");
    write(
        &dir,
        "mine.yaml",
        "recipes:\n  - id: qwen3-32b/vllm-mi300x-bf16-tp4-latency\n    models: [Qwen/Qwen3-32B]\n    engine: vllm\n    gpu: {vendor: amd, models: [MI300X]}\n    gpu_count: 4\n    precision: bf16\n    metric: latency\n    type: optimized\n    args: {max-model-len: 8192}\n",
    );
    let spec =
        write(&scratch("user-fleet"), "fleet.yaml", &fleet("amd", "MI300X", 8, "{model: Qwen/Qwen3-32B, gpus: 4}"));
    let o = aimgen(&["render", &spec, "--recipes", dir.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("recipe qwen3-32b/vllm-mi300x-bf16-tp4-latency") && out.contains("mine.yaml"), "{out}");
    assert!(out.contains("\"--max-model-len\"\n      - \"8192\""), "{out}");
    let show = aimgen(&[
        "recipes",
        "show",
        "qwen3-32b/vllm-mi300x-bf16-tp4-latency",
        "--recipes",
        dir.to_str().expect("utf-8"),
    ]);
    assert!(stdout(&show).contains("replaces the built-in recipe"), "{}", stdout(&show));
}

#[test]
fn a_bad_user_recipe_is_reported_at_its_line() {
    let dir = scratch("bad-recipe");
    write(
        &dir,
        "bad.yaml",
        "recipes:\n  - id: mine/x\n    engine: vllm\n    gpu: {vendor: amd}\n    precision: bf16\n    metric: latency\n    type: general\n    args:\n      tensor-paralel-size: 2\n      dtype: float8_e5m2\n",
    );
    let spec = write(
        &scratch("bad-recipe-fleet"),
        "fleet.yaml",
        &fleet("amd", "MI300X", 8, "{model: Qwen/Qwen3-32B, gpus: 4}"),
    );
    let o = aimgen(&["check", &spec, "--recipes", dir.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.yaml:9:7"), "{err}");
    assert!(err.contains("did you mean `tensor-parallel-size`?"), "{err}");
    assert!(err.contains("bad.yaml:10:14") && err.contains("`float8_e5m2` is not an accepted value"), "{err}");
}

/// sha256 of `schemas/vendor/compose-spec.json` (see schemas/vendor/README.md).
const COMPOSE_SCHEMA_SHA256: &str = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e";

#[test]
fn every_builtin_recipe_renders_in_a_one_service_fleet() {
    let lib = builtin().expect("library");
    // The repository carries the schema it tests against (schemas/vendor/README.md).
    let compose_schema = root().join("schemas/vendor/compose-spec.json");
    let text = std::fs::read_to_string(&compose_schema).expect("schemas/vendor/compose-spec.json");
    let sum = std::process::Command::new("sha256sum").arg(&compose_schema).output().expect("sha256sum runs");
    let sum = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(sum, COMPOSE_SCHEMA_SHA256, "the vendored Compose schema changed");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    let validator = jsonschema::draft7::new(&schema).expect("compose schema compiles");
    // How many recipes the library's files hold, counted from the files themselves (not from
    // the library under test), so a recipe the loader drops makes this test fail.
    let mut in_files = 0;
    for entry in std::fs::read_dir(root().join("recipes")).expect("recipes/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let doc: serde_json::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("recipe file YAML");
            in_files += doc["recipes"].as_array().map_or(0, Vec::len);
        }
    }
    assert!(in_files > 0, "no recipes found under recipes/");
    assert_eq!(
        lib.recipes.len(),
        in_files,
        "the built-in library holds a different number of recipes than recipes/*.yaml"
    );
    let mut rendered = std::collections::BTreeSet::new();
    for r in &lib.recipes {
        let r = &r.recipe;
        let model = r.models.first().cloned().unwrap_or_else(|| "some-org/some-model".into());
        let gpu = r.gpu.models.first().cloned().unwrap_or_else(|| {
            if r.gpu.vendor == aimgen::spec::Vendor::Amd {
                "MI300X".into()
            } else {
                "H100".into()
            }
        });
        let count = r.gpu_count.unwrap_or(1);
        let precision = r.precision.as_str();
        // The newest catalogued release the recipe is valid for.
        let release = lib
            .catalog
            .versions(r.engine)
            .into_iter()
            .rev()
            .find(|v| r.versions().is_none_or(|q| q.matches(v)))
            .unwrap_or_else(|| panic!("{}: no catalogued release", r.id));
        let spec = format!(
            "version: 1\nname: t\nimage: {{base: example/base:1, engine_version: \"{release}\"}}\nhost: {{gpu: {{vendor: {}, model: {gpu}, count: 8}}}}\nservices:\n  s: {{model: {model}, backend: {}, gpus: {count}, precision: {precision}, recipe: {}}}\n",
            r.gpu.vendor.as_str(),
            r.engine.as_str(),
            r.id
        );
        let compiled = compile(&spec).unwrap_or_else(|e| panic!("{}: {}", r.id, e.join("\n")));
        let files = aimgen::target::Target::Compose
            .render(&compiled.resolution.plan, aimgen::target::Layout::SingleFile)
            .expect("renders");
        let compose = &files["docker-compose.cache.yml"];
        let doc: serde_json::Value = serde_yaml::from_str(compose).unwrap_or_else(|e| panic!("{}: {e}", r.id));
        let cmd: Vec<String> = serde_json::from_value(doc["services"]["s"]["command"].clone()).expect("command");
        for flag in r.args.keys() {
            assert!(
                cmd.iter().any(|a| a == &format!("--{flag}") || a == &format!("--no-{flag}")),
                "{}: --{flag} not passed",
                r.id
            );
        }
        let errors: Vec<String> =
            validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: Compose schema: {errors:?}", r.id);
        rendered.insert(r.id.clone());
    }
    assert_eq!(rendered.len(), in_files, "recipe ids rendered");
}

#[test]
fn recipes_list_and_explain_are_snapshotted() {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    let list = aimgen(&["recipes", "list", "--model", "Qwen/Qwen3-32B", "--gpu", "MI300X", "--gpus", "4"]);
    assert!(list.status.success());
    let explain = aimgen(&["explain", "examples/mi300x-fleet.yaml"]);
    assert!(explain.status.success(), "{}", stderr(&explain));
    let explain_json = aimgen(&["explain", "examples/nvidia-sglang.yaml", "--format", "json"]);
    let _: serde_json::Value = serde_json::from_slice(&explain_json.stdout).expect("explain --format json is JSON");
    s.bind(|| {
        insta::assert_snapshot!("recipes-list-qwen3-mi300x-4", stdout(&list));
        insta::assert_snapshot!("explain-mi300x-fleet", stdout(&explain));
    });
}
