//! `aimgen outdated FLEET`: for each locked model, asks the Hub where its revision points now;
//! for each that moved, lists the files that changed and what an update would download. Exit
//! 0 when all are current, 1 when something is outdated or not locked, 2 on errors (for CI).

// Without the `hub` feature the diff is only used by its test.
#![cfg_attr(not(feature = "hub"), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use crate::cli::OutdatedArgs;
use crate::lockfile::{LockedFile, LockedModel};

/// What moving a lock entry from `old` to `new` changes.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileDiff {
    /// Files only the new commit has.
    pub added: Vec<LockedFile>,
    /// Files only the old commit had.
    pub removed: Vec<LockedFile>,
    /// Files in both whose blob id differs (the new version).
    pub modified: Vec<LockedFile>,
    /// Bytes of new blobs: added or modified files whose content the old commit did not have
    /// under any name, each blob once. (A renamed or copied file costs nothing: the cache
    /// re-links its blob.)
    pub download_bytes: u64,
}

/// Compares the engine files of two lock entries by path and blob id.
pub fn diff(old: &LockedModel, new: &LockedModel) -> FileDiff {
    let before: BTreeMap<&str, &LockedFile> = old.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let after: BTreeMap<&str, &LockedFile> = new.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let old_blobs: BTreeSet<&str> = old.files.iter().map(|f| f.blob.as_str()).collect();
    let mut d = FileDiff::default();
    let mut new_blobs: BTreeMap<&str, u64> = BTreeMap::new();
    for (path, f) in &after {
        match before.get(path) {
            None => d.added.push((*f).clone()),
            Some(o) if o.blob != f.blob => d.modified.push((*f).clone()),
            Some(_) => continue,
        }
        if !old_blobs.contains(f.blob.as_str()) {
            new_blobs.insert(&f.blob, f.size);
        }
    }
    d.removed = old.files.iter().filter(|f| !after.contains_key(f.path.as_str())).cloned().collect();
    d.download_bytes = new_blobs.values().sum();
    d
}

/// Runs `outdated`.
pub fn run(args: &OutdatedArgs) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "hub")]
    {
        online::run(args)
    }
    #[cfg(not(feature = "hub"))]
    {
        let _ = args;
        anyhow::bail!("this aimgen was built without the `hub` feature: `outdated` needs it to ask the Hub")
    }
}

#[cfg(feature = "hub")]
mod online {
    use super::*;
    use crate::cli::Format;
    use crate::cmd::lock::online::{client, files_at, offline_refused, parallel};
    use crate::cmd::lock::{eprint_quiet, print_quiet, read_fleet, Progress};
    use crate::hub::{human_bytes, short};
    use crate::validate::is_sha;

    #[derive(serde::Serialize)]
    struct Row {
        model: String,
        revision: String,
        services: Vec<String>,
        /// current, outdated or unpinned.
        state: &'static str,
        locked: Option<String>,
        latest: Option<String>,
        #[serde(flatten)]
        diff: Option<FileDiff>,
    }

