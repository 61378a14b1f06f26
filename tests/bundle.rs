//! `aimgen cache export` / `cache import`, run as the built binary on caches laid out by the
//! tests with real content (blob ids are the content's sha256 or git blob sha1). Offline.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use aimgen::hub::bundle::BlobHasher;
use common::hub_fixtures::*;
use common::*;

const CHAT_SHA: &str = "1111111111111111111111111111111111111111";
const CODER_SHA: &str = "2222222222222222222222222222222222222222";

/// A file of a test model: path, content, LFS or not.
struct TestFile {
    path: &'static str,
    data: Vec<u8>,
    lfs: bool,
}

impl TestFile {
    fn blob(&self) -> String {
        let id = if self.lfs { "0".repeat(64) } else { "0".repeat(40) };
        let mut h = BlobHasher::new(&id, self.data.len() as u64);
        h.update(&self.data);
        h.finish()
    }
}

fn chat() -> Vec<TestFile> {
    vec![
        TestFile { path: "config.json", data: b"{\"model_type\": \"llama\"}\n".to_vec(), lfs: false },
        TestFile { path: "model.safetensors", data: (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect(), lfs: true },
        // The same weights under a second name: one blob, two links.
        TestFile {
            path: "sub/copy.safetensors",
            data: (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect(),
            lfs: true,
        },
    ]
}

fn coder() -> Vec<TestFile> {
    vec![
        TestFile { path: "config.json", data: b"{\"model_type\": \"qwen2\"}\n".to_vec(), lfs: false },
        TestFile { path: "tokenizer.json", data: vec![b'x'; 1500], lfs: false },
    ]
}

/// Lays the models out in `cache` as huggingface_hub does (blobs, relative links, refs).
fn fill(cache: &Path, repo: &str, sha: &str, files: &[TestFile]) {
    let folder = cache.join(format!("models--{}", repo.replace('/', "--")));
    fs::create_dir_all(folder.join("blobs")).expect("blobs");
    fs::create_dir_all(folder.join("refs")).expect("refs");
    fs::write(folder.join("refs/main"), sha).expect("ref");
    for f in files {
        fs::write(folder.join("blobs").join(f.blob()), &f.data).expect("blob");
        let link = folder.join("snapshots").join(sha).join(f.path);
        fs::create_dir_all(link.parent().expect("parent")).expect("snapshot dir");
        let up = "../".repeat(f.path.matches('/').count());
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("{up}../../blobs/{}", f.blob()), &link).expect("link");
    }
}

fn lock_entry(repo: &str, sha: &str, files: &[TestFile]) -> String {
    let mut sorted: Vec<&TestFile> = files.iter().collect();
    sorted.sort_by_key(|f| f.path);
    let files: String = sorted
        .iter()
        .map(|f| {
            format!("      - path: \"{}\"\n        size: {}\n        blob: \"{}\"\n", f.path, f.data.len(), f.blob())
        })
        .collect();
    format!("  - repo: {repo}\n    revision: main\n    sha: \"{sha}\"\n    files:\n{files}")
}

/// A locked fleet of two models (one used by two services) and a cache holding them.
fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    fleet(
        &dir,
        "  a:\n    model: acme/chat\n    gpus: 1\n    recipe: test/vllm-amd\n  b:\n    model: acme/chat\n    gpus: 1\n    recipe: test/vllm-amd\n  c:\n    model: acme/coder\n    gpus: 1\n    recipe: test/vllm-amd\n",
        "",
    );
    write(
        &dir,
        "fleet.lock",
        &format!(
            "version: 1\nmodels:\n{}{}",
            lock_entry("acme/chat", CHAT_SHA, &chat()),
            lock_entry("acme/coder", CODER_SHA, &coder())
        ),
    );
    let cache = dir.join("cache");
    fill(&cache, "acme/chat", CHAT_SHA, &chat());
    fill(&cache, "acme/coder", CODER_SHA, &coder());
    (dir, cache)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

#[test]
fn export_then_import_recreates_the_locked_snapshots_and_shares_blobs() {
    let (dir, cache) = setup("bundle-roundtrip");
    // Something the lock does not name stays out of the bundle.
    fs::write(cache.join("models--acme--chat/blobs/unrelated"), b"not locked").expect("extra");
    let bundle = dir.join("fleet.tar");
    let o = aimgen_in(&dir, &["cache", "export", "fleet.yaml", "--cache-dir", s(&cache), "-o", s(&bundle)], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("2 models, 4 files"), "{}", stderr(&o));
    let tar = fs::read(&bundle).expect("bundle");
    assert!(!tar.windows(10).any(|w| w == b"not locked"), "an unlocked file was bundled");
    // Byte-stable: the same cache gives the same bundle.
    let again = dir.join("again.tar");
    assert_eq!(
        code(&aimgen_in(&dir, &["cache", "export", "fleet.yaml", "--cache-dir", s(&cache), "-o", s(&again)], &[])),
        0
    );
    assert_eq!(fs::read(&again).expect("again"), tar);

    let fresh = dir.join("fresh");
    let o = aimgen_in(&dir, &["cache", "import", s(&bundle), "--cache-dir", s(&fresh)], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("4 files written"), "{}", stderr(&o));
    for (repo, sha, files) in [("acme/chat", CHAT_SHA, chat()), ("acme/coder", CODER_SHA, coder())] {
        let folder = fresh.join(format!("models--{}", repo.replace('/', "--")));
        assert_eq!(fs::read_to_string(folder.join("refs/main")).expect("ref"), sha);
        for f in &files {
            let link = folder.join("snapshots").join(sha).join(f.path);
            assert!(fs::symlink_metadata(&link).expect("link").file_type().is_symlink(), "{repo}: {}", f.path);
            assert_eq!(fs::read(&link).expect("content"), f.data, "{repo}: {}", f.path);
        }
    }
    // `cache status` agrees: complete, nothing to download.
    let o = aimgen_in(&dir, &["cache", "status", "fleet.yaml", "--cache-dir", s(&fresh), "--format", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(doc["bytes_missing"], 0, "{doc}");

    // A second import shares every blob already there.
    let o = aimgen_in(&dir, &["cache", "import", s(&bundle), "--cache-dir", s(&fresh)], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("0 files written") && stderr(&o).contains("4 already present"), "{}", stderr(&o));
}

#[test]
fn export_refuses_without_a_lock_or_with_files_missing() {
    let (dir, cache) = setup("bundle-refuse");
    let bundle = dir.join("fleet.tar");
    fs::remove_file(cache.join("models--acme--coder/blobs").join(coder()[1].blob())).expect("rm");
    let o = aimgen_in(&dir, &["cache", "export", "fleet.yaml", "--cache-dir", s(&cache), "-o", s(&bundle)], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("acme/coder@222222222222: tokenizer.json (not in the cache)"), "{}", stderr(&o));
    assert!(!bundle.exists());

    // A cache copy whose content no longer matches its id is not exported either.
    let (dir, cache) = setup("bundle-damaged");
    fs::write(cache.join("models--acme--coder/blobs").join(coder()[1].blob()), vec![b'y'; 1500]).expect("damage");
    let o = aimgen_in(&dir, &["cache", "export", "fleet.yaml", "--cache-dir", s(&cache), "-o", s(&bundle)], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("(acme/coder: tokenizer.json) does not match its git blob sha1"), "{}", stderr(&o));
    assert!(
        !bundle.exists()
            && fs::read_dir(&dir).expect("dir").all(|e| !e
                .expect("e")
                .file_name()
                .to_string_lossy()
                .contains("aimgen-"))
    );

    fs::remove_file(dir.join("fleet.lock")).expect("rm lock");
    let o = aimgen_in(&dir, &["cache", "export", "fleet.yaml", "--cache-dir", s(&cache), "-o", s(&bundle)], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("has no lock file") && stderr(&o).contains("aimgen lock fleet.yaml"), "{}", stderr(&o));
}

#[test]
fn import_refuses_a_tampered_bundle_naming_the_file_and_links_nothing() {
    let (dir, cache) = setup("bundle-tamper");
    let bundle = exported(&dir, &cache);
    let mut tar = fs::read(&bundle).expect("bundle");
    // Flip one byte of the weights (the 70,000-byte member).
    let weights = chat()[1].data.clone();
    let at = tar.windows(64).position(|w| w == &weights[1000..1064]).expect("weights in the bundle");
    tar[at] ^= 0xff;
    fs::write(&bundle, &tar).expect("write");
    let fresh = dir.join("fresh");
    let o = aimgen_in(&dir, &["cache", "import", s(&bundle), "--cache-dir", s(&fresh)], &[]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains(&format!("models--acme--chat/blobs/{}", chat()[1].blob())), "{err}");
    assert!(err.contains("acme/chat: model.safetensors") && err.contains("does not match its sha256"), "{err}");
    assert!(!fresh.join("models--acme--chat/snapshots").exists(), "a snapshot was linked from a tampered bundle");
    assert!(!fresh.join("models--acme--chat/blobs").join(chat()[1].blob()).exists(), "a bad blob was placed");
    // Blobs verified before the bad one may stay (their content is right); no temporary file does.
    let leftovers: Vec<String> = fs::read_dir(fresh.join("models--acme--chat/blobs"))
        .expect("blobs")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("aimgen"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// A cache folder that is itself a symbolic link (a cache on another disk) is the user's own
/// choice and is followed; only links below it are refused.
#[test]
fn import_follows_a_linked_cache_root() {
    let (dir, cache) = setup("bundle-linked-root");
    let bundle = exported(&dir, &cache);
    let disk = dir.join("other-disk");
    fs::create_dir(&disk).expect("disk");
    let linked = dir.join("linked-cache");
    std::os::unix::fs::symlink(&disk, &linked).expect("link");
    let o = aimgen_in(&dir, &["cache", "import", s(&bundle), "--cache-dir", s(&linked)], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(s(&linked)), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(disk.join("models--acme--chat/refs/main")).expect("ref"), CHAT_SHA);
}

/// `dir/fleet.tar`, exported from `cache` for `dir/fleet.yaml`.
fn exported(dir: &Path, cache: &Path) -> PathBuf {
    let bundle = dir.join("fleet.tar");
    let o = aimgen_in(dir, &["cache", "export", "fleet.yaml", "--cache-dir", s(cache), "-o", s(&bundle)], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    bundle
}

/// A hand-made tar with one member after a valid manifest.
fn hostile(dir: &Path, name: &str, kind: u8, data: &[u8]) -> PathBuf {
    use aimgen::hub::bundle::{Manifest, TarWriter};
    let manifest = Manifest::new(vec![]);
    let text = format!("{}\n", serde_json::to_string(&manifest).expect("json"));
    let mut w = TarWriter::new(Vec::new());
    w.begin("aimgen-bundle.json", text.len() as u64).expect("begin");
    w.write_data(text.as_bytes()).expect("data");
    w.pad(text.len() as u64).expect("pad");
    w.begin(name, data.len() as u64).expect("begin");
    w.write_data(data).expect("data");
    w.pad(data.len() as u64).expect("pad");
    let mut bytes = w.finish().expect("finish");
    // Patch the type flag and checksum of the second member's header (the third block).
    let h = &mut bytes[1024..1536];
    h[156] = kind;
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let path = dir.join(format!("hostile-{}.tar", kind as char));
    fs::write(&path, bytes).expect("write");
    path
}

#[test]
fn import_refuses_paths_out_of_the_cache_links_and_strangers() {
    let dir = scratch("bundle-hostile");
    let cache = dir.join("cache");
    for (name, kind, want) in [
        ("../escape", b'0', "not a plain relative path"),
        ("/etc/escape", b'0', "not a plain relative path"),
        ("models--a--b/blobs/link", b'2', "not a regular file"),
        ("models--a--b/blobs/hard", b'1', "not a regular file"),
        ("models--a--b/blobs/stranger", b'0', "not in its manifest"),
    ] {
        let bundle = hostile(&dir, name, kind, b"payload");
        let o = aimgen_in(&dir, &["cache", "import", s(&bundle), "--cache-dir", s(&cache)], &[]);
        assert_eq!(code(&o), 2, "{name}");
        assert!(stderr(&o).contains(want), "{name}: {}", stderr(&o));
        assert!(!dir.join("escape").exists() && !Path::new("/etc/escape").exists());
        assert!(!cache.join("models--a--b/blobs/link").exists());
    }
    // Not a bundle at all.
    let junk = PathBuf::from(write(&dir, "junk.tar", "hello"));
    let o = aimgen_in(&dir, &["cache", "import", s(&junk), "--cache-dir", s(&cache)], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
}

#[test]
fn import_never_writes_through_a_symlink_in_the_cache() {
    let (dir, cache) = setup("bundle-symlink");
    let bundle = exported(&dir, &cache);
    let fresh = dir.join("fresh");
    let outside = dir.join("outside");
    fs::create_dir_all(&fresh).expect("fresh");
    fs::create_dir_all(&outside).expect("outside");
    std::os::unix::fs::symlink(&outside, fresh.join("models--acme--chat")).expect("symlink");
    let o = aimgen_in(&dir, &["cache", "import", s(&bundle), "--cache-dir", s(&fresh)], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&outside).expect("outside").count(), 0, "wrote through the link");
}
