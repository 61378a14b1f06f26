//! The Kubernetes target (`--target kubernetes`): the manifests' wiring read back as YAML —
//! the read-only claim, one Job per (model, revision), Job names that follow the lock, GPU
//! limits, where the token goes, DNS-1123 names, the init container's wait — and the
//! command line around it (`-o`, `--check`, `targets:`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use serde::Deserialize as _;
use serde_yaml::Value;

const HOST: &str = "version: 1\nname: kfleet\nhost:\n  gpu: {vendor: amd, model: MI300X, count: 8}\nimage:\n  base: rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\n";

fn spec(services: &str, extra: &str) -> String {
    format!("{HOST}{extra}services:\n{services}")
}

/// Every document of a multi-document stream.
fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text).map(|d| Value::deserialize(d).expect("valid YAML")).collect()
}

fn render_stream(dir: &Path, text: &str) -> Vec<Value> {
    let path = write(dir, "fleet.yaml", text);
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    docs(&stdout(&o))
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn pod(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]
}

fn containers(d: &Value) -> Vec<&Value> {
    let p = pod(d);
    let mut out: Vec<&Value> = Vec::new();
    for k in ["initContainers", "containers"] {
        if let Some(list) = p[k].as_sequence() {
            out.extend(list.iter());
        }
    }
    out
}

fn env_names(c: &Value) -> Vec<String> {
    c["env"].as_sequence().map(|l| l.iter().map(|e| s(&e["name"]).to_string()).collect()).unwrap_or_default()
}

fn env_value<'a>(c: &'a Value, name: &str) -> Option<&'a Value> {
    c["env"].as_sequence()?.iter().find(|e| s(&e["name"]) == name)
}

const THREE: &str = "  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n  chat-a:\n    model: meta-llama/Llama-3.1-8B-Instruct\n    gpus: 1\n  chat-b:\n    model: meta-llama/Llama-3.1-8B-Instruct\n    gpus: 1\n";

#[test]
fn servers_mount_the_claim_read_only_and_jobs_read_write() {
    let dir = scratch("k8s-ro");
    let d = render_stream(&dir, &spec(THREE, ""));
    let claims = of_kind(&d, "PersistentVolumeClaim");
    assert_eq!(claims.len(), 1);
    assert_eq!(s(&claims[0]["spec"]["accessModes"][0]), "ReadWriteMany");
    let claim = s(&claims[0]["metadata"]["name"]);
    let deployments = of_kind(&d, "Deployment");
    assert_eq!(deployments.len(), 3);
    for dep in &deployments {
        let vol = pod(dep)["volumes"].as_sequence().expect("volumes").iter().find(|v| s(&v["name"]) == "model-cache");
        let vol = vol.expect("cache volume");
        assert_eq!(s(&vol["persistentVolumeClaim"]["claimName"]), claim);
        assert_eq!(vol["persistentVolumeClaim"]["readOnly"].as_bool(), Some(true));
        for c in containers(dep) {
            let m = c["volumeMounts"].as_sequence().expect("mounts").iter().find(|m| s(&m["name"]) == "model-cache");
            assert_eq!(m.expect("cache mounted")["readOnly"].as_bool(), Some(true), "{c:?}");
        }
        let server = &pod(dep)["containers"][0];
        assert_eq!(s(&env_value(server, "HF_HUB_OFFLINE").expect("offline")["value"]), "1");
        // Writable scratch and a memory-backed /dev/shm with a limit, per pod.
        let vols = pod(dep)["volumes"].as_sequence().expect("volumes");
        assert!(vols.iter().any(|v| s(&v["name"]) == "scratch" && v["emptyDir"].is_mapping()));
        let shm = vols.iter().find(|v| s(&v["name"]) == "dshm").expect("dshm");
        assert_eq!(s(&shm["emptyDir"]["medium"]), "Memory");
        assert!(!s(&shm["emptyDir"]["sizeLimit"]).is_empty());
    }
    for job in of_kind(&d, "Job") {
        let c = &pod(job)["containers"][0];
        let m = c["volumeMounts"].as_sequence().expect("mounts").iter().find(|m| s(&m["name"]) == "model-cache");
        assert_ne!(m.expect("cache mounted")["readOnly"].as_bool(), Some(true));
        assert_eq!(s(&pod(job)["restartPolicy"]), "Never");
        assert!(job["spec"]["backoffLimit"].as_u64().is_some());
        assert!(job["spec"]["ttlSecondsAfterFinished"].as_u64().is_some());
    }
}

