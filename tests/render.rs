//! `aimgen render` end to end through the built binary: output shape, files, exit codes,
//! determinism, and the properties the deployment depends on.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_yaml::Value;

fn render_stdout(spec: &str) -> String {
    let o = aimgen(&["render", spec]);
    assert!(o.status.success(), "render {spec} failed:\n{}", stderr(&o));
    stdout(&o)
}

fn services(doc: &Value) -> &serde_yaml::Mapping {
    doc["services"].as_mapping().expect("services mapping")
}

fn env_of(doc: &Value, svc: &str, files: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let s = &doc["services"][svc];
    if let (Some(list), Some(files)) = (s["env_file"].as_sequence(), files) {
        for f in list {
            let text = &files[f.as_str().expect("path")];
            for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
                let (k, v) = line.split_once('=').expect("KEY=VALUE");
                env.insert(k.to_string(), v.trim_matches('\'').to_string());
            }
        }
    }
    if let Some(m) = s["environment"].as_mapping() {
        for (k, v) in m {
            env.insert(k.as_str().expect("key").into(), v.as_str().expect("string value").into());
        }
    }
    env
}

/// A service's full argv: `entrypoint` + `command` (aimgen sets both on every service).
fn argv(s: &Value) -> Vec<&str> {
    let part = |k: &str| s[k].as_sequence().expect(k).iter().filter_map(Value::as_str).collect::<Vec<_>>();
    let mut out = part("entrypoint");
    out.extend(part("command"));
    out
}

/// GPU indices per server: from the visibility variable, from the render nodes it is given
/// (mapped back through the spec's `render_nodes`), or from NVIDIA device ids.
fn gpu_sets(doc: &Value, files: Option<&BTreeMap<String, String>>, render_nodes: &[u64]) -> BTreeMap<String, Vec<u32>> {
    let mut out = BTreeMap::new();
    for (name, s) in services(doc) {
        let name = name.as_str().expect("name").to_string();
        if let Some(v) = env_of(doc, &name, files).get("ROCR_VISIBLE_DEVICES") {
            out.insert(name.clone(), v.split(',').map(|g| g.parse().expect("index")).collect());
        }
        let nodes: Vec<u32> = s["devices"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str()?.strip_prefix("/dev/dri/renderD")?.parse::<u64>().ok())
            .map(|minor| render_nodes.iter().position(|m| *m == minor).expect("a known render node") as u32)
            .collect();
        if !nodes.is_empty() {
            out.insert(name.clone(), nodes);
        }
        if let Some(devs) = s["deploy"]["resources"]["reservations"]["devices"].as_sequence() {
            let ids = devs[0]["device_ids"].as_sequence().expect("device_ids");
            out.insert(name, ids.iter().map(|g| g.as_str().expect("string id").parse().expect("index")).collect());
        }
    }
    out
}

#[test]
fn every_example_renders_to_parseable_yaml_with_every_service() {
    for ex in examples() {
        let spec = yaml(&std::fs::read_to_string(root().join(&ex)).expect("read"));
        let doc = yaml(&render_stdout(&ex));
        let names: BTreeSet<String> = services(&doc).keys().map(|k| k.as_str().expect("str").to_string()).collect();
        for svc in spec["services"].as_mapping().expect("services").keys() {
            assert!(names.contains(svc.as_str().expect("str")), "{ex}: service {svc:?} missing");
        }
        assert!(doc.get("version").is_none(), "{ex}: obsolete `version` key");
        assert_eq!(doc["name"], spec["name"], "{ex}: project name");
    }
}

