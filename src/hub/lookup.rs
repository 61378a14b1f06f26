//! Asking the Hub on behalf of a fleet: the client (the fleet's endpoint wins), the offline
//! switch every Hugging Face tool honours, a few requests at a time, and a model's lock entry.
//! The commands (`lock`, `outdated`) only orchestrate these.

use super::api::{Client, Config, HubError};
use super::files::engine_files;
use super::progress::ProgressLine;
use crate::lockfile::{LockedFile, LockedModel};
use crate::spec::FleetSpec;

/// Requests in flight at once: enough to hide the Hub's latency for a fleet of many
/// models, few enough to stay polite to it (and to a small mirror).
const PARALLEL: usize = 4;

/// `f` over `items` on up to `PARALLEL` threads; results in the order of `items`.
pub fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..items.len().min(PARALLEL) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(i, item);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().map(|v| v.into_iter().flatten().collect()).unwrap_or_default()
}

/// `HF_HUB_OFFLINE` set to a true value means "no network" to every Hugging Face tool;
/// aimgen honours it rather than surprise the user with requests.
pub fn offline_refused(command: &str) -> anyhow::Result<()> {
    let on = std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
    if on {
        anyhow::bail!("HF_HUB_OFFLINE is set: `aimgen {command}` needs to ask the Hub; unset it for this command");
    }
    Ok(())
}

/// A Hub client for a fleet: its `cache.hf_endpoint` wins over `HF_ENDPOINT`.
pub fn client(spec: &FleetSpec) -> anyhow::Result<Client> {
    let endpoint = super::endpoint(spec.cache.as_ref().and_then(|c| c.hf_endpoint.as_deref()));
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        anyhow::bail!(
            "the Hub endpoint `{}` (HF_ENDPOINT or cache.hf_endpoint) is not an http(s) URL",
            super::redact(&endpoint)
        );
    }
    Client::new(Config::from_env(endpoint))
}

/// The lock entry of one (repo, revision): its commit now, and the engine's files at it;
/// also whether the model is gated.
pub fn lock_entry(
    client: &Client,
    repo: &str,
    revision: &str,
    progress: &ProgressLine,
    step: &str,
) -> Result<(LockedModel, bool), HubError> {
    progress.set(&format!("{step} {repo}@{revision}: resolving"));
    let rev = client.revision(repo, revision)?;
    Ok((lock_entry_at(client, repo, revision, &rev.sha, progress, step)?, rev.gated))
}

/// The lock entry for commit `sha` of `repo` (asked for as `revision`): its engine files.
pub fn lock_entry_at(
    client: &Client,
    repo: &str,
    revision: &str,
    sha: &str,
    progress: &ProgressLine,
    step: &str,
) -> Result<LockedModel, HubError> {
    let listing = client.tree(repo, revision, sha, &mut |n| {
        progress.set(&format!("{step} {repo}@{revision}: listing files ({n})"));
    })?;
    let keep = engine_files(&listing.iter().map(|f| f.path.as_str()).collect::<Vec<_>>());
    let files = listing
        .into_iter()
        .filter(|f| keep.binary_search(&f.path).is_ok())
        .map(|f| LockedFile { path: f.path, size: f.size, blob: f.blob })
        .collect();
    Ok(LockedModel { repo: repo.into(), revision: revision.into(), sha: sha.into(), files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_the_order_of_its_items() {
        let items: Vec<u32> = (0..37).collect();
        let out = parallel(&items, |i, n| {
            // Later items finish first.
            std::thread::sleep(std::time::Duration::from_millis(u64::from(37 - n) / 4));
            (i, n * 2)
        });
        assert_eq!(out, items.iter().map(|&n| (n as usize, n * 2)).collect::<Vec<_>>());
        assert!(parallel(&[] as &[u32], |_, n| *n).is_empty());
    }
}
