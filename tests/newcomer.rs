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
    std::fs::remove_file(dir.join("deploy/env/services/llama.env")).expect("remove");
    let o = command(&dir).args(["render", "fleet.yaml", "-o", "deploy/", "--check"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    // After any warnings about the spec itself (the example's image release).
    let err = stderr(&o);
    assert!(
        err.ends_with("missing: deploy/env/services/llama.env\nerror: deploy/ is out of date with fleet.yaml; regenerate it with:\n    aimgen render fleet.yaml -o deploy/\n"),
        "{err}"
    );
    assert!(!err.contains("//"), "{err}");
}

/// The lines of a `--help` section (`Commands:`, `Options:`, …), up to the next heading.
fn help_section<'a>(help: &'a str, heading: &str) -> Vec<&'a str> {
    help.lines().skip_while(|l| *l != heading).skip(1).take_while(|l| l.is_empty() || l.starts_with(' ')).collect()
}

/// Every leaf command as its words (`["cache", "status"]`) with its long options, read from
/// the binary's own `--help` output.
/// Leaf commands: (words, [(long option, short option)]).
type Commands = Vec<(Vec<String>, Vec<(String, Option<String>)>)>;

fn commands_from_help() -> Commands {
    type Found = Commands;
    fn walk(path: Vec<String>, out: &mut Found) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = aimgen(&args);
        assert!(o.status.success(), "aimgen {args:?}: {}", stderr(&o));
        let help = stdout(&o);
        let subs: Vec<String> = help_section(&help, "Commands:")
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| *w != "help")
            .map(str::to_string)
            .collect();
        if subs.is_empty() {
            // `  -o, --out-dir <DIR>` or `      --format <FORMAT>`: (long, short).
            let options = help_section(&help, "Options:")
                .iter()
                .map(|l| l.trim_start())
                // Not the `- human: …` lines that list possible values.
                .filter(|l| l.starts_with("--") || (l.starts_with('-') && l.get(2..6) == Some(", --")))
                .map(|l| {
                    let (short, long) = match l.split_once(", ") {
                        Some((s, rest)) if s.len() == 2 => (Some(s.to_string()), rest),
                        _ => (None, l),
                    };
                    (long_options(long).into_iter().next().unwrap_or_default(), short)
                })
                .filter(|(o, _)| o != "help" && o != "version")
                .collect();
            out.push((path, options));
        } else {
            for s in subs {
                let mut p = path.clone();
                p.push(s);
                walk(p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Vec::new(), &mut out);
    out
}

/// The README's `## Commands` table: (first cell, whole row), and the text after it up to the
/// next heading (where options shared by several commands are listed).
fn readme_commands() -> (Vec<String>, String) {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let section: String = readme
        .split("\n## Commands\n")
        .nth(1)
        .expect("README has ## Commands")
        .split("\n#")
        .next()
        .unwrap_or_default()
        .to_string();
    let cells = section
        .lines()
        .filter(|l| l.starts_with("| `aimgen "))
        .map(|l| {
            // The first cell ends at the first `|` that is not escaped (`vllm\|sglang`).
            let body = &l[2..];
            let mut end = body.len();
            let bytes = body.as_bytes();
            for i in 0..bytes.len() {
                if bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\') {
                    end = i;
                    break;
                }
            }
            body[..end].trim().to_string()
        })
        .collect();
    let rest = section.lines().filter(|l| !l.starts_with('|')).collect::<Vec<_>>().join(" ");
    (cells, rest)
}

