//! The pipeline in a few lines: load → validate → resolve. Rendering and emitting are the
//! callers' (render writes, check compares, explain prints). The Hub and cache commands run
//! its front half alone (`read_fleet`: load → validate, and the lock).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Map, Value as Json};

use crate::diagnostic::Diagnostic;
use crate::load::{self, ReadError, Schema};
use crate::lockfile::{self, Found, Loaded, LockFile, Pins};
use crate::recipe::{library, KNOWN_GPUS};
use crate::resolve::{self, Resolution};
use crate::source::{escape_segment, Source};
use crate::spec::FleetSpec;
use crate::target::Target;
use crate::validate;

/// Options that come from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--recipes DIR`, searched before the spec's own `recipes:` folders.
    pub recipe_dirs: Vec<PathBuf>,
    /// `--target`, which wins over the spec's `targets:`.
    pub target: Option<Target>,
}

/// A compiled fleet.
#[derive(Debug)]
pub struct Compiled {
    /// The spec's text.
    pub source: Source,
    /// The spec as written.
    pub spec: FleetSpec,
    /// Plan, warnings, selections.
    pub resolution: Resolution,
    /// The recipe library it was compiled with (built-in, or extended by user folders).
    pub library: std::borrow::Cow<'static, crate::recipe::Library>,
}

/// Why compiling failed.
#[derive(Debug)]
pub enum Failure {
    /// The file could not be read at all.
    Read(ReadError),
    /// It was read and is invalid: every diagnostic found (errors and warnings).
    Invalid(Vec<Diagnostic>),
}

/// The fleet spec schema, compiled once.
pub fn fleet_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::lazy(crate::schema::fleet_schema_json, "fleet spec"))
}

/// Reads and compiles the spec at `path` (shown to the user as `name`).
pub fn compile_file(path: &Path, name: &str, opts: &Options) -> Result<Compiled, Failure> {
    let source = match load::read(path, name).map_err(Failure::Read)? {
        Ok(s) => s,
        Err(d) => return Err(Failure::Invalid(vec![d])),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // `fleet.lock` beside the spec pins Hub models; a stale or broken one is reported here.
    let lock = lockfile::read_beside(path, name).map_err(Failure::Read)?;
    let pins = match &lock {
        Some(Ok(l)) => l.lock.pins(),
        _ => Pins::new(),
    };
    let mut compiled = merge_lock(compile_source(source, &base, opts, &pins), lock.as_ref())?;
    let locked = lock.as_ref().and_then(|l| l.as_ref().ok()).map(|l| &l.lock);
    if let Some(d) = over_budget(&compiled, locked) {
        compiled.resolution.warnings.push(d.locate(&compiled.source));
    }
    Ok(compiled)
}

/// A spec and its lock, read and checked for a command that chooses no recipe (the Hub and
/// cache commands).
#[derive(Debug)]
pub struct Fleet {
    /// The spec path as given.
    pub path: PathBuf,
    /// The spec.
    pub spec: FleetSpec,
    /// The lock file beside it, if there is one.
    pub lock: Option<Loaded>,
    /// Where the lock file is (or would be).
    pub lock_path: PathBuf,
}

impl Fleet {
    /// The lock's content, or an empty lock.
    pub fn lock_or_empty(&self) -> LockFile {
        self.lock.as_ref().map(|l| l.lock.clone()).unwrap_or(LockFile { version: lockfile::VERSION, models: vec![] })
    }

    /// The spec's file name, for headers.
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "fleet.yaml".into())
    }

    /// How the user names the spec in commands.
    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// Reads the spec at `path` (shown as `name`) and the lock beside it: the schema, the semantic
