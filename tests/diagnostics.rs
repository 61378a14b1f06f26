//! Every diagnostic by its exact rendered text: input → expected stderr (the `just` style).

mod common;

use common::*;

const HOST: &str = "host: {gpu: {vendor: amd, model: MI300X, count: 8}}\n";

/// Runs `aimgen check` on `spec` written as `fleet.yaml`; returns (exit code, stderr).
fn check(spec: &str) -> (Option<i32>, String) {
    let dir = scratch("diag");
    write(&dir, "fleet.yaml", spec);
    run_check(&dir)
}

fn run_check(dir: &std::path::Path) -> (Option<i32>, String) {
    let o = command(dir).args(["check", "fleet.yaml"]).output().expect("runs");
    (o.status.code(), stderr(&o))
}

fn check_bytes(bytes: &[u8]) -> (Option<i32>, String) {
    let dir = scratch("diag-bytes");
    std::fs::write(dir.join("fleet.yaml"), bytes).expect("write");
    run_check(&dir)
}

#[track_caller]
fn expect(spec: &str, want: &str) {
    let (code, err) = check(spec);
    assert_eq!(err, want, "\n--- got ---\n{err}\n--- want ---\n{want}");
    assert_eq!(code, Some(if want.contains("error") { 1 } else { 0 }));
}

#[test]
fn unknown_key_with_suggestion() {
    expect(
        &format!("version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}services:\n  qwen:\n    model: Qwen/Qwen3-32B\n    precison: bf16\n"),
        "error: unknown field `precison`
 --> fleet.yaml:8:5
  |
8 |     precison: bf16
  |     ^^^^^^^^
  = help: did you mean `precision`?

1 error
",
    );
}

#[test]
fn enum_value_with_suggestion() {
    expect(
        &format!("version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}services:\n  qwen: {{model: Qwen/Qwen3-32B, backend: vlm}}\n"),
        "error: `vlm` is not a valid value for `backend`
 --> fleet.yaml:6:42
  |
6 |   qwen: {model: Qwen/Qwen3-32B, backend: vlm}
  |                                          ^^^
  = help: did you mean `vllm`?

1 error
",
    );
}

#[test]
fn wrong_type_and_missing_field() {
    expect(
        "version: 1\nname: x\nhost: {gpu: {vendor: amd, model: MI300X, count: eight}}\n",
        "error: missing field `services` in fleet spec
 --> fleet.yaml:1:1
  |
1 | version: 1
  | ^

error: `count` has the wrong type: expected a whole number, found text
 --> fleet.yaml:3:49
  |
3 | host: {gpu: {vendor: amd, model: MI300X, count: eight}}
  |                                                 ^^^^^

2 errors
",
    );
}

#[test]
fn every_layer_reports_in_one_run() {
    let spec = "version: 1
name: fleet
image: {base: b/c:1, engine_version: 0.33.0}
host: {gpu: {vendor: amd, model: MI300X, count: 4}}
cache:
  volume: v
  host_path: cache
services:
  qwen:
    model: Qwen/Qwen3-32B
    gpus: 4
    port: 8000
    revison: main
  llama:
    model: meta-llama/Llama-3.1-8B-Instruct
    gpus: 2
    port: 8000
    model_path: /srv/llama
    revision: v1
";
    expect(
        spec,
        "error: `volume` and `host_path` are both set: the cache is one or the other
 --> fleet.yaml:7:3
  |
7 |   host_path: cache
  |   ^^^^^^^^^
  = help: keep `volume` for a named Docker volume, or `host_path` for a host folder

error: `host_path` must be an absolute path, not `cache`
 --> fleet.yaml:7:14
  |
7 |   host_path: cache
  |              ^^^^^
  = help: e.g. `/cache`

error: unknown field `revison`
  --> fleet.yaml:13:5
   |
13 |     revison: main
   |     ^^^^^^^
   = help: did you mean `revision`?

error: `llama` needs 2 GPUs but only 0 of the host's 4 remain
  --> fleet.yaml:16:11
   |
16 |     gpus: 2
   |           ^
   = help: qwen holds GPUs 0-3; 0 free

error: host port 8000 is used by both `qwen` and `llama`
  --> fleet.yaml:17:11
   |
17 |     port: 8000
   |           ^^^^
   = help: give each service its own port, or leave `port` out to get a free one

error: `revision` has no meaning with `model_path`: a local copy is served as it is
  --> fleet.yaml:19:5
   |
19 |     revision: v1
   |     ^^^^^^^^
   = help: remove `revision`, or remove `model_path` to download that revision

6 errors
",
    );
}