/// Long options written in a text, without dashes.
fn long_options(text: &str) -> Vec<String> {
    text.split("--")
        .skip(1)
        .map(|s| s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap_or_default().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// README's command table and `--help` cannot drift: every command has a row, every option of
/// every command is written in its rows (or in the "Options shared by" sentence naming it), and
/// no row names a command or option that does not exist. A new command or option fails this
/// test until the README documents it.
#[test]
fn readme_command_table_matches_help() {
    let commands = commands_from_help();
    assert!(commands.len() >= 10, "{commands:?}");
    let (cells, rest) = readme_commands();
    let shared = rest
        .split("Options shared by ")
        .nth(1)
        .map(|s| s.split_once(':').map(|(who, opts)| (who.to_string(), opts.to_string())).unwrap_or_default());
    let mut problems = Vec::new();
    for (path, options) in &commands {
        let name = format!("aimgen {}", path.join(" "));
        let rows: Vec<&String> = cells
            .iter()
            .filter(|c| {
                let c = c.trim_matches('`');
                c == name || c.starts_with(&format!("{name} "))
            })
            .collect();
        if rows.is_empty() {
            problems.push(format!("`{name}` has no row in README's command table"));
            continue;
        }
        let written: Vec<String> = rows.iter().flat_map(|c| long_options(c)).collect();
        let shared_here = shared.as_ref().filter(|(who, _)| who.contains(&format!("`{}`", path[0])));
        for (o, short) in options {
            let in_shared = shared_here.is_some_and(|(_, opts)| long_options(opts).contains(o));
            let short_written = short
                .as_ref()
                .is_some_and(|s| rows.iter().any(|c| c.split_whitespace().any(|w| w.trim_matches('`') == s)));
            if !written.contains(o) && !in_shared && !short_written {
                problems.push(format!("`{name}` option `--{o}` is not in README's command table"));
            }
        }
        for o in &written {
            if !options.iter().any(|(long, _)| long == o) {
                problems.push(format!("README's row for `{name}` names `--{o}`, which it does not have"));
            }
        }
    }
    for c in &cells {
        let c = c.trim_matches('`');
        if !commands.iter().any(|(p, _)| {
            let name = format!("aimgen {}", p.join(" "));
            c == name || c.starts_with(&format!("{name} "))
        }) {
            problems.push(format!("README's row `{c}` is not a command"));
        }
    }
    assert!(problems.is_empty(), "README and --help disagree:\n{}", problems.join("\n"));
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// `explain` per GPU: weights, KV cache (the rest of the engine's share) and what is not the
/// engine's, with the fraction read from the recipe's `--mem-fraction-static` (SGLang).
#[test]
fn explain_shows_weights_kv_cache_and_the_engine_share_per_gpu() {
    let o = aimgen(&["explain", "examples/nvidia-sglang.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("  0  llama-70b   ███████████▒▒▒▒▒▒▒▒▒░░░░  ~35 GB   ~33 GB    12 GB\n"), "{out}");
    assert!(out.contains("the engine takes 85% of each GPU (--mem-fraction-static): ~35 GB weights + ~33 GB KV cache per GPU, 12 GB not the engine's"), "{out}");
    snapshot_settings().bind(|| insta::assert_snapshot!("explain-nvidia-sglang", out));
    let o = aimgen(&["explain", "examples/nvidia-sglang.yaml", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let m = &doc["services"][0]["memory_per_gpu"];
    assert_eq!(m["engine_fraction"], 0.85);
    assert_eq!(m["engine_fraction_from"], "flag");
}

/// `cache status` reports the cache's use and the fleet's needs against `cache.budget_gb`, and
/// says "unknown", never "0 B", for what an unlocked service still needs.
#[test]
fn cache_status_reports_against_the_budget_and_unknown_sizes() {
    let dir = scratch("budget-status");
    std::fs::create_dir_all(dir.join("hub")).expect("cache folder");
    let spec = |budget: u32| {
        format!("version: 1\nname: x\nhost: {{gpu: {{vendor: amd, model: MI300X, count: 8}}}}\ncache: {{budget_gb: {budget}}}\nservices:\n  svc: {{model: meta-llama/Llama-3.1-8B-Instruct}}\n")
    };
    write(&dir, "fleet.yaml", &spec(20));
    let o = command(&dir).args(["cache", "status", "fleet.yaml", "--cache-dir", "hub"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "hub cache hub (from --cache-dir)
SERVICE  MODEL                             REVISION  COMMIT  STATE     FILES  CACHED  TO DOWNLOAD
svc      meta-llama/Llama-3.1-8B-Instruct  main      -       unpinned  -      0 B     unknown
note: svc is not locked, and the cache has no refs/main for meta-llama/Llama-3.1-8B-Instruct
note: without a lock entry aimgen cannot tell what is left to download: run `aimgen lock fleet.yaml`
total: to download unknown; 1 service not locked
budget: the cache holds 0 B of `budget_gb: 20` (0%); the fleet's models need ~16.1 GB (80%; 1 model estimated from parameter counts)
"
    );
    write(&dir, "fleet.yaml", &spec(10));
    let o = command(&dir).args(["cache", "status", "fleet.yaml", "--cache-dir", "hub"]).output().expect("runs");
    assert!(stdout(&o).ends_with(
        "budget: the cache holds 0 B of `budget_gb: 10` (0%); the fleet's models need ~16.1 GB (161%; 1 model estimated from parameter counts)
warning: over budget: free space, raise `budget_gb`, or remove what no service uses (above)
"
    ), "{}", stdout(&o));
    let o = command(&dir)
        .args(["cache", "status", "fleet.yaml", "--cache-dir", "hub", "--format", "json"])
        .output()
        .expect("runs");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["budget"]["budget_bytes"], 10_000_000_000u64);
    assert_eq!(doc["budget"]["fleet_bytes"], 16_060_000_000u64);
    assert_eq!(doc["budget"]["cache_bytes"], 0);
}

/// A lock entry with one weights file of `size` bytes.
fn lock_entry(repo: &str, seed: char, size: u64) -> String {
    format!(
        "  - repo: \"{repo}\"\n    revision: \"main\"\n    sha: \"{}\"\n    files:\n      - {{path: \"model.safetensors\", size: {size}, blob: \"{}\"}}\n",
        seed.to_string().repeat(40),
        seed.to_string().repeat(64)
    )
}

/// `explain --bandwidth`: the guide's table for this fleet. Two services share Qwen3-32B, so
/// servers with their own copies download it twice and the shared cache once; a redeploy
/// downloads nothing; exact sizes come from the lock.
#[test]
fn explain_bandwidth_table_for_a_locked_fleet() {
    let dir = scratch("bandwidth");
    write(
        &dir,
        "fleet.yaml",
        "version: 1\nname: shared\nimage: {base: b/c:1, engine_version: \"0.33.0\"}\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\nservices:\n  chat: {model: Qwen/Qwen3-32B, gpus: 4}\n  batch: {model: Qwen/Qwen3-32B, gpus: 2}\n  small: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 1}\n",
    );
    write(
        &dir,
        "fleet.lock",
        &format!(
            "version: 1\nmodels:\n{}{}",
            lock_entry("Qwen/Qwen3-32B", 'a', 65_536_000_000),
            lock_entry("meta-llama/Llama-3.1-8B-Instruct", 'c', 16_060_000_000)
        ),
    );
    let o = command(&dir).args(["explain", "fleet.yaml", "--bandwidth", "10Gbit/s"]).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let table = &out[out.find("Downloads at").expect("a bandwidth table")..];
    assert_eq!(
        table,
        "Downloads at 10 Gbit/s (sizes: exact, from the lock file)
  Qwen/Qwen3-32B@main                    65.5 GB                 2 servers (chat, batch)
  meta-llama/Llama-3.1-8B-Instruct@main  16.1 GB                 1 server (small)

                     EACH SERVER ITS OWN COPY      AIMGEN'S SHARED CACHE
  first deployment   147.1 GB   1 min 58 s         81.6 GB    1 min 06 s
  next deployment    147.1 GB   1 min 58 s         0 B        0 s
  pending update     needs `aimgen outdated` (it asks the Hub; explain stays offline)
  Each server with its own copy keeps it in its container, so re-creating the container
  downloads it again; aimgen's prefetch downloads each (model, revision) once into the
  shared cache, and a redeploy finds it there.
"
    );
    let o = command(&dir)
        .args(["explain", "fleet.yaml", "--bandwidth", "10Gbit/s", "--format", "json"])
        .output()
        .expect("runs");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let b = &doc["bandwidth"];
    assert_eq!(b["each_server_own_copy"]["first_deployment"]["bytes"], 147_132_000_000u64);
    assert_eq!(b["shared_cache"]["first_deployment"]["bytes"], 81_596_000_000u64);
    assert_eq!(b["shared_cache"]["next_deployment"]["bytes"], 0);
    assert_eq!(b["exact"], true);

    let bad = command(&dir).args(["explain", "fleet.yaml", "--bandwidth", "fast"]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`fast` is not a rate: write e.g. `1Gbit`, `10Gbit/s`, `500Mbps` or `125MB/s`"),
        "{}",
        stderr(&bad)
    );
}

/// The reference fleet without a lock: every size an estimate, and said so.
#[test]
fn explain_bandwidth_of_the_reference_fleet_is_snapshotted() {
    let o = aimgen(&["explain", "examples/mi300x-fleet.yaml", "--bandwidth", "1Gbit"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Downloads at 1 Gbit/s (sizes: 3 models estimated from parameter counts)\n"), "{out}");
    snapshot_settings().bind(|| insta::assert_snapshot!("explain-mi300x-fleet-bandwidth", out));
    // A local `model_path` copy is named as not counted, not silently left out.
    let o = aimgen(&["explain", "examples/host-cache-mirror.yaml", "--bandwidth", "1Gbit"]);
    assert!(
        stdout(&o).ends_with("  Not counted: mistral (local `model_path` copies, never downloaded).\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn recipes_list_suggests_a_known_model_id() {
    let (code, out, err) = run(&["recipes", "list", "--model", "qwen/qwen3-32b"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        err,
        "note: aimgen has no facts for `qwen/qwen3-32b`: only general recipes apply, and its size is unknown; did you mean `Qwen/Qwen3-32B`? (ids are case-sensitive)\n"
    );
    assert!(out.starts_with("ID "), "{out}");
}