    pub(super) fn run(args: &OutdatedArgs) -> anyhow::Result<ExitCode> {
        // An invalid spec or lock is a usage error here: exit 1 means "outdated" to CI.
        let Some(fleet) = read_fleet(&args.fleet)? else { return Ok(ExitCode::from(2)) };
        let lock = fleet.lock_or_empty();
        let wanted = crate::lockfile::services_by_model(&fleet.spec);
        let needs_hub = wanted.iter().any(|((repo, rev), _)| lock.get(repo, rev).is_some() && !is_sha(rev));
        if needs_hub {
            offline_refused("outdated")?;
        }
        let client = if needs_hub { Some(client(&fleet.spec)?) } else { None };
        let progress = Progress::new();
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        let total = wanted.len();
        let keys: Vec<((String, String), Vec<String>)> = wanted.into_iter().collect();
        // Ask the Hub about every locked branch or tag, a few at a time.
        let answers = parallel(&keys, |i, ((repo, revision), _)| {
            let entry = lock.get(repo, revision)?;
            let client = client.as_ref().filter(|_| !is_sha(revision))?;
            let step = format!("[{}/{total}]", i + 1);
            progress.set(&format!("{step} {repo}@{revision}: checking"));
            Some(client.revision(repo, revision).and_then(|r| {
                if r.sha == entry.sha {
                    Ok(None)
                } else {
                    files_at(client, repo, revision, &r.sha, &progress, &step).map(Some)
                }
            }))
        });
        for (((repo, revision), services), answer) in keys.into_iter().zip(answers) {
            let mut row = Row {
                model: repo.clone(),
                revision: revision.clone(),
                services,
                state: "unpinned",
                locked: None,
                latest: None,
                diff: None,
            };
            if let Some(entry) = lock.get(&repo, &revision) {
                row.locked = Some(entry.sha.clone());
                row.state = "current";
                row.latest = Some(entry.sha.clone());
                match answer {
                    Some(Ok(Some(latest))) => {
                        row.state = "outdated";
                        row.diff = Some(diff(entry, &latest));
                        row.latest = Some(latest.sha);
                    }
                    Some(Err(e)) => errors.push(e),
                    // Current, or a commit (which never moves).
                    Some(Ok(None)) | None => {}
                }
            }
            rows.push(row);
        }
        progress.clear();
        let outdated = rows.iter().filter(|r| r.state != "current").count();
        if args.format == Format::Json {
            let doc = serde_json::json!({
                "models": rows,
                "outdated": rows.iter().filter(|r| r.state == "outdated").count(),
                "unpinned": rows.iter().filter(|r| r.state == "unpinned").count(),
                "bytes_to_download": rows.iter().filter_map(|r| r.diff.as_ref()).map(|d| d.download_bytes).sum::<u64>(),
                "errors": errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            });
            print_quiet(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        } else {
            print_quiet(&human(&rows, &fleet.shown(), &fleet.lock_path.display().to_string()))?;
        }
        if !errors.is_empty() {
            let mut msg = String::new();
            for e in &errors {
                msg.push_str(&format!("error: {e}\n"));
            }
            eprint_quiet(&msg);
            return Ok(ExitCode::from(2));
        }
        Ok(if outdated > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }

    fn human(rows: &[Row], fleet: &str, lock: &str) -> String {
        let mut out = String::new();
        for r in rows {
            let users = r.services.join(", ");
            match (r.state, &r.locked, &r.latest, &r.diff) {
                ("unpinned", ..) => out.push_str(&format!(
                    "{}@{} ({users}): not in {lock}; run `aimgen lock {fleet}`\n",
                    r.model, r.revision
                )),
                ("outdated", Some(old), Some(new), Some(d)) => {
                    out.push_str(&format!("{}@{} ({users}): {} → {}\n", r.model, r.revision, short(old), short(new)));
                    for (mark, files) in [("+", &d.added), ("~", &d.modified), ("-", &d.removed)] {
                        for f in files {
                            let size = if mark == "-" { String::new() } else { format!("  {}", human_bytes(f.size)) };
                            out.push_str(&format!("  {mark} {}{size}\n", f.path));
                        }
                    }
                    out.push_str(&format!(
                        "  an update downloads {} ({} bytes)\n",
                        human_bytes(d.download_bytes),
                        d.download_bytes
                    ));
                }
                (_, Some(sha), ..) => {
                    out.push_str(&format!("{}@{} ({users}): current at {}\n", r.model, r.revision, short(sha)))
                }
                _ => {}
            }
        }
        let moved = rows.iter().filter(|r| r.state == "outdated").count();
        let unpinned = rows.iter().filter(|r| r.state == "unpinned").count();
        let bytes: u64 = rows.iter().filter_map(|r| r.diff.as_ref()).map(|d| d.download_bytes).sum();
        if moved == 0 && unpinned == 0 {
            out.push_str(&format!("all {} locked models are current\n", rows.len()));
        } else {
            let mut parts = Vec::new();
            if moved > 0 {
                parts.push(format!(
                    "{moved} outdated ({} to download): `aimgen lock {fleet} --update` moves the pins",
                    human_bytes(bytes)
                ));
            }
            if unpinned > 0 {
                parts.push(format!("{unpinned} not locked: `aimgen lock {fleet}` pins them"));
            }
            out.push_str(&format!("{}\n", parts.join("; ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, size: u64, blob: char) -> LockedFile {
        LockedFile { path: path.into(), size, blob: blob.to_string().repeat(40) }
    }

    #[test]
    fn diff_counts_new_blobs_once() {
        let old = LockedModel {
            repo: "o/m".into(),
            revision: "main".into(),
            sha: "1".repeat(40),
            files: vec![f("a.json", 1, 'a'), f("b.json", 2, 'b'), f("gone.json", 3, 'c')],
        };
        let new = LockedModel {
            repo: "o/m".into(),
            revision: "main".into(),
            sha: "2".repeat(40),
            // b modified; renamed copy of a costs nothing; two new files share one blob.
            files: vec![
                f("a.json", 1, 'a'),
                f("b.json", 5, 'd'),
                f("copy.json", 1, 'a'),
                f("x.json", 7, 'e'),
                f("y.json", 7, 'e'),
            ],
        };
        let d = diff(&old, &new);
        assert_eq!(d.added.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["copy.json", "x.json", "y.json"]);
        assert_eq!(d.modified.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["b.json"]);
        assert_eq!(d.removed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["gone.json"]);
        assert_eq!(d.download_bytes, 12);
    }
}
