//! `aimgen cache status FLEET`: offline. For each service, whether its locked snapshot is in
//! the Hugging Face cache, the bytes cached and still to download; models and revisions in the
//! cache that no service uses, with the `hf cache rm` command that would free them. aimgen
//! deletes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use serde::Serialize;

use super::bundle::{CacheExportArgs, CacheImportArgs};
use super::report::read_fleet;
use super::report::Format;
use crate::hub::cache::{self, CacheOrigin, HubCache};
use crate::hub::{human_bytes, short};
use crate::lockfile::{hub_key, LockedModel};
use crate::text::shell_quote;

/// `aimgen cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Per service: is its locked snapshot cached, and what is left to download.
    ///
    /// Also lists models and revisions in the cache that no service uses, with the `hf cache
    /// rm` command that would remove them. Reads only; deletes nothing.
    Status(CacheStatusArgs),
    /// Write the fleet's locked model files from a local cache into one tar file, for a host
    /// that cannot reach the Hub.
    ///
    /// The bundle holds exactly the files of the fleet's lock, in the Hugging Face cache layout
    /// (blobs; the snapshot links and refs are recreated by `cache import` from its manifest).
    /// Every blob is hashed on the way. Refuses a fleet without a lock file. No network.
    Export(CacheExportArgs),
    /// Verify a bundle written by `cache export` and place its files into a cache.
    ///
    /// Checks each file's size and content id (sha256 for large files, git blob sha1 for the
    /// rest) before it takes its place, keeps blobs already present, then links the snapshots
    /// and writes the refs. A damaged or altered bundle is refused, naming the file. Writes
    /// nothing outside the cache folder. No network.
    Import(CacheImportArgs),
}

/// `aimgen cache status`.
#[derive(Debug, Args)]
pub struct CacheStatusArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// The hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else the fleet's
    /// `<cache.host_path>/hub`, else ~/.cache/huggingface/hub).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Format of the report: a table, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// One service's line.
#[derive(Debug, Serialize)]
struct Row {
    service: String,
    model: String,
    /// The revision the service asks for (`null` for a local `model_path`).
    revision: Option<String>,
    /// The locked commit; for an unpinned service, what `refs/<revision>` holds, if anything.
    sha: Option<String>,
    /// complete, partial, missing; `unpinned` without a lock entry; `local` for `model_path`.
    state: &'static str,
    /// Locked files (for an unpinned service: files in its cached snapshot).
    files: Option<usize>,
    /// Of those, present in the snapshot.
    files_cached: Option<usize>,
    bytes_total: Option<u64>,
    bytes_cached: Option<u64>,
    bytes_missing: Option<u64>,
}

/// Something in the cache no service needs.
#[derive(Debug, Serialize)]
struct Unused {
    model: String,
    /// For a revision of a model the fleet uses: its commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha: Option<String>,
    /// What removing it frees.
    bytes: u64,
    /// Of those, bytes of blobs a locked service still needs (another revision of the same
    /// model shares them but has not linked them yet): removing it means downloading them again.
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_needed: Option<u64>,
    /// The command that removes it.
    command: String,
}

/// Runs `cache status`.
pub fn status(args: &CacheStatusArgs) -> anyhow::Result<ExitCode> {
    let Some(fleet) = read_fleet(&args.fleet)? else { return Ok(ExitCode::from(1)) };
    let status = Status::of(&fleet, args.cache_dir.as_deref());
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&status.json())?),
        Format::Human => status.human(&fleet.spec),
    };
    crate::cmd::report::out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Everything `cache status` reports, found before any of it is formatted.
struct Status {
    root: PathBuf,
    origin: CacheOrigin,
    services: Services,
    /// Models in the cache that no service uses.
    unused: Vec<Unused>,
    /// Revisions of used models that no service uses.
    unused_revisions: Vec<Unused>,
    budget: Option<Budget>,
}

/// The services' side: one row each, and what the fleet needs from the cache.
#[derive(Default)]
struct Services {
    rows: Vec<Row>,
    notes: Vec<String>,
    /// Blob → size, per repo: what the whole fleet needs, each blob once.
    needed: BTreeMap<(String, String), u64>,
    /// Of those, the blobs the cache lacks.
    lacking: BTreeSet<(String, String)>,
    /// Snapshots the fleet uses, per repo (kept out of "unused revisions").
    keep: BTreeMap<String, Vec<String>>,
    /// Services without a lock entry.
    unpinned: Vec<String>,
}

