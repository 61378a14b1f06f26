//! Which files of a model repo an engine loads. This is the same rule as `engine_files` in
//! `templates/prefetch.py`, which applies it when there is no lock; the lock applies it here.
//! The two must agree exactly, or a locked fleet would download a different set of files than
//! an unlocked one: a test feeds the same inputs through both.

/// File extensions (the text after the last `.` of the file name, or the whole name when it
/// has no `.`) that vLLM and SGLang read: configs, tokenizers, safetensors weights, remote code,
/// chat templates. Mirrors `LOADED` in prefetch.py.
pub const LOADED: &[&str] = &["json", "safetensors", "model", "tiktoken", "txt", "py", "jinja"];

/// The files an engine loads, sorted. Never `original/` checkpoints or `*.pth`; `*.bin`
/// weights only when the repo has no safetensors (they are duplicates otherwise); Mistral's
/// `consolidated*.safetensors` (for mistral_inference) only when there are no Hugging Face
/// shards beside it. Every `tokenizer*` file is kept (`tokenizer.model.v3`, …).
pub fn engine_files<S: AsRef<str>>(files: &[S]) -> Vec<String> {
    let name = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    let has_safetensors = files.iter().any(|f| name(f.as_ref()).ends_with(".safetensors"));
    let has_shards = files.iter().any(|f| {
        let n = name(f.as_ref());
        n.ends_with(".safetensors") && !n.starts_with("consolidated")
    });
    let mut keep: Vec<String> = files
        .iter()
        .map(AsRef::as_ref)
        .filter(|f| f.split('/').next() != Some("original"))
        .filter(|f| {
            let (n, ext) = (name(f), extension(f));
            if ext == "safetensors" && n.starts_with("consolidated") && has_shards {
                return false;
            }
            LOADED.contains(&ext) || n.starts_with("tokenizer") || (ext == "bin" && !has_safetensors)
        })
        .map(str::to_string)
        .collect();
    // Python's sorted() orders by code point; so does byte order of UTF-8.
    keep.sort();
    keep
}

/// Python's `f.rsplit("/", 1)[-1].rpartition(".")[2]`: a name without a dot is its own
/// "extension" (so a file named `model` is kept, as prefetch.py keeps it).
fn extension(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or(name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Inputs chosen to hit every branch of the rule, including Python's edge cases.
    pub(crate) fn cases() -> Vec<Vec<&'static str>> {
        vec![
            vec![
                "config.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "model.safetensors.index.json",
                "pytorch_model.bin",
                "original/consolidated.00.pth",
                "original/params.json",
                "original/tokenizer.model",
                "tokenizer.json",
                "tokenizer.model",
                "README.md",
                ".gitattributes",
                "LICENSE",
                "generation_config.json",
                "chat_template.jinja",
                "modeling_x.py",
                "vocab.txt",
                "cl100k.tiktoken",
                "consolidated.pth",
                "consolidated.safetensors",
                "tokenizer.model.v3",
                "params.json",
            ],
            vec!["pytorch_model.bin", "config.json", "sub/dir/weights.bin", "training_args.bin", "b", "a.BIN"],
            vec![
                "model",
                "json",
                "dir.json/file",
                "dir/original/x.json",
                "originals/x.json",
                "original",
                "x.safetensors/config",
                "a.b.c.txt",
                "trailing.",
                ".json",
                "ünïcode/配置.json",
                "Z.json",
                "a.json",
                "_.json",
            ],
            vec![],
            vec!["onnx/model.onnx", "flax_model.msgpack", "tf_model.h5", "model.bin.index.json"],
            vec![
                "consolidated.safetensors",
                "consolidated-2.safetensors",
                "x/tokenizer",
                "tokenizerx.bin",
                "model.bin",
            ],
            vec!["a/consolidated.safetensors", "b/model.safetensors", "tokenizer.model.v7"],
        ]
    }

    #[test]
    fn keeps_what_engines_load() {
        let got = engine_files(&cases()[0]);
        assert_eq!(
            got,
            [
                "chat_template.jinja",
                "cl100k.tiktoken",
                "config.json",
                "generation_config.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "model.safetensors.index.json",
                "modeling_x.py",
                "params.json",
                "tokenizer.json",
                "tokenizer.model",
                "tokenizer.model.v3",
                "vocab.txt",
            ]
        );
        // Mistral's consolidated weights are the weights when there are no shards.
        assert_eq!(
            engine_files(&["consolidated.safetensors", "params.json", "tokenizer.model.v3"]),
            ["consolidated.safetensors", "params.json", "tokenizer.model.v3"]
        );
        assert_eq!(
            engine_files(&cases()[1]),
            ["config.json", "pytorch_model.bin", "sub/dir/weights.bin", "training_args.bin"]
        );
    }

    /// The table the Python rule is checked against when python3 is not installed.
    #[test]
    fn matches_the_recorded_python_results() {
        assert_eq!(
            engine_files(&cases()[2]),
            [
                ".json",
                "Z.json",
                "_.json",
                "a.b.c.txt",
                "a.json",
                "dir/original/x.json",
                "json",
                "model",
                "originals/x.json",
                "ünïcode/配置.json",
            ]
        );
        assert!(engine_files(&cases()[3]).is_empty());
        assert_eq!(engine_files(&cases()[4]), ["model.bin.index.json"]);
    }

    /// Runs the very `engine_files` from templates/prefetch.py (cut out of the file, so the
    /// script's imports are not needed) on the same inputs.
    #[test]
    fn agrees_with_prefetch_py() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let script = include_str!("../../templates/prefetch.py");
        let start = script.find("LOADED = ").expect("prefetch.py defines LOADED");
        let end = script.find("\n# (end of the engine-file rule").expect("prefetch.py marks the end of engine_files");
        let program = format!(
            "import json, sys\n{}\nfor case in json.load(sys.stdin):\n    print(json.dumps(engine_files(case)))\n",
            &script[start..end]
        );
        let child = Command::new("python3")
            .args(["-c", &program])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("python3 not found: relying on the recorded table");
            return;
        };
        let input = serde_json::to_string(&cases()).expect("json");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
        let out = child.wait_with_output().expect("python3 runs");
        assert!(out.status.success(), "python3 failed");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let python: Vec<Vec<String>> =
            text.lines().map(|l| serde_json::from_str(l).expect("python printed JSON")).collect();
        let rust: Vec<Vec<String>> = cases().iter().map(|c| engine_files(c)).collect();
        assert_eq!(python, rust);
    }
}
