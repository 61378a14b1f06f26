//! Recipe choice: the saved query `explain` shows, the engine release a service is checked
//! against, a pinned recipe, and the diagnostics when no recipe fits or a tuned one was lost.

use super::*;

/// One service's recipe selection, for `explain`.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The service, by its `services:` key.
    pub service: String,
    /// What the recipes were judged against; `candidates` ranks them again from it.
    pub(super) query: SavedQuery,
    /// Estimated weights, GB, for the chosen precision.
    pub weights_gb: Option<f64>,
}

/// A `Query` that owns its text, kept so the full ranking is only built when asked for
/// (`explain`): for every service it is one verdict and one reason per recipe.
#[derive(Debug, Clone)]
pub(super) struct SavedQuery {
    model: String,
    backend: Backend,
    vendor: Vendor,
    gpu_model: String,
    memory_gb: f64,
    gpus: Option<u32>,
    available: u32,
    precision: Precision,
    engine_version: Option<EngineVersion>,
    memory_fraction: Option<f64>,
    locked_gb: Option<f64>,
}

impl SavedQuery {
    pub(super) fn new(q: &Query) -> SavedQuery {
        SavedQuery {
            model: q.model.to_string(),
            backend: q.backend,
            vendor: q.vendor,
            gpu_model: q.gpu_model.to_string(),
            memory_gb: q.memory_gb,
            gpus: q.gpus,
            available: q.available,
            precision: q.precision,
            engine_version: q.engine_version.cloned(),
            memory_fraction: q.memory_fraction,
            locked_gb: q.locked_gb,
        }
    }
}

impl Selection {
    /// What the recipes were judged against.
    pub fn query(&self) -> Query<'_> {
        let q = &self.query;
        Query {
            model: &q.model,
            backend: q.backend,
            vendor: q.vendor,
            gpu_model: &q.gpu_model,
            memory_gb: q.memory_gb,
            gpus: q.gpus,
            available: q.available,
            precision: q.precision,
            engine_version: q.engine_version.as_ref(),
            memory_fraction: q.memory_fraction,
            locked_gb: q.locked_gb,
        }
    }

    /// Every recipe's verdict with its reason, compatible ones first in rank order, as judged
    /// when the service was resolved. `lib` is the library it was resolved with.
    pub fn candidates(&self, lib: &Library) -> Vec<(String, Verdict, String)> {
        let query = self.query();
        select::rank(lib, &query)
            .iter()
            .map(|c| (c.recipe.recipe.id.clone(), c.verdict.clone(), c.verdict.reason(c.recipe, &query)))
            .collect()
    }
}

/// The engine release an engine's services run and the catalogue they are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The release the image runs, or, when that is not known, the catalogue's.
    pub runs: EngineVersion,
    /// The release whose catalogue checks the services' arguments and variables.
    pub checked: EngineVersion,
}

