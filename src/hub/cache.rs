//! Reading a Hugging Face hub cache, offline and read-only. The layout (one folder per repo):
//!
//! ```text
//! models--{org}--{name}/
//!   refs/<branch>            the commit sha the branch pointed to when last downloaded
//!   blobs/<etag>             content, named by sha256 (LFS) or git blob sha1
//!   snapshots/<sha>/<path>   relative symlinks to ../../blobs/<etag>
//! ```
//!
//! Several revisions share a blob, and `huggingface_hub` downloads a file only when its blob
//! is missing, so what a revision costs is the size of the blobs it needs that are not there.
//! aimgen never writes or deletes here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::ids::is_sha;
use crate::lockfile::{is_safe_path, LockedModel};

/// Longest ref file read: a sha and a newline, with room to spare.
const MAX_REF_BYTES: u64 = 256;

/// A hub cache folder (what `HF_HUB_CACHE` points at).
#[derive(Debug, Clone)]
pub struct HubCache {
    /// The folder holding `models--*` folders.
    pub root: PathBuf,
}

/// Where the cache folder came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOrigin {
    /// `--cache-dir`.
    Flag,
    /// `HF_HUB_CACHE`.
    HubCacheEnv,
    /// `$HF_HOME/hub`.
    HfHomeEnv,
    /// The fleet's `cache.host_path` + `/hub`.
    HostPath,
    /// `~/.cache/huggingface/hub`.
    Default,
}

impl CacheOrigin {
    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            CacheOrigin::Flag => "--cache-dir",
            CacheOrigin::HubCacheEnv => "HF_HUB_CACHE",
            CacheOrigin::HfHomeEnv => "HF_HOME",
            CacheOrigin::HostPath => "the fleet's cache.host_path",
            CacheOrigin::Default => "the default location",
        }
    }
}

/// Picks the cache folder: `--cache-dir`, else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else the
/// fleet's `<host_path>/hub`, else `~/.cache/huggingface/hub`. What the user set explicitly
/// wins over what the fleet implies; the report says which one was read.
pub fn locate(flag: Option<&Path>, host_path: Option<&str>) -> (PathBuf, CacheOrigin) {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = flag {
        return (p.to_path_buf(), CacheOrigin::Flag);
    }
    if let Some(p) = env("HF_HUB_CACHE") {
        return (p, CacheOrigin::HubCacheEnv);
    }
    if let Some(p) = env("HF_HOME") {
        return (p.join("hub"), CacheOrigin::HfHomeEnv);
    }
    if let Some(p) = host_path {
        return (Path::new(p).join("hub"), CacheOrigin::HostPath);
    }
    let home = env("HOME").unwrap_or_else(|| PathBuf::from("~"));
    (home.join(".cache").join("huggingface").join("hub"), CacheOrigin::Default)
}

/// How much of a locked snapshot is in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Every locked file is linked in `snapshots/<sha>/` with its blob.
    Complete,
    /// Some are.
    Partial,
    /// None is, and no blob of it is there either.
    Missing,
}

impl State {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Complete => "complete",
            State::Partial => "partial",
            State::Missing => "missing",
        }
    }
}

/// One locked model revision checked against the cache.
#[derive(Debug, Clone)]
pub struct SnapshotStatus {
    /// Complete, partial or missing.
    pub state: State,
    /// Locked files.
    pub files: usize,
    /// Files present in the snapshot folder.
    pub files_linked: usize,
    /// Bytes of all locked files.
    pub bytes_total: u64,
    /// Bytes of locked files whose content is on disk (linked, or a blob another revision
    /// brought that a download would re-link).
    pub bytes_cached: u64,
    /// Blobs still to download, with their sizes.
    pub missing_blobs: BTreeMap<String, u64>,
}

impl SnapshotStatus {
    /// Bytes still to download for this revision alone.
    pub fn bytes_missing(&self) -> u64 {
        self.bytes_total - self.bytes_cached
    }
}

/// A model folder found in the cache.
#[derive(Debug, Clone)]
pub struct CachedRepo {
    /// Repo id, `org/name`.
    pub repo: String,
    /// Bytes of its blobs, each counted once (what deleting the folder frees).
    pub bytes: u64,
    /// Commit shas with a snapshot folder.
    pub snapshots: Vec<String>,
}

