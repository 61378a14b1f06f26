//! Engine releases and sizes (issue 10): checks use the release the image runs, recipes state
//! the releases they are valid for, numbers are checked against their ranges, a model of
//! unknown size needs a GPU count, and a tuned recipe ruled out by `gpus:` is reported.

mod common;

use std::path::Path;

use aimgen::compile::{compile_source, Failure, Options};
use aimgen::diagnostic::Diagnostic;
use aimgen::lockfile::{Pin, Pins};
use aimgen::source::Source;
use common::*;

const AMD: &str = "host: {gpu: {vendor: amd, model: MI300X, count: 8}}\n";

/// Compiles `spec` with `pins` and optional user recipe folders: every diagnostic, rendered
/// without colour, errors and warnings alike, and the chosen recipe and GPU count per service.
fn compile_with(spec: &str, pins: &Pins, dirs: &[&Path]) -> (Vec<String>, Vec<(String, usize)>) {
    let opts = Options { recipe_dirs: dirs.iter().map(|d| d.to_path_buf()).collect(), ..Default::default() };
    let render = |d: &[Diagnostic]| d.iter().map(|d| d.render(false)).collect::<Vec<_>>();
    match compile_source(Source::new("fleet.yaml", spec), Path::new("."), &opts, pins) {
        Ok(c) => (
            render(&c.resolution.warnings),
            c.resolution.plan.servers.iter().map(|s| (s.recipe.id.clone(), s.gpus.len())).collect(),
        ),
        Err(Failure::Invalid(d)) => (render(&d), Vec::new()),
        Err(Failure::Read(e)) => (vec![e.to_string()], Vec::new()),
    }
}

fn compile(spec: &str) -> (Vec<String>, Vec<(String, usize)>) {
    compile_with(spec, &Pins::new(), &[])
}

fn spec(image: &str, services: &str) -> String {
    format!("version: 1\nname: t\nimage: {image}\n{AMD}services:\n{services}")
}