/// The engine release an engine's services are checked against: the catalogue of `known`
/// (the release `image` runs, when its tag or `engine_version` says), else the nearest
/// catalogue, with a warning at `at` naming it. `None` when aimgen has no catalogue of the
/// engine at all.
pub fn checked_release(
    lib: &Library,
    backend: Backend,
    image: &str,
    known: Option<&EngineVersion>,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Release> {
    let picked = lib.catalog.pick(backend, known)?;
    let name = engine_name(backend);
    if let Picked::Nearest(v) = &picked {
        let list: Vec<String> = lib.catalog.versions(backend).iter().map(EngineVersion::to_string).collect();
        let d = match known {
            Some(k) => Diagnostic::warning(format!(
                "aimgen has no catalogue of {name} {k} (`{image}`): checking {} arguments against {name} {v}, the nearest",
                backend.as_str()
            ))
            .help(format!("catalogued {name} releases: {}", list.join(", "))),
            None => Diagnostic::warning(format!(
                "`{image}` does not say which {name} release it runs: checking {} arguments against {name} {v}, the nearest catalogue",
                backend.as_str()
            ))
            .help(format!(
                "set `{}` to the release the image runs (catalogued: {})",
                engine_version_field(at),
                list.join(", ")
            )),
        };
        diags.push(d.at(at));
    }
    let checked = picked.version().clone();
    Some(Release { runs: known.cloned().unwrap_or_else(|| checked.clone()), checked })
}

/// Loading checked the recipe against every catalogued release in its `engines:` range; when
/// the catalogue used here lies outside that range (the image runs an uncatalogued release
/// and the nearest catalogue is older than the range), check it against this one too,
/// reporting at the service's model.
pub(super) fn recipe_outside_its_checks(
    lib: &Library,
    recipe: &LoadedRecipe,
    checked: &EngineVersion,
    at: &str,
) -> Vec<Diagnostic> {
    let r = &recipe.recipe;
    if recipe.versions.as_ref().is_none_or(|q| q.matches(checked)) {
        return Vec::new();
    }
    let context = format!("recipe `{}` is checked against {checked}, the nearest catalogue", r.id);
    lib.catalog
        .check_args_in(r.engine, checked, &r.args, "/args", &context)
        .into_iter()
        .chain(lib.catalog.check_env_in(r.engine, checked, &r.env, "/env", &context))
        .map(|mut d| {
            d.message = format!("recipe `{}`: {}", r.id, d.message);
            d.pointer = Some(format!("{at}/model"));
            d.at_key = false;
            d
        })
        .collect()
}

/// The spec field that states the release of the image named at `at`.
pub(super) fn engine_version_field(at: &str) -> String {
    match at.strip_prefix("/image/").and_then(|r| r.split('/').next()) {
        Some(engine @ ("vllm" | "sglang")) => format!("image.{engine}.engine_version"),
        _ => "image.engine_version".to_string(),
    }
}

/// The error for a service whose model has no known size and whose GPU count nothing states.
pub(super) fn unknown_size(svc: &ServiceSpec, at: &str) -> Diagnostic {
    let fix = if svc.model_path.is_some() { "set `gpus:`" } else { "set `gpus:` or run `aimgen lock`" };
    Diagnostic::error(format!("`{}`: aimgen does not know its size; {fix}", svc.model)).at(format!("{at}/model")).help(
        "aimgen sizes a model from its recipe file's `params_b`, or from the lock file's safetensors sizes; \
         without either it cannot tell how many GPUs the weights need",
    )
}

/// A warning when the service's own `gpus:` or `precision:` ruled out a tuned recipe that
/// would otherwise have been chosen, naming the settings the service loses with it.
pub(super) fn dropped_tuned(
    lib: &Library,
    q: &Query,
    chosen: &LoadedRecipe,
    svc: &ServiceSpec,
    at: &str,
) -> Option<Diagnostic> {
    let mut relaxed = q.clone();
    let mut culprits = Vec::new();
    if let Some(n) = svc.gpus {
        if n > q.available {
            // The service cannot be placed at all: that error says enough.
            return None;
        }
        relaxed.gpus = None;
        culprits.push((format!("gpus: {n}"), format!("{at}/gpus")));
    }
    if let Some(p) = svc.precision.filter(|p| *p != Precision::Auto) {
        relaxed.precision = Precision::Auto;
        culprits.push((format!("precision: {}", p.as_str()), format!("{at}/precision")));
    }
    // Only a general recipe standing in for a tuned one loses settings worth a warning; a
    // tuned recipe for another count is the service's choice.
    if !chosen.recipe.is_general() {
        return None;
    }
    let (culprit, place) = culprits.first()?.clone();
    let Candidate { recipe: tuned, .. } = select::best(lib, &relaxed)?;
    if tuned.recipe.id == chosen.recipe.id || tuned.recipe.is_general() {
        return None;
    }
    let (t, c) = (&tuned.recipe, &chosen.recipe);
    let mut lost: Vec<String> = t
        .args
        .iter()
        .filter(|(k, v)| c.args.get(*k) != Some(v))
        .map(|(k, v)| match v {
            Json::Null | Json::Bool(true) => format!("`--{k}`"),
            Json::Bool(false) => format!("`--no-{k}`"),
            Json::String(s) => format!("`--{k} {s}`"),
            other => format!("`--{k} {other}`"),
        })
        .collect();
    lost.extend(t.env.iter().filter(|(k, v)| c.env.get(*k) != Some(v)).map(|(k, v)| format!("`{k}={}`", v.as_text())));
    let what = if culprits.len() > 1 {
        culprits.iter().map(|(c, _)| format!("`{c}`")).collect::<Vec<_>>().join(" and ")
    } else {
        format!("`{culprit}`")
    };
    let loses = if lost.is_empty() { String::new() } else { format!(": the service loses {}", lost.join(", ")) };
    Some(Diagnostic::warning(format!("{what} rules out the tuned recipe `{}`{loses}", t.id)).at(place).help(format!(
        "`{}` is used instead; remove `{}` to get the tuned recipe, or pin one with `recipe:`",
        c.id,
        culprit.split(':').next().unwrap_or_default()
    )))
}

/// The recipe a service runs, how many GPUs it takes and whether the spec pinned it.
#[derive(Clone, Copy)]
pub(super) struct Chosen<'l> {
    pub(super) recipe: &'l LoadedRecipe,
    pub(super) gpus: u32,
    pub(super) pinned: bool,
}