#[test]
fn one_job_per_distinct_model_and_revision_and_each_server_waits_for_its_own() {
    let dir = scratch("k8s-jobs");
    let services = format!("{THREE}  qwen-old:\n    model: Qwen/Qwen3-32B\n    revision: v1.0\n    gpus: 4\n");
    let d = render_stream(&dir, &spec(&services, ""));
    let jobs = of_kind(&d, "Job");
    let names: BTreeSet<&str> = jobs.iter().map(|j| s(&j["metadata"]["name"])).collect();
    assert_eq!(jobs.len(), 3, "{names:?}");
    assert_eq!(names.len(), 3);
    // The two servers of one model wait for the same Job; the other revision has its own.
    let waited: Vec<(String, String)> = of_kind(&d, "Deployment")
        .iter()
        .map(|dep| {
            let init = &pod(dep)["initContainers"][0];
            (s(&dep["metadata"]["name"]).to_string(), s(&init["args"][2]).to_string())
        })
        .collect();
    let job_of = |n: &str| waited.iter().find(|(d, _)| d == n).map(|(_, j)| j.clone()).expect("server");
    assert_eq!(job_of("chat-a"), job_of("chat-b"));
    assert_ne!(job_of("qwen"), job_of("qwen-old"));
    for (_, j) in &waited {
        assert!(names.contains(j.as_str()), "{j} is no Job");
    }
}

#[test]
fn job_names_follow_the_lock() {
    let dir = scratch("k8s-lock");
    let text = spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", "");
    let lock = |sha: char| {
        format!(
            "version: 1\nmodels:\n  - repo: \"Qwen/Qwen3-32B\"\n    revision: \"main\"\n    sha: \"{}\"\n    files:\n      - {{path: \"model.safetensors\", size: 10, blob: \"{}\"}}\n",
            sha.to_string().repeat(40),
            sha.to_string().repeat(64)
        )
    };
    let job = |d: &[Value]| {
        let jobs = of_kind(d, "Job");
        assert_eq!(jobs.len(), 1);
        let j = jobs[0];
        let marker = s(&j["spec"]["template"]["spec"]["containers"][0]["args"][0]).to_string();
        (s(&j["metadata"]["name"]).to_string(), marker)
    };
    let unlocked = job(&render_stream(&dir, &text));
    write(&dir, "fleet.lock", &lock('a'));
    let a = job(&render_stream(&dir, &text));
    let a_again = job(&render_stream(&dir, &text));
    write(&dir, "fleet.lock", &lock('b'));
    let b = job(&render_stream(&dir, &text));
    assert_eq!(a, a_again, "an unchanged lock keeps the Job");
    assert_ne!(a.0, b.0, "a new lock gives a new Job");
    assert_ne!(unlocked.0, a.0);
    // The marker is keyed by the Job, so a new lock never finds the old model's marker.
    assert!(a.1.ends_with(&format!("/aimgen-ready/{}", a.0)), "{}", a.1);
    assert_ne!(a.1, b.1);
    for (name, _) in [&unlocked, &a, &b] {
        assert!(name.len() <= 63 && name.starts_with("aimgen-prefetch-qwen3-32b-"), "{name}");
    }
}