#[test]
fn a_model_of_unknown_size_needs_a_gpu_count() {
    let (diags, servers) =
        compile(&spec("{base: b/c:1, engine_version: 0.33.0}", "  big: {model: meta-llama/Llama-3.1-405B-Instruct}\n"));
    assert!(servers.is_empty());
    // Besides the "did you mean" warning for an id aimgen has no recipes for.
    let errors: Vec<&String> = diags.iter().filter(|d| d.starts_with("error")).collect();
    assert_eq!(
        errors,
        ["error: `meta-llama/Llama-3.1-405B-Instruct`: aimgen does not know its size; set `gpus:` or run `aimgen lock`
 --> fleet.yaml:6:16
  |
6 |   big: {model: meta-llama/Llama-3.1-405B-Instruct}
  |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: aimgen sizes a model from its recipe file's `params_b`, or from the lock file's safetensors sizes; without either it cannot tell how many GPUs the weights need
"]
    );
    // A GPU count settles it.
    let (diags, servers) = compile(&spec(
        "{base: b/c:1, engine_version: 0.33.0}",
        "  big: {model: meta-llama/Llama-3.1-405B-Instruct, gpus: 8}\n",
    ));
    assert!(
        diags.iter().all(|d| d.starts_with("warning: `meta-llama/Llama-3.1-405B-Instruct` is not a model")),
        "{diags:?}"
    );
    assert_eq!(servers, [("general/vllm-amd-bf16".to_string(), 8)]);
}

#[test]
fn a_locked_model_is_sized_from_its_safetensors() {
    let mut pins = Pins::new();
    let pin = |bytes: u64| Pin {
        sha: "a".repeat(40),
        files: vec![aimgen::lockfile::LockedFile {
            path: "model.safetensors".into(),
            size: bytes,
            blob: "0".repeat(64),
        }],
        weights_bytes: bytes,
    };
    let service = "  big: {model: meta-llama/Llama-3.1-405B-Instruct}\n";
    let image = "{base: b/c:1, engine_version: 0.33.0}";
    // ≈ 810 GB of bf16 weights: 8 × 192 GB × 0.9 × 0.8 = 1,106 GB hold them, 4 GPUs do not.
    pins.insert(("meta-llama/Llama-3.1-405B-Instruct".into(), "main".into()), pin(810_000_000_000));
    let (diags, servers) = compile_with(&spec(image, service), &pins, &[]);
    assert!(
        diags.iter().all(|d| d.starts_with("warning: `meta-llama/Llama-3.1-405B-Instruct` is not a model")),
        "{diags:?}"
    );
    assert_eq!(servers, [("general/vllm-amd-bf16".to_string(), 8)]);
    // A 15 GB checkpoint fits one GPU.
    pins.insert(("meta-llama/Llama-3.1-405B-Instruct".into(), "main".into()), pin(15_000_000_000));
    let (_, servers) = compile_with(&spec(image, service), &pins, &[]);
    assert_eq!(servers, [("general/vllm-amd-bf16".to_string(), 1)]);
}

#[test]
fn the_fit_uses_the_services_own_memory_fraction() {
    // Llama 3.3 70B: ~141 GB of bf16 weights. At vLLM's default 0.9, one MI300X holds
    // 192 × 0.9 × 0.8 = 138 GB: two GPUs. At 0.95, 146 GB: one.
    let image = "{base: b/c:1, engine_version: 0.33.0}";
    let (_, servers) = compile(&spec(image, "  l: {model: meta-llama/Llama-3.3-70B-Instruct}\n"));
    assert_eq!(servers, [("general/vllm-amd-bf16".to_string(), 2)]);
    let (diags, servers) = compile(&spec(
        image,
        "  l: {model: meta-llama/Llama-3.3-70B-Instruct, args: {gpu-memory-utilization: 0.95}}\n",
    ));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(servers, [("general/vllm-amd-bf16".to_string(), 1)]);
}

#[test]
fn a_tuned_recipe_ruled_out_by_gpus_is_a_warning_naming_what_is_lost() {
    let (diags, servers) =
        compile(&spec("{base: b/c:1, engine_version: 0.33.0}", "  q: {model: Qwen/Qwen3-32B, gpus: 8}\n"));
    assert_eq!(servers, [("general/vllm-amd-bf16".to_string(), 8)]);
    assert_eq!(
        diags,
        ["warning: `gpus: 8` rules out the tuned recipe `qwen3-32b/vllm-mi300x-bf16-tp1-throughput`: the service loses `--max-model-len 32768`, `--max-num-batched-tokens 16384`, `--max-num-seqs 512`, `--reasoning-parser qwen3`, `GPU_ARCHS=gfx942`, `VLLM_ROCM_USE_AITER=1`
 --> fleet.yaml:6:36
  |
6 |   q: {model: Qwen/Qwen3-32B, gpus: 8}
  |                                    ^
  = help: `general/vllm-amd-bf16` is used instead; remove `gpus` to get the tuned recipe, or pin one with `recipe:`
"]
    );
    // A tuned recipe for the asked count is no loss.
    let (diags, servers) =
        compile(&spec("{base: b/c:1, engine_version: 0.33.0}", "  q: {model: Qwen/Qwen3-32B, gpus: 4}\n"));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(servers, [("qwen3-32b/vllm-mi300x-bf16-tp4-latency".to_string(), 4)]);
}

#[test]
fn numbers_out_of_their_range_are_errors() {
    let (diags, _) = compile(&spec(
        "{base: b/c:1, engine_version: 0.33.0}",
        "  q:\n    model: Qwen/Qwen3-32B\n    args: {gpu-memory-utilization: 1.5, max-num-seqs: -4}\n",
    ));
    assert_eq!(
        diags,
        [
            "error: `--gpu-memory-utilization`: `1.5` is out of range: must be in (0, 1]
 --> fleet.yaml:8:36
  |
8 |     args: {gpu-memory-utilization: 1.5, max-num-seqs: -4}
  |                                    ^^^
",
            "error: `--max-num-seqs`: `-4` is out of range: must be at least 1
 --> fleet.yaml:8:55
  |
8 |     args: {gpu-memory-utilization: 1.5, max-num-seqs: -4}
  |                                                       ^^
"
        ]
    );
}

#[test]
fn an_image_without_a_release_is_checked_against_the_nearest_catalogue_with_a_warning() {
    let (diags, servers) =
        compile(&spec("{base: registry.internal/vllm:custom}", "  q: {model: Qwen/Qwen3-32B, gpus: 4}\n"));
    assert_eq!(servers.len(), 1);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0].starts_with("warning: `registry.internal/vllm:custom` does not say which vLLM release it runs: checking vllm arguments against vLLM "),
        "{}",
        diags[0]
    );
    assert!(diags[0].contains("set `image.engine_version` to the release the image runs"), "{}", diags[0]);
    // An engine_version that does not parse is an error where it is written.
    let (diags, _) = compile(&spec("{base: b/c:1, engine_version: latest}", "  q: {model: Qwen/Qwen3-32B, gpus: 4}\n"));
    assert!(diags[0].starts_with("error: `latest` is not an engine version\n --> fleet.yaml:3:38"), "{diags:?}");
}

