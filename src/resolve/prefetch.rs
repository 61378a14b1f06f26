//! The prefetch jobs: one per Hub model (repo and revision) the servers load, downloading
//! the lock's exact files when it pins the model, else the files an engine loads.

use super::*;

/// Each Hub model the servers load, with the servers that load it.
pub(super) fn hub_models(servers: &[ServerPlan]) -> BTreeMap<HubModel, Vec<String>> {
    let mut models: BTreeMap<HubModel, Vec<String>> = BTreeMap::new();
    for s in servers {
        if let ModelSource::Hub(h) = &s.source {
            models.entry(h.clone()).or_default().push(s.name.clone());
        }
    }
    models
}

/// The prefetch jobs, when the cache is prefetched and some server loads from the Hub.
pub(super) fn prefetch_plan(
    cache: &CacheSettings,
    servers: &[ServerPlan],
    hub_models: &BTreeMap<HubModel, Vec<String>>,
    pins: &Pins,
) -> Option<PrefetchPlan> {
    if !cache.prefetching || hub_models.is_empty() {
        return None;
    }
    Some(PrefetchPlan {
        // The first server's engine: any engine image has huggingface_hub.
        image: servers.first().map_or(Engine::Vllm, |s| s.backend),
        entrypoint: image::PREFETCH_ENTRYPOINT.iter().map(|a| a.to_string()).collect(),
        jobs: hub_models.iter().map(|(m, users)| prefetch_job(m, users, pins)).collect(),
        env: cache.prefetch_env(),
        workers: cache.workers,
        verify: cache.verify,
    })
}

fn prefetch_job(model: &HubModel, used_by: &[String], pins: &Pins) -> PrefetchJob {
    PrefetchJob {
        name: prefetch_job_name(&model.repo, &model.revision),
        model: model.clone(),
        files: match pins.get(&(model.repo.clone(), model.revision.clone())) {
            Some(p) => FileSelection::Exact(
                p.files
                    .iter()
                    .map(|f| ExpectedFile { path: f.path.clone(), size: f.size, blob: f.blob.clone() })
                    .collect(),
            ),
            None => FileSelection::Rule,
        },
        used_by: used_by.to_vec(),
    }
}