#[test]
fn gpu_limits_are_the_tensor_parallel_size() {
    let dir = scratch("k8s-gpu");
    let d = render_stream(&dir, &spec(THREE, ""));
    for dep in of_kind(&d, "Deployment") {
        let c = &pod(dep)["containers"][0];
        let args: Vec<&str> = c["args"].as_sequence().expect("args").iter().map(s).collect();
        let tp = args.iter().position(|a| *a == "--tensor-parallel-size").map(|i| args[i + 1]).expect("tp flag");
        assert_eq!(s(&c["resources"]["limits"]["amd.com/gpu"]), tp, "{dep:?}");
        // The device plugin passes the devices: nothing from the host, nothing privileged.
        assert!(pod(dep)["volumes"].as_sequence().expect("v").iter().all(|v| v["hostPath"].is_null()));
        for c in containers(dep) {
            assert_eq!(c["securityContext"]["privileged"].as_bool(), Some(false));
            assert_eq!(c["securityContext"]["allowPrivilegeEscalation"].as_bool(), Some(false));
            assert_eq!(c["securityContext"]["capabilities"]["drop"][0].as_str(), Some("ALL"));
            assert!(c["securityContext"]["capabilities"]["add"].is_null());
        }
        assert_eq!(s(&pod(dep)["securityContext"]["seccompProfile"]["type"]), "RuntimeDefault");
        let term = &pod(dep)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchExpressions"][0];
        assert_eq!(s(&term["key"]), "amd.com/gpu.product-name");
    }
    // NVIDIA and SGLang: `--tp` and nvidia.com/gpu.
    let nv = "version: 1\nname: nv\nhost:\n  gpu: {vendor: nvidia, model: H100, count: 8}\nservices:\n  s:\n    model: Qwen/Qwen3-32B\n    backend: sglang\n    gpus: 2\n";
    let d = render_stream(&dir, nv);
    let dep = of_kind(&d, "Deployment")[0];
    let c = &pod(dep)["containers"][0];
    let args: Vec<&str> = c["args"].as_sequence().expect("args").iter().map(s).collect();
    let tp = args.iter().position(|a| *a == "--tp" || *a == "--tp-size").map(|i| args[i + 1]).expect("tp flag");
    assert_eq!(s(&c["resources"]["limits"]["nvidia.com/gpu"]), tp);
    assert!(c["resources"]["limits"]["amd.com/gpu"].is_null());
}

