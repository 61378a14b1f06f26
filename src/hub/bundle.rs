//! Air-gapped bundles: a fleet's locked model files in one tar file, in the Hugging Face cache
//! layout, for a host that cannot reach the Hub.
//!
//! A bundle is a POSIX tar (ustar, with pax records for long names and sizes of 8 GiB and
//! more) holding, in this order:
//!
//! ```text
//! aimgen-bundle.json                   the manifest: each model's repo, revision, commit, files
//! models--{org}--{name}/blobs/<blob>   each blob the manifest names, once per repo
//! ```
//!
//! Only regular files: the snapshot links and refs are recreated from the manifest by the
//! importer, never unpacked, because a link member is how a tar file writes outside the folder
//! it is unpacked into. The importer accepts nothing but the manifest and the blobs it names,
//! checks every size and content id (sha256 for LFS files, git blob sha1 otherwise) before a
//! blob takes its final name, and writes only below the cache folder it was given.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use crate::ids::{is_repo_id, is_revision, is_sha};
use crate::lockfile::{is_safe_path, LockedModel, MAX_FILE_SIZE};
use crate::safe_fs::Dir;

/// The manifest's member name; always the first member.
pub const MANIFEST: &str = "aimgen-bundle.json";
/// The only manifest format version.
pub const VERSION: u32 = 1;
/// Largest manifest accepted (a lock of every file of a large fleet is far smaller).
const MAX_MANIFEST: u64 = 16 << 20;
const BLOCK: usize = 512;

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `aimgen-bundle`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The locked models, as in the fleet's lock file.
    pub models: Vec<LockedModel>,
}

/// One blob member: where it goes and what it must be.
#[derive(Debug, Clone)]
pub struct Member {
    /// Repo id.
    pub repo: String,
    /// Content id (the blob's file name).
    pub blob: String,
    /// Size in bytes.
    pub size: u64,
    /// A file that uses it, for messages.
    pub path: String,
}

impl Member {
    /// Its name inside the bundle (and below the cache folder).
    pub fn name(&self) -> String {
        format!("{}/blobs/{}", super::repo_folder(&self.repo), self.blob)
    }
}

impl Manifest {
    /// A manifest of these locked models.
    pub fn new(models: Vec<LockedModel>) -> Manifest {
        Manifest { format: "aimgen-bundle".into(), version: VERSION, models }
    }

