//! Serving safety, end to end through the built binary and, for what only Compose can say,
//! through Compose v2 itself: bind addresses, API keys by reference (never in a file, `up`
//! refusing without them), secrets refused in `args`/`env`/recipes, and the container settings.
//!
//! Compose v2 is the one `scripts/conformance.sh` installs into `.tools/bin/`. Without it the
//! Compose checks are skipped with a message — except in CI (`CI=true`), where `.ci/run`
//! installs it before `cargo test`, so its absence is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_yaml::Value;

/// Compose v2 from `.tools/bin`, if installed.
fn compose() -> Option<PathBuf> {
    let p = root().join(".tools/bin/docker-compose-v2");
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").map(|v| v != "true").unwrap_or(true),
        "CI=true but {} is missing: .ci/run must run `scripts/conformance.sh --install-only` before `cargo test`",
        p.display()
    );
    eprintln!("SKIPPED Compose v2 checks: {} is missing (run scripts/conformance.sh --install-only)", p.display());
    None
}

/// `docker compose config` in `dir` with exactly `vars` among the key variables set.
fn compose_config(bin: &Path, dir: &Path, vars: &[(&str, &str)], unset: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).args(["-f", "docker-compose.cache.yml", "config"]);
    for k in ["HF_TOKEN", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES"]
        .iter()
        .chain(unset)
    {
        cmd.env_remove(k);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("compose runs")
}

const NVIDIA_MIXED: &str = r#"version: 1
name: keyed
host: {gpu: {vendor: nvidia, model: H100, count: 8}}
image: {vllm: {base: "vllm/vllm-openai:v0.33.0"}, sglang: {base: "lmsysorg/sglang:v0.5.23-cu129"}}
serving: {api_key_env: AIM_API_KEY}
services:
  chat: {model: meta-llama/Llama-3.1-8B-Instruct, bind: 0.0.0.0}
  coder: {model: Qwen/Qwen3-32B, backend: sglang, bind: "::", api_key_env: CODER_KEY}
  local: {model: mistralai/Mistral-7B-Instruct-v0.2, gpus: 1}
"#;

/// Renders `spec` into a fresh folder; returns it with the parsed Compose file.
fn render_dir(name: &str, spec: &str) -> (PathBuf, Value, String) {
    let dir = scratch(name);
    let path = write(&dir, "fleet.yaml", spec);
    let out = dir.join("out");
    let o = aimgen(&["render", &path, "-o", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "render failed:\n{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("docker-compose.cache.yml")).expect("compose file");
    (out, yaml(&text), stderr(&o))
}

fn svc<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["services"][name]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().map(|x| x.as_str().expect("string").to_string()).collect()).unwrap_or_default()
}

#[test]
fn ports_listen_on_loopback_unless_the_spec_says_otherwise() {
    let spec = r#"version: 1
name: binds
host: {gpu: {vendor: amd, model: MI300X, count: 8}}
image: {base: "rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210"}
services:
  a: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}
  b: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, bind: 10.1.2.3, api_key_env: B_KEY}
  c: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, bind: "::1"}
  d: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, bind: "fd00::5", api_key_env: D_KEY}
