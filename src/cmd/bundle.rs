//! `aimgen cache export FLEET -o BUNDLE` and `aimgen cache import BUNDLE`: a fleet's locked
//! model files carried to a host without the Hub (see `hub::bundle` for the format). Offline.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use super::report::read_fleet;
use crate::hub::bundle::{self, Manifest};
use crate::hub::cache;
use crate::hub::human_bytes;
use crate::hub::progress::ProgressLine;
use crate::lockfile::{hub_key, LockedModel};

/// `aimgen cache export`.
#[derive(Debug, Args)]
pub struct CacheExportArgs {
    /// The fleet spec; its lock file says which files go into the bundle.
    pub fleet: PathBuf,
    /// The hub cache folder to read (default: as for `cache status`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The bundle file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// `aimgen cache import`.
#[derive(Debug, Args)]
pub struct CacheImportArgs {
    /// The bundle file written by `cache export`.
    pub bundle: PathBuf,
    /// The hub cache folder to fill (default: HF_HUB_CACHE, else $HF_HOME/hub, else
    /// ~/.cache/huggingface/hub).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Byte progress on a terminal, redrawn at most ten times a second.
struct Bytes {
    line: ProgressLine,
    verb: &'static str,
    last: Option<Instant>,
}

impl bundle::Progress for Bytes {
    fn update(&mut self, done: u64, total: u64) {
        if self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) && done < total {
            return;
        }
        self.last = Some(Instant::now());
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        self.line.set(&format!("{} {} of {} ({pct}%)", self.verb, human_bytes(done), human_bytes(total)));
    }
}

fn bytes(verb: &'static str) -> Bytes {
    Bytes { line: ProgressLine::new(), verb, last: None }
}

/// Runs `cache export`.
pub fn export(args: &CacheExportArgs) -> anyhow::Result<ExitCode> {
    let Some(fleet) = read_fleet(&args.fleet)? else { return Ok(ExitCode::from(1)) };
    let Some(loaded) = &fleet.lock else {
        bail!(
            "{} has no lock file ({}): a bundle holds exactly the locked files; run `aimgen lock {}` first",
            fleet.shown(),
            fleet.lock_path.display(),
            fleet.shown()
        );
    };
    // The fleet's own models, each (repo, revision) once, as the lock pins them.
    let mut models: Vec<LockedModel> = Vec::new();
    let mut unlocked = Vec::new();
    for (name, svc) in &fleet.spec.services {
        let Some((repo, revision)) = hub_key(svc) else { continue };
        match loaded.lock.get(&repo, &revision) {
            Some(m) if !models.contains(m) => models.push(m.clone()),
            Some(_) => {}
            None => unlocked.push(format!("{name} ({repo}@{revision})")),
        }
    }
    if !unlocked.is_empty() {
        bail!(
            "not in the lock file: {}; run `aimgen lock {}` so the bundle can say which files they need",
            unlocked.join(", "),
            fleet.shown()
        );
    }
    if models.is_empty() {
        bail!("{} downloads no model from the Hub: there is nothing to bundle", fleet.shown());
    }
    models.sort_by(|a, b| (&a.repo, &a.revision).cmp(&(&b.repo, &b.revision)));
    let host_path = fleet.spec.cache.as_ref().and_then(|c| c.host_path.as_deref());
    let (root, origin) = cache::locate(args.cache_dir.as_deref(), host_path);
    let missing = bundle::missing(&root, &models);
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|(m, p, why)| format!("  {m}: {p} ({why})\n")).collect();
        let more = missing.len().saturating_sub(10);
        bail!(
            "the cache {} (from {}) lacks {} locked file{}:\n{}{}run the prefetch jobs (`docker compose up`) or see `aimgen cache status {}`",
            root.display(),
            origin.describe(),
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            shown.concat(),
            if more > 0 { format!("  and {more} more\n") } else { String::new() },
            fleet.shown()
        );
    }
    let manifest = Manifest::new(models);
    // Written beside the target and renamed at the end: an interrupted export leaves no
    // bundle that looks whole. The temporary file is created exclusively under an
    // unpredictable name and renamed through the folder's handle, like `render -o` writes:
    // a planted link cannot redirect the bundle.
    let parent = args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = args
        .output
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} does not name a file", args.output.display()))?;
    let dir =
        crate::safe_fs::Dir::open(parent).with_context(|| format!("cannot open the folder {}", parent.display()))?;
    let (tmp, file) =
        dir.create_temp(name).with_context(|| format!("creating a temporary file in {}", parent.display()))?;
    let mut progress = bytes("exporting");
    let written = bundle::export(&root, &manifest, BufWriter::with_capacity(1 << 20, file), &mut progress)
        .and_then(|w| w.into_inner().map_err(|e| e.into_error().into()))
        .and_then(|f| Ok(f.sync_all()?));
    progress.line.clear();
    if let Err(e) =
        written.and_then(|()| dir.rename(&tmp, name).with_context(|| format!("writing {}", args.output.display())))
    {
        let _ = dir.remove(&tmp);
        return Err(e);
    }
    let members = manifest.members();
    crate::cmd::report::err(&format!(
        "wrote {}: {} model{}, {} file{} ({}) from {}\n",
        args.output.display(),
        manifest.models.len(),
        if manifest.models.len() == 1 { "" } else { "s" },
        members.len(),
        if members.len() == 1 { "" } else { "s" },
        human_bytes(manifest.bytes()),
        root.display()
    ));
    let _ = std::io::stderr().flush();
    Ok(ExitCode::SUCCESS)
}

/// Runs `cache import`.
pub fn import(args: &CacheImportArgs) -> anyhow::Result<ExitCode> {
    let (root, _) = cache::locate(args.cache_dir.as_deref(), None);
    let file = File::open(&args.bundle).with_context(|| format!("reading {}", args.bundle.display()))?;
    let mut progress = bytes("verifying");
    let result = bundle::import(file, &root, &mut progress);
    progress.line.clear();
    let done = result.with_context(|| format!("{} refused", args.bundle.display()))?;
    crate::cmd::report::err(&format!(
        "imported {} into {}: {} file{} written ({}), {} already present, {} snapshot link{}\n",
        done.models.join(", "),
        root.display(),
        done.written,
        if done.written == 1 { "" } else { "s" },
        human_bytes(done.bytes_written),
        done.shared,
        done.links,
        if done.links == 1 { "" } else { "s" },
    ));
    Ok(ExitCode::SUCCESS)
}