    /// The blob members, each (repo, blob) once, in manifest order.
    pub fn members(&self) -> Vec<Member> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for m in &self.models {
            for f in &m.files {
                if seen.insert((m.repo.clone(), f.blob.clone())) {
                    out.push(Member { repo: m.repo.clone(), blob: f.blob.clone(), size: f.size, path: f.path.clone() });
                }
            }
        }
        out
    }

    /// Bytes of all blob members.
    pub fn bytes(&self) -> u64 {
        self.members().iter().map(|m| m.size).sum()
    }

    /// Everything that is joined to a path or trusted later, checked: a manifest from a bundle
    /// is untrusted input.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.format != "aimgen-bundle" || self.version != VERSION {
            bail!(
                "{MANIFEST}: not an aimgen bundle of version {VERSION} (format `{}`, version {})",
                self.format,
                self.version
            );
        }
        let mut sizes: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for m in &self.models {
            let at = format!("{}@{}", m.repo, m.revision);
            if !is_repo_id(&m.repo) || !is_revision(&m.revision) || !is_sha(&m.sha) {
                bail!("{MANIFEST}: `{}` is not a valid repo, revision and commit", at.escape_debug());
            }
            for f in &m.files {
                if !is_safe_path(&f.path) {
                    bail!("{MANIFEST}: {at}: `{}` is not a relative path inside the repo", f.path.escape_debug());
                }
                if !is_blob_id(&f.blob) || f.size > MAX_FILE_SIZE {
                    bail!("{MANIFEST}: {at}: `{}` has an invalid blob id or size", f.path);
                }
                if let Some(old) = sizes.insert((&m.repo, &f.blob), f.size) {
                    if old != f.size {
                        bail!("{MANIFEST}: {at}: blob {} is listed with two sizes", f.blob);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A content id: 40 hex digits (git blob sha1) or 64 (sha256).
pub fn is_blob_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Hashes content the way its blob id was made: sha256 of the bytes for a 64-hex id, git's
/// `blob <size>\0` + bytes under sha1 for a 40-hex one.
pub struct BlobHasher {
    ctx: ring::digest::Context,
}

impl BlobHasher {
    /// A hasher for a blob of this id and size.
    pub fn new(blob: &str, size: u64) -> BlobHasher {
        if blob.len() == 64 {
            BlobHasher { ctx: ring::digest::Context::new(&ring::digest::SHA256) }
        } else {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(format!("blob {size}\0").as_bytes());
            BlobHasher { ctx }
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The id, lowercase hex.
    pub fn finish(self) -> String {
        self.ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What the id is called in messages.
    pub fn kind(blob: &str) -> &'static str {
        if blob.len() == 64 {
            "sha256"
        } else {
            "git blob sha1"
        }
    }
}

// ---- tar writing -------------------------------------------------------------------------

/// Writes tar members: ustar headers, a pax record first when a name or size does not fit.
pub struct TarWriter<W: Write> {
    out: W,
}

impl<W: Write> TarWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> TarWriter<W> {
        TarWriter { out }
    }

    /// Starts a regular file member; exactly `size` bytes must follow through `write_data`,
    /// then `end_member`.
    pub fn begin(&mut self, name: &str, size: u64) -> io::Result<()> {
        let long_name = name.len() > 100;
        let big = size > 0o77777777777;
        if long_name || big {
            let mut records = String::new();
            if long_name {
                records.push_str(&pax_record("path", name));
            }
            if big {
                records.push_str(&pax_record("size", &size.to_string()));
            }
            self.out.write_all(&header("././@PaxHeader", records.len() as u64, b'x'))?;
            self.out.write_all(records.as_bytes())?;
            self.pad(records.len() as u64)?;
        }
        let short: String = name.chars().take(100).collect();
        self.out.write_all(&header(&short, if big { 0 } else { size }, b'0'))
    }

    /// Member content.
    pub fn write_data(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)
    }

    /// Pads the member that had `size` bytes to a whole block.
    pub fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        self.out.write_all(&vec![0u8; rest as usize])
    }

    /// The end-of-archive marker; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; BLOCK * 2])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A pax extended header record: `<len> <key>=<value>\n`, where `<len>` counts itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

fn header(name: &str, size: u64, kind: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let put = |h: &mut [u8; BLOCK], at: usize, s: &[u8]| h[at..at + s.len()].copy_from_slice(s);
    put(&mut h, 0, &name.as_bytes()[..name.len().min(100)]);
    put(&mut h, 100, b"0000644\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    // mtime 0: the same cache gives the same bundle, byte for byte.
    put(&mut h, 136, b"00000000000\0");
    h[156] = kind;
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    put(&mut h, 148, b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

// ---- tar reading -------------------------------------------------------------------------

/// One member header as read.
#[derive(Debug)]
pub struct Entry {
    /// Member name.
    pub name: String,
    /// Content size.
    pub size: u64,
    /// Type flag (`0` regular file).
    pub kind: u8,
}

/// Reads tar members in order; refuses what this format never writes.
pub struct TarReader<R: Read> {
    inp: R,
    /// Bytes of the current member not read yet, and its padding.
    left: u64,
    pad: u64,
}

impl<R: Read> TarReader<R> {
    /// A reader over `inp`.
    pub fn new(inp: R) -> TarReader<R> {
        TarReader { inp, left: 0, pad: 0 }
    }

    /// The next member, `None` at the end marker. The previous member's content must have
    /// been read or is skipped.
    pub fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        self.skip_rest()?;
        let mut pax: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut h = [0u8; BLOCK];
            self.inp.read_exact(&mut h).context("the bundle ends in the middle of a member header")?;
            if h.iter().all(|b| *b == 0) {
                return Ok(None);
            }
            let stored = octal(&h[148..156]).ok_or_else(|| anyhow!("a member header has no valid checksum"))?;
            let sum: u64 =
                h.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u64::from(*b) }).sum();
            if stored != sum {
                bail!("a member header's checksum is wrong: the bundle is damaged");
            }
            let kind = h[156];
            let mut size = if h[124] & 0x80 != 0 {
                h[125..136].iter().fold(0u64, |n, b| n.saturating_mul(256).saturating_add(u64::from(*b)))
            } else {
                octal(&h[124..136]).ok_or_else(|| anyhow!("a member header has an invalid size"))?
            };
            let field = |r: std::ops::Range<usize>| {
                let raw = &h[r];
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            };
            let mut name = field(0..100);
            let prefix = field(345..500);
            if &h[257..262] == b"ustar" && !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
            if kind == b'x' {
                if size > 1 << 20 {
                    bail!("a pax header of {size} bytes is too large");
                }
                let mut buf = vec![0u8; size as usize];
                self.inp.read_exact(&mut buf).context("the bundle ends inside a pax header")?;
                self.skip(pad_of(size))?;
                pax = parse_pax(&buf)?;
                continue;
            }
            if let Some(p) = pax.get("path") {
                name = p.clone();
            }
            if let Some(s) = pax.get("size") {
                size = s.parse().map_err(|_| anyhow!("a pax size `{s}` is not a number"))?;
            }
            self.left = size;
            self.pad = pad_of(size);
            return Ok(Some(Entry { name, size, kind }));
        }
    }

    /// Content of the current member, into `buf`; 0 at its end.
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inp.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the bundle ends in the middle of a member"));
        }
        self.left -= n as u64;
        Ok(n)
    }

    fn skip_rest(&mut self) -> anyhow::Result<()> {
        let n = self.left + self.pad;
        self.left = 0;
        self.pad = 0;
        self.skip(n)
    }

    fn skip(&mut self, n: u64) -> anyhow::Result<()> {
        let copied = io::copy(&mut (&mut self.inp).take(n), &mut io::sink())?;
        if copied != n {
            bail!("the bundle ends in the middle of a member");
        }
        Ok(())
    }
}

fn pad_of(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn octal(raw: &[u8]) -> Option<u64> {
    let s: String = raw.iter().map(|b| *b as char).collect();
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn parse_pax(buf: &[u8]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ').ok_or_else(|| anyhow!("a pax record is malformed"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|l| *l > sp + 1 && *l <= rest.len())
            .ok_or_else(|| anyhow!("a pax record has an invalid length"))?;
        let record = std::str::from_utf8(&rest[sp + 1..len - 1]).map_err(|_| anyhow!("a pax record is not UTF-8"))?;
        let (k, v) = record.split_once('=').ok_or_else(|| anyhow!("a pax record has no `=`"))?;
        out.insert(k.to_string(), v.to_string());
        rest = &rest[len..];
    }
    Ok(out)
}

// ---- export and import ---------------------------------------------------------------------

/// Progress on standard error, only on a terminal.
pub trait Progress {
    /// `done` of `total` bytes.
    fn update(&mut self, done: u64, total: u64);
}

/// No progress.
pub struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: u64, _: u64) {}
}