impl Status {
    fn of(fleet: &crate::compile::Fleet, cache_dir: Option<&std::path::Path>) -> Status {
        let host_path = fleet.spec.cache.as_ref().and_then(|c| c.host_path.as_deref());
        let (root, origin) = cache::locate(cache_dir, host_path);
        let hub = HubCache::new(&root);
        let services = Services::survey(fleet, &hub);
        let rm_dir = match origin {
            CacheOrigin::Flag | CacheOrigin::HostPath => {
                format!(" --cache-dir {}", shell_quote(&root.to_string_lossy()))
            }
            _ => String::new(),
        };
        let (unused, unused_revisions) = unused(&fleet.spec, &hub, &services, &rm_dir);
        let budget = budget_report(fleet, &hub);
        Status { root, origin, services, unused, unused_revisions, budget }
    }

    /// Bytes the fleet needs, has cached and still lacks, each blob once.
    fn totals(&self) -> (u64, u64, u64) {
        let total: u64 = self.services.needed.values().sum();
        let missing: u64 = self.services.lacking.iter().filter_map(|k| self.services.needed.get(k)).sum();
        (total, total - missing, missing)
    }

    fn json(&self) -> serde_json::Value {
        let (bytes_total, bytes_cached, bytes_missing) = self.totals();
        serde_json::json!({
            "cache": self.root.to_string_lossy(),
            "cache_from": self.origin.describe(),
            "services": self.services.rows,
            "bytes_total": bytes_total,
            "bytes_cached": bytes_cached,
            "bytes_missing": bytes_missing,
            "unpinned": self.services.unpinned,
            "unused": self.unused,
            "unused_revisions": self.unused_revisions,
            "budget": self.budget.as_ref().map(|b| serde_json::json!({
                "budget_bytes": b.budget_bytes,
                "cache_bytes": b.cache_bytes,
                "fleet_bytes": b.fleet_bytes,
                "fleet_sizes": b.fleet_sizes,
            })),
        })
    }

    fn human(&self, spec: &crate::spec::FleetSpec) -> String {
        let mut out = format!("hub cache {} (from {})\n", self.root.display(), self.origin.describe());
        if !self.root.is_dir() {
            out.push_str("  (the folder does not exist: nothing is cached yet)\n");
        }
        if let (Some(volume), CacheOrigin::Default | CacheOrigin::HubCacheEnv | CacheOrigin::HfHomeEnv) =
            (fleet_volume(spec), self.origin)
        {
            // The deployment's cache is a Docker volume, not this folder: say how to read that one.
            out.push_str(&format!(
                "  (the fleet's cache is the Docker volume `{volume}`: to read it, pass --cache-dir \"$(docker volume inspect -f '{{{{.Mountpoint}}}}' {volume})/hub\")\n"
            ));
        }
        out.push_str(&table(&self.services.rows));
        for n in &self.services.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out.push_str(&unused_list(&self.unused, &self.unused_revisions));
        out.push_str(&self.total_line());
        if let Some(b) = &self.budget {
            out.push_str(&b.line());
        }
        out
    }