"#;
    let (dir, doc, _) = render_dir("binds", spec);
    assert_eq!(strings(&svc(&doc, "a")["ports"]), ["127.0.0.1:8000:8000"]);
    assert_eq!(strings(&svc(&doc, "b")["ports"]), ["10.1.2.3:8001:8000"]);
    assert_eq!(strings(&svc(&doc, "c")["ports"]), ["[::1]:8002:8000"]);
    assert_eq!(strings(&svc(&doc, "d")["ports"]), ["[fd00::5]:8003:8000"]);
    // A fleet-wide bind applies to every service without its own.
    let (_, doc2, _) = render_dir("binds-fleet", &spec.replace("services:", "serving: {bind: \"::1\"}\nservices:"));
    assert_eq!(strings(&svc(&doc2, "a")["ports"]), ["[::1]:8000:8000"]);
    assert_eq!(strings(&svc(&doc2, "b")["ports"]), ["10.1.2.3:8001:8000"]);

    let Some(bin) = compose() else { return };
    let o = compose_config(&bin, &dir, &[("B_KEY", "x"), ("D_KEY", "y")], &[]);
    assert!(o.status.success(), "compose config: {}", stderr(&o));
    let cfg = yaml(&stdout(&o));
    for (name, ip, published) in
        [("a", "127.0.0.1", "8000"), ("b", "10.1.2.3", "8001"), ("c", "::1", "8002"), ("d", "fd00::5", "8003")]
    {
        let p = &cfg["services"][name]["ports"][0];
        assert_eq!(p["host_ip"].as_str(), Some(ip), "{name}: {p:?}");
        assert_eq!(p["published"].as_str(), Some(published), "{name}");
        assert_eq!(p["target"].as_u64(), Some(8000), "{name}");
    }
}