/// A cache file that should hold `m`: `blobs/<blob>` below the repo folder.
pub fn blob_path(cache: &Path, repo: &str, blob: &str) -> PathBuf {
    cache.join(super::repo_folder(repo)).join("blobs").join(blob)
}

/// Problems that keep a locked model out of a bundle: `(repo@revision, path, why)`.
pub fn missing(cache: &Path, models: &[LockedModel]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for m in models {
        for f in &m.files {
            let why = match fs::metadata(blob_path(cache, &m.repo, &f.blob)) {
                Ok(md) if md.is_file() && md.len() == f.size => continue,
                Ok(md) => format!("{} bytes instead of {}", md.len(), f.size),
                Err(_) => "not in the cache".to_string(),
            };
            out.push((format!("{}@{}", m.repo, crate::hub::short(&m.sha)), f.path.clone(), why));
        }
    }
    out
}

/// Writes a bundle of `manifest` from the cache at `cache` into `out`, hashing every blob on
/// the way (a damaged cache file is refused here rather than at import).
pub fn export<W: Write>(cache: &Path, manifest: &Manifest, out: W, progress: &mut dyn Progress) -> anyhow::Result<W> {
    let mut tar = TarWriter::new(out);
    let text = format!("{}\n", serde_json::to_string_pretty(manifest)?);
    tar.begin(MANIFEST, text.len() as u64)?;
    tar.write_data(text.as_bytes())?;
    tar.pad(text.len() as u64)?;
    let total = manifest.bytes();
    let mut done = 0;
    let mut buf = vec![0u8; 1 << 20];
    for m in manifest.members() {
        let path = blob_path(cache, &m.repo, &m.blob);
        let mut file = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        tar.begin(&m.name(), m.size)?;
        let mut hasher = BlobHasher::new(&m.blob, m.size);
        let mut left = m.size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                bail!("{} ({}: {}) is shorter than the lock says", path.display(), m.repo, m.path);
            }
            hasher.update(&buf[..n]);
            tar.write_data(&buf[..n])?;
            left -= n as u64;
            done += n as u64;
            progress.update(done, total);
        }
        if hasher.finish() != m.blob {
            bail!(
                "{} ({}: {}) does not match its {}: the cache copy is damaged; remove it and run the prefetch again",
                path.display(),
                m.repo,
                m.path,
                BlobHasher::kind(&m.blob)
            );
        }
        tar.pad(m.size)?;
    }
    Ok(tar.finish()?)
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Blobs written.
    pub written: usize,
    /// Bytes written.
    pub bytes_written: u64,
    /// Blobs already in the cache with the right size (kept, not rewritten).
    pub shared: usize,
    /// Snapshot links made or confirmed.
    pub links: usize,
    /// The models, `repo@sha`.
    pub models: Vec<String>,
}