#[test]
fn the_token_goes_only_to_jobs_and_keys_only_by_reference() {
    let dir = scratch("k8s-token");
    let services = "  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n    api_key_env: QWEN_KEY\n  sg:\n    model: meta-llama/Llama-3.1-8B-Instruct\n    backend: sglang\n    gpus: 1\n    api_key_env: SG_KEY\n";
    let extra = "image:\n  vllm: {base: \"rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\"}\n  sglang: {base: \"lmsysorg/sglang:v0.5.23-rocm720-mi30x\"}\nkubernetes:\n  hf_token_secret: my-hf\n  api_key_secret: my-keys\n";
    let text = format!(
        "{}{extra}services:\n{services}",
        HOST.replace("image:\n  base: rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\n", "")
    );
    let path = write(&dir, "fleet.yaml", &text);
    let o = aimgen_env(
        &["render", &path, "--target", "kubernetes"],
        &[("HF_TOKEN", "hf_SECRETVALUE"), ("QWEN_KEY", "k-SECRET")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("SECRET"), "a secret's value was written");
    assert!(!out.contains("kind: Secret"), "aimgen writes no Secret");
    let d = docs(&out);
    for job in of_kind(&d, "Job") {
        let t = env_value(&pod(job)["containers"][0], "HF_TOKEN").expect("token on the Job");
        assert!(t["value"].is_null());
        let r = &t["valueFrom"]["secretKeyRef"];
        assert_eq!((s(&r["name"]), s(&r["key"]), r["optional"].as_bool()), ("my-hf", "HF_TOKEN", Some(true)));
    }
    for dep in of_kind(&d, "Deployment") {
        for c in containers(dep) {
            assert!(!env_names(c).contains(&"HF_TOKEN".to_string()), "token on a server: {c:?}");
        }
    }
    let server = |n: &str| {
        let dep = of_kind(&d, "Deployment").into_iter().find(|x| s(&x["metadata"]["name"]) == n).expect("server");
        pod(dep)["containers"][0].clone()
    };
    // vLLM reads VLLM_API_KEY; SGLang gets `--api-key $(AIMGEN_API_KEY)`, which the kubelet fills.
    let v = server("qwen");
    let r = &env_value(&v, "VLLM_API_KEY").expect("key")["valueFrom"]["secretKeyRef"];
    assert_eq!((s(&r["name"]), s(&r["key"])), ("my-keys", "QWEN_KEY"));
    assert!(r["optional"].is_null(), "a server must not start without its key");
    let g = server("sg");
    let args: Vec<&str> = g["args"].as_sequence().expect("args").iter().map(s).collect();
    assert_eq!(&args[args.len() - 2..], ["--api-key", "$(AIMGEN_API_KEY)"]);
    let r = &env_value(&g, "AIMGEN_API_KEY").expect("key variable")["valueFrom"]["secretKeyRef"];
    assert_eq!((s(&r["name"]), s(&r["key"])), ("my-keys", "SG_KEY"));
}

#[test]
fn dollars_in_spec_values_are_not_expanded_by_the_kubelet() {
    let dir = scratch("k8s-dollar");
    let services =
        "  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n    env:\n      MY_VAR: \"$(HF_TOKEN) and $$ and $HOME\"\n";
    let path = write(&dir, "fleet.yaml", &spec(services, ""));
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = docs(&stdout(&o));
    let dep = of_kind(&d, "Deployment")[0];
    let v = s(&env_value(&pod(dep)["containers"][0], "MY_VAR").expect("var")["value"]).to_string();
    // The kubelet reads `$$` as `$`: this is exactly the spec's text after its expansion.
    assert_eq!(v, "$$(HF_TOKEN) and $$$$ and $$HOME");
}

#[test]
fn service_names_are_mapped_to_dns_labels_or_refused_at_their_line() {
    let dir = scratch("k8s-names");
    let d = render_stream(&dir, &spec("  qwen_big.v2:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", ""));
    let dep = of_kind(&d, "Deployment")[0];
    assert_eq!(s(&dep["metadata"]["name"]), "qwen-big-v2");
    assert_eq!(s(&of_kind(&d, "Service")[0]["metadata"]["name"]), "qwen-big-v2");

    let path = write(
        &dir,
        "fleet.yaml",
        &spec("  llama:\n    model: Qwen/Qwen3-32B\n    gpus: 2\n  8b:\n    model: Qwen/Qwen3-32B\n    gpus: 2\n", ""),
    );
    // Compose takes this name; Kubernetes cannot (a Service's name starts with a letter).
    assert!(aimgen(&["check", &path]).status.success());
    let o = aimgen(&["check", &path, "--target", "kubernetes"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(
            "service `8b` has no Kubernetes name (`8b` is not a DNS-1035 label: it does not start with a letter)"
        ),
        "{err}"
    );
    assert!(err.contains("fleet.yaml:11:3"), "{err}");
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
}

/// The wait script as the manifests carry it (the ConfigMap's data), run by `sh` with the
/// init container's arguments, against a folder standing in for the claim.
#[test]
fn the_init_container_waits_for_the_marker_with_a_bound() {
    let dir = scratch("k8s-wait");
    let d = render_stream(&dir, &spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", ""));
    let cm = of_kind(&d, "ConfigMap")[0];
    let script = write(&dir, "wait-for-model.sh", s(&cm["data"]["wait-for-model.sh"]));
    let dep = of_kind(&d, "Deployment")[0];
    let init = &pod(dep)["initContainers"][0];
    assert_eq!(s(&init["command"][1]), "/etc/aimgen/wait-for-model.sh");
    let args: Vec<String> = init["args"].as_sequence().expect("args").iter().map(|a| s(a).to_string()).collect();
    let (marker, job) = (args[0].clone(), args[2].clone());
    assert!(args[1].parse::<u32>().expect("a timeout in seconds") > 0);
    let claim = dir.join("claim");
    let local_marker = claim.join(marker.trim_start_matches("/workspace/model-cache/"));
    let run = |timeout: &str| {
        Command::new("sh").arg(&script).arg(&local_marker).arg(timeout).arg(&job).output().expect("sh runs")
    };
    // No marker: it gives up after the bound, naming the Job.
    let o = run("0");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("aimgen-wait: error: timed out after 0 s waiting for {job}")),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains(&format!("kubectl logs job/{job}")));
    // The marker appears while it waits: it returns, and says so.
    let child = Command::new("sh")
        .arg(&script)
        .arg(&local_marker)
        .arg("60")
        .arg(&job)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sh runs");
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::create_dir_all(local_marker.parent().expect("parent")).expect("mkdir");
    std::fs::write(&local_marker, "{}\n").expect("marker");
    let o = child.wait_with_output().expect("waits");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("aimgen-wait: {job} is complete")), "{}", stdout(&o));
    // Already there: immediately.
    assert!(run("0").status.success());
}