#[test]
fn rendering_is_byte_stable() {
    for ex in examples() {
        assert_eq!(render_stdout(&ex), render_stdout(&ex), "{ex}");
        let (a, b) = (scratch("stable-a"), scratch("stable-b"));
        for d in [&a, &b] {
            let o = aimgen(&["render", &ex, "-o", d.to_str().expect("utf-8")]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        assert_eq!(read_tree(&a), read_tree(&b), "{ex}");
    }
}

#[test]
fn output_folder_has_compose_dockerfile_and_env_files_referenced_relatively() {
    let dir = scratch("folder");
    let o = aimgen(&["render", "examples/mi300x-fleet.yaml", "-o", dir.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = read_tree(&dir);
    for f in [
        "docker-compose.cache.yml",
        "Dockerfile.optimized",
        "env/common.env",
        "env/services/qwen.env",
        "env/services/llama.env",
        "env/services/mistral.env",
        "env/services/aimgen-prefetch.env",
    ] {
        assert!(files.contains_key(f), "{f} missing: {:?}", files.keys());
    }
    let doc = yaml(&files["docker-compose.cache.yml"]);
    for (_, s) in services(&doc) {
        for f in s["env_file"].as_sequence().expect("env_file") {
            let f = f.as_str().expect("path");
            assert!(!f.starts_with('/') && files.contains_key(f), "{f} not a relative path to a written file");
        }
    }
    let built: Vec<&Value> = services(&doc).values().filter_map(|s| s.get("build")).collect();
    assert_eq!(built.len(), 1, "one image, built by one service");
    assert_eq!(built[0]["dockerfile"].as_str(), Some("Dockerfile.optimized"));
    assert_eq!(built[0]["context"].as_str(), Some("."));
    assert_eq!(built[0]["target"].as_str(), Some("vllm"));
    // No temporary files left behind.
    assert!(files.keys().all(|k| !k.contains(".tmp")), "{:?}", files.keys());
    for text in files.values() {
        assert!(!text.contains('\r'), "CRLF in output");
        assert!(
            text.contains("Generated by aimgen from ") && text.contains("examples/mi300x-fleet.yaml. Do not edit"),
            "header missing"
        );
    }
}

#[test]
fn gpus_are_disjoint_within_the_host_and_in_spec_order() {
    for ex in examples() {
        let spec = yaml(&std::fs::read_to_string(root().join(&ex)).expect("read"));
        let count = spec["host"]["gpu"]["count"].as_u64().expect("count") as u32;
        let dir = scratch("gpus");
        assert!(aimgen(&["render", &ex, "-o", dir.to_str().expect("utf-8")]).status.success());
        let files = read_tree(&dir);
        let doc = yaml(&files["docker-compose.cache.yml"]);
        let nodes: Vec<u64> = spec["host"]["gpu"]["render_nodes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|m| m.as_u64().expect("minor"))
            .collect();
        let sets = gpu_sets(&doc, Some(&files), &nodes);
        let mut seen = BTreeSet::new();
        for (svc, gpus) in &sets {
            assert!(!gpus.is_empty(), "{ex}: {svc} has no GPUs");
            for g in gpus {
                assert!(*g < count, "{ex}: {svc} got GPU {g} of {count}");
                assert!(seen.insert(*g), "{ex}: GPU {g} given twice");
            }
        }
        // Spec order: the first service gets the lowest GPUs.
        let first = spec["services"].as_mapping().expect("services").keys().next().expect("a service");
        assert_eq!(sets[first.as_str().expect("str")][0], 0, "{ex}");
        assert_eq!(sets.len(), spec["services"].as_mapping().expect("services").len(), "{ex}: every server has GPUs");
    }
}

#[test]
fn amd_services_get_rocm_devices_and_one_visibility_variable() {
    let doc = yaml(&render_stdout("examples/mi300x-fleet.yaml"));
    for (name, s) in services(&doc) {
        if name.as_str().is_some_and(|n| n.starts_with("aimgen-prefetch-")) {
            assert!(s.get("devices").is_none(), "prefetch needs no GPU");
            continue;
        }
        let devices: Vec<&str> =
            s["devices"].as_sequence().expect("devices").iter().filter_map(Value::as_str).collect();
        assert_eq!(devices, ["/dev/kfd", "/dev/dri"]);
        // Group names are looked up in the image; without `host.gpu.group_ids`, none at all.
        assert!(s.get("group_add").is_none(), "{name:?}");
        assert_eq!(s["ipc"].as_str(), Some("host"));
        assert!(s.get("deploy").is_none(), "no NVIDIA syntax on AMD");
        let env = s["environment"].as_mapping().expect("environment");
        let vis: Vec<&str> = ["HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"]
            .into_iter()
            .filter(|k| env.contains_key(*k))
            .collect();
        assert_eq!(vis, ["ROCR_VISIBLE_DEVICES"], "{name:?}");
        assert!(s.get("privileged").is_none());
    }
}

#[test]
fn nvidia_services_reserve_device_ids() {
    let doc = yaml(&render_stdout("examples/nvidia-sglang.yaml"));
    for (name, s) in services(&doc) {
        if name.as_str().is_some_and(|n| n.starts_with("aimgen-prefetch-")) {
            continue;
        }
        let dev = &s["deploy"]["resources"]["reservations"]["devices"][0];
        assert_eq!(dev["driver"].as_str(), Some("nvidia"));
        assert!(dev.get("count").is_none(), "count and device_ids are exclusive");
        assert_eq!(dev["capabilities"][0].as_str(), Some("gpu"));
        assert!(s.get("devices").is_none());
        let cmd = argv(s);
        assert_eq!(s["entrypoint"].as_sequence().map(Vec::len), Some(3), "{name:?}");
        assert_eq!(&cmd[..3], ["python3", "-m", "sglang.launch_server"], "{name:?}");
        assert!(
            !cmd.contains(&"--gpu-memory-utilization") && !cmd.contains(&"--max-model-len"),
            "vLLM flag given to SGLang"
        );
    }
}

/// The prefetch jobs of a rendered Compose document: name → the job's JSON argument.
fn prefetch_jobs(doc: &Value) -> BTreeMap<String, serde_json::Value> {
    services(doc)
        .iter()
        .filter_map(|(name, s)| {
            let name = name.as_str()?;
            name.starts_with("aimgen-prefetch-").then(|| {
                let cmd = argv(s);
                assert_eq!(cmd.len(), 4, "{name}: python3 -c SCRIPT JOB");
                assert_eq!(cmd[..2], ["python3", "-c"], "{name}");
                // The anchored program, byte for byte (no `$` in it for Compose to unescape).
                assert_eq!(cmd[2], include_str!("../templates/prefetch.py"), "{name}");
                (name.to_string(), serde_json::from_str(cmd[3]).expect("JSON job"))
            })
        })
        .collect()
}

#[test]
fn one_prefetch_job_per_model_each_server_waits_only_for_its_own_read_only_offline() {
    for ex in examples() {
        let dir = scratch("wiring");
        assert!(aimgen(&["render", &ex, "-o", dir.to_str().expect("utf-8")]).status.success());
        let files = read_tree(&dir);
        let doc = yaml(&files["docker-compose.cache.yml"]);
        let jobs = prefetch_jobs(&doc);
        assert!(!jobs.is_empty(), "{ex}: no prefetch job");
        let mut target = String::new();
        let mut by_model = BTreeMap::new();
        for (name, job) in &jobs {
            let s = &doc["services"][name.as_str()];
            target = s["volumes"][0]["target"].as_str().expect("cache target").to_string();
            assert_eq!(s["volumes"][0]["read_only"].as_bool(), Some(false), "{ex}");
            assert_eq!(s["restart"].as_str(), Some("no"));
            assert!(s.get("depends_on").is_none(), "{ex}: {name} waits for something");
            let key =
                (job["repo"].as_str().expect("repo").to_string(), job["revision"].as_str().expect("rev").to_string());
            assert!(by_model.insert(key, name.clone()).is_none(), "{ex}: a model downloaded by two jobs");
            assert_eq!(job["workers"].as_u64(), Some(8), "{ex}: default worker count");
        }
        let env = files.get("env/services/aimgen-prefetch.env").expect("the prefetch jobs' env file");
        assert!(env.contains("HF_HUB_DISABLE_PROGRESS_BARS=1"), "{ex}");
        for (name, s) in services(&doc) {
            let name = name.as_str().expect("name");
            if jobs.contains_key(name) {
                continue;
            }
            let cache =
                s["volumes"].as_sequence().expect("volumes").iter().find(|v| v["target"].as_str() == Some(&target));
            assert_eq!(cache.and_then(|c| c["read_only"].as_bool()), Some(true), "{ex}: {name} cache not read-only");
            let env = env_of(&doc, name, Some(&files));
            assert_eq!(env.get("HF_HUB_OFFLINE").map(String::as_str), Some("1"), "{ex}: {name}");
            assert_eq!(env.get("HF_HOME"), Some(&target), "{ex}: {name}");
            assert!(env.get("HF_HUB_CACHE").is_some_and(|h| h.starts_with(&target)), "{ex}: {name}");
            for bad in ["VLLM_CACHE_DIR", "TRANSFORMERS_CACHE", "HF_HUB_ENABLE_HF_TRANSFER", "HF_TOKEN"] {
                assert!(!env.contains_key(bad), "{ex}: {name} sets {bad}");
            }
            let deps: Vec<&str> =
                s["depends_on"].as_mapping().map(|m| m.keys().filter_map(Value::as_str).collect()).unwrap_or_default();
            let cmd = argv(s);
            if let Some(i) = cmd.iter().position(|a| *a == "--revision") {
                let model = if cmd[0] == "vllm" {
                    cmd[2]
                } else {
                    cmd[cmd.iter().position(|a| *a == "--model-path").expect("model") + 1]
                };
                // The job of this model, whichever revision it was asked at.
                let job = by_model
                    .iter()
                    .find(|((repo, _), name)| {
                        repo == model
                            && (jobs[name.as_str()]["sha"].as_str() == Some(cmd[i + 1])
                                || jobs[name.as_str()]["revision"].as_str() == Some(cmd[i + 1]))
                    })
                    .map(|(_, n)| n.as_str());
                let job = job.unwrap_or_else(|| panic!("{ex}: {name} serves a revision no job downloads"));
                assert_eq!(deps, [job], "{ex}: {name} must wait for its own model's job only");
                assert_eq!(
                    s["depends_on"][job]["condition"].as_str(),
                    Some("service_completed_successfully"),
                    "{ex}: {name}"
                );
            } else {
                assert!(cmd.iter().any(|a| a.starts_with('/')), "{ex}: {name} has neither a revision nor a local path");
                assert!(deps.is_empty(), "{ex}: {name} serves a local model yet waits for a download");
            }
        }
    }
}

#[test]
fn services_sharing_a_model_share_its_job_and_job_names_are_stable_and_distinct() {
    let dir = scratch("share");
    let path = write(
        &dir,
        "fleet.yaml",
        "version: 1\nname: share\nimage: {base: rocm/vllm:latest}\nhost: {gpu: {vendor: amd, model: MI300X, count: 4}}\n\
         services:\n  a: {model: org-a/Model.V2, gpus: 1}\n  b: {model: org-a/Model.V2, gpus: 1}\n  c: {model: org-b/Model.V2, gpus: 1}\n  d: {model: org-a/Model.V2, revision: dev, gpus: 1}\n",
    );
    let out = aimgen(&["render", &path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = yaml(&stdout(&out));
    let jobs = prefetch_jobs(&doc);
    assert_eq!(jobs.len(), 3, "{:?}", jobs.keys().collect::<Vec<_>>());
    let dep = |svc: &str| -> String {
        doc["services"][svc]["depends_on"]
            .as_mapping()
            .expect("depends_on")
            .keys()
            .next()
            .expect("one")
            .as_str()
            .expect("name")
            .to_string()
    };
    assert_eq!(dep("a"), dep("b"));
    assert_ne!(dep("a"), dep("c"), "same name, other org: its own job");
    assert_ne!(dep("a"), dep("d"), "same model, other revision: its own job");
    for name in jobs.keys() {
        assert!(name.starts_with("aimgen-prefetch-model-v2-"), "{name}");
        assert!(name.len() <= 63, "{name}");
    }
    // Stable: the same spec renders the same names.
    let again = yaml(&stdout(&aimgen(&["render", &path])));
    assert_eq!(prefetch_jobs(&again).keys().collect::<Vec<_>>(), jobs.keys().collect::<Vec<_>>());
}

#[test]
fn local_model_repository_is_mounted_read_only_and_not_prefetched() {
    let doc = yaml(&render_stdout("examples/host-cache-mirror.yaml"));
    let s = &doc["services"]["mistral"];
    let path = "/srv/model-repo/Mistral-7B-Instruct-v0.2";
    let mount = s["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["source"].as_str() == Some(path))
        .expect("bind mount");
    assert_eq!(mount["type"].as_str(), Some("bind"));
    assert_eq!(mount["read_only"].as_bool(), Some(true));
    let cmd = argv(s);
    assert_eq!(cmd[2], path);
    assert!(!cmd.contains(&"--revision"));
    let jobs = prefetch_jobs(&doc);
    assert!(
        !jobs.values().any(|j| j["repo"].as_str().is_some_and(|r| r.contains("Mistral"))),
        "a local model is downloaded"
    );
    // The mirror is where things download, and only there.
    for name in jobs.keys() {
        assert_eq!(
            doc["services"][name.as_str()]["environment"]["HF_ENDPOINT"].as_str(),
            Some("http://hf-mirror.internal:8080")
        );
    }
    assert!(doc["services"]["llama"]["environment"].get("HF_ENDPOINT").is_none());
    // Host-folder cache: bound, not a named volume.
    assert_eq!(doc["services"]["llama"]["volumes"][0]["source"].as_str(), Some("/srv/hf-cache"));
    assert!(doc["volumes"].get("model-cache").is_none());
}

#[test]
fn the_token_is_a_reference_never_a_value() {
    let secret = "hf_SECRETSECRETSECRET1234567890";
    for ex in examples() {
        let dir = scratch("token");
        let o = aimgen_env(&["render", &ex, "-o", dir.to_str().expect("utf-8")], &[("HF_TOKEN", secret)]);
        assert!(o.status.success());
        let o2 = aimgen_env(&["render", &ex], &[("HF_TOKEN", secret)]);
        for text in read_tree(&dir).values().chain([&stdout(&o2)]) {
            assert!(!text.contains(secret), "{ex}: token value written");
            assert!(!text.contains("docker.sock"), "{ex}: Docker socket mounted");
        }
        let doc = yaml(&stdout(&o2));
        for name in prefetch_jobs(&doc).keys() {
            assert_eq!(doc["services"][name.as_str()]["environment"]["HF_TOKEN"].as_str(), Some("${HF_TOKEN:-}"));
        }
    }
}

#[test]
fn ports_are_unique_and_allocated_upward_from_8000() {
    for ex in examples() {
        let doc = yaml(&render_stdout(&ex));
        let mut seen = BTreeSet::new();
        for (_, s) in services(&doc) {
            for p in s["ports"].as_sequence().into_iter().flatten() {
                let host = p.as_str().expect("quoted port mapping").rsplit(':').nth(1).expect("host port").to_string();
                assert!(seen.insert(host.clone()), "{ex}: host port {host} twice");
            }
        }
    }
    let doc = yaml(&render_stdout("examples/mi300x-fleet.yaml"));
    assert_eq!(doc["services"]["qwen"]["ports"][0].as_str(), Some("0.0.0.0:8000:8000"));
    assert_eq!(doc["services"]["llama"]["ports"][0].as_str(), Some("127.0.0.1:8001:8000"));
}

#[test]
fn committed_schemas_match_the_generated_ones() {
    for (kind, file) in [("fleet", "schemas/fleet.schema.json"), ("recipe", "schemas/recipe.schema.json")] {
        let o = aimgen(&["schema", kind]);
        assert!(o.status.success());
        let committed = std::fs::read_to_string(root().join(file)).expect("committed schema");
        assert_eq!(stdout(&o), committed, "{file} is stale: run `cargo run -- schema {kind} > {file}`");
    }
}

#[test]
fn exit_status_is_1_for_invalid_input_and_2_for_usage_or_io() {
    let dir = scratch("exit");
    let bad = write(&dir, "bad.yaml", "version: 1\nname: x\n");
    assert_eq!(aimgen(&["render", &bad]).status.code(), Some(1));
    assert_eq!(aimgen(&["render", "does/not/exist.yaml"]).status.code(), Some(2));
    assert_eq!(aimgen(&["render"]).status.code(), Some(2));
    assert_eq!(aimgen(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(aimgen(&["render", "examples/mi300x-fleet.yaml", "--check"]).status.code(), Some(2));
    assert_eq!(aimgen(&["--help"]).status.code(), Some(0));
}

#[test]
fn check_mode_reports_up_to_date_stale_missing_and_unexpected_files() {
    let dir = scratch("check");
    let d = dir.to_str().expect("utf-8");
    let ex = "examples/mi300x-fleet.yaml";
    assert!(aimgen(&["render", ex, "-o", d]).status.success());
    let clean = aimgen(&["render", ex, "-o", d, "--check"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));

    let compose = dir.join("docker-compose.cache.yml");
    let text = std::fs::read_to_string(&compose).expect("compose");
    std::fs::write(&compose, text.replace("8001:8000", "9001:8000")).expect("edit");
    std::fs::remove_file(dir.join("env/services/llama.env")).expect("remove");
    // One stale file per layout: `env/services/` now, `env/` before it.
    write(&dir, "env/services/gone.env", "# Generated by aimgen from x. Do not edit by hand:\nA=1\n");
    write(&dir, "env/old-service.env", "# Generated by aimgen from x. Do not edit by hand:\nA=1\n");
    write(&dir, "env/users-own.env", "A=1\n");
    let before = read_tree(&dir);
    let stale = aimgen(&["render", ex, "-o", d, "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    let err = stderr(&stale);
    assert!(err.contains("-      - \"127.0.0.1:9001:8000\"\n+      - \"127.0.0.1:8001:8000\""), "{err}");
    assert!(err.contains("missing: ") && err.contains("env/services/llama.env"), "{err}");
    assert!(err.contains("unexpected: ") && err.contains("env/old-service.env"), "{err}");
    assert!(err.contains("unexpected: ") && err.contains("env/services/gone.env"), "{err}");
    assert!(!err.contains("users-own"), "a user's own file is not ours to judge: {err}");
    assert!(err.contains(&format!("aimgen render {ex} -o {d}")), "{err}");
    assert_eq!(read_tree(&dir), before, "--check wrote something");

    // Rendering again repairs it, removing only the stale generated file.
    assert!(aimgen(&["render", ex, "-o", d]).status.success());
    assert_eq!(aimgen(&["render", ex, "-o", d, "--check"]).status.code(), Some(0));
    assert!(dir.join("env/users-own.env").exists());
    assert!(!dir.join("env/old-service.env").exists());
    assert!(!dir.join("env/services/gone.env").exists());
}

#[cfg(unix)]
#[test]
fn never_writes_through_a_symlink_out_of_the_output_folder() {
    let dir = scratch("symlink");
    let outside = scratch("outside");
    std::os::unix::fs::symlink(&outside, dir.join("env")).expect("symlink");
    let o = aimgen(&["render", "examples/mi300x-fleet.yaml", "-o", dir.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(read_tree(&outside).is_empty(), "wrote outside the output folder");
}

#[test]
fn oversubscribed_gpus_say_who_holds_what() {
    let dir = scratch("gpu-over");
    let spec = write(
        &dir,
        "f.yaml",
        "version: 1\nname: x\nimage: {base: rocm/vllm:latest}\nhost: {gpu: {vendor: amd, model: MI300X, count: 4}}\nservices:\n  a: {model: Qwen/Qwen3-32B, gpus: 2}\n  b: {model: Qwen/Qwen3-32B, gpus: 1}\n  c: {model: Qwen/Qwen3-32B, gpus: 2}\n",
    );
    let o = aimgen(&["check", &spec]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("`c` needs 2 GPUs but only 1 of the host's 4 remain"), "{err}");
    assert!(err.contains("a holds GPUs 0-1, b holds GPU 2; 1 free"), "{err}");
}

#[test]
fn every_schema_field_has_a_description() {
    fn walk(node: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
            for (k, v) in props {
                if v.get("description").and_then(|d| d.as_str()).is_none_or(str::is_empty) {
                    missing.push(format!("{path}/{k}"));
                }
                walk(v, &format!("{path}/{k}"), missing);
            }
        }
        if let Some(defs) = node.get("definitions").and_then(|d| d.as_object()) {
            for (k, v) in defs {
                walk(v, &format!("#/definitions/{k}"), missing);
            }
        }
    }
    for file in ["schemas/fleet.schema.json", "schemas/recipe.schema.json"] {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root().join(file)).expect("read")).expect("JSON");
        assert!(schema["$id"].is_string() && schema["title"].is_string(), "{file}: $id and title");
        let mut missing = Vec::new();
        walk(&schema, "", &mut missing);
        assert!(missing.is_empty(), "{file}: fields without a description: {missing:?}");
    }
}

#[test]
fn without_prefetch_servers_download_on_demand_into_a_writable_cache() {
    let dir = scratch("no-prefetch");
    let spec = write(
        &dir,
        "f.yaml",
        "version: 1\nname: x\nimage: {base: b/c:1, engine_version: \"0.33.0\"}\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\ncache: {prefetch: false, hf_endpoint: \"http://mirror:8080\"}\nservices:\n  q: {model: Qwen/Qwen3-32B, gpus: 1}\n",
    );
    let doc = yaml(&render_stdout(&spec));
    assert!(prefetch_jobs(&doc).is_empty());
    let q = &doc["services"]["q"];
    assert!(q.get("depends_on").is_none());
    assert_eq!(q["volumes"][0]["read_only"].as_bool(), Some(false));
    assert_eq!(q["environment"]["HF_TOKEN"].as_str(), Some("${HF_TOKEN:-}"));
    assert_eq!(q["environment"]["HF_ENDPOINT"].as_str(), Some("http://mirror:8080"));
    assert!(q["environment"].get("HF_HUB_OFFLINE").is_none());
}

#[test]
fn a_fleet_of_local_models_needs_no_prefetch() {
    let dir = scratch("local-only");
    let spec = write(
        &dir,
        "f.yaml",
        "version: 1\nname: x\nimage: {base: b/c:1, engine_version: \"0.33.0\"}\nhost: {gpu: {vendor: nvidia, model: H100, count: 2}}\nservices:\n  m: {model: mistralai/Mistral-7B-Instruct-v0.2, gpus: 1, model_path: /models/mistral}\n",
    );
    let doc = yaml(&render_stdout(&spec));
    assert!(prefetch_jobs(&doc).is_empty());
    assert!(doc["services"]["m"].get("depends_on").is_none());
    let dockerfile = doc["services"]["m"]["build"]["dockerfile_inline"].as_str().expect("inline Dockerfile");
    assert!(!dockerfile.contains("# syntax="), "no BuildKit frontend pull without BuildKit-only syntax");
}

#[test]
fn check_is_clean_from_any_working_folder() {
    let dir = scratch("cwd");
    let d = dir.to_str().expect("utf-8");
    assert!(aimgen(&["render", "examples/mi300x-fleet.yaml", "-o", d]).status.success());
    let spec = root().join("examples/mi300x-fleet.yaml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_aimgen"))
        .args(["render", spec.to_str().expect("utf-8"), "-o", ".", "--check"])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn lazily_checked_schemas_say_no_more_than_serde() {
    // The fleet and recipe schemas run only when serde refuses a value (fast path); that is
    // sound only while they add no constraint serde does not enforce.
    for s in [aimgen::schema::fleet_schema_json(), aimgen::recipe::schema_json()] {
        assert!(!aimgen::load::stricter_than_serde(&s), "{}", s["title"]);
    }
}
