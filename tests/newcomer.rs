//! What a newcomer meets first: the pre-commit hook's file pattern, the command-line help,
//! the README's command table, and the messages of the `recipes` commands.

mod common;

use common::*;

/// The `files` pattern of the `aimgen-check` hook.
fn hook_pattern() -> String {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect("hooks file");
    let hooks = yaml(&text);
    let hooks = hooks.as_sequence().expect("a list of hooks");
    let check = hooks.iter().find(|h| h["id"].as_str() == Some("aimgen-check")).expect("aimgen-check hook");
    check["files"].as_str().expect("files pattern").to_string()
}

/// Which of `paths` the pattern selects, decided by Python's `re.search` exactly as
/// pre-commit does (`re.compile(files).search(filename)`), so the test asks the consumer.
fn selected(pattern: &str, paths: &[&str]) -> Vec<String> {
    let script =
        "import re, sys\np = re.compile(sys.argv[1])\nfor f in sys.argv[2:]:\n    if p.search(f):\n        print(f)\n";
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(pattern)
        .args(paths)
        .output()
        .expect("python3 runs (CI assumes it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8").lines().map(str::to_string).collect()
}

#[test]
fn precommit_pattern_selects_every_example_and_no_other_yaml() {
    let pattern = hook_pattern();
    let examples = examples();
    assert!(examples.len() >= 3, "{examples:?}");
    let mut fleets: Vec<&str> = examples.iter().map(String::as_str).collect();
    fleets.extend([
        "fleet.yaml",
        "fleet.yml",
        "deploy/fleet-prod.yaml",
        "mi300x-fleet.yaml",
        "infra/gpu_fleet.yaml",
        "fleets/staging.yaml",
    ]);
    assert_eq!(selected(&pattern, &fleets), fleets, "pattern {pattern} misses a fleet spec");
    let others = [
        "deploy/docker-compose.cache.yml",
        "recipes/qwen3-32b.yaml",
        ".pre-commit-config.yaml",
        ".github/workflows/ci.yml",
        "fleet.lock",
        "examples/README.md",
        "snapshots/render-mi300x-fleet.snap",
    ];
    assert_eq!(selected(&pattern, &others), Vec::<String>::new(), "pattern {pattern} selects a non-spec");
}

/// (exit code, stdout, stderr) of aimgen run from the crate root.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = aimgen(args);
    (o.status.code(), stdout(&o), stderr(&o))
}

#[test]
fn unknown_gpu_model_is_an_error_with_the_known_list() {
    let known = "MI300X, MI325X, MI355X, MI350X, MI300A, MI250X, MI250, MI210, H100, H200, H20, B200, A100, A10G, A10, L40S, L40, L4";
    assert_eq!(
        run(&["recipes", "list", "--gpu", "RTX4090"]),
        (Some(2), String::new(), format!("error: unknown GPU model `RTX4090`\n  = note: known models: {known}\n"))
    );
    assert_eq!(
        run(&["recipes", "list", "--gpu", "h10"]),
        (
            Some(2),
            String::new(),
            format!(
                "error: unknown GPU model `h10`\n  = help: did you mean `H100`?\n  = note: known models: {known}\n"
            )
        )
    );
    assert_eq!(
        run(&["recipes", "list", "--gpu", "H100", "--vendor", "amd"]),
        (
            Some(2),
            String::new(),
            "error: H100 is an NVIDIA GPU, but --vendor is `amd`\n  = help: leave out --vendor; --gpu implies it\n"
                .into()
        )
    );
}

#[test]
fn recipes_show_suggests_the_closest_id() {
    assert_eq!(
        run(&["recipes", "show", "qwen3-32b/vllm-mi300x-bf16-tp4-latenc"]),
        (
            Some(1),
            String::new(),
            "error: no recipe `qwen3-32b/vllm-mi300x-bf16-tp4-latenc`\n  = help: did you mean `qwen3-32b/vllm-mi300x-bf16-tp4-latency`?\n".into()
        )
    );
    assert_eq!(
        run(&["recipes", "show", "nothing-like-it"]),
        (
            Some(1),
            String::new(),
            "error: no recipe `nothing-like-it`\n  = help: `aimgen recipes list` shows every id\n".into()
        )
    );
}

/// The state `recipes list` gives `id`.
fn state_of(args: &[&str], id: &str) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(0), "{err}");
    let line =
        out.lines().find(|l| l.split_whitespace().next() == Some(id)).unwrap_or_else(|| panic!("{id} not in\n{out}"));
    line.split_whitespace().nth(1).expect("state").to_string()
}

#[test]
fn recipes_list_gpus_means_gpus_used_and_free_means_available() {
    let base = ["recipes", "list", "--model", "Qwen/Qwen3-32B", "--gpu", "MI300X"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }
    // `--gpus 4` as in a spec: the tp4 recipe fits, tp1 and tp2 do not.
    assert_eq!(state_of(&with(&base, &["--gpus", "4"]), "qwen3-32b/vllm-mi300x-bf16-tp4-latency"), "compatible");
    assert_eq!(state_of(&with(&base, &["--gpus", "4"]), "qwen3-32b/vllm-mi300x-bf16-tp2-latency"), "count_mismatch");
    assert_eq!(state_of(&with(&base, &["--gpus", "4"]), "qwen3-32b/vllm-mi300x-bf16-tp1-throughput"), "count_mismatch");
    // `--free 2`: what fits in two free GPUs.
    assert_eq!(state_of(&with(&base, &["--free", "2"]), "qwen3-32b/vllm-mi300x-bf16-tp2-latency"), "compatible");
    assert_eq!(state_of(&with(&base, &["--free", "2"]), "qwen3-32b/vllm-mi300x-bf16-tp4-latency"), "count_mismatch");
    let (_, out, _) = run(&with(&base, &["--gpus", "4"]));
    assert!(out.contains("needs 2 GPUs, the service asks for 4"), "{out}");
    let (_, out, _) = run(&with(&base, &["--free", "2"]));
    assert!(out.contains("needs 4 GPUs, 2 left"), "{out}");
}

#[test]
fn check_paths_have_no_doubled_slash() {
    let dir = scratch("slash");
    let spec = std::fs::read_to_string(root().join("examples/mi300x-fleet.yaml")).expect("example");
    write(&dir, "fleet.yaml", &spec);
    let o = command(&dir).args(["render", "fleet.yaml", "-o", "deploy/"]).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_file(dir.join("deploy/env/llama.env")).expect("remove");
    let o = command(&dir).args(["render", "fleet.yaml", "-o", "deploy/", "--check"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "missing: deploy/env/llama.env\nerror: deploy/ is out of date with fleet.yaml; regenerate it with:\n    aimgen render fleet.yaml -o deploy/\n"
    );
}