#[test]
fn names_ids_and_versions() {
    expect(
        &format!(
            "version: 2\nname: My Fleet\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}services:\n  \"../x\": {{model: a/b}}\n  aimgen-prefetch: {{model: a/b}}\n  a_b: {{model: not-an-id}}\n  a-b: {{model: x/y, revision: \"../main\"}}\n"
        ),
        "error: unsupported spec version 2
 --> fleet.yaml:1:10
  |
1 | version: 2
  |          ^
  = help: this aimgen reads `version: 1`

error: `My Fleet` cannot be a Compose project name
 --> fleet.yaml:2:7
  |
2 | name: My Fleet
  |       ^^^^^^^^
  = help: use lowercase letters, digits, `-` and `_`, starting with a letter or digit

error: `../x` cannot be a service name
 --> fleet.yaml:6:3
  |
6 |   \"../x\": {model: a/b}
  |   ^^^^^^
  = help: use lowercase letters, digits, `_`, `.` and `-`, starting with a letter or digit (at most 63)

error: service names starting with `aimgen-` are reserved for aimgen's helper services
 --> fleet.yaml:7:3
  |
7 |   aimgen-prefetch: {model: a/b}
  |   ^^^^^^^^^^^^^^^

error: `not-an-id` is not a Hugging Face repo id
 --> fleet.yaml:8:16
  |
8 |   a_b: {model: not-an-id}
  |                ^^^^^^^^^
  = help: write `org/name`, e.g. `Qwen/Qwen3-32B`

error: services `a_b` and `a-b` collide: both become `a-b` as host names
 --> fleet.yaml:9:3
  |
9 |   a-b: {model: x/y, revision: \"../main\"}
  |   ^^^
  = help: rename one of them

error: `../main` is not a valid revision
 --> fleet.yaml:9:31
  |
9 |   a-b: {model: x/y, revision: \"../main\"}
  |                               ^^^^^^^^^
  = help: use a branch, a tag or a 40-hex commit sha

7 errors
",
    );
}

#[test]
fn engine_flags_and_variables_are_checked() {
    expect(
        &format!(
            "version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}services:\n  q:\n    model: Qwen/Qwen3-32B\n    gpus: 1\n    args:\n      tensor-paralel-size: 2\n      dtype: float8_e5m2\n      mem-fraction-static: 0.8\n      port: 9000\n    env:\n      VLLM_CACHE_DIR: /x\n"
        ),
        "error: `--tensor-paralel-size` is not a flag of vLLM 0.33.0
  --> fleet.yaml:10:7
   |
10 |       tensor-paralel-size: 2
   |       ^^^^^^^^^^^^^^^^^^^
   = help: did you mean `tensor-parallel-size`?

error: `--dtype`: `float8_e5m2` is not an accepted value
  --> fleet.yaml:11:14
   |
11 |       dtype: float8_e5m2
   |              ^^^^^^^^^^^
   = help: vLLM 0.33.0 accepts auto, bfloat16, float, float16, float32, half

error: `--mem-fraction-static` is not a flag of vLLM 0.33.0
  --> fleet.yaml:12:7
   |
12 |       mem-fraction-static: 0.8
   |       ^^^^^^^^^^^^^^^^^^^
   = help: `--mem-fraction-static` is a sglang flag, not a vllm one

error: `--port` is set by aimgen itself
  --> fleet.yaml:13:7
   |
13 |       port: 9000
   |       ^^^^
   = help: use the service's own fields (model, gpus, port, revision, served_model_name) instead

error: `VLLM_CACHE_DIR` must not be used: not a vLLM variable (vLLM warns about unknown VLLM_* names); the torch.compile cache root is VLLM_CACHE_ROOT and must stay writable
  --> fleet.yaml:15:7
   |
15 |       VLLM_CACHE_DIR: /x
   |       ^^^^^^^^^^^^^^
   = help: use `VLLM_CACHE_ROOT` instead

5 errors
",
    );
}

#[test]
fn yaml_syntax_and_hostile_input() {
    let (code, err) = check("version: 1\nname: a\nname: b\n");
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: invalid YAML: duplicate entry with key \"name\"
 --> fleet.yaml:3:1
  |
3 | name: b
  | ^^^^
  = help: a key may appear once per mapping; remove or merge the repeated one

1 error
"
    );
    let (code, err) = check("version: 1\nservices: [a\n");
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: invalid YAML: ") && err.contains(" --> fleet.yaml:"), "{err}");

    let bomb: String = std::iter::once("a0: &a0 [x, x, x, x, x, x, x, x, x]\n".to_string())
        .chain((1..20).map(|i| format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", "))))
        .collect();
    let (code, err) = check(&bomb);
    assert_eq!(code, Some(1));
    assert!(err.contains("repetition limit exceeded"), "{err}");

    let (code, err) = check(&format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)));
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: nesting deeper than 64 levels\n --> fleet.yaml:1:68\n"), "{err}");

    let (code, err) = check_bytes(b"version: 1\n\x00\x01");
    assert_eq!(
        (code, err.lines().next()),
        (Some(1), Some("error: this is a binary file (it contains a NUL byte), not YAML"))
    );
    let (code, err) = check_bytes(b"version: 1\nname: \xff\n");
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: file is not valid UTF-8 (bad byte at offset 17)\n --> fleet.yaml:2:7\n"), "{err}");
    let (code, err) = check_bytes(&vec![b'#'; 5 << 20]);
    assert_eq!(
        (code, err.lines().next()),
        (Some(1), Some("error: file is larger than 4 MiB; aimgen reads specs, recipes and lock files up to that size"))
    );
    let (code, err) = check("");
    assert_eq!((code, err.lines().next()), (Some(1), Some("error: file is empty")));
}