/// Reads a bundle, verifies every blob against the manifest, and places blobs, snapshot links
/// and refs below `cache`. Nothing outside `cache` is written; a blob takes its final name
/// only once its content id matched; snapshot links are made only after every blob did.
pub fn import<R: Read>(inp: R, cache: &Path, progress: &mut dyn Progress) -> anyhow::Result<Imported> {
    let mut tar = TarReader::new(BufReader::with_capacity(1 << 20, inp));
    let first = tar.next_entry()?.ok_or_else(|| anyhow!("the bundle is empty"))?;
    if first.name != MANIFEST || !matches!(first.kind, b'0' | 0) || first.size > MAX_MANIFEST {
        bail!("not an aimgen bundle: the first member is `{}`, not {MANIFEST}", first.name.escape_debug());
    }
    let mut text = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = tar.read_data(&mut buf)?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let manifest: Manifest = serde_json::from_slice(&text).with_context(|| format!("{MANIFEST} is not valid"))?;
    manifest.validate()?;
    let mut expected: BTreeMap<String, Member> = manifest.members().into_iter().map(|m| (m.name(), m)).collect();
    let total = manifest.bytes();
    let mut done = 0;
    let mut report = Imported::default();
    let root = cache_root(cache)?;
    while let Some(e) = tar.next_entry()? {
        let shown = e.name.escape_debug().to_string();
        if !matches!(e.kind, b'0' | 0) {
            bail!("the bundle member `{shown}` is not a regular file (type `{}`): refused", e.kind as char);
        }
        if e.name.starts_with('/') || e.name.split('/').any(|c| c == ".." || c.is_empty()) {
            bail!("the bundle member `{shown}` is not a plain relative path: refused");
        }
        let m = expected.remove(&e.name).ok_or_else(|| {
            anyhow!("the bundle member `{shown}` is not in its manifest (or is there twice): refused")
        })?;
        if e.size != m.size {
            bail!(
                "the bundle member `{shown}` ({}: {}) has {} bytes, its manifest says {}",
                m.repo,
                m.path,
                e.size,
                m.size
            );
        }
        let dest = blob_path(cache, &m.repo, &m.blob);
        let dir = ensure_dirs(&root, &[&super::repo_folder(&m.repo), "blobs"])?;
        let present = dir.metadata(&m.blob).ok().flatten().is_some_and(|md| md.is_file() && md.len() == m.size);
        // Created exclusively under an unpredictable name in a folder reached by handle, and
        // renamed through that handle: no planted link, here or in a folder above, can
        // redirect the write. Dropped unplaced (an error, a bad hash), the file is removed.
        let mut out = if present {
            None
        } else {
            let (name, file) =
                dir.create_temp(&m.blob).with_context(|| format!("writing in {}", dir.path().display()))?;
            Some((Staged { dir: &dir, name, placed: false }, file))
        };
        let mut hasher = BlobHasher::new(&m.blob, m.size);
        loop {
            let n = tar.read_data(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if let Some((staged, o)) = out.as_mut() {
                o.write_all(&buf[..n])
                    .with_context(|| format!("writing {}", dir.path().join(&staged.name).display()))?;
            }
            done += n as u64;
            progress.update(done, total);
        }
        if hasher.finish() != m.blob {
            bail!(
                "the bundle member `{shown}` ({}: {}) does not match its {}: the bundle is damaged or was altered; nothing of it is linked",
                m.repo,
                m.path,
                BlobHasher::kind(&m.blob)
            );
        }
        if let Some((staged, o)) = out {
            o.sync_all()?;
            drop(o);
            staged.place(&m.blob).with_context(|| format!("placing {}", dest.display()))?;
            report.written += 1;
            report.bytes_written += m.size;
        } else {
            report.shared += 1;
        }
    }
    if let Some((name, m)) = expected.iter().next() {
        bail!("the bundle lacks `{name}` ({}: {}) that its manifest lists", m.repo, m.path);
    }
    for m in &manifest.models {
        report.links += link_snapshot(&root, m)?;
        report.models.push(format!("{}@{}", m.repo, crate::hub::short(&m.sha)));
    }
    Ok(report)
}

/// A temporary file written in `dir`, removed when dropped unless `place`d.
struct Staged<'a> {
    dir: &'a Dir,
    name: String,
    placed: bool,
}

