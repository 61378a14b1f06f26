//! `aimgen outdated FLEET`: for each locked model, asks the Hub where its revision points now;
//! for each that moved, lists the files that changed and what an update would download. Exit
//! 0 when all are current, 1 when something is outdated or not locked, 2 on errors (for CI).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::report::Format;

/// `aimgen outdated`.
#[derive(Debug, Args)]
pub struct OutdatedArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// Format of the report: per model what changed, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
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
    use crate::cmd::report::read_fleet;
    use crate::cmd::report::Format;
    use crate::hub::lookup::{client, lock_entry_at, offline_refused, parallel};
    use crate::hub::progress::ProgressLine;
    use crate::hub::{human_bytes, short};
    use crate::ids::is_sha;
    use crate::lockfile::{diff, FileDiff};

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
        let progress = ProgressLine::new();
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
                    lock_entry_at(client, repo, revision, &r.sha, &progress, &step).map(Some)
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
            crate::cmd::report::out(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        } else {
            crate::cmd::report::out(&human(&rows, &fleet.shown(), &fleet.lock_path.display().to_string()))?;
        }
        if !errors.is_empty() {
            let mut msg = String::new();
            for e in &errors {
                msg.push_str(&format!("error: {e}\n"));
            }
            crate::cmd::report::err(&msg);
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