#[test]
fn api_keys_reach_the_engines_by_reference_only() {
    let sentinel = "sk-sentinel-7c1e5b0d9a";
    let (dir, doc, _) = render_dir("keys", NVIDIA_MIXED);
    // vLLM: its own variable, as a required Compose reference in `environment:`.
    let chat = &svc(&doc, "chat")["environment"]["VLLM_API_KEY"];
    assert_eq!(chat.as_str(), Some("${AIM_API_KEY:?set AIM_API_KEY to the API key of service chat}"));
    // SGLang: `--api-key` and the reference, last in the command.
    let cmd = strings(&svc(&doc, "coder")["command"]);
    assert_eq!(&cmd[cmd.len() - 2..], ["--api-key", "${CODER_KEY:?set CODER_KEY to the API key of service coder}"]);
    // The health checks keep `/health`, which neither engine guards with the key.
    for s in ["chat", "coder", "local"] {
        let test = strings(&svc(&doc, s)["healthcheck"]["test"]).join(" ");
        assert!(test.contains("/health'"), "{s}: {test}");
    }
    // No file carries a key, nor a place a key could have been written.
    for (path, text) in read_tree(&dir) {
        assert!(!text.contains(sentinel), "{path}");
        if path.ends_with(".env") {
            assert!(!text.contains("API_KEY") && !text.contains("api-key"), "{path} mentions a key:\n{text}");
        }
    }
    // aimgen never reads the key variable: rendering with it set gives the same bytes.
    let path = dir.parent().expect("parent").join("fleet.yaml");
    let a = aimgen_env(&["render", path.to_str().expect("utf-8")], &[]);
    let b =
        aimgen_env(&["render", path.to_str().expect("utf-8")], &[("AIM_API_KEY", sentinel), ("CODER_KEY", sentinel)]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(stdout(&a), stdout(&b));
    assert!(!stdout(&b).contains(sentinel));

    let Some(bin) = compose() else { return };
    // Without the variables, Compose refuses, naming the variable and the service.
    let o = compose_config(&bin, &dir, &[("CODER_KEY", "c")], &["AIM_API_KEY"]);
    assert!(!o.status.success(), "compose accepted a missing key:\n{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("required variable AIM_API_KEY is missing") && err.contains("API key of service"), "{err}");
    let o = compose_config(&bin, &dir, &[("AIM_API_KEY", "a")], &["CODER_KEY"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("CODER_KEY"), "{}", stderr(&o));
    // An empty key is refused too (`:?`).
    let o = compose_config(&bin, &dir, &[("AIM_API_KEY", ""), ("CODER_KEY", "c")], &[]);
    assert!(!o.status.success());
    // With them, the engines get exactly the values.
    let o = compose_config(&bin, &dir, &[("AIM_API_KEY", sentinel), ("CODER_KEY", "coder-secret")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = yaml(&stdout(&o));
    assert_eq!(cfg["services"]["chat"]["environment"]["VLLM_API_KEY"].as_str(), Some(sentinel));
    assert_eq!(cfg["services"]["local"]["environment"]["VLLM_API_KEY"].as_str(), Some(sentinel));
    let cmd = strings(&cfg["services"]["coder"]["command"]);
    assert_eq!(&cmd[cmd.len() - 2..], ["--api-key", "coder-secret"]);
    assert_eq!(cfg["services"]["coder"]["ports"][0]["host_ip"].as_str(), Some("::"));
}

#[test]
fn a_dollar_in_user_text_stays_literal_next_to_a_key_reference() {
    // Only aimgen's own reference is interpolated; `$` anywhere the user wrote is not.
    let spec = NVIDIA_MIXED.replace(
        "bind: 0.0.0.0}",
        "bind: 0.0.0.0, served_model_name: \"${AIM_API_KEY}\", args: {chat-template: \"${HOME}\"}}",
    );
    let (dir, doc, _) = render_dir("literal-dollar", &spec);
    let cmd = strings(&svc(&doc, "chat")["command"]);
    assert!(cmd.contains(&"$${AIM_API_KEY}".to_string()) && cmd.contains(&"$${HOME}".to_string()), "{cmd:?}");
    let Some(bin) = compose() else { return };
    let o = compose_config(&bin, &dir, &[("AIM_API_KEY", "k"), ("CODER_KEY", "c"), ("HOME", "/root")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // `config` prints a Compose file, so a literal `$` comes back doubled; an interpolated one
    // would have become the value.
    let cfg = yaml(&stdout(&o));
    let cmd = strings(&cfg["services"]["chat"]["command"]);
    assert!(cmd.contains(&"$${AIM_API_KEY}".to_string()) && cmd.contains(&"$${HOME}".to_string()), "{cmd:?}");
    assert!(!cmd.contains(&"/root".to_string()) && !cmd.contains(&"k".to_string()), "{cmd:?}");
    assert_eq!(cfg["services"]["chat"]["environment"]["VLLM_API_KEY"].as_str(), Some("k"));
}

fn check_fails(name: &str, spec: &str, extra: &[&str]) -> String {
    let dir = scratch(name);
    let path = write(&dir, "fleet.yaml", spec);
    let mut args = vec!["check", path.as_str()];
    args.extend(extra);
    let o = aimgen(&args);
    assert!(!o.status.success(), "{name}: check passed:\n{}", stderr(&o));
    stderr(&o)
}

#[test]
fn secrets_given_as_literal_values_are_refused() {
    let base = "version: 1\nname: s\nhost: {gpu: {vendor: nvidia, model: H100, count: 8}}\n\
                image: {base: \"vllm/vllm-openai:v0.33.0\"}\nservices:\n";
    let err = check_fails(
        "secret-args",
        &format!("{base}  a:\n    model: meta-llama/Llama-3.1-8B-Instruct\n    args: {{api-key: secret123, hf-token: hf_abcdef}}\n"),
        &[],
    );
    assert!(err.contains("`--api-key` takes a credential"), "{err}");
    assert!(err.contains("api_key_env"), "{err}");
    assert!(err.contains("`--hf-token` takes a credential"), "{err}");
    assert!(err.contains("export HF_TOKEN"), "{err}");

    let err = check_fails(
        "secret-env",
        &format!(
            "{base}  a:\n    model: meta-llama/Llama-3.1-8B-Instruct\n    env: {{VLLM_API_KEY: \"${{VLLM_API_KEY}}\", S3_SECRET_ACCESS_KEY: x}}\n"
        ),
        &[],
    );
    assert!(err.contains("`VLLM_API_KEY` holds a credential"), "{err}");
    assert!(err.contains("`S3_SECRET_ACCESS_KEY` holds a credential"), "{err}");

    // SGLang's own secret flags, derived from its catalogue.
    let err = check_fails(
        "secret-sglang",
        &format!("{base}  a:\n    model: Qwen/Qwen3-32B\n    backend: sglang\n    args: {{admin-api-key: adm, ssl-keyfile-password: pw}}\n")
            .replace("vllm/vllm-openai:v0.33.0", "lmsysorg/sglang:v0.5.23-cu129"),
        &[],
    );
    assert!(err.contains("`--admin-api-key` takes a credential"), "{err}");
    assert!(err.contains("`--ssl-keyfile-password` takes a credential"), "{err}");

    // A user recipe with a literal token is refused when loaded.
    let dir = scratch("secret-recipe");
    write(
        &dir,
        "recipes/leaky.yaml",
        "recipes:\n  - id: leaky/vllm-h100-bf16-tp1\n    description: leaks a token\n    engine: vllm\n    \
         gpu: {vendor: nvidia, models: [H100]}\n    precision: bf16\n    metric: latency\n    type: optimized\n    \
         gpu_count: 1\n    models: [meta-llama/Llama-3.1-8B-Instruct]\n    args: {hf-token: hf_abcdef}\n",
    );
    let spec = write(&dir, "fleet.yaml", &format!("{base}  a: {{model: meta-llama/Llama-3.1-8B-Instruct}}\n"));
    let o = aimgen(&["check", &spec, "--recipes", dir.join("recipes").to_str().expect("utf-8")]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("`--hf-token` takes a credential") && err.contains("leaky.yaml"), "{err}");
}

#[test]
fn a_server_exposed_without_a_key_is_a_warning_naming_it() {
    let spec = "version: 1\nname: open\nhost: {gpu: {vendor: nvidia, model: H100, count: 8}}\n\
                image: {base: \"vllm/vllm-openai:v0.33.0\"}\nservices:\n  \
                open-chat: {model: meta-llama/Llama-3.1-8B-Instruct, bind: 0.0.0.0}\n  \
                inside: {model: meta-llama/Llama-3.1-8B-Instruct}\n";
    let dir = scratch("exposed");
    let path = write(&dir, "fleet.yaml", spec);
    let o = aimgen(&["check", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: service `open-chat` is published on 0.0.0.0 (every interface) without an API key"),
        "{err}"
    );
    assert!(err.contains("api_key_env: OPEN_CHAT_API_KEY"), "{err}");
    assert!(!err.contains("`inside`"), "{err}");
    let o = aimgen(&["check", &path, "--deny-warnings"]);
    assert!(!o.status.success());
    // With a key (fleet-wide here), no warning.
    let keyed = write(&dir, "keyed.yaml", &spec.replace("services:", "serving: {api_key_env: K}\nservices:"));
    let o = aimgen(&["check", &keyed, "--deny-warnings"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Loopback, v4 or v6, needs none.
    let lo = write(&dir, "lo.yaml", &spec.replace("0.0.0.0", "\"::1\""));
    let o = aimgen(&["check", &lo, "--deny-warnings"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Not an address: an error with the fix.
    let err = check_fails("bad-bind", &spec.replace("0.0.0.0", "\"[::1]\""), &[]);
    assert!(err.contains("`[::1]` is not an IP address") && err.contains("without brackets"), "{err}");
}

#[test]
fn servers_carry_production_container_settings() {
    let (dir, doc, _) = render_dir("settings", NVIDIA_MIXED);
    for s in ["chat", "coder"] {
        let v = svc(&doc, s);
        assert_eq!(v["restart"].as_str(), Some("on-failure:3"), "{s}");
        assert_eq!(v["stop_grace_period"].as_str(), Some("60s"), "{s}");
        assert_eq!(v["logging"]["driver"].as_str(), Some("json-file"));
        assert_eq!(v["logging"]["options"]["max-size"].as_str(), Some("100m"));
        assert_eq!(v["logging"]["options"]["max-file"].as_str(), Some("5"));
        assert_eq!(v["ulimits"]["memlock"].as_i64(), Some(-1), "{s}");
        assert_eq!(v["ulimits"]["stack"].as_i64(), Some(67_108_864), "{s}");
    }
    let env = |s: &str| std::fs::read_to_string(dir.join(format!("env/services/{s}.env"))).expect("env file");
    let chat = env("chat");
    for line in [
        "VLLM_NO_USAGE_STATS=1",
        "DO_NOT_TRACK=1",
        "VLLM_CACHE_ROOT=/var/cache/aimgen/chat/vllm",
        "TRITON_CACHE_DIR=/var/cache/aimgen/chat/triton",
        "TORCHINDUCTOR_CACHE_DIR=/var/cache/aimgen/chat/inductor",
        "FLASHINFER_WORKSPACE_BASE=/var/cache/aimgen/chat/flashinfer",
        "CUDA_CACHE_PATH=/var/cache/aimgen/chat/cuda",
    ] {
        assert!(chat.lines().any(|l| l == line), "chat.env lacks {line}:\n{chat}");
    }
    assert!(!chat.contains("MIOPEN") && !chat.contains("SGLANG_"), "{chat}");
    let coder = env("coder");
    for line in
        ["SGLANG_CACHE_DIR=/var/cache/aimgen/coder/sglang", "SGLANG_JIT_CACHE_DIR=/var/cache/aimgen/coder/sglang/jit"]
    {
        assert!(coder.lines().any(|l| l == line), "coder.env lacks {line}:\n{coder}");
    }
    assert!(!coder.contains("VLLM_"), "{coder}");

    // Telemetry opt-in, overridable logs and restarts, drain time added to the grace period.
    let spec = NVIDIA_MIXED
        .replace(
            "serving: {api_key_env: AIM_API_KEY}",
            "serving: {api_key_env: AIM_API_KEY, telemetry: true, log_max_size: 20m, log_max_files: 2, restart_attempts: 7}",
        )
        .replace("bind: 0.0.0.0}", "bind: 0.0.0.0, args: {shutdown-timeout: 30}}");
    let (dir2, doc2, _) = render_dir("settings-opt", &spec);
    let chat = std::fs::read_to_string(dir2.join("env/services/chat.env")).expect("env");
    assert!(!chat.contains("VLLM_NO_USAGE_STATS") && !chat.contains("DO_NOT_TRACK"), "{chat}");
    let v = svc(&doc2, "chat");
    assert_eq!(v["restart"].as_str(), Some("on-failure:7"));
    assert_eq!(v["stop_grace_period"].as_str(), Some("90s"));
    assert_eq!(v["logging"]["options"]["max-size"].as_str(), Some("20m"));
    assert_eq!(v["logging"]["options"]["max-file"].as_str(), Some("2"));

    let Some(bin) = compose() else { return };
    let o = compose_config(&bin, &dir, &[("AIM_API_KEY", "a"), ("CODER_KEY", "c")], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = yaml(&stdout(&o));
    let chat = &cfg["services"]["chat"];
    assert_eq!(chat["restart"].as_str(), Some("on-failure:3"));
    assert_eq!(chat["stop_grace_period"].as_str(), Some("1m0s"));
    assert_eq!(chat["ulimits"]["memlock"].as_i64(), Some(-1));
    assert_eq!(chat["environment"]["TRITON_CACHE_DIR"].as_str(), Some("/var/cache/aimgen/chat/triton"));
}

#[test]
fn amd_servers_get_numeric_groups_and_only_their_render_nodes() {
    let spec = "version: 1\nname: amd\nhost: {gpu: {vendor: amd, model: MI300X, count: 4, \
                render_nodes: [128, 136, 144, 152], group_ids: [44, 992]}}\n\
                image: {base: \"rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\"}\nservices:\n  \
                a: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}\n  \
                b: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 2}\n";
    let (dir, doc, _) = render_dir("amd-nodes", spec);
    assert_eq!(strings(&svc(&doc, "a")["devices"]), ["/dev/kfd", "/dev/dri/renderD128"]);
    assert_eq!(strings(&svc(&doc, "b")["devices"]), ["/dev/kfd", "/dev/dri/renderD136", "/dev/dri/renderD144"]);
    assert_eq!(strings(&svc(&doc, "a")["group_add"]), ["44", "992"]);
    assert!(svc(&doc, "a")["ulimits"].is_null(), "ulimits are NVIDIA's guidance");
    let a = std::fs::read_to_string(dir.join("env/services/a.env")).expect("env");
    // The runtime renumbers the visible GPUs from 0: no host indices.
    assert!(!svc(&doc, "a")["environment"].as_mapping().is_some_and(|m| m.keys().any(|k| k == "ROCR_VISIBLE_DEVICES")));
    for line in [
        "MIOPEN_USER_DB_PATH=/var/cache/aimgen/a/miopen/db",
        "MIOPEN_CUSTOM_CACHE_DIR=/var/cache/aimgen/a/miopen/cache",
    ] {
        assert!(a.lines().any(|l| l == line), "a.env lacks {line}:\n{a}");
    }
    assert!(!a.contains("CUDA_CACHE_PATH") && !a.contains("FLASHINFER"), "{a}");

    // Without them: all of /dev/dri, visibility by variable, and no group names at all.
    let (_, doc, _) =
        render_dir("amd-plain", &spec.replace(", render_nodes: [128, 136, 144, 152], group_ids: [44, 992]", ""));
    assert_eq!(strings(&svc(&doc, "b")["devices"]), ["/dev/kfd", "/dev/dri"]);
    assert!(svc(&doc, "b")["group_add"].is_null());
    assert_eq!(svc(&doc, "b")["environment"]["ROCR_VISIBLE_DEVICES"].as_str(), Some("1,2"));

    let err = check_fails("nodes-count", &spec.replace("[128, 136, 144, 152]", "[128, 136]"), &[]);
    assert!(err.contains("2 render nodes for 4 GPUs") && err.contains("drm_render_minor"), "{err}");
    let err = check_fails("nodes-minor", &spec.replace("[128, 136, 144, 152]", "[0, 1, 2, 3]"), &[]);
    assert!(err.contains("0 is not a DRM render minor"), "{err}");

    let Some(bin) = compose() else { return };
    let o = compose_config(&bin, &dir, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = yaml(&stdout(&o));
    assert_eq!(strings(&cfg["services"]["a"]["group_add"]), ["44", "992"]);
    assert_eq!(cfg["services"]["b"]["devices"][1]["source"].as_str(), Some("/dev/dri/renderD136"));
}

#[test]
fn preloaded_tokenizers_under_a_host_folder_are_a_warning() {
    let dir = scratch("preload-host");
    let path = write(
        &dir,
        "fleet.yaml",
        "version: 1\nname: p\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\n\
         image: {base: \"rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210\", preload_tokenizers: true}\n\
         cache: {host_path: /srv/hf}\nservices:\n  a: {model: meta-llama/Llama-3.1-8B-Instruct}\n",
    );
    let o = aimgen(&["check", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("`preload_tokenizers` has no effect with a `host_path` cache"), "{err}");
    assert!(err.contains("bind-mounted host folder hides them"), "{err}");
}

#[test]
fn serving_fields_are_checked_with_the_fix() {
    let spec = |serving: &str| {
        format!(
            "version: 1\nname: v\nhost: {{gpu: {{vendor: nvidia, model: H100, count: 8, group_ids: [44]}}}}\n\
             image: {{base: \"vllm/vllm-openai:v0.33.0\"}}\nserving: {serving}\n\
             services:\n  a: {{model: meta-llama/Llama-3.1-8B-Instruct}}\n"
        )
    };
    for (serving, want) in [
        ("{api_key_env: \"my key\"}", "`my key` is not an environment variable name"),
        ("{api_key_env: HF_TOKEN}", "`HF_TOKEN` is the Hub's variable, not an API key for the servers"),
        ("{restart_attempts: 0}", "would mean \"restart forever\" to Docker (`on-failure:0`)"),
        ("{log_max_size: 10x}", "`10x` is not a log size"),
        ("{log_max_files: 0}", "`log_max_files` must be at least 1"),
        ("{bind: localhost}", "`localhost` is not an IP address"),
    ] {
        let err = check_fails("serving-fields", &spec(serving), &[]);
        assert!(err.contains(want), "{serving}: {err}");
        // Every one also carries the NVIDIA group_ids warning, located.
        assert!(err.contains("`group_ids` has no effect on an NVIDIA host"), "{err}");
    }
}

#[test]
fn an_exposed_key_on_a_vllm_with_the_host_header_bypass_is_a_warning() {
    let spec = |image: &str, bind: &str| {
        format!(
            "version: 1\nname: g\nhost: {{gpu: {{vendor: nvidia, model: H100, count: 8}}}}\nimage: {{base: \"{image}\"}}\n\
             serving: {{api_key_env: K, bind: \"{bind}\"}}\nservices:\n  chat: {{model: meta-llama/Llama-3.1-8B-Instruct}}\n"
        )
    };
    let dir = scratch("ghsa");
    let old = write(&dir, "old.yaml", &spec("vllm/vllm-openai:v0.11.0", "0.0.0.0"));
    let o = aimgen(&["check", &old]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("vLLM 0.11.0's API-key check can be bypassed") && err.contains("GHSA-94f4-hr76-p5j6"),
        "{err}"
    );
    assert!(err.contains("use a vLLM 0.22.0 or newer image"), "{err}");
    for (image, bind) in [("vllm/vllm-openai:v0.33.0", "0.0.0.0"), ("vllm/vllm-openai:v0.11.0", "127.0.0.1")] {
        let p = write(&dir, "ok.yaml", &spec(image, bind));
        let o = aimgen(&["check", &p]);
        assert!(!stderr(&o).contains("GHSA"), "{image} {bind}: {}", stderr(&o));
    }
}

/// Mount paths are written as Compose reads them: Compose cleans `/models/./llama/` to
/// `/models/llama`, so aimgen writes that path everywhere (mount source and target, the
/// engine's `--model`, `HF_HOME`) and Compose v2's own `config` reads each back unchanged
/// (compose-diff found the `.` segment: seed 58116981).
#[test]
fn mount_paths_are_written_as_compose_reads_them() {
    let spec = "version: 1\nname: t\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\n\
                cache: {mount: /cache/./hf/, host_path: //srv//hf/}\n\
                services:\n  s: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, model_path: /models/./llama/}\n";
    let (dir, doc, _) = render_dir("clean-paths", spec);
    let command = strings(&svc(&doc, "s")["command"]);
    assert!(command.iter().any(|a| a == "/models/llama"), "{command:?}");
    let Some(bin) = compose() else { return };
    let o = compose_config(&bin, &dir, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read: Value = yaml(&stdout(&o));
    let s = &read["services"]["s"];
    let mounts: Vec<(String, String)> = s["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .map(|v| (v["source"].as_str().unwrap_or("").to_string(), v["target"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(mounts.contains(&("/models/llama".into(), "/models/llama".into())), "{mounts:?}");
    assert!(mounts.contains(&("/srv/hf".into(), "/cache/hf".into())), "{mounts:?}");
    assert!(strings(&s["command"]).iter().any(|a| a == "/models/llama"));
    assert_eq!(s["environment"]["HF_HOME"].as_str(), Some("/cache/hf"));
}

/// `/` (or `/.`, the same folder) is refused as a model or cache path: Compose reads a bind
/// mount of `/` as the project folder, and the whole file system is no model folder.
#[test]
fn the_root_folder_is_no_mount_path() {
    for (field, spec) in [
        ("model_path", "services:\n  s: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1, model_path: /.}\n"),
        ("mount", "cache: {mount: //}\nservices:\n  s: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}\n"),
        ("host_path", "cache: {host_path: /}\nservices:\n  s: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}\n"),
    ] {
        let text = format!("version: 1\nname: t\nhost: {{gpu: {{vendor: amd, model: MI300X, count: 8}}}}\n{spec}");
        let err = check_fails(&format!("root-{field}"), &text, &[]);
        assert!(err.contains(&format!("`{field}` cannot be `/`, the root folder")), "{field}: {err}");
    }
}

/// A server's limits as (name, soft, hard); `None` when it has no `ulimits` key.
type Limits = Option<Vec<(String, i64, i64)>>;

/// Each server's `ulimits` as Compose v2 reads them (`config --format json`), a single number
/// standing for both soft and hard.
fn compose_ulimits(bin: &Path, dir: &Path) -> std::collections::BTreeMap<String, Limits> {
    let o = Command::new(bin)
        .current_dir(dir)
        .args(["-f", "docker-compose.cache.yml", "config", "--format", "json"])
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .env_remove("COMPOSE_ENV_FILES")
        .output()
        .expect("compose runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let services = doc["services"].as_object().expect("services");
    services
        .iter()
        .filter(|(name, _)| !name.starts_with("aimgen-"))
        .map(|(name, s)| {
            let limits = s.get("ulimits").map(|u| {
                u.as_object()
                    .expect("a mapping")
                    .iter()
                    .map(|(k, v)| match v.as_i64() {
                        Some(n) => (k.clone(), n, n),
                        // Compose's JSON leaves a zero `soft` or `hard` out.
                        None => (k.clone(), v["soft"].as_i64().unwrap_or(0), v["hard"].as_i64().unwrap_or(0)),
                    })
                    .collect()
            });
            (name.clone(), limits)
        })
        .collect()
}

#[test]
fn ulimits_default_to_nvidias_and_the_spec_replaces_them() {
    let spec = "version: 1\nname: lim\nhost: {gpu: {vendor: nvidia, model: H100, count: 8}}\n\
                image: {base: \"vllm/vllm-openai:v0.33.0\"}\nservices:\n  \
                a: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}\n  \
                b: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}\n";
    let nvidia = || Some(vec![("memlock".to_string(), -1, -1), ("stack".to_string(), 67_108_864, 67_108_864)]);
    let own = spec.replace("gpus: 1}\n  b", "gpus: 1, ulimits: {nofile: {soft: 1024, hard: 65536}}}\n  b");
    let rootless = spec.replace("services:", "serving: {ulimits: {}}\nservices:");
    let amd = spec
        .replace("nvidia, model: H100", "amd, model: MI300X")
        .replace("vllm/vllm-openai:v0.33.0", "rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210");
    let cases = [
        ("ulimits-default", spec.to_string(), [nvidia(), nvidia()]),
        ("ulimits-own", own.clone(), [Some(vec![("nofile".to_string(), 1024, 65_536)]), nvidia()]),
        ("ulimits-none", rootless.clone(), [None, None]),
        // A service's own limits replace the fleet's `{}` too.
        (
            "ulimits-own-over-none",
            own.replace("services:", "serving: {ulimits: {}}\nservices:"),
            [Some(vec![("nofile".to_string(), 1024, 65_536)]), None],
        ),
        ("ulimits-amd", amd, [None, None]),
    ];
    let bin = compose();
    for (name, spec, [a, b]) in cases {
        let (dir, doc, _) = render_dir(name, &spec);
        // Without Compose, at least the written file: no `ulimits:` where none are wanted.
        assert_eq!(svc(&doc, "a").get("ulimits").is_some(), a.is_some(), "{name}");
        assert_eq!(svc(&doc, "b").get("ulimits").is_some(), b.is_some(), "{name}");
        let Some(bin) = &bin else { continue };
        let got = compose_ulimits(bin, &dir);
        assert_eq!(got.get("a"), Some(&a), "{name}: a");
        assert_eq!(got.get("b"), Some(&b), "{name}: b");
    }
    // Kubernetes has no ulimits: limits the spec sets are named as not applied, the default
    // and `{}` are not.
    let dir = scratch("ulimits-k8s");
    for (file, spec, warned) in [("own.yaml", &own, 1), ("none.yaml", &rootless, 0)] {
        let path = write(&dir, file, spec);
        let o = aimgen(&["check", &path, "--target", "kubernetes"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stderr(&o).matches("`ulimits` are not applied on Kubernetes").count(),
            warned,
            "{file}: {}",
            stderr(&o)
        );
    }
}
