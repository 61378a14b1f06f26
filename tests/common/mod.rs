//! The test helpers every test binary shares: run the built binary (from the crate root, or
//! in a scratch folder with a private Hugging Face home), make scratch folders, read rendered
//! files; the Hub tests' fixtures and mock Hub.
#![allow(dead_code)]

pub mod hub_fixtures;
pub mod mock_hub;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs aimgen with `args` from the crate root, with a clean Hugging Face environment.
pub fn aimgen(args: &[&str]) -> Output {
    aimgen_env(args, &[])
}

/// The built binary in `dir`, with no Hugging Face variable, token or proxy from the
/// developer's shell (nothing can reach the internet) and no colour.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aimgen"));
    cmd.current_dir(dir).env("NO_COLOR", "1");
    for k in [
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_HUB_OFFLINE",
        "HF_ENDPOINT",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "AIMGEN_HUB_TIMEOUT_SECS",
        "AIMGEN_HUB_RETRIES",
    ] {
        cmd.env_remove(k);
    }
    cmd
}

/// Runs aimgen in `dir` with only the variables given (see `command`), a private HF_HOME (no
/// token file of the developer's is read; the default cache is inside the scratch folder) and
/// HOME.
pub fn aimgen_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(dir);
    cmd.args(args).env("HF_HOME", dir.join(".hf-home")).env("HOME", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("aimgen runs")
}

/// The exit status (-1 when a signal ended it).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Runs aimgen from the crate root with extra environment variables.
pub fn aimgen_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(&root());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("aimgen runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

/// A fresh, empty scratch folder under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = root().join("target").join("test-scratch").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("parent");
    }
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

/// Every file under `dir`, by relative path.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name() == aimgen::safe_fs::LOCK_FILE {
                // The writers' lock (empty, never output): not part of what was rendered.
                continue;
            } else {
                let rel = p.strip_prefix(dir).expect("inside").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).expect("text file"));
            }
        }
    }
    out
}

/// The example specs, sorted.
pub fn examples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| format!("examples/{}", p.file_name().expect("name").to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// Parses YAML text.
pub fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).expect("valid YAML")
}