#[test]
fn warnings_do_not_fail_unless_denied() {
    let spec = format!("version: 1\nname: x\n{HOST}services:\n  q: {{model: Qwen/Qwen3-32B, gpus: 1}}\n");
    let (code, err) = check(&spec);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.starts_with("warning: no `image.base`: using aimgen's default `vllm/vllm-openai-rocm:"), "{err}");
    let dir = scratch("deny");
    let path = write(&dir, "fleet.yaml", &spec);
    assert_eq!(aimgen(&["check", &path, "--deny-warnings"]).status.code(), Some(1));
}

#[test]
fn json_output_is_snapshotted() {
    let dir = scratch("json");
    let path = write(
        &dir,
        "fleet.yaml",
        &format!("version: 1\nname: x\n{HOST}services:\n  q: {{model: Qwen/Qwen3-32B, gpus: 9, precison: bf16}}\n"),
    );
    let o = aimgen(&["check", &path, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o).replace(dir.to_str().expect("utf-8"), "<dir>");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["errors"], 2);
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!("check-json", text));
}

#[test]
fn several_files_in_one_check() {
    let dir = scratch("multi");
    let a = write(&dir, "a.yaml", "version: 1\nname: a\n");
    let b = write(&dir, "b.yaml", "version: 1\nname: b\nfoo: 1\n");
    let o = aimgen(&["check", &a, &b, "examples/mi300x-fleet.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("a.yaml:1:1") && err.contains("b.yaml:3:1") && err.contains("unknown field `foo`"), "{err}");
    // The summary counts errors (and any warnings the example draws).
    assert!(err.lines().last().is_some_and(|l| l.ends_with(" errors") || l.contains(" errors, ")), "{err}");
}

#[test]
fn hub_token_in_env_is_called_a_secret_not_something_aimgen_sets() {
    expect(
        &format!("version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}services:\n  qwen:\n    model: Qwen/Qwen3-32B\n    env: {{HUGGING_FACE_HUB_TOKEN: hf_x, MAX_TOKENS: \"8\"}}\n"),
        "error: `HUGGING_FACE_HUB_TOKEN` is a secret: it would be written into committed files
 --> fleet.yaml:8:11
  |
8 |     env: {HUGGING_FACE_HUB_TOKEN: hf_x, MAX_TOKENS: \"8\"}
  |           ^^^^^^^^^^^^^^^^^^^^^^
  = help: export HF_TOKEN where you run `docker compose up`; aimgen passes it to the services that download

1 error
",
    );
}

/// One problem from every layer in one file, all reported in one run: the schema (`vendor:
/// AMD` and an unknown field), the semantic checks, the engine catalogue, resolution (GPU
/// over-subscription, a port clash) and the lock file beside the spec. Before, the schema
/// error alone was reported.
#[test]
fn every_layer_reports_in_one_run_even_with_a_bad_enum_on_the_host() {
    let dir = scratch("every-layer");
    write(
        &dir,
        "fleet.yaml",
        "version: 1
name: demo
host:
  gpu:
    vendor: AMD
    model: MI300X
    count: 8
cache:
  host_path: relative/cache
services:
  qwen:
    model: Qwen/Qwen3-32B
    gpus: 4
    precison: bf16
    args: {tensor-paralel-size: 2}
  llama:
    model: meta-llama/Llama-3.1-70B-Instruct
    gpus: 8
    port: 8000
    env: {HUGGING_FACE_HUB_TOKEN: hf_x}
  Mistral:
    model: mistralai/Mistral-7B-Instruct-v0.2
    port: 8000
",
    );
    write(&dir, "fleet.lock", "version: 1\npins: [\n");
    let (code, err) = run_check(&dir);
    assert_eq!(code, Some(1));
    let want = "error: invalid YAML: did not find expected node content
 --> fleet.lock:3:1
  |
3 | 
  | ^

warning: no `image.base`: using aimgen's default `vllm/vllm-openai-rocm:v0.33.0` for vllm
 --> fleet.yaml:1:1
  |
1 | version: 1
  | ^
  = help: set `image.base` (or `image.<engine>.base`) to the engine release you have validated; the default changes with aimgen

error: `AMD` is not a valid value for `vendor`
 --> fleet.yaml:5:13
  |
5 |     vendor: AMD
  |             ^^^
  = help: did you mean `amd`?

error: `host_path` must be an absolute path, not `relative/cache`
 --> fleet.yaml:9:14
  |
9 |   host_path: relative/cache
  |              ^^^^^^^^^^^^^^
  = help: e.g. `/relative/cache`

error: unknown field `precison`
  --> fleet.yaml:14:5
   |
14 |     precison: bf16
   |     ^^^^^^^^
   = help: did you mean `precision`?

error: `--tensor-paralel-size` is not a flag of vLLM 0.33.0
  --> fleet.yaml:15:12
   |
15 |     args: {tensor-paralel-size: 2}
   |            ^^^^^^^^^^^^^^^^^^^
   = help: did you mean `tensor-parallel-size`?

error: `llama` needs 8 GPUs but only 4 of the host's 8 remain
  --> fleet.yaml:18:11
   |
18 |     gpus: 8
   |           ^
   = help: qwen holds GPUs 0-3; 4 free

error: `HUGGING_FACE_HUB_TOKEN` is a secret: it would be written into committed files
  --> fleet.yaml:20:11
   |
20 |     env: {HUGGING_FACE_HUB_TOKEN: hf_x}
   |           ^^^^^^^^^^^^^^^^^^^^^^
   = help: export HF_TOKEN where you run `docker compose up`; aimgen passes it to the services that download

error: `Mistral` cannot be a service name
  --> fleet.yaml:21:3
   |
21 |   Mistral:
   |   ^^^^^^^
   = help: use lowercase letters, digits, `_`, `.` and `-`, starting with a letter or digit (at most 63)

error: host port 8000 is used by both `llama` and `Mistral`
  --> fleet.yaml:23:11
   |
23 |     port: 8000
   |           ^^^^
   = help: give each service its own port, or leave `port` out to get a free one

9 errors, 1 warning
";
    assert_eq!(err, want, "\n--- got ---\n{err}\n--- want ---\n{want}");
}

/// A missing required field does not hide the other fields of its mapping, and a broken user
/// recipe does not hide the spec's own problems.
#[test]
fn missing_fields_and_broken_recipes_do_not_hide_the_rest() {
    expect(
        &format!("version: 1\n{HOST}services:\n  a: {{gpus: 2, port: 8000}}\n  b: {{model: Qwen/Qwen3-32B, gpus: 8, port: 8000}}\n"),
        "error: missing field `name` in fleet spec
 --> fleet.yaml:1:1
  |
1 | version: 1
  | ^

warning: no `image.base`: using aimgen's default `vllm/vllm-openai-rocm:v0.33.0` for vllm
 --> fleet.yaml:1:1
  |
1 | version: 1
  | ^
  = help: set `image.base` (or `image.<engine>.base`) to the engine release you have validated; the default changes with aimgen

error: missing field `model` in `a`
 --> fleet.yaml:4:3
  |
4 |   a: {gpus: 2, port: 8000}
  |   ^

error: `b` needs 8 GPUs but only 6 of the host's 8 remain
 --> fleet.yaml:5:36
  |
5 |   b: {model: Qwen/Qwen3-32B, gpus: 8, port: 8000}
  |                                    ^
  = help: a holds GPUs 0-1; 6 free

error: host port 8000 is used by both `a` and `b`
 --> fleet.yaml:5:45
  |
5 |   b: {model: Qwen/Qwen3-32B, gpus: 8, port: 8000}
  |                                             ^^^^
  = help: give each service its own port, or leave `port` out to get a free one

4 errors, 1 warning
",
    );
    let dir = scratch("broken-recipe");
    write(
        &dir,
        "mine/r.yaml",
        "recipes:\n  - id: mine/x\n    engine: vllm\n    gpu: {vendor: amd}\n    precision: bf16\n    metric: latency\n",
    );
    write(
        &dir,
        "fleet.yaml",
        &format!(
            "version: 1\nname: demo\nrecipes: [./mine]\n{HOST}services:\n  qwen: {{model: Qwen/Qwen3-32B, port: 0}}\n"
        ),
    );
    let (code, err) = run_check(&dir);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: missing field `type` in `recipes[0]`
 --> ./mine/r.yaml:2:5
  |
2 |   - id: mine/x
  |     ^

error: port 0 is not a port
 --> fleet.yaml:6:39
  |
6 |   qwen: {model: Qwen/Qwen3-32B, port: 0}
  |                                       ^

2 errors
"
    );
}

/// A model too big for the GPUs says so in the title, with the sizes and what would hold it.
#[test]
fn too_big_is_does_not_fit_with_the_sizes() {
    expect(
        "version: 1\nname: x\nimage: {base: b/c:1, engine_version: 0.33.0}\nhost: {gpu: {vendor: nvidia, model: H100, count: 1}}\nservices:\n  llama: {model: meta-llama/Llama-3.1-70B-Instruct}\n",
        "error: `meta-llama/Llama-3.1-70B-Instruct` does not fit on 1 × H100 (80 GB each): ~141 GB of bf16 weights, room for 58 GB
 --> fleet.yaml:6:18
  |
6 |   llama: {model: meta-llama/Llama-3.1-70B-Instruct}
  |                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: the weights need at least 4 × H100 (weights may take 80% of the engine's 90% of each GPU; the rest is KV cache); closest: `llama-3.1-70b-instruct/vllm-h100-bf16-tp8-latency`: needs 8 GPUs, 1 left; `llama-3.1-70b-instruct/vllm-h100-bf16-tp4-throughput`: needs 4 GPUs, 1 left; `general/vllm-nvidia-bf16`: 141 GB of weights do not fit in 1 × 80 GB

1 error
",
    );
}

/// `cache.budget_gb`: a warning when the fleet's models need more, with exact sizes from the
/// lock file, or estimates from parameter counts (said so) without one; nothing when they fit.
#[test]
fn budget_warns_when_the_models_need_more_disk() {
    let dir = scratch("budget");
    let spec = |budget: u32| {
        format!(
            "version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}cache: {{budget_gb: {budget}}}\nservices:\n  qwen: {{model: Qwen/Qwen3-32B, gpus: 4}}\n  llama: {{model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}}\n  other: {{model: acme/unknown-model, gpus: 1}}\n"
        )
    };
    // No lock: estimates, and a model of unknown size that is not counted.
    write(&dir, "fleet.yaml", &spec(70));
    let (code, err) = run_check(&dir);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err,
        "warning: the fleet's models need at least ~81.7 GB, more than `budget_gb: 70` allows
 --> fleet.yaml:5:20
  |
5 | cache: {budget_gb: 70}
  |                    ^^
  = help: sizes: 2 models estimated from parameter counts, 1 model of unknown size, not counted; per model: Qwen/Qwen3-32B ~65.6 GB (estimate), acme/unknown-model unknown, meta-llama/Llama-3.1-8B-Instruct ~16.1 GB (estimate)

1 warning
"
    );
    write(&dir, "fleet.yaml", &spec(90));
    let (code, err) = run_check(&dir);
    assert_eq!((code, err.as_str()), (Some(0), ""));

    // Locked: exact bytes, the unknown model's included.
    let entry = |repo: &str, seed: char, size: u64| {
        format!(
            "  - repo: \"{repo}\"\n    revision: \"main\"\n    sha: \"{}\"\n    files:\n      - {{path: \"model.safetensors\", size: {size}, blob: \"{}\"}}\n",
            seed.to_string().repeat(40),
            seed.to_string().repeat(64)
        )
    };
    write(
        &dir,
        "fleet.lock",
        &format!(
            "version: 1\nmodels:\n{}{}{}",
            entry("Qwen/Qwen3-32B", 'a', 65_536_000_000),
            entry("acme/unknown-model", 'b', 30_000_000_000),
            entry("meta-llama/Llama-3.1-8B-Instruct", 'c', 16_060_000_000)
        ),
    );
    let (code, err) = run_check(&dir);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err,
        "warning: the fleet's models need 111.6 GB, more than `budget_gb: 90` allows
 --> fleet.yaml:5:20
  |
5 | cache: {budget_gb: 90}
  |                    ^^
  = help: sizes: exact, from the lock file; per model: Qwen/Qwen3-32B 65.5 GB, acme/unknown-model 30.0 GB, meta-llama/Llama-3.1-8B-Instruct 16.1 GB

1 warning
"
    );
}

#[test]
fn mounts_at_one_container_path_are_refused() {
    // Compose keeps one of two mounts at one target: the cache would silently vanish.
    let spec = format!(
        "version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}cache: {{mount: /models}}\nservices:\n  a:\n    model: Qwen/Qwen3-32B\n    model_path: /models/\n  b:\n    model: Qwen/Qwen3-32B\n    model_path: /var/cache/aimgen/b\n  c:\n    model: Qwen/Qwen3-32B\n    model_path: /models-local\n"
    );
    let (code, err) = check(&spec);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("error: `model_path` `/models` overlaps the model cache mount `/models`\n --> fleet.yaml:9:17"),
        "{err}"
    );
    assert!(err.contains("error: `model_path` `/var/cache/aimgen/b` overlaps aimgen's engine scratch `/var/cache/aimgen`\n  --> fleet.yaml:12:17"), "{err}");
    assert!(!err.contains("/models-local"), "a sibling path is not an overlap: {err}");
    let (code, err) = check(&format!("version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}cache: {{mount: /var/cache}}\nservices:\n  a:\n    model: Qwen/Qwen3-32B\n"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("error: the cache mount `/var/cache` overlaps aimgen's engine scratch `/var/cache/aimgen`"),
        "{err}"
    );
}

/// A service with `ulimits` written in block style under it (line 9 is the first limit).
fn with_ulimits(limits: &str) -> String {
    format!(
        "version: 1\nname: x\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}services:\n  qwen:\n    model: Qwen/Qwen3-32B\n    ulimits:\n{limits}"
    )
}

#[test]
fn an_unknown_ulimit_name_lists_dockers() {
    expect(
        &with_ulimits("      nofle: 65536\n"),
        "error: `nofle` is not a resource limit Docker knows
 --> fleet.yaml:9:7
  |
9 |       nofle: 65536
  |       ^^^^^
  = help: did you mean `nofile`? Docker's limits: core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack

1 error
",
    );
}

#[test]
fn a_soft_ulimit_above_its_hard_one() {
    expect(
        &with_ulimits("      nofile: {soft: 65536, hard: 1024}\n      core: {soft: -1, hard: 0}\n      stack: {soft: 8, hard: -1}\n"),
        "error: the soft `nofile` limit 65536 is above its hard limit 1024
 --> fleet.yaml:9:22
  |
9 |       nofile: {soft: 65536, hard: 1024}
  |                      ^^^^^
  = help: a process may raise its soft limit only up to the hard one: lower `soft` or raise `hard` (-1 is unlimited)

error: the soft `core` limit unlimited (-1) is above its hard limit 0
  --> fleet.yaml:10:20
   |
10 |       core: {soft: -1, hard: 0}
   |                    ^^
   = help: a process may raise its soft limit only up to the hard one: lower `soft` or raise `hard` (-1 is unlimited)

2 errors
",
    );
}

#[test]
fn a_ulimit_that_is_not_a_whole_number() {
    expect(
        &with_ulimits("      memlock: unlimited\n      nofile: {soft: 1.5, hard: 2}\n"),
        "error: `memlock` has the wrong type: expected a whole number or a mapping, found text
 --> fleet.yaml:9:16
  |
9 |       memlock: unlimited
  |                ^^^^^^^^^

error: `soft` has the wrong type: expected a whole number, found a decimal number
  --> fleet.yaml:10:22
   |
10 |       nofile: {soft: 1.5, hard: 2}
   |                      ^^^

2 errors
",
    );
}

#[test]
fn a_negative_ulimit_other_than_unlimited() {
    expect(
        &with_ulimits("      stack: -2\n      nofile: {soft: 0, hard: -5}\n      memlock: -1\n"),
        "error: -2 is not a valid `stack` limit
 --> fleet.yaml:9:14
  |
9 |       stack: -2
  |              ^^
  = help: use 0 or more, or -1 for unlimited

error: -5 is not a valid `nofile` limit
  --> fleet.yaml:10:31
   |
10 |       nofile: {soft: 0, hard: -5}
   |                               ^^
   = help: use 0 or more, or -1 for unlimited

2 errors
",
    );
}

#[test]
fn a_ulimit_beyond_64_bits_is_reported_where_it_is() {
    expect(
        &with_ulimits("      nofile: 9223372036854775808\n"),
        "error: `nofile`: 9223372036854775808 is greater than the maximum of 9223372036854775807
 --> fleet.yaml:9:15
  |
9 |       nofile: 9223372036854775808
  |               ^^^^^^^^^^^^^^^^^^^

1 error
",
    );
}

#[test]
fn a_number_too_big_for_its_type_is_reported_where_it_is() {
    // serde refuses these without a position; the schema states each sized integer's range
    // (schema::bound_integer_formats), which puts the error at the value.
    let image = "image: {base: b/c:1, engine_version: \"0.33.0\"}\n";
    expect(
        &format!("version: 1\nname: f\n{image}host: {{gpu: {{vendor: amd, model: MI300X, count: 4294967296}}}}\nservices:\n  a: {{model: Qwen/Qwen3-32B}}\n"),
        "error: `count`: 4294967296 is greater than the maximum of 4294967295
 --> fleet.yaml:4:49
  |
4 | host: {gpu: {vendor: amd, model: MI300X, count: 4294967296}}
  |                                                 ^^^^^^^^^^

1 error
",
    );
    expect(
        &format!("version: 1\nname: f\n{image}{HOST}services:\n  a: {{model: Qwen/Qwen3-32B, gpus: 99999999999}}\n"),
        "error: `gpus`: 99999999999 is greater than the maximum of 4294967295
 --> fleet.yaml:6:36
  |
6 |   a: {model: Qwen/Qwen3-32B, gpus: 99999999999}
  |                                    ^^^^^^^^^^^

1 error
",
    );
}

#[test]
fn a_wrong_value_inside_an_optional_section_is_reported_where_it_is() {
    // `serving` is optional: its schema is anyOf [the section, null], and a bad value inside
    // failed the whole anyOf ("`serving` has the wrong type: expected a mapping, found a
    // mapping"). The branch the value's type matches says what is wrong.
    expect(
        &format!(
            "version: 1\nname: f\nimage: {{base: b/c:1, engine_version: \"0.33.0\"}}\n{HOST}serving:\n  log_max_files: x\n  ulimits: {{memlock: unlimited}}\nservices:\n  a: {{model: Qwen/Qwen3-32B}}\n"
        ),
        "error: `log_max_files` has the wrong type: expected a whole number, found text
 --> fleet.yaml:6:18
  |
6 |   log_max_files: x
  |                  ^

error: `memlock` has the wrong type: expected a whole number or a mapping, found text
 --> fleet.yaml:7:22
  |
7 |   ulimits: {memlock: unlimited}
  |                      ^^^^^^^^^

2 errors
",
    );
}
