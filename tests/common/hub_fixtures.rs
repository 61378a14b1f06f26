//! Fixtures of the Hub and cache tests: a fleet whose services pin a test recipe, and a
//! Hugging Face cache laid out as huggingface_hub lays it out.

use std::path::{Path, PathBuf};

use super::write;

/// A recipe every test service pins, so rendering does not depend on the built-in library.
pub const RECIPES: &str = "recipes:\n  - id: test/vllm-amd\n    engine: vllm\n    gpu: {vendor: amd}\n    precision: bf16\n    metric: throughput\n    type: general\n";

/// A fleet spec on 8 × MI300X with `services` (YAML, indented by 2) and an optional `cache:`
/// block; writes it (and the test recipe) into `dir` as fleet.yaml.
pub fn fleet(dir: &Path, services: &str, cache: &str) -> PathBuf {
    write(dir, "recipes/test.yaml", RECIPES);
    let cache = if cache.is_empty() { String::new() } else { format!("cache:\n{cache}") };
    PathBuf::from(write(
        dir,
        "fleet.yaml",
        &format!(
            "version: 1\nname: hubtest\nhost:\n  gpu: {{vendor: amd, model: MI300X, count: 8}}\nimage:\n  base: rocm/vllm:v0.0.0\n{cache}recipes: [recipes]\nservices:\n{services}"
        ),
    ))
}

/// Builds a hub cache folder exactly as huggingface_hub does.
pub struct CacheDir {
    pub root: PathBuf,
}

impl CacheDir {
    pub fn new(root: PathBuf) -> CacheDir {
        std::fs::create_dir_all(&root).expect("cache root");
        CacheDir { root }
    }

    fn repo(&self, id: &str) -> PathBuf {
        self.root.join(format!("models--{}", id.replace('/', "--")))
    }

    /// `refs/<branch>` holding `sha`.
    pub fn set_ref(&self, id: &str, branch: &str, sha: &str) {
        write(&self.repo(id).join("refs"), branch, sha);
    }

    /// `blobs/<blob>` of `size` bytes.
    pub fn blob(&self, id: &str, blob: &str, size: u64) {
        let dir = self.repo(id).join("blobs");
        std::fs::create_dir_all(&dir).expect("blobs");
        let f = std::fs::File::create(dir.join(blob)).expect("blob");
        f.set_len(size).expect("size");
    }

    /// `snapshots/<sha>/<path>` as a relative link to `../../blobs/<blob>` (one more `..` per
    /// folder in `path`), with the blob itself when `with_blob`.
    pub fn link(&self, id: &str, sha: &str, path: &str, blob: &str, size: u64, with_blob: bool) {
        if with_blob {
            self.blob(id, blob, size);
        }
        let link = self.repo(id).join("snapshots").join(sha).join(path);
        std::fs::create_dir_all(link.parent().expect("parent")).expect("snapshot dir");
        let up = "../".repeat(2 + path.matches('/').count());
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("{up}blobs/{blob}"), &link).expect("symlink");
    }
}