/// The service's pinned recipe, else the best compatible one; `None`, with the diagnostic
/// saying why, when none fits. Also reports a model of unknown size and a tuned recipe the
/// service's own settings ruled out.
pub(super) fn choose<'l>(lib: &'l Library, s: &Service, q: &Query, diags: &mut Vec<Diagnostic>) -> Option<Chosen<'l>> {
    let chosen = match &s.spec.recipe {
        Some(id) => pick_pinned(lib, id, q, &s.at, diags).map(|(recipe, gpus, pinned)| Chosen { recipe, gpus, pinned }),
        None => match select::best(lib, q) {
            Some(Candidate { recipe, verdict: Verdict::Compatible { gpus } }) => {
                Some(Chosen { recipe, gpus, pinned: false })
            }
            _ => {
                // Only the closest few are named, never recipes for other models or engines:
                // rank just those (a spec of thousands of unknown models sorted every recipe
                // for each).
                let near =
                    select::rank_where(lib, q, |v| !matches!(v, Verdict::ModelMismatch | Verdict::BackendMismatch));
                diags.push(no_recipe(s.name, q, &near, &s.at));
                None
            }
        },
    };
    if let Some(c) = chosen {
        let unsized_count = c.recipe.recipe.gpu_count.is_none() && s.spec.gpus.is_none();
        if unsized_count && s.facts.is_none() && s.locked_gb.is_none() {
            diags.push(unknown_size(s.spec, &s.at));
        }
        if !c.pinned {
            diags.extend(dropped_tuned(lib, q, c.recipe, s.spec, &s.at));
        }
    }
    chosen
}