#[test]
fn recipes_state_their_releases_and_selection_skips_the_others() {
    let dir = scratch("recipe-releases");
    write(
        &dir,
        "mine.yaml",
        "recipes:\n  - id: mine/vllm-new\n    models: [Qwen/Qwen3-32B]\n    engine: vllm\n    engines: {vllm: \">=0.33.0\"}\n    gpu: {vendor: amd}\n    gpu_count: 4\n    precision: bf16\n    metric: latency\n    type: optimized\n    args: {max-num-seqs: 64}\n",
    );
    let service = "  q: {model: Qwen/Qwen3-32B, gpus: 4}\n";
    let (_, servers) = compile_with(&spec("{base: b/c:1, engine_version: 0.33.0}", service), &Pins::new(), &[&dir]);
    assert_eq!(servers, [("mine/vllm-new".to_string(), 4)]);
    // An image running an older release does not get it; `explain` says why.
    let (_, servers) = compile_with(&spec("{base: b/c:1, engine_version: 0.32.0}", service), &Pins::new(), &[&dir]);
    assert_eq!(servers, [("qwen3-32b/vllm-mi300x-bf16-tp4-latency".to_string(), 4)]);
    let spec_dir = scratch("recipe-releases-spec");
    let with_folder = spec("{base: b/c:1, engine_version: 0.32.0}", service)
        .replace("services:", &format!("recipes: [{}]\nservices:", dir.display()));
    let fleet = write(&spec_dir, "fleet.yaml", &with_folder);
    let o = aimgen(&["explain", &fleet]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("mine/vllm-new  engine_version_mismatch: needs vllm >= 0.33.0, image runs 0.32.0"),
        "{}",
        stdout(&o)
    );
    // `recipes list --engine-version` judges the same way.
    let list = |v: &str| {
        let o = aimgen(&[
            "recipes",
            "list",
            "--model",
            "Qwen/Qwen3-32B",
            "--gpus",
            "4",
            "--engine-version",
            v,
            "--recipes",
            dir.to_str().expect("utf-8 path"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .find(|l| l.starts_with("mine/vllm-new "))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(list("0.32.0"), "engine_version_mismatch needs vllm >= 0.33.0, image runs 0.32.0");
    assert_eq!(list("0.33.0"), "compatible compatible on 4 GPUs");
}

#[test]
fn a_recipe_whose_releases_no_catalogue_covers_or_that_names_another_engine_is_an_error() {
    let dir = scratch("recipe-bad-releases");
    write(
        &dir,
        "bad.yaml",
        "recipes:\n  - id: bad/a\n    engine: vllm\n    engines: {vllm: \">=99\"}\n    gpu: {vendor: amd}\n    precision: bf16\n    metric: latency\n    type: general\n  - id: bad/b\n    engine: vllm\n    engines: {sglang: \">=0.4\", vllm: \"~0.3\"}\n    gpu: {vendor: amd}\n    precision: bf16\n    metric: latency\n    type: general\n",
    );
    let (diags, _) = compile_with(
        &spec("{base: b/c:1, engine_version: 0.33.0}", "  q: {model: Qwen/Qwen3-32B, gpus: 4}\n"),
        &Pins::new(),
        &[&dir],
    );
    let text = diags.join("\n");
    assert!(text.contains("error: no catalogued vLLM release is >= 99\n"), "{text}");
    assert!(text.contains("error: a vllm recipe cannot state sglang releases\n"), "{text}");
    assert!(text.contains("error: `~0.3` is not a version (e.g. `0.11.0`, `0.4.6.post1`)\n"), "{text}");
}

#[test]
fn recipes_flags_lists_one_release() {
    let o = aimgen(&["recipes", "flags", "vllm", "--engine-version", "0.33.0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("# vLLM 0.33.0\n--"), "{out}");
    let o = aimgen(&["recipes", "flags", "sglang", "--engine-version", "0.0.1"]);
    assert!(
        stdout(&o).starts_with("# SGLang ")
            && stdout(&o).contains("aimgen has no catalogue of 0.0.1; this is the nearest")
    );
    let o = aimgen(&["recipes", "flags", "vllm", "--engine-version", "latest"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "error: `latest` is not an engine version (e.g. `0.11.0`, `0.4.6.post1`)\n");
}

/// The real catalogues (`recipes/engines/vllm/`), through the image tag: a flag of the newer
/// releases only, a flag of the older ones only, and choice values of one side only.
#[test]
fn the_image_tag_decides_which_release_checks_the_arguments() {
    let nvidia = |image: &str, args: &str| {
        format!(
            "version: 1\nname: t\nimage: {{base: \"{image}\"}}\nhost: {{gpu: {{vendor: nvidia, model: H100, count: 8}}}}\nservices:\n  m: {{model: Qwen/Qwen3-32B, gpus: 2, args: {{{args}}}}}\n"
        )
    };
    let errors = |image: &str, args: &str| -> Vec<String> {
        compile(&nvidia(image, args)).0.into_iter().filter(|d| d.starts_with("error")).collect()
    };
    let old = "vllm/vllm-openai:v0.11.0";
    let new = "vllm/vllm-openai:v0.33.0";
    // Newer only: `--attention-backend`.
    assert!(errors(new, "attention-backend: FLASH_ATTN").is_empty());
    let e = errors(old, "attention-backend: FLASH_ATTN");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("error: `--attention-backend` is not a flag of vLLM 0.11.0\n"), "{}", e[0]);
    assert!(e[0].contains("= help: `--attention-backend` needs vLLM >= "), "{}", e[0]);
    assert!(e[0].ends_with("; this image runs 0.11.0\n"), "{}", e[0]);
    // Older only: `--swap-space`.
    assert!(errors(old, "swap-space: 4").is_empty());
    let e = errors(new, "swap-space: 4");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("error: `--swap-space` is not a flag of vLLM 0.33.0\n"), "{}", e[0]);
    assert!(e[0].contains("= help: `--swap-space` was removed after vLLM 0.11."), "{}", e[0]);
    // A choice value of the newer releases only, and one of the older only.
    assert!(errors(new, "kv-cache-dtype: fp8_per_token_head").is_empty());
    let e = errors(old, "kv-cache-dtype: fp8_per_token_head");
    assert!(
        e.len() == 1
            && e[0].starts_with("error: `--kv-cache-dtype`: `fp8_per_token_head` is not an accepted value\n")
            && e[0].contains("= help: `fp8_per_token_head` needs vLLM >= "),
        "{e:?}"
    );
    assert!(errors(old, "tokenizer-mode: slow").is_empty());
    let e = errors(new, "tokenizer-mode: slow");
    assert!(e.len() == 1 && e[0].contains("= help: `slow` was removed after vLLM 0.11."), "{e:?}");
    // Ranges from the parser: `--max-num-seqs` must be at least 1 in 0.33.0's catalogue.
    let e = errors(new, "max-num-seqs: 0");
    assert!(
        e.len() == 1 && e[0].starts_with("error: `--max-num-seqs`: `0` is out of range: must be at least 1\n"),
        "{e:?}"
    );
}

/// A recipe is checked at load against the catalogued releases in its range; an image running
/// an uncatalogued release in that range is checked against the nearest catalogue, which may
/// lie outside it: the recipe is then checked against that one too.
#[test]
fn a_recipe_is_checked_against_the_nearest_catalogue_its_range_did_not_cover() {
    let dir = scratch("recipe-nearest");
    write(
        &dir,
        "mine.yaml",
        "recipes:\n  - id: mine/vllm-any\n    engine: vllm\n    engines: {vllm: \">=0.12\"}\n    gpu: {vendor: amd}\n    precision: bf16\n    metric: latency\n    type: optimized\n    models: [Qwen/Qwen3-32B]\n    gpu_count: 4\n    args: {attention-backend: TRITON_ATTN}\n",
    );
    let service = "  q: {model: Qwen/Qwen3-32B, gpus: 4}\n";
    // 0.33.0 is catalogued and in range: fine.
    let (diags, servers) = compile_with(&spec("{base: b/c:1, engine_version: 0.33.0}", service), &Pins::new(), &[&dir]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(servers, [("mine/vllm-any".to_string(), 4)]);
    // 0.20.0 is in range but not catalogued: the nearest catalogue, 0.11.2, lacks the flag.
    let (diags, _) = compile_with(&spec("{base: b/c:1, engine_version: 0.20.0}", service), &Pins::new(), &[&dir]);
    let errors: Vec<&String> = diags.iter().filter(|d| d.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{diags:?}");
    assert!(
        errors[0].starts_with(
            "error: recipe `mine/vllm-any`: `--attention-backend` is not a flag of vLLM 0.11.2\n --> fleet.yaml:6:14\n"
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("recipe `mine/vllm-any` is checked against 0.11.2, the nearest catalogue"),
        "{}",
        errors[0]
    );
}