impl Staged<'_> {
    /// Renames the file to `to` in its folder.
    fn place(mut self, to: &str) -> io::Result<()> {
        self.dir.rename(&self.name, to)?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.placed {
            let _ = self.dir.remove(&self.name);
        }
    }
}

/// Creates `snapshots/<sha>/<path>` → `../../blobs/<blob>` for every file, and
/// `refs/<revision>` when the revision is a branch or tag.
fn link_snapshot(root: &Dir, m: &LockedModel) -> anyhow::Result<usize> {
    let repo = super::repo_folder(&m.repo);
    for f in &m.files {
        let parts: Vec<&str> = f.path.split('/').collect();
        let (file, dirs) = parts.split_last().ok_or_else(|| anyhow!("empty path"))?;
        let mut components = vec![repo.as_str(), "snapshots", m.sha.as_str()];
        components.extend(dirs.iter().copied());
        let dir = ensure_dirs(root, &components)?;
        let target = format!("{}../../blobs/{}", "../".repeat(dirs.len()), f.blob);
        let link = dir.path().join(file);
        if dir.read_link(file).ok().flatten().is_some_and(|t| t == Path::new(&target)) {
            continue;
        }
        let tmp = dir.symlink_temp(file, &target).with_context(|| format!("linking {}", link.display()))?;
        if let Err(e) = dir.rename(&tmp, file) {
            let _ = dir.remove(&tmp);
            return Err(e).with_context(|| format!("linking {}", link.display()));
        }
    }
    if !is_sha(&m.revision) {
        let mut components = vec![repo.as_str(), "refs"];
        let parts: Vec<&str> = m.revision.split('/').collect();
        let (name, dirs) = parts.split_last().ok_or_else(|| anyhow!("empty revision"))?;
        components.extend(dirs.iter().copied());
        let dir = ensure_dirs(root, &components)?;
        let tmp = dir.write_temp(name, m.sha.as_bytes(), false)?;
        if let Err(e) = dir.rename(&tmp, name) {
            let _ = dir.remove(&tmp);
            return Err(e).with_context(|| format!("writing {}", dir.path().join(name).display()));
        }
    }
    Ok(m.files.len())
}