impl HubCache {
    /// A cache at `root`; nothing is read yet.
    pub fn new(root: impl Into<PathBuf>) -> HubCache {
        HubCache { root: root.into() }
    }

    fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join(super::repo_folder(repo))
    }

    /// The commit `refs/<revision>` holds, if it is a well-formed sha. A sha revision is its
    /// own commit (no ref file is written for it).
    pub fn resolve_ref(&self, repo: &str, revision: &str) -> Option<String> {
        if is_sha(revision) {
            return Some(revision.to_string());
        }
        if !crate::ids::is_revision(revision) {
            return None;
        }
        // A ref is 40 hex digits and a newline: read at most a little more, only from a
        // regular file (a FIFO or a link to a device is not a ref).
        let bytes =
            crate::safe_fs::read_regular(&self.repo_dir(repo).join("refs").join(revision), MAX_REF_BYTES, false)
                .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let sha = text.trim();
        is_sha(sha).then(|| sha.to_string())
    }

    /// Size of `blobs/<blob>` when it is a complete regular file (an interrupted download
    /// leaves `<blob>.incomplete`, which is not it; a link is not followed).
    fn blob_size(&self, repo: &str, blob: &str) -> Option<u64> {
        if blob.is_empty() || !blob.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        fs::symlink_metadata(self.repo_dir(repo).join("blobs").join(blob)).ok().filter(|m| m.is_file()).map(|m| m.len())
    }

    /// Size of `snapshots/<sha>/<path>` when it is a regular file, or a link to a blob of the
    /// same repo (`../../blobs/<etag>`, resolved lexically); a link anywhere else (say
    /// `/etc/passwd`) is not a cached file.
    fn snapshot_file(&self, repo: &str, sha: &str, path: &str) -> Option<u64> {
        if !is_sha(sha) || !is_safe_path(path) {
            return None;
        }
        let p = self.repo_dir(repo).join("snapshots").join(sha).join(path);
        self.entry_size(repo, &p)
    }

    /// What a snapshot entry holds (see `snapshot_file`).
    fn entry_size(&self, repo: &str, p: &Path) -> Option<u64> {
        let meta = fs::symlink_metadata(p).ok()?;
        if meta.is_file() {
            return Some(meta.len());
        }
        if !meta.file_type().is_symlink() {
            return None;
        }
        let blob = self.link_blob(repo, p)?;
        self.blob_size(repo, &blob)
    }

    /// The blob a snapshot link points to, when it points into this repo's `blobs/`: a
    /// relative target that climbs exactly out of `snapshots/<sha>/…` and names
    /// `blobs/<hex>` (how huggingface_hub links), or that folder's absolute path.
    fn link_blob(&self, repo: &str, link: &Path) -> Option<String> {
        use std::path::Component;
        let target = fs::read_link(link).ok()?;
        let repo_dir = self.repo_dir(repo);
        let hex = |n: &std::ffi::OsStr| {
            n.to_str().filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_hexdigit())).map(str::to_string)
        };
        if target.is_absolute() {
            return (target.parent()? == repo_dir.join("blobs")).then(|| hex(target.file_name()?)).flatten();
        }
        // Folders between the repo folder and the link: `snapshots`, the sha, and the file's own.
        let depth = link.strip_prefix(&repo_dir).ok()?.components().count().checked_sub(1)?;
        let parts: Vec<Component> = target.components().collect();
        let (ups, rest) = parts.split_at(parts.iter().take_while(|c| matches!(c, Component::ParentDir)).count());
        match rest {
            [Component::Normal(b), Component::Normal(name)] if ups.len() == depth && *b == "blobs" => hex(name),
            _ => None,
        }
    }

    /// Checks a locked revision: which files are linked, which blobs are there.
    pub fn status(&self, m: &LockedModel) -> SnapshotStatus {
        let mut s = SnapshotStatus {
            state: State::Missing,
            files: m.files.len(),
            files_linked: 0,
            bytes_total: 0,
            bytes_cached: 0,
            missing_blobs: BTreeMap::new(),
        };
        for f in &m.files {
            s.bytes_total += f.size;
            let linked = self.snapshot_file(&m.repo, &m.sha, &f.path);
            // A link whose target has the wrong size is a file the Hub has changed under a
            // sha (impossible) or a damaged cache: count it as absent either way.
            let linked_ok = linked == Some(f.size);
            if linked_ok {
                s.files_linked += 1;
            }
            if linked_ok || self.blob_size(&m.repo, &f.blob) == Some(f.size) {
                s.bytes_cached += f.size;
            } else {
                s.missing_blobs.insert(f.blob.clone(), f.size);
            }
        }
        s.state = if s.files_linked == s.files {
            State::Complete
        } else if s.files_linked == 0 && s.bytes_cached == 0 {
            State::Missing
        } else {
            State::Partial
        };
        s
    }

    /// Every file of a snapshot (for an unpinned service: what the cache holds without a
    /// lock to compare with), sorted, with sizes; broken links are left out.
    pub fn snapshot_listing(&self, repo: &str, sha: &str) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        if !is_sha(sha) {
            return out;
        }
        let dir = self.repo_dir(repo).join("snapshots").join(sha);
        walk(&dir, String::new(), &mut |rel, path| {
            if let Some(n) = self.entry_size(repo, path) {
                out.push((rel.to_string(), n));
            }
        });
        out.sort();
        out
    }

    /// Blob names a snapshot links to.
    fn snapshot_blobs(&self, repo: &str, sha: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let dir = self.repo_dir(repo).join("snapshots").join(sha);
        walk(&dir, String::new(), &mut |_, path| {
            if let Some(name) = self.link_blob(repo, path) {
                out.insert(name);
            }
        });
        out
    }

    /// The blobs (with sizes) that deleting the snapshot `sha` frees, as `hf cache rm <sha>`
    /// does: those no other snapshot of the repo links to.
    pub fn revision_blobs(&self, repo: &str, sha: &str) -> BTreeMap<String, u64> {
        let others: BTreeSet<String> = fs::read_dir(self.repo_dir(repo).join("snapshots"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|s| s != sha)
                    .flat_map(|s| self.snapshot_blobs(repo, &s))
                    .collect()
            })
            .unwrap_or_default();
        self.snapshot_blobs(repo, sha)
            .into_iter()
            .filter(|b| !others.contains(b))
            .filter_map(|b| self.blob_size(repo, &b).map(|n| (b, n)))
            .collect()
    }

    /// Every model folder in the cache, sorted by repo id. Datasets and spaces are not
    /// aimgen's business and are skipped.
    pub fn repos(&self) -> Vec<CachedRepo> {
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&self.root) else { return out };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("models--") else { continue };
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            // Repo ids cannot contain `--`, so the first `--` is the `/`. A folder whose name
            // is no repo id (a crafted one could carry shell or terminal syntax) is not listed.
            let repo = rest.replacen("--", "/", 1);
            if !crate::ids::is_repo_id(&repo) {
                continue;
            }
            let dir = e.path();
            let bytes = fs::read_dir(dir.join("blobs"))
                .map(|rd| {
                    rd.flatten().filter_map(|b| b.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum::<u64>()
                })
                .unwrap_or(0);
            let mut snapshots: Vec<String> = fs::read_dir(dir.join("snapshots"))
                .map(|rd| {
                    rd.flatten().map(|s| s.file_name().to_string_lossy().into_owned()).filter(|s| is_sha(s)).collect()
                })
                .unwrap_or_default();
            snapshots.sort();
            out.push(CachedRepo { repo, bytes, snapshots });
        }
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        out
    }
}

/// Visits every non-directory entry under `dir` (not following directory links), depth first,
/// with its `/`-separated path relative to the start. Bounded depth: a cache is shallow.
fn walk(dir: &Path, prefix: String, visit: &mut dyn FnMut(&str, &Path)) {
    fn go(dir: &Path, prefix: &str, depth: usize, visit: &mut dyn FnMut(&str, &Path)) {
        if depth > 32 {
            return;
        }
        let Ok(rd) = fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            match e.file_type() {
                Ok(t) if t.is_dir() => go(&e.path(), &rel, depth + 1, visit),
                Ok(_) => visit(&rel, &e.path()),
                Err(_) => {}
            }
        }
    }
    go(dir, &prefix, 0, visit);
}