/// The release each engine's services run and are checked against, from its base image.
pub(super) fn engine_releases(
    lib: &Library,
    bases: &BTreeMap<Backend, ImageBase>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<Backend, Option<Release>> {
    bases
        .iter()
        .map(|(&b, base)| {
            // aimgen's own default: catalogueing its release is aimgen's job, not something
            // the user can fix with `engine_version`.
            let release = match &base.at {
                Some(at) => checked_release(lib, b, &base.base, base.version.as_ref(), at, diags),
                None => checked_release(lib, b, &base.base, base.version.as_ref(), "/image", &mut Vec::new()),
            };
            (b, release)
        })
        .collect()
}

pub(super) fn pick_pinned<'l>(
    lib: &'l Library,
    id: &str,
    q: &Query,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(&'l LoadedRecipe, u32, bool)> {
    let Some(r) = lib.get(id) else {
        let help = did_you_mean(id, lib.recipes.iter().map(|r| r.recipe.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| "`aimgen recipes list` shows every recipe".into());
        diags.push(Diagnostic::error(format!("no recipe `{id}`")).at(format!("{at}/recipe")).help(help));
        return None;
    };
    match select::evaluate(r, q, lib.models.get(q.model), true) {
        Verdict::Compatible { gpus } => Some((r, gpus, true)),
        Verdict::ModelMismatch => {
            diags.push(
                Diagnostic::warning(format!(
                    "recipe `{id}` is tuned for {}, not {}",
                    r.recipe.models.join(", "),
                    q.model
                ))
                .at(format!("{at}/recipe")),
            );
            let mut general = r.clone();
            general.recipe.models.clear();
            match select::evaluate(&general, q, lib.models.get(q.model), true) {
                Verdict::Compatible { gpus } => Some((r, gpus, true)),
                v => {
                    diags.push(
                        Diagnostic::error(format!("recipe `{id}` cannot be used: {}", v.reason(r, q)))
                            .at(format!("{at}/recipe")),
                    );
                    None
                }
            }
        }
        v => {
            diags.push(
                Diagnostic::error(format!("recipe `{id}` cannot be used: {}", v.reason(r, q)))
                    .at(format!("{at}/recipe")),
            );
            None
        }
    }
}

pub(super) fn no_recipe(name: &str, q: &Query, ranked: &[Candidate], at: &str) -> Diagnostic {
    let closest: Vec<String> = ranked
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::ModelMismatch | Verdict::BackendMismatch))
        .take(3)
        .map(|c| format!("`{}`: {}", c.recipe.recipe.id, c.verdict.reason(c.recipe, q)))
        .collect();
    // The GPUs the service asked for, else the ones still free: what the title talks about.
    let on = q.gpus.unwrap_or(q.available);
    // When a recipe fails only on size, say so in the title, with the sizes: "no recipe"
    // reads as a gap in the library when the model is simply too big for these GPUs.
    let too_big = ranked.iter().find_map(|c| match c.verdict {
        Verdict::DoesNotFit { weights_gb, gpus, memory_gb } => Some((c.recipe, weights_gb, gpus, memory_gb)),
        _ => None,
    });
    let (title, needs) = match too_big {
        Some((r, weights, gpus, memory)) => {
            let fraction = q.memory_fraction.or(r.recipe.memory_fraction()).unwrap_or(select::DEFAULT_MEMORY_FRACTION);
            let room = select::WEIGHTS_SHARE * f64::from(gpus) * memory * fraction;
            let need = (0..=10).map(|p| 1u32 << p).find(|n| select::fits(weights, *n, memory, fraction));
            (
                format!(
                    "`{}` does not fit on {gpus} × {} ({memory:.0} GB each): ~{weights:.0} GB of {} weights, room for {room:.0} GB",
                    q.model,
                    q.gpu_model,
                    r.recipe.precision.as_str()
                ),
                need.map(|n| {
                    format!(
                        "the weights need at least {n} × {} (weights may take {:.0}% of the engine's {:.0}% of each GPU; the rest is KV cache); ",
                        q.gpu_model,
                        select::WEIGHTS_SHARE * 100.0,
                        fraction * 100.0
                    )
                }),
            )
        }
        None => (
            format!(
                "no recipe serves `{}` with {} on {on} × {}{}",
                q.model,
                q.backend.as_str(),
                q.gpu_model,
                if q.precision == Precision::Auto { String::new() } else { format!(" at {}", q.precision.as_str()) }
            ),
            None,
        ),
    };
    let help = if closest.is_empty() {
        format!("no recipe matches at all; add one with `--recipes DIR` (service `{name}`)")
    } else {
        format!("closest: {}", closest.join("; "))
    };
    Diagnostic::error(title).at(format!("{at}/model")).help(format!("{}{help}", needs.unwrap_or_default()))
}
