//! Engine images through the built binary: one image per engine from one Dockerfile, each
//! built once; an explicit entrypoint on every service; engine labels; what an image
//! reference says about its release, its vendor and its engine.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_yaml::Value;

const HOST_AMD: &str = "host: {gpu: {vendor: amd, model: MI300X, count: 8}}\n";
const HOST_NVIDIA: &str = "host: {gpu: {vendor: nvidia, model: H100, count: 8}}\n";
const MIXED: &str = "services:\n  a: {model: Qwen/Qwen3-32B, gpus: 2}\n  b: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 2, backend: sglang}\n  c: {model: mistralai/Mistral-7B-Instruct-v0.2, gpus: 2, backend: sglang}\n  d: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 2}\n";

fn spec_file(name: &str, text: &str) -> String {
    write(&scratch(name), "fleet.yaml", &format!("version: 1\nname: t\n{text}"))
}

/// `render` to stdout and to a folder: the Compose document and the Dockerfile of each.
fn render_both(spec: &str) -> Vec<(Value, String)> {
    let o = aimgen(&["render", spec]);
    assert!(o.status.success(), "{}", stderr(&o));
    let single = yaml(&stdout(&o));
    // Each builder carries the whole Dockerfile inline (no YAML merge keys: not every YAML
    // reader applies them); they must agree.
    let inline: BTreeSet<&str> = single["services"]
        .as_mapping()
        .expect("services")
        .values()
        .filter_map(|s| s.get("build"))
        .map(|b| b["dockerfile_inline"].as_str().expect("inline Dockerfile"))
        .collect();
    assert_eq!(inline.len(), 1, "{inline:?}");
    let dockerfile = inline.into_iter().next().expect("one").to_string();
    let dir = scratch("images-folder");
    let o = aimgen(&["render", spec, "-o", dir.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = read_tree(&dir);
    let folder = yaml(&files["docker-compose.cache.yml"]);
    for b in folder["services"].as_mapping().expect("services").values().filter_map(|s| s.get("build")) {
        assert_eq!((b["context"].as_str(), b["dockerfile"].as_str()), (Some("."), Some("Dockerfile.optimized")));
    }
    vec![(single, dockerfile), (folder, files["Dockerfile.optimized"].clone())]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().filter_map(|a| a.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn check_output(spec: &str) -> (Option<i32>, String) {
    let o = aimgen(&["check", spec]);
    (o.status.code(), stderr(&o))
}

/// Per image: the services that run it and those that build it (with their targets).
fn image_use(doc: &Value) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut out: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (name, s) in doc["services"].as_mapping().expect("services") {
        let name = name.as_str().expect("name").to_string();
        let entry = out.entry(s["image"].as_str().expect("image").to_string()).or_default();
        entry.0.push(name);
        if let Some(t) = s.get("build").map(|b| b["target"].as_str().expect("target").to_string()) {
            entry.1.push(t);
        }
        assert_eq!(s["pull_policy"].as_str(), Some("never"), "locally built tags are never pulled");
    }
    out
}

#[test]
fn every_service_of_every_example_sets_its_engines_entrypoint() {
    for ex in examples() {
        for (doc, _) in render_both(&ex) {
            for (name, s) in doc["services"].as_mapping().expect("services") {
                let (entrypoint, command) = (strings(&s["entrypoint"]), strings(&s["command"]));
                let engine = s["labels"]["aimgen.engine"].as_str();
                match engine {
                    Some("vllm") => {
                        assert_eq!(entrypoint, ["vllm", "serve"], "{ex}: {name:?}");
                        // The model is the first argument: no second `serve`, no `--model`.
                        assert!(!command[0].starts_with('-') && command[0] != "serve", "{ex}: {name:?}");
                    }
                    Some("sglang") => {
                        assert_eq!(entrypoint, ["python3", "-m", "sglang.launch_server"], "{ex}: {name:?}");
                        assert_eq!(command[0], "--model-path", "{ex}: {name:?}");
                    }
                    None => {
                        assert!(
                            name.as_str().is_some_and(|n| n.starts_with("aimgen-prefetch-")),
                            "{ex}: only the prefetch jobs have no engine"
                        );
                        assert_eq!(entrypoint, ["python3"]);
                        assert_eq!(command[0], "-c");
                        assert!(command[1].contains("hf_hub_download"), "the program itself follows -c");
                    }
                    Some(other) => panic!("{ex}: {name:?} has engine label {other}"),
                }
            }
        }
    }
}

#[test]
fn a_mixed_fleet_gets_one_image_per_engine_each_built_once_on_nvidia_and_amd() {
    for (host, vllm_base, sglang_base) in [
        (HOST_NVIDIA, "vllm/vllm-openai:v0.33.0", "lmsysorg/sglang:v0.5.23"),
        (HOST_AMD, "vllm/vllm-openai-rocm:v0.33.0", "lmsysorg/sglang:v0.5.23-rocm720-mi30x"),
    ] {
        let spec = spec_file("mixed", &format!("{host}{MIXED}"));
        for (doc, dockerfile) in render_both(&spec) {
            assert!(dockerfile.contains(&format!("\nFROM {vllm_base} AS vllm\n")), "{dockerfile}");
            assert!(dockerfile.contains(&format!("\nFROM {sglang_base} AS sglang\n")), "{dockerfile}");
            assert_eq!(dockerfile.matches("\nFROM ").count(), 2, "{dockerfile}");
            let uses = image_use(&doc);
            assert_eq!(uses.len(), 2, "{uses:?}");
            for (image, (users, targets)) in &uses {
                let engine = if image.starts_with("t-vllm:") { "vllm" } else { "sglang" };
                assert!(image.starts_with(&format!("t-{engine}:")), "{image}");
                assert_eq!(targets, &[engine.to_string()], "{image}: built by exactly one service: {users:?}");
                for u in users.iter().filter(|u| !u.starts_with("aimgen-prefetch-")) {
                    assert_eq!(doc["services"][u.as_str()]["labels"]["aimgen.engine"].as_str(), Some(engine));
                }
            }
            // The prefetch jobs run in the image of the first server's engine; the first builds it.
            let first = doc["services"]
                .as_mapping()
                .expect("services")
                .keys()
                .filter_map(|k| k.as_str())
                .find(|k| k.starts_with("aimgen-prefetch-"))
                .expect("a prefetch job");
            let prefetch = &doc["services"][first];
            assert!(prefetch["image"].as_str().is_some_and(|i| i.starts_with("t-vllm:")));
            assert_eq!(prefetch["build"]["target"].as_str(), Some("vllm"));
            assert!(doc["services"]["a"].get("build").is_none() && doc["services"]["d"].get("build").is_none());
            assert_eq!(doc["services"]["b"]["build"]["target"].as_str(), Some("sglang"));
            assert!(doc["services"]["c"].get("build").is_none());
        }
    }
}

#[test]
fn an_image_tag_changes_only_with_its_own_stage() {
    let tags = |extra: &str| -> BTreeMap<String, String> {
        let spec = spec_file(
            "tags",
            &format!("{HOST_NVIDIA}image:\n  sglang: {{base: \"lmsysorg/sglang:v0.5.23{extra}\"}}\n{MIXED}"),
        );
        let (doc, _) = render_both(&spec).remove(0);
        image_use(&doc).keys().map(|i| (i.split(':').next().expect("name").to_string(), i.clone())).collect()
    };
    let (a, b) = (tags(""), tags("-cu130"));
    assert_eq!(a["t-vllm"], b["t-vllm"], "the vLLM stage did not change");
    assert_ne!(a["t-sglang"], b["t-sglang"], "the SGLang stage did");
}

#[test]
fn labels_name_the_release_the_image_runs() {
    let cases = [
        ("image: {base: \"vllm/vllm-openai-rocm:v0.11.1\"}\n", "vllm", "0.11.1"),
        ("image: {base: \"rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\"}\n", "vllm", "0.11.2"),
        ("image: {base: \"vllm/vllm-openai-rocm:v0.33.0\"}\n", "vllm", "0.33.0"),
        ("image: {sglang: {base: \"lmsysorg/sglang:v0.4.6.post1-rocm630\"}}\n", "sglang", "0.4.6.post1"),
        ("image: {sglang: {base: \"lmsysorg/sglang:v0.5.23-rocm720-mi30x\"}}\n", "sglang", "0.5.23"),
        // A custom build and a bare digest say nothing: the spec states the release.
        ("image: {base: \"registry.local/team/vllm:2024-06\", engine_version: \"0.12.0\"}\n", "vllm", "0.12.0"),
        ("image: {sglang: {base: \"lmsysorg/sglang@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", engine_version: \"0.5.20\"}}\n", "sglang", "0.5.20"),
    ];
    for (image, engine, version) in cases {
        let service = if engine == "sglang" { ", backend: sglang" } else { "" };
        let spec = spec_file(
            "labels",
            &format!(
                "{HOST_AMD}{image}services:\n  s: {{model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1{service}}}\n"
            ),
        );
        let (code, err) = check_output(&spec);
        assert_eq!(code, Some(0), "{image}: {err}");
        assert!(!err.contains("moving tag") && !err.contains("does not say which"), "{image}: {err}");
        let (doc, dockerfile) = render_both(&spec).remove(0);
        let labels = &doc["services"]["s"]["labels"];
        assert_eq!(labels["aimgen.engine"].as_str(), Some(engine), "{image}");
        assert_eq!(labels["aimgen.engine-version"].as_str(), Some(version), "{image}");
        assert!(dockerfile.contains(&format!("({engine} {version})")), "{dockerfile}");
    }
}

#[test]
fn an_image_of_unknown_release_is_checked_against_the_nearest_catalogue_and_says_so() {
    let spec = spec_file("unknown", &format!("{HOST_AMD}image: {{base: \"team/custom-vllm:7\"}}\nservices:\n  s: {{model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}}\n"));
    let (code, err) = check_output(&spec);
    assert_eq!(code, Some(0), "{err}");
    let warning = err.split("\n\n").find(|w| w.contains("does not say which")).unwrap_or_else(|| panic!("{err}"));
    let (doc, _) = render_both(&spec).remove(0);
    let used = doc["services"]["s"]["labels"]["aimgen.engine-version"].as_str().expect("label").to_string();
    assert!(!used.is_empty());
    assert!(warning.contains(&format!("against vLLM {used}, the nearest catalogue")), "{warning}");
    assert!(warning.contains("image.engine_version"), "{warning}");
    assert!(warning.contains("fleet.yaml:4:15"), "at the base: {warning}");
}

#[test]
fn a_per_engine_image_of_unknown_release_names_its_own_field() {
    let spec = spec_file("unknown-sglang", &format!("{HOST_AMD}image:\n  sglang: {{base: \"team/custom-sglang:7\"}}\nservices:\n  s: {{model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, backend: sglang}}\n"));
    let (code, err) = check_output(&spec);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("set `image.sglang.engine_version` to the release the image runs"), "{err}");
    assert!(err.contains("fleet.yaml:5:18"), "at the sglang base: {err}");
}

#[test]
fn moving_tags_warn_and_digests_do_not() {
    for (base, warns) in [
        ("rocm/vllm", true),
        ("rocm/vllm:latest", true),
        ("vllm/vllm-openai-rocm:nightly", true),
        ("vllm/vllm-openai-rocm:v0.33.0", false),
        ("vllm/vllm-openai-rocm@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false),
        ("rocm/vllm:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false),
    ] {
        let spec = spec_file("moving", &format!("{HOST_AMD}image: {{base: \"{base}\", engine_version: \"0.33.0\"}}\nservices:\n  s: {{model: Qwen/Qwen3-32B, gpus: 1}}\n"));
        let (code, err) = check_output(&spec);
        assert_eq!(code, Some(0), "{base}: {err}");
        assert_eq!(err.contains("moving tag"), warns, "{base}: {err}");
        if warns {
            assert!(err.contains("will not change (and nothing is rebuilt)"), "{err}");
        }
    }
}

#[test]
fn an_image_of_another_vendor_or_engine_is_an_error_at_its_line() {
    let cases = [
        (
            HOST_NVIDIA,
            "image: {base: \"rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\"}\n",
            "",
            "is built for AMD GPUs, but the host has NVIDIA GPUs",
            "4:",
        ),
        (
            HOST_AMD,
            "image: {base: \"vllm/vllm-openai:v0.33.0\"}\n",
            "",
            "is built for NVIDIA GPUs, but the host has AMD GPUs",
            "4:",
        ),
        (
            HOST_AMD,
            "image: {base: \"lmsysorg/sglang:v0.5.23-rocm720-mi30x\"}\n",
            "",
            "is a sglang image, but vllm services run in it",
            "4:",
        ),
        (
            HOST_AMD,
            "image:\n  vllm: {base: \"lmsysorg/sglang:v0.5.23-rocm720-mi30x\"}\n",
            "",
            "is a sglang image, but vllm services run in it",
            "5:",
        ),
        (
            HOST_NVIDIA,
            "image: {base: \"vllm/vllm-openai:v0.33.0\"}\n",
            ", backend: sglang",
            "is a vllm image, but sglang services run in it",
            "4:",
        ),
        (
            HOST_AMD,
            "image: {base: \"vllm/vllm-openai-rocm:v0.33.0\", engine_version: \"0.11.0\"}\n",
            "",
            "`engine_version: 0.11.0` contradicts",
            "4:",
        ),
        (HOST_AMD, "image: {engine_version: \"0.11.0\"}\n", "", "there is no `base`", "4:"),
        (
            HOST_AMD,
            "image: {base: \"team/x:1\", engine_version: \"eleven\"}\n",
            "",
            "`eleven` is not an engine version",
            "4:",
        ),
    ];
    for (host, image, backend, message, line) in cases {
        let spec = spec_file(
            "contradiction",
            &format!("{host}{image}services:\n  s: {{model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1{backend}}}\n"),
        );
        let (code, err) = check_output(&spec);
        assert_eq!(code, Some(1), "{image}: {err}");
        let diag = err
            .split("\n\n")
            .find(|d| d.contains(message))
            .unwrap_or_else(|| panic!("{image}: no `{message}` in\n{err}"));
        assert!(diag.starts_with("error: "), "{diag}");
        assert!(diag.contains(&format!("fleet.yaml:{line}")), "{image}: {diag}");
    }
    // In a mixed fleet the help names the per-engine field that fixes it.
    let spec =
        spec_file("contradiction", &format!("{HOST_AMD}image: {{base: \"vllm/vllm-openai-rocm:v0.33.0\"}}\n{MIXED}"));
    let (code, err) = check_output(&spec);
    assert_eq!(code, Some(1));
    assert!(err.contains("give sglang its own image with `image.sglang.base`"), "{err}");
    // A custom image may hold both engines: used for both, as before.
    let spec =
        spec_file("both", &format!("{HOST_AMD}image: {{base: \"team/both:1\", engine_version: \"0.5.23\"}}\n{MIXED}"));
    let (code, err) = check_output(&spec);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn amd_sglang_defaults_follow_the_gpu_series() {
    for (gpu, want) in [
        ("MI300X", Some("lmsysorg/sglang:v0.5.23-rocm720-mi30x")),
        ("MI325X", Some("lmsysorg/sglang:v0.5.23-rocm720-mi30x")),
        ("MI355X", Some("lmsysorg/sglang:v0.5.23-rocm720-mi35x")),
        ("MI250X", None),
    ] {
        let spec = spec_file("amd-sglang", &format!("host: {{gpu: {{vendor: amd, model: {gpu}, count: 8}}}}\nservices:\n  s: {{model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, backend: sglang}}\n"));
        let (code, err) = check_output(&spec);
        match want {
            Some(image) => {
                assert!(err.contains(&format!("using aimgen's default `{image}` for sglang")), "{gpu}: {err}");
                let (_, dockerfile) = render_both(&spec).remove(0);
                assert!(dockerfile.contains(&format!("FROM {image} AS sglang")), "{dockerfile}");
            }
            None => {
                assert_eq!(code, Some(1), "{gpu}: {err}");
                assert!(err.contains("none for MI250X") && err.contains("image.sglang.base"), "{err}");
            }
        }
    }
}

#[test]
fn one_engine_fleets_build_one_stage_once() {
    for ex in examples() {
        let spec = yaml(&std::fs::read_to_string(root().join(&ex)).expect("read"));
        let engines: BTreeSet<&str> = spec["services"]
            .as_mapping()
            .expect("services")
            .values()
            .map(|s| s["backend"].as_str().unwrap_or("vllm"))
            .collect();
        for (doc, dockerfile) in render_both(&ex) {
            let uses = image_use(&doc);
            assert_eq!(uses.len(), engines.len(), "{ex}");
            assert_eq!(dockerfile.matches("\nFROM ").count(), engines.len(), "{ex}");
            for (image, (_, targets)) in uses {
                assert_eq!(targets.len(), 1, "{ex}: {image} built by {targets:?}");
            }
        }
    }
}