#[test]
fn a_folder_has_a_kustomization_listing_every_manifest_and_check_finds_stale_files() {
    let dir = scratch("k8s-dir");
    let path = write(&dir, "fleet.yaml", &spec(THREE, ""));
    let out = dir.join("deploy");
    let out_s = out.to_str().expect("utf-8");
    let o = aimgen(&["render", &path, "--target", "kubernetes", "-o", out_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = read_tree(&out);
    let k: Value = serde_yaml::from_str(&files["kustomization.yaml"]).expect("kustomization");
    let listed: BTreeSet<String> =
        k["resources"].as_sequence().expect("resources").iter().map(|r| s(r).to_string()).collect();
    let manifests: BTreeSet<String> =
        files.keys().filter(|f| f.ends_with(".yaml") && *f != "kustomization.yaml").cloned().collect();
    assert_eq!(listed, manifests);
    assert!(files.contains_key("Dockerfile.optimized"));
    let check = |p: &str| aimgen(&["render", p, "--target", "kubernetes", "-o", out_s, "--check"]);
    assert!(check(&path).status.success(), "{}", stderr(&check(&path)));
    // A service removed: its file (and its model's Job) are stale, and a render removes them.
    let path = write(&dir, "fleet.yaml", &spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", ""));
    let o = check(&path);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("unexpected: ") && err.contains("servers/chat-a.yaml"), "{err}");
    assert!(err.contains("--target kubernetes"), "{err}");
    assert!(aimgen(&["render", &path, "--target", "kubernetes", "-o", out_s]).status.success());
    assert!(!out.join("servers/chat-a.yaml").exists());
    assert_eq!(std::fs::read_dir(out.join("jobs")).expect("jobs").count(), 1);
    assert!(check(&path).status.success());
}

#[test]
fn targets_in_the_spec_render_each_into_its_own_folder() {
    let dir = scratch("k8s-targets");
    let path = write(&dir, "fleet.yaml", &spec(THREE, "targets: [compose, kubernetes]\n"));
    let out = dir.join("deploy");
    let o = aimgen(&["render", &path, "-o", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("compose/docker-compose.cache.yml").is_file());
    assert!(out.join("kubernetes/kustomization.yaml").is_file());
    // Standard output holds one stream: the target must be named.
    let o = aimgen(&["render", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("several `targets:`"), "{}", stderr(&o));
    let o = aimgen(&["render", &path, "--target", "compose"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("services:"));
}

#[test]
fn rendering_is_byte_stable() {
    let dir = scratch("k8s-stable");
    let path = write(&dir, "fleet.yaml", &spec(THREE, ""));
    let a = aimgen(&["render", &path, "--target", "kubernetes"]);
    let b = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn the_kubernetes_section_is_checked_at_its_lines() {
    let dir = scratch("k8s-section");
    let extra = "kubernetes:\n  namespace: Aim_Fleet\n  shm_size: 16GB\n  hf_token_secret: HF_TOKEN\n  cache:\n    size: lots\n";
    let path = write(&dir, "fleet.yaml", &spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", extra));
    let o = aimgen(&["check", &path, "--target", "kubernetes"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for (what, at) in [
        ("`Aim_Fleet` is no Kubernetes namespace name", "fleet.yaml:8:14"),
        ("`16GB` is no Kubernetes quantity", "fleet.yaml:9:13"),
        ("`HF_TOKEN` is no Kubernetes object name", "fleet.yaml:10:20"),
        ("`lots` is no Kubernetes quantity", "fleet.yaml:12:11"),
    ] {
        assert!(err.contains(what) && err.contains(at), "{what} at {at}:\n{err}");
    }
    // Compose does not read the section.
    assert!(aimgen(&["check", &path]).status.success());
}

/// An invalid `kubernetes.namespace` is one error, at its line: the fleet's name is not
/// blamed for a namespace it did not give.
#[test]
fn a_bad_namespace_is_not_blamed_on_the_fleet_name() {
    let dir = scratch("k8s-bad-namespace");
    let extra = "kubernetes:\n  namespace: Aim_Fleet\n";
    let path = write(&dir, "fleet.yaml", &spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", extra));
    let o = aimgen(&["check", &path, "--target", "kubernetes"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("`Aim_Fleet` is no Kubernetes namespace name") && err.contains("fleet.yaml:8:14"), "{err}");
    assert!(!err.contains("the fleet's name"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    // The fleet's name is still checked when it is the namespace.
    let text = spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", "").replace("name: kfleet", "name: kfleet_");
    let path = write(&dir, "fleet.yaml", &text);
    let err = stderr(&aimgen(&["check", &path, "--target", "kubernetes"]));
    assert!(err.contains("the fleet's name `kfleet_` is no Kubernetes namespace"), "{err}");
}

/// "Published on 0.0.0.0 without an API key" is about Compose's host ports: a render for
/// Kubernetes alone (where a server is a ClusterIP Service and `bind` is not used) does not
/// say it; a Compose render of the same spec does, and one with both targets does too.
#[test]
fn the_open_bind_warning_is_compose_only() {
    let dir = scratch("k8s-bind");
    let text = spec("  chat:\n    model: meta-llama/Llama-3.1-8B-Instruct\n    gpus: 1\n    bind: 0.0.0.0\n", "");
    let path = write(&dir, "fleet.yaml", &text);
    let warning = "is published on 0.0.0.0 (every interface) without an API key";
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains(warning), "{}", stderr(&o));
    for target in ["compose", "kubernetes"] {
        let o = aimgen(&["check", &path, "--target", target]);
        assert_eq!(stderr(&o).contains(warning), target == "compose", "check --target {target}: {}", stderr(&o));
    }
    let both = write(&dir, "both.yaml", &text.replacen("services:", "targets: [compose, kubernetes]\nservices:", 1));
    let o = aimgen(&["check", &both]);
    assert!(stderr(&o).contains(warning), "{}", stderr(&o));
}

/// A label mapping as (key, value) pairs.
fn label_pairs(m: &Value) -> BTreeSet<(String, String)> {
    m.as_mapping().map(|m| m.iter().map(|(k, v)| (s(k).to_string(), s(v).to_string())).collect()).unwrap_or_default()
}

/// A selector's `matchLabels` as (key, value) pairs.
fn match_labels(selector: &Value) -> BTreeSet<(String, String)> {
    label_pairs(&selector["matchLabels"])
}

/// Whether a `matchLabels` selector selects a pod with these labels (every pair present).
fn selects(selector: &Value, pod_labels: &Value) -> bool {
    match_labels(selector).is_subset(&label_pairs(pod_labels))
}

fn policies(d: &[Value]) -> Vec<&Value> {
    of_kind(d, "NetworkPolicy")
}

fn policy<'a>(d: &'a [Value], name: &str) -> &'a Value {
    policies(d).into_iter().find(|p| s(&p["metadata"]["name"]) == name).unwrap_or_else(|| panic!("no policy {name}"))
}

/// One `from` entry: each selector's kind (`podSelector`, `namespaceSelector`) with its labels.
type Peer = BTreeSet<(String, BTreeSet<(String, String)>)>;

/// The `from` entries of a server's policy.
fn peers(p: &Value) -> Vec<Peer> {
    let rules = p["spec"]["ingress"].as_sequence().expect("ingress rules");
    assert_eq!(rules.len(), 1, "one rule: {p:?}");
    rules[0]["from"]
        .as_sequence()
        .expect("from")
        .iter()
        .map(|f| {
            let m = f.as_mapping().expect("a peer is a mapping");
            m.iter().map(|(k, v)| (s(k).to_string(), match_labels(v))).collect()
        })
        .collect()
}

fn pairs(l: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn each_server_admits_only_the_default_clients_on_its_port_and_jobs_admit_nothing() {
    let dir = scratch("k8s-netpol");
    let d = render_stream(&dir, &spec(THREE, ""));
    let deployments = of_kind(&d, "Deployment");
    let services = of_kind(&d, "Service");
    let jobs = of_kind(&d, "Job");
    assert_eq!(services.len(), 3);
    assert_eq!(policies(&d).len(), services.len() + 1, "one per server and one for the Jobs");
    for svc in &services {
        let name = s(&svc["metadata"]["name"]);
        let p = policy(&d, name);
        assert_eq!(s(&p["metadata"]["namespace"]), s(&svc["metadata"]["namespace"]));
        let sel = &p["spec"]["podSelector"];
        // Exactly the Service's selector: it selects this server's pods and no other's.
        assert_eq!(sel["matchLabels"], svc["spec"]["selector"], "{name}");
        for dep in &deployments {
            let own = s(&dep["metadata"]["name"]) == name;
            assert_eq!(selects(sel, &dep["spec"]["template"]["metadata"]["labels"]), own, "{name} vs {dep:?}");
        }
        for job in &jobs {
            assert!(!selects(sel, &job["spec"]["template"]["metadata"]["labels"]), "{name} selects a Job");
        }
        assert_eq!(p["spec"]["policyTypes"], serde_yaml::from_str::<Value>("[Ingress]").expect("yaml"));
        assert!(p["spec"]["egress"].is_null(), "egress is not restricted");
        // The default peer: pods of the fleet's namespace labelled aimgen.io/client=true.
        let from = peers(p);
        assert_eq!(from.len(), 1);
        assert_eq!(from[0], BTreeSet::from([("podSelector".to_string(), pairs(&[("aimgen.io/client", "true")]))]));
        // On the engine port: the container's.
        let dep = deployments.iter().find(|x| s(&x["metadata"]["name"]) == name).expect("deployment");
        let container_port = pod(dep)["containers"][0]["ports"][0]["containerPort"].as_u64().expect("port");
        let ports = p["spec"]["ingress"][0]["ports"].as_sequence().expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0]["port"].as_u64(), Some(container_port));
        assert_eq!(s(&ports[0]["protocol"]), "TCP");
    }
    // The Jobs: every download Job's pods, no server's, and no ingress rule.
    let p = policy(&d, "aimgen-model-downloads");
    let sel = &p["spec"]["podSelector"];
    assert!(!match_labels(sel).is_empty(), "an empty selector would select every pod");
    assert!(!jobs.is_empty());
    for job in &jobs {
        assert!(selects(sel, &job["spec"]["template"]["metadata"]["labels"]), "{job:?}");
    }
    for dep in &deployments {
        assert!(!selects(sel, &dep["spec"]["template"]["metadata"]["labels"]), "selects a server");
    }
    assert_eq!(p["spec"]["policyTypes"], serde_yaml::from_str::<Value>("[Ingress]").expect("yaml"));
    assert!(p["spec"]["ingress"].as_sequence().is_none_or(|r| r.is_empty()), "{p:?}");
}

#[test]
fn allow_from_peers_become_the_from_entries() {
    let dir = scratch("k8s-peers");
    let extra = "kubernetes:\n  allow_from:\n    - pods: {app: gateway}\n    - namespaces: {kubernetes.io/metadata.name: web}\n    - pods: {role: client, tier: \"\"}\n      namespaces: {team: a}\n    - pods: {}\n";
    let path = write(&dir, "fleet.yaml", &spec(THREE, extra));
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("`kubernetes.allow_from`"), "{}", stderr(&o));
    let d = docs(&stdout(&o));
    let want = vec![
        BTreeSet::from([("podSelector".to_string(), pairs(&[("app", "gateway")]))]),
        BTreeSet::from([("namespaceSelector".to_string(), pairs(&[("kubernetes.io/metadata.name", "web")]))]),
        // Both in one entry: Kubernetes ANDs them (those pods in those namespaces).
        BTreeSet::from([
            ("podSelector".to_string(), pairs(&[("role", "client"), ("tier", "")])),
            ("namespaceSelector".to_string(), pairs(&[("team", "a")])),
        ]),
        BTreeSet::from([("podSelector".to_string(), BTreeSet::new())]),
    ];
    for name in ["qwen", "chat-a", "chat-b"] {
        let p = policy(&d, name);
        assert_eq!(peers(p), want, "{name}");
        // `pods: {}` is written as an empty selector (every pod of the namespace), not left out.
        assert!(p["spec"]["ingress"][0]["from"][3]["podSelector"].is_mapping());
    }
}

#[test]
fn an_empty_allow_from_admits_no_pod_and_says_so() {
    let dir = scratch("k8s-nopeers");
    let path = write(&dir, "fleet.yaml", &spec(THREE, "kubernetes:\n  allow_from: []\n"));
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("`kubernetes.allow_from` is empty: no pod can call the servers"), "{err}");
    assert!(err.contains("fleet.yaml:8:15"), "{err}");
    let d = docs(&stdout(&o));
    assert_eq!(policies(&d).len(), 4);
    for name in ["qwen", "chat-a", "chat-b"] {
        let p = policy(&d, name);
        assert_eq!(p["spec"]["policyTypes"][0].as_str(), Some("Ingress"));
        // No rule at all: a rule with an empty `from` would admit every source.
        assert!(p["spec"]["ingress"].as_sequence().is_none_or(|r| r.is_empty()), "{p:?}");
    }
}

#[test]
fn without_network_policies_each_server_without_a_key_is_a_warning() {
    let dir = scratch("k8s-nonetpol");
    let services = "  open:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n  keyed:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n    api_key_env: KEYED_KEY\n";
    let path = write(&dir, "fleet.yaml", &spec(services, "kubernetes:\n  network_policy: false\n"));
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(policies(&docs(&stdout(&o))).is_empty(), "no NetworkPolicy");
    let err = stderr(&o);
    let warning = |svc: &str| {
        format!("service `{svc}` has no API key and no NetworkPolicy: every pod in the cluster can call it")
    };
    assert!(err.contains(&warning("open")) && err.contains("fleet.yaml:8:19"), "{err}");
    assert!(!err.contains(&warning("keyed")), "{err}");
    assert_eq!(err.matches("every pod in the cluster can call it").count(), 1, "{err}");
    // A fleet-wide key covers every server.
    let keyed = spec(services, "serving:\n  api_key_env: FLEET_KEY\nkubernetes:\n  network_policy: false\n");
    let o = aimgen(&["check", &write(&dir, "keyed.yaml", &keyed), "--target", "kubernetes"]);
    assert!(!stderr(&o).contains("every pod in the cluster"), "{}", stderr(&o));
    // A Kubernetes concern: Compose does not say it.
    let o = aimgen(&["check", &path, "--target", "compose"]);
    assert!(!stderr(&o).contains("every pod in the cluster"), "{}", stderr(&o));
    // `allow_from` beside it is unused, and says so.
    let both = spec(services, "kubernetes:\n  network_policy: false\n  allow_from: [{pods: {app: x}}]\n");
    let o = aimgen(&["check", &write(&dir, "both.yaml", &both), "--target", "kubernetes"]);
    assert!(stderr(&o).contains("`kubernetes.allow_from` is not used"), "{}", stderr(&o));
}

#[test]
fn bad_labels_and_empty_peers_are_errors_at_their_lines() {
    let dir = scratch("k8s-badpeers");
    let extra = "kubernetes:\n  allow_from:\n    - pods: {Bad_Prefix.io/app: x}\n    - {}\n    - namespaces:\n        team: -a\n        a/b/c: x\n    - pods: {app: \"has space\"}\n";
    let path = write(&dir, "fleet.yaml", &spec("  qwen:\n    model: Qwen/Qwen3-32B\n    gpus: 4\n", extra));
    let o = aimgen(&["check", &path, "--target", "kubernetes"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for (what, at) in [
        ("`Bad_Prefix.io/app` is no label key: its prefix `Bad_Prefix.io` is no DNS subdomain", "fleet.yaml:9:14"),
        ("an `allow_from` entry needs `pods`, `namespaces` or both", "fleet.yaml:10:7"),
        ("`-a` is no label value (of `team`)", "fleet.yaml:12:15"),
        ("`a/b/c` is no label key: it has more than one `/`", "fleet.yaml:13:9"),
        ("`has space` is no label value (of `app`)", "fleet.yaml:14:19"),
    ] {
        assert!(err.contains(what) && err.contains(at), "{what} at {at}:\n{err}");
    }
    assert!(err.contains("5 errors"), "{err}");
    let o = aimgen(&["render", &path, "--target", "kubernetes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    // Compose does not read the section.
    assert!(aimgen(&["check", &path]).status.success());
}

#[test]
fn the_jobs_policy_file_goes_stale_without_network_policies() {
    let dir = scratch("k8s-netpol-dir");
    let out = dir.join("deploy");
    let out_s = out.to_str().expect("utf-8");
    let path = write(&dir, "fleet.yaml", &spec(THREE, ""));
    assert!(aimgen(&["render", &path, "--target", "kubernetes", "-o", out_s]).status.success());
    assert!(out.join("jobs-network-policy.yaml").is_file());
    let path = write(&dir, "fleet.yaml", &spec(THREE, "kubernetes:\n  network_policy: false\n"));
    let o = aimgen(&["render", &path, "--target", "kubernetes", "-o", out_s, "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("jobs-network-policy.yaml"), "{}", stderr(&o));
    assert!(aimgen(&["render", &path, "--target", "kubernetes", "-o", out_s]).status.success());
    assert!(!out.join("jobs-network-policy.yaml").exists());
    let k: Value = serde_yaml::from_str(&std::fs::read_to_string(out.join("kustomization.yaml")).expect("read"))
        .expect("kustomization");
    assert!(!k["resources"].as_sequence().expect("resources").iter().any(|r| s(r).contains("network-policy")));
    assert!(!std::fs::read_to_string(out.join("servers/qwen.yaml")).expect("read").contains("NetworkPolicy"));
}
