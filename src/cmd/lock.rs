//! `aimgen lock FLEET [--update [SERVICE…]]`: pins every Hub model the fleet downloads to a
//! commit and records the files the engine loads, like `cargo generate-lockfile`/`cargo
//! update`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// `aimgen lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The fleet spec; its lock file is written beside it.
    pub fleet: PathBuf,
    /// Re-resolve pinned models to the commit their revision points to now: every model, or
    /// those of the SERVICEs named. Without it, existing entries are kept.
    #[arg(long)]
    pub update: bool,
    /// Services whose models `--update` re-resolves.
    #[arg(value_name = "SERVICE", requires = "update")]
    pub services: Vec<String>,
}

/// Runs `lock`.
pub fn run(args: &LockArgs) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "hub")]
    {
        online::run(args)
    }
    #[cfg(not(feature = "hub"))]
    {
        let _ = args;
        anyhow::bail!("this aimgen was built without the `hub` feature: `lock` needs it to ask the Hub")
    }
}

#[cfg(feature = "hub")]
mod online {
    use std::collections::BTreeSet;

    use super::*;
    use crate::cmd::report::read_fleet;
    use crate::hub::api::HubError;
    use crate::hub::lookup::{client, lock_entry, offline_refused, parallel};
    use crate::hub::progress::ProgressLine;
    use crate::hub::{self, human_bytes, short};
    use crate::lockfile::{self, LockFile, LockedModel};
    use crate::spec::FleetSpec;

    /// Checks `--update SERVICE…` names against the spec.
    fn check_service_names(spec: &FleetSpec, names: &[String], fleet: &str) -> anyhow::Result<()> {
        for n in names {
            if !spec.services.contains_key(n) {
                let hint = crate::diagnostic::did_you_mean(n, spec.services.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                anyhow::bail!("{fleet} has no service `{n}`{hint}");
            }
        }
        Ok(())
    }

    pub(super) fn run(args: &LockArgs) -> anyhow::Result<ExitCode> {
        let Some(fleet) = read_fleet(&args.fleet)? else { return Ok(ExitCode::from(1)) };
        check_service_names(&fleet.spec, &args.services, &fleet.shown())?;
        let wanted = lockfile::services_by_model(&fleet.spec);
        let update: BTreeSet<(String, String)> = if !args.update {
            BTreeSet::new()
        } else if args.services.is_empty() {
            wanted.keys().cloned().collect()
        } else {
            args.services.iter().filter_map(|n| fleet.spec.services.get(n).and_then(lockfile::hub_key)).collect()
        };
        for n in &args.services {
            if fleet.spec.services.get(n).is_some_and(|s| s.model_path.is_some()) {
                crate::cmd::report::err(&format!("note: `{n}` serves a local model_path: nothing to lock\n"));
            }
        }
        let old = fleet.lock_or_empty();
        let mut next = LockFile { version: lockfile::VERSION, models: Vec::new() };
        let mut todo = Vec::new();
        for key in wanted.keys() {
            match old.get(&key.0, &key.1) {
                Some(entry) if !update.contains(key) => next.models.push(entry.clone()),
                _ => todo.push(key.clone()),
            }
        }
        let mut log = String::new();
        let mut failures: Vec<HubError> = Vec::new();
        if !todo.is_empty() {
            offline_refused("lock")?;
            let client = client(&fleet.spec)?;
            crate::cmd::report::err(&format!(
                "{:>12} {} model{} from {}\n",
                "Resolving",
                todo.len(),
                if todo.len() == 1 { "" } else { "s" },
                hub::redact(client.endpoint())
            ));
            let progress = ProgressLine::new();
            let has_token = client.has_token();
            let results = parallel(&todo, |i, (repo, revision)| {
                lock_entry(&client, repo, revision, &progress, &format!("[{}/{}]", i + 1, todo.len()))
            });
            for ((repo, revision), result) in todo.iter().zip(results) {
                match result {
                    Ok((entry, gated)) => {
                        log.push_str(&describe(old.get(repo, revision), &entry));
                        if entry.files.is_empty() {
                            log.push_str(&format!(
                                "warning: {repo}@{revision} has no file an engine loads (no config or weights)\n"
                            ));
                        }
                        if gated && !has_token {
                            log.push_str(&format!(
                                "note: {repo} is gated: set HF_TOKEN when the prefetch job runs (`docker compose up`)\n"
                            ));
                        }
                        next.models.push(entry);
                    }
                    Err(e) => failures.push(e),
                }
            }
            progress.clear();
        }
        for m in &old.models {
            if !wanted.contains_key(&(m.repo.clone(), m.revision.clone())) {
                log.push_str(&format!("{:>12} {}@{} (no service uses it)\n", "Removing", m.repo, m.revision));
            }
        }
        if !failures.is_empty() {
            let mut msg = String::new();
            for e in &failures {
                msg.push_str(&format!("error: {e}\n"));
            }
            msg.push_str(&format!("{} was not changed\n", fleet.lock_path.display()));
            crate::cmd::report::err(&msg);
            return Ok(ExitCode::from(2));
        }
        crate::cmd::report::err(&log);
        let text = next.to_text(&fleet.file_name());
        if lockfile::write(&fleet.lock_path, &text)? {
            crate::cmd::report::err(&format!("{:>12} {}\n", "Wrote", fleet.lock_path.display()));
        } else {
            crate::cmd::report::err(&format!("{} is up to date\n", fleet.lock_path.display()));
        }
        Ok(ExitCode::SUCCESS)
    }

    /// One line per resolved model: new, moved (with what changes), or unchanged.
    fn describe(old: Option<&LockedModel>, new: &LockedModel) -> String {
        let size = human_bytes(new.bytes());
        match old {
            None => format!(
                "{:>12} {}@{} → {} ({} file{}, {size})\n",
                "Locked",
                new.repo,
                new.revision,
                short(&new.sha),
                new.files.len(),
                if new.files.len() == 1 { "" } else { "s" }
            ),
            Some(o) if o.sha == new.sha && o.files == new.files => {
                format!("{:>12} {}@{} at {}\n", "Unchanged", new.repo, new.revision, short(&new.sha))
            }
            Some(o) => {
                let d = lockfile::diff(o, new);
                format!(
                    "{:>12} {}@{} {} → {} ({} added, {} removed, {} modified; {} to download)\n",
                    "Updated",
                    new.repo,
                    new.revision,
                    short(&o.sha),
                    short(&new.sha),
                    d.added.len(),
                    d.removed.len(),
                    d.modified.len(),
                    human_bytes(d.download_bytes)
                )
            }
        }
    }
}