/// The cache folder, created if needed, opened once. Links on the way to it are the user's
/// own choice (a cache on another disk) and are resolved here; below it nothing is.
fn cache_root(cache: &Path) -> anyhow::Result<Dir> {
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let real = fs::canonicalize(cache).with_context(|| format!("opening {}", cache.display()))?;
    Ok(Dir::open(&real).with_context(|| format!("opening {}", cache.display()))?.shown_as(cache))
}

/// `<c1>/<c2>/…` under `root`, each created as needed and opened through the one before it:
/// a component that is a symbolic link (or not a folder) is refused, and replacing a folder on
/// the way by a link after it was checked changes nothing, so nothing is written outside the
/// cache through one.
fn ensure_dirs(root: &Dir, components: &[&str]) -> anyhow::Result<Dir> {
    let mut dir: Option<Dir> = None;
    for c in components {
        if c.is_empty() || *c == "." || *c == ".." || c.contains(['/', '\\']) {
            bail!("`{}` is not a plain path component", c.escape_debug());
        }
        let parent = dir.as_ref().unwrap_or(root);
        let next = parent
            .subdir(c, true)
            .with_context(|| format!("cannot write into {}", root.path().display()))?
            .ok_or_else(|| anyhow!("{} could not be created", parent.path().join(c).display()))?;
        dir = Some(next);
    }
    dir.ok_or_else(|| anyhow!("no folder named"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_git_and_sha256() {
        // `printf 'hello\n' | git hash-object --stdin` and `sha256sum`.
        let mut h = BlobHasher::new(&"0".repeat(40), 6);
        h.update(b"hello\n");
        assert_eq!(h.finish(), "ce013625030ba8dba906f756967f9e9ca394464a");
        let mut h = BlobHasher::new(&"0".repeat(64), 6);
        h.update(b"hello\n");
        assert_eq!(h.finish(), "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    }

    #[test]
    fn tar_round_trips_long_names_and_pax_lengths() {
        for (k, v) in [("path", "x".repeat(94)), ("path", "y".repeat(300)), ("size", "9".repeat(11))] {
            let r = pax_record(k, &v);
            let len: usize = r.split(' ').next().and_then(|n| n.parse().ok()).expect("length");
            assert_eq!(len, r.len(), "{r}");
        }
        let long = format!("models--org--name/blobs/{}", "a".repeat(64)) + "/and/more/to/pass/one/hundred";
        let mut w = TarWriter::new(Vec::new());
        for (name, data) in [("short", &b"abc"[..]), (long.as_str(), &[7u8; 1000][..])] {
            w.begin(name, data.len() as u64).expect("begin");
            w.write_data(data).expect("data");
            w.pad(data.len() as u64).expect("pad");
        }
        let bytes = w.finish().expect("finish");
        assert_eq!(bytes.len() % BLOCK, 0);
        let mut r = TarReader::new(&bytes[..]);
        let e = r.next_entry().expect("ok").expect("first");
        assert_eq!((e.name.as_str(), e.size), ("short", 3));
        let e = r.next_entry().expect("ok").expect("second");
        assert_eq!((e.name.as_str(), e.size), (long.as_str(), 1000));
        let mut buf = [0u8; 4096];
        let n = r.read_data(&mut buf).expect("read");
        assert_eq!(&buf[..n], &[7u8; 1000][..]);
        assert!(r.next_entry().expect("ok").is_none());
    }

    #[test]
    fn headers_are_what_gnu_tar_expects() {
        let h = header("a/b", 5, b'0');
        assert_eq!(&h[257..263], b"ustar\0");
        assert_eq!(octal(&h[124..136]), Some(5));
        let sum: u64 =
            h.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u64::from(*b) }).sum();
        assert_eq!(octal(&h[148..156]), Some(sum));
    }
}