    /// Totals cover locked services only; an unlocked one's remaining size is unknown, and a
    /// sum that silently counts it as 0 would mislead.
    fn total_line(&self) -> String {
        let (bytes_total, bytes_cached, bytes_missing) = self.totals();
        let unpinned = &self.services.unpinned;
        let locked = self.services.rows.iter().filter(|r| r.sha.is_some() && r.state != "unpinned").count();
        let known = format!(
            "{} to download ({bytes_missing} bytes), {} of {} cached",
            human_bytes(bytes_missing),
            human_bytes(bytes_cached),
            human_bytes(bytes_total)
        );
        let not_locked = format!("{} service{} not locked", unpinned.len(), if unpinned.len() == 1 { "" } else { "s" });
        match (unpinned.is_empty(), locked) {
            (true, _) => format!("total: {known}\n"),
            (false, 0) => format!("total: to download unknown; {not_locked}\n"),
            (false, n) => format!(
                "total: {known} for the {n} locked service{}; to download unknown for {not_locked}\n",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
}

impl Services {
    /// Each service's row: a local model, a locked snapshot as the cache holds it, or, without
    /// a lock entry, what the cache itself can tell.
    fn survey(fleet: &crate::compile::Fleet, hub: &HubCache) -> Services {
        let lock = fleet.lock_or_empty();
        let mut s = Services::default();
        for (name, svc) in &fleet.spec.services {
            let Some((repo, revision)) = hub_key(svc) else {
                s.rows.push(Row::local(name, &svc.model));
                continue;
            };
            match lock.get(&repo, &revision) {
                Some(entry) => s.locked(hub, name, repo, revision, entry),
                None => s.unlocked(hub, name, repo, revision),
            }
        }
        if !s.unpinned.is_empty() {
            s.notes.push(format!(
                "without a lock entry aimgen cannot tell what is left to download: run `aimgen lock {}`",
                fleet.shown()
            ));
        }
        s
    }

    fn locked(&mut self, hub: &HubCache, name: &str, repo: String, revision: String, entry: &LockedModel) {
        let s = hub.status(entry);
        for f in &entry.files {
            self.needed.insert((repo.clone(), f.blob.clone()), f.size);
        }
        self.lacking.extend(s.missing_blobs.keys().map(|b| (repo.clone(), b.clone())));
        self.keep.entry(repo.clone()).or_default().push(entry.sha.clone());
        self.rows.push(Row {
            service: name.to_string(),
            model: repo,
            revision: Some(revision),
            sha: Some(entry.sha.clone()),
            state: s.state.as_str(),
            files: Some(s.files),
            files_cached: Some(s.files_linked),
            bytes_total: Some(s.bytes_total),
            bytes_cached: Some(s.bytes_cached),
            bytes_missing: Some(s.bytes_missing()),
        });
    }

    fn unlocked(&mut self, hub: &HubCache, name: &str, repo: String, revision: String) {
        self.unpinned.push(name.to_string());
        let sha = hub.resolve_ref(&repo, &revision);
        let listing = sha.as_deref().map(|s| hub.snapshot_listing(&repo, s)).unwrap_or_default();
        let bytes: u64 = listing.iter().map(|(_, n)| n).sum();
        match &sha {
            Some(s) if !listing.is_empty() => {
                self.keep.entry(repo.clone()).or_default().push(s.clone());
                self.notes.push(format!(
                    "{name} is not locked; refs/{revision} of {repo} points to {}, whose snapshot holds {} file{} ({})",
                    short(s),
                    listing.len(),
                    if listing.len() == 1 { "" } else { "s" },
                    human_bytes(bytes)
                ));
            }
            Some(s) => self.notes.push(format!(
                "{name} is not locked; refs/{revision} of {repo} points to {}, which has no files in the cache",
                short(s)
            )),
            None => self.notes.push(format!("{name} is not locked, and the cache has no refs/{revision} for {repo}")),
        }
        self.rows.push(Row {
            service: name.to_string(),
            model: repo,
            revision: Some(revision),
            files: sha.as_ref().map(|_| listing.len()),
            files_cached: sha.as_ref().map(|_| listing.len()),
            sha,
            state: "unpinned",
            bytes_total: None,
            bytes_cached: Some(bytes),
            bytes_missing: None,
        });
    }
}

impl Row {
    /// A service that serves a local `model_path`: nothing of it is in the Hub cache.
    fn local(service: &str, model: &str) -> Row {
        Row {
            service: service.to_string(),
            model: model.to_string(),
            revision: None,
            sha: None,
            state: "local",
            files: None,
            files_cached: None,
            bytes_total: None,
            bytes_cached: None,
            bytes_missing: None,
        }
    }
}

/// What the cache holds that the fleet does not use: whole models, and revisions of the models
/// it uses, each with the `hf cache rm` command that removes it.
fn unused(
    spec: &crate::spec::FleetSpec,
    hub: &HubCache,
    services: &Services,
    rm_dir: &str,
) -> (Vec<Unused>, Vec<Unused>) {
    let used_repos: BTreeSet<&str> =
        spec.services.values().filter(|s| s.model_path.is_none()).map(|s| s.model.as_str()).collect();
    let mut unused = Vec::new();
    let mut unused_revisions = Vec::new();
    for r in hub.repos() {
        if !used_repos.contains(r.repo.as_str()) {
            unused.push(Unused {
                command: format!("hf cache rm{rm_dir} {}", shell_word(&format!("model/{}", r.repo))),
                model: r.repo,
                sha: None,
                bytes: r.bytes,
                bytes_needed: None,
            });
            continue;
        }
        let kept = services.keep.get(&r.repo).cloned().unwrap_or_default();
        for sha in r.snapshots.iter().filter(|s| !kept.contains(s)) {
            let freed = hub.revision_blobs(&r.repo, sha);
            let needed: u64 = freed
                .iter()
                .filter(|(b, _)| services.needed.contains_key(&(r.repo.clone(), (*b).clone())))
                .map(|(_, n)| n)
                .sum();
            unused_revisions.push(Unused {
                model: r.repo.clone(),
                sha: Some(sha.clone()),
                bytes: freed.values().sum(),
                bytes_needed: Some(needed),
                command: format!("hf cache rm{rm_dir} {}", shell_word(sha)),
            });
        }
    }
    (unused, unused_revisions)
}

/// The services as a table, columns padded to their widest cell.
fn table(rows: &[Row]) -> String {
    let table: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let opt = |n: Option<u64>| n.map(human_bytes).unwrap_or_else(|| "-".into());
            [
                r.service.clone(),
                r.model.clone(),
                r.revision.clone().unwrap_or_else(|| "-".into()),
                r.sha.as_deref().map(short).unwrap_or("-").to_string(),
                r.state.to_string(),
                match (r.files_cached, r.files, r.state) {
                    (Some(c), Some(t), s) if s != "unpinned" => format!("{c}/{t}"),
                    (_, Some(t), _) => t.to_string(),
                    _ => "-".into(),
                },
                opt(r.bytes_cached),
                // Without a lock entry the size of what is left is not known: never "0 B".
                if r.state == "unpinned" { "unknown".into() } else { opt(r.bytes_missing) },
            ]
        })
        .collect();
    let header =
        ["SERVICE", "MODEL", "REVISION", "COMMIT", "STATE", "FILES", "CACHED", "TO DOWNLOAD"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&table) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The unused models and revisions with the commands that free them (empty when none).
fn unused_list(unused: &[Unused], unused_revisions: &[Unused]) -> String {
    if unused.is_empty() && unused_revisions.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("\nin the cache but used by no service (aimgen deletes nothing; to free the space, run):\n");
    let label = |u: &Unused| match &u.sha {
        Some(s) => format!("{}@{}", u.model, short(s)),
        None => u.model.clone(),
    };
    let w = unused.iter().chain(unused_revisions).map(|u| label(u).chars().count()).max().unwrap_or(0);
    for u in unused.iter().chain(unused_revisions) {
        out.push_str(&format!("  {:<w$}  {:>9}  {}\n", label(u), human_bytes(u.bytes), u.command));
        if let Some(n) = u.bytes_needed.filter(|n| *n > 0) {
            out.push_str(&format!(
                "  {:<w$}  (of which {} is shared with a locked revision not yet linked: run the prefetch first)\n",
                "",
                human_bytes(n)
            ));
        }
    }
    out
}

/// The cache's use against `cache.budget_gb`, and what the fleet's models need.
struct Budget {
    budget_gb: u32,
    budget_bytes: u64,
    /// Everything in the cache folder (every model, used or not).
    cache_bytes: u64,
    /// The fleet's models: exact from the lock, else estimated.
    fleet_bytes: u64,
    /// How `fleet_bytes` was obtained.
    fleet_sizes: String,
    fleet_exact: bool,
}

impl Budget {
    fn line(&self) -> String {
        let pct = |n: u64| 100.0 * n as f64 / self.budget_bytes.max(1) as f64;
        let approx = if self.fleet_exact { "" } else { "~" };
        let mut line = format!(
            "budget: the cache holds {} of `budget_gb: {}` ({:.0}%); the fleet's models need {approx}{} ({:.0}%; {})\n",
            human_bytes(self.cache_bytes),
            self.budget_gb,
            pct(self.cache_bytes),
            human_bytes(self.fleet_bytes),
            pct(self.fleet_bytes),
            self.fleet_sizes
        );
        if self.cache_bytes.max(self.fleet_bytes) > self.budget_bytes {
            line.push_str(
                "warning: over budget: free space, raise `budget_gb`, or remove what no service uses (above)\n",
            );
        }
        line
    }
}

fn budget_report(fleet: &crate::compile::Fleet, hub: &HubCache) -> Option<Budget> {
    let budget_gb = fleet.spec.cache.as_ref()?.budget_gb?;
    // Model facts for the estimates: the built-in library and the spec's own recipe folders.
    let base = fleet.path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let dirs: Vec<_> = fleet.spec.recipes.iter().map(|d| (base.join(d), d.clone())).collect();
    let lib = crate::recipe::library::load(&dirs).or_else(|_| crate::recipe::library::load(&[])).ok()?;
    let footprint = crate::footprint::Footprint::of(&fleet.spec, &lib.models, fleet.lock.as_ref().map(|l| &l.lock));
    Some(Budget {
        budget_gb,
        budget_bytes: u64::from(budget_gb) * 1_000_000_000,
        cache_bytes: hub.repos().iter().map(|r| r.bytes).sum(),
        fleet_bytes: footprint.known_bytes(),
        fleet_sizes: footprint.provenance(),
        fleet_exact: footprint.is_exact(),
    })
}

/// The named volume holding the fleet's cache (as `resolve` names it), unless it uses a host folder.
fn fleet_volume(spec: &crate::spec::FleetSpec) -> Option<String> {
    let c = spec.cache.clone().unwrap_or_default();
    match c.host_path {
        Some(_) => None,
        None => Some(c.volume.unwrap_or_else(|| format!("{}-model-cache", spec.name))),
    }
}

/// A shell word for a suggested command: as it is when it holds only characters no shell
/// treats specially, else single-quoted, so pasting the command runs exactly `hf cache rm`.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_./:@%+=,-".contains(c)) {
        s.to_string()
    } else {
        shell_quote(s)
    }
}