/// errors (no recipe selection, which has nothing to do with the Hub; warnings are `check`'s
/// to show) and the lock's own problems. Unlike `compile_file` it stops at the first layer
/// that fails: without a typed spec there is nothing for these commands to do.
pub fn read_fleet(path: &Path, name: &str) -> Result<Fleet, Failure> {
    let source = match load::read(path, name).map_err(Failure::Read)? {
        Ok(s) => s,
        Err(d) => return Err(Failure::Invalid(vec![d])),
    };
    let spec: FleetSpec = load::parse(&source, fleet_schema()).map_err(Failure::Invalid)?;
    let mut errors: Vec<Diagnostic> =
        validate::check(&spec, &[]).into_iter().filter(Diagnostic::is_error).map(|d| d.locate(&source)).collect();
    let lock = match lockfile::read_beside(path, name).map_err(Failure::Read)? {
        Some(Ok(l)) => Some(l),
        Some(Err(d)) => {
            errors.extend(d);
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    Ok(Fleet { path: path.to_path_buf(), spec, lock, lock_path: lockfile::path_for(path) })
}

/// Adds the lock's diagnostics to a compile result: its parse errors, or staleness (errors)
/// and unused entries (warnings). A spec that did not compile gets only the parse errors:
/// comparing an invalid spec with its lock would add noise.
fn merge_lock(result: Result<Compiled, Failure>, lock: Option<&Found>) -> Result<Compiled, Failure> {
    let Some(found) = lock else { return result };
    match (result, found) {
        (Err(Failure::Invalid(mut d)), Err(lock_errors)) => {
            d.extend(lock_errors.iter().cloned());
            Err(Failure::Invalid(d))
        }
        (Ok(c), Err(lock_errors)) => {
            Err(Failure::Invalid(c.resolution.warnings.into_iter().chain(lock_errors.iter().cloned()).collect()))
        }
        (Ok(mut c), Ok(loaded)) => {
            let found = lockfile::check_spec(&c.spec, &c.source, loaded);
            if found.iter().any(Diagnostic::is_error) {
                return Err(Failure::Invalid(c.resolution.warnings.into_iter().chain(found).collect()));
            }
            c.resolution.warnings.extend(found);
            Ok(c)
        }
        (other, _) => other,
    }
}

/// A warning when the fleet's models need more disk than `cache.budget_gb`: a deployment
/// whose prefetch fills the disk fails late, on the host, after hours of downloading.
fn over_budget(c: &Compiled, lock: Option<&LockFile>) -> Option<Diagnostic> {
    let budget = c.spec.cache.as_ref()?.budget_gb?;
    let footprint = crate::footprint::Footprint::of(&c.spec, &c.library.models, lock);
    let need = footprint.known_bytes();
    let limit = u64::from(budget) * 1_000_000_000;
    if need <= limit {
        return None;
    }
    let at_least = if footprint.models.iter().any(|m| m.size.bytes().is_none()) { "at least " } else { "" };
    let approx = if footprint.is_exact() { "" } else { "~" };
    Some(
        Diagnostic::warning(format!(
            "the fleet's models need {at_least}{approx}{}, more than `budget_gb: {budget}` allows",
            crate::hub::human_bytes(need)
        ))
        .at("/cache/budget_gb")
        .help(format!(
            "sizes: {}; per model: {}",
            footprint.provenance(),
            footprint.models.iter().map(|m| format!("{} {}", m.repo, m.size.human())).collect::<Vec<_>>().join(", ")
        )),
    )
}

/// Compiles spec text; `base` is the folder relative recipe paths start from.
pub fn compile_source(source: Source, base: &Path, opts: &Options, pins: &Pins) -> Result<Compiled, Failure> {
    // Every layer reports together: schema problems, then semantic checks on what could
    // still be read, then resolution, unless an earlier problem makes it meaningless. A bad
    // value is pruned; a required one gets a stand-in (`fill_required`) so the checks that
    // need the typed spec still run on everything else.
    let mut filled = Vec::new();
    let (spec, mut diags) =
        load::parse_repairing::<FleetSpec>(&source, fleet_schema(), |json| filled = fill_required(json));
    let Some(spec) = spec else { return Err(Failure::Invalid(diags)) };
    let mut dirs: Vec<(PathBuf, String)> =
        opts.recipe_dirs.iter().map(|d| (d.clone(), d.display().to_string())).collect();
    dirs.extend(spec.recipes.iter().map(|d| (base.join(d), d.clone())));
    // A broken user recipe is reported with the rest; the spec is still checked against the
    // built-in library, but no recipe is selected from a library known to be incomplete.
    let (lib, lib_failed) = match library::load(&dirs) {
        Ok(l) => (l, false),
        Err(d) => {
            diags.extend(d.into_iter().map(|d| if d.path.is_none() { d.locate(&source) } else { d }));
            match library::load(&[]) {
                Ok(builtin) => (builtin, true),
                Err(_) => return Err(Failure::Invalid(diags)),
            }
        }
    };
    // Nodes already reported, or holding a stand-in: later layers say nothing more about
    // them (or anything under them). The root is never one: that would silence everything.
    // A missing field's pointer is the mapping it is missing from, whose other fields are
    // still worth checking: the stand-in's own pointer covers it.
    let reported: HashSet<String> = diags
        .iter()
        .filter(|d| d.is_error() && !load::is_missing_field(d))
        .filter_map(|d| d.pointer.clone())
        .chain(filled.iter().cloned())
        .filter(|p| !p.is_empty())
        .collect();
    let fresh = |d: &Diagnostic| !d.pointer.as_deref().is_some_and(|p| ancestors(p).any(|a| reported.contains(a)));
    let known: Vec<&str> = lib.models.keys().map(String::as_str).collect();
    diags.extend(validate::check(&spec, &known).into_iter().filter(|d| fresh(d)).map(|d| d.locate(&source)));
    let targets = Target::chosen(opts.target, &spec.targets);
    for target in &targets {
        diags.extend(target.exposure(&spec).into_iter().filter(|d| fresh(d)).map(|d| d.locate(&source)));
    }
    // A vendor stand-in read off a known GPU model is what the author meant (`vendor: AMD`):
    // selection on it is meaningful. Any other GPU, version or root problem makes recipe
    // selection noise: stop before it.
    let vendor_inferred = filled.iter().any(|p| p == VENDOR)
        && KNOWN_GPUS.iter().any(|(m, v)| m.eq_ignore_ascii_case(&spec.host.gpu.model) && *v == spec.host.gpu.vendor);
    let host_guessed = filled.iter().any(|p| p.starts_with("/host") && !(vendor_inferred && p == VENDOR));
    let blocking = lib_failed
        || host_guessed
        || diags.iter().any(|d| {
            d.is_error()
                && !load::is_missing_field(d)
                && d.pointer.as_deref().is_some_and(|p| {
                    (p.is_empty() || p.starts_with("/host") || p.starts_with("/version"))
                        && !(vendor_inferred && p == VENDOR)
                })
        });
    if blocking {
        return Err(Failure::Invalid(diags));
    }
    let had_errors = diags.iter().any(Diagnostic::is_error);
    // Kubernetes alone: `host.gpu.count` is one node's, and each server is scheduled on a node
    // of its own choosing; with Compose among the targets, every server shares the one host.
    let per_node = targets == [Target::Kubernetes];
    match resolve::resolve(&spec, &source.name, &lib, pins, per_node) {
        Ok(mut resolution) if !had_errors => {
            diags.extend(resolution.warnings.drain(..).map(|d| d.locate(&source)));
            if targets.contains(&Target::Kubernetes) {
                let (cluster, more) = crate::target::kubernetes::prepare(&spec, &resolution.plan);
                diags.extend(more.into_iter().map(|d| d.locate(&source)));
                match cluster {
                    Some(c) => resolution.plan.cluster = Some(c),
                    None => return Err(Failure::Invalid(diags)),
                }
            }
            resolution.warnings = diags;
            Ok(Compiled { source, spec, resolution, library: lib })
        }
        Ok(resolution) => {
            diags.extend(resolution.warnings.into_iter().map(|d| d.locate(&source)));
            Err(Failure::Invalid(diags))
        }
        Err(more) => {
            // Drop what resolving says again about a node already reported.
            diags.extend(more.into_iter().filter(|d| fresh(d)).map(|d| d.locate(&source)));
            Err(Failure::Invalid(diags))
        }
    }
}

const VENDOR: &str = "/host/gpu/vendor";

/// Puts a stand-in wherever a required field is missing (pruned as invalid, or never
/// written) and returns their pointers. The schema has already reported each one; the
/// stand-ins only let the typed spec exist. The vendor is read off a known GPU model.
fn fill_required(json: &mut Json) -> Vec<String> {
    let mut filled = Vec::new();
    let Json::Object(root) = json else { return filled };
    let mut fill = |map: &mut Map<String, Json>, key: &str, at: String, value: Json| {
        if !map.contains_key(key) {
            map.insert(key.to_string(), value);
            filled.push(at);
        }
    };
    fill(root, "version", "/version".into(), json!(1));
    fill(root, "name", "/name".into(), json!("fleet"));
    fill(root, "host", "/host".into(), json!({}));
    if let Some(Json::Object(host)) = root.get_mut("host") {
        fill(host, "gpu", "/host/gpu".into(), json!({}));
        if let Some(Json::Object(gpu)) = host.get_mut("gpu") {
            let model = gpu.get("model").and_then(Json::as_str).unwrap_or_default();
            let vendor = KNOWN_GPUS.iter().find(|(m, _)| m.eq_ignore_ascii_case(model)).map(|(_, v)| v.as_str());
            fill(gpu, "vendor", VENDOR.into(), json!(vendor.unwrap_or("amd")));
            fill(gpu, "model", "/host/gpu/model".into(), json!("unknown"));
            fill(gpu, "count", "/host/gpu/count".into(), json!(1));
        }
    }
    fill(root, "services", "/services".into(), json!({}));
    if let Some(Json::Object(services)) = root.get_mut("services") {
        for (name, svc) in services.iter_mut() {
            if let Json::Object(svc) = svc {
                fill(svc, "model", format!("/services/{}/model", escape_segment(name)), json!("aimgen/stand-in"));
            }
        }
    }
    filled
}

/// A JSON pointer and each of its ancestors, nearest first.
fn ancestors(pointer: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(pointer);
    std::iter::from_fn(move || {
        let cur = next?;
        next = cur.rfind('/').map(|i| &cur[..i]);
        Some(cur)
    })
}
