//! The pipeline in a few lines: load → validate → resolve. Rendering and emitting are the
//! callers' (render writes, check compares, explain prints).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::diagnostic::Diagnostic;
use crate::load::{self, ReadError, Schema};
use crate::recipe::library;
use crate::resolve::{self, Pins, Resolution};
use crate::source::Source;
use crate::spec::FleetSpec;
use crate::validate;

/// Options that come from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--recipes DIR`, searched before the spec's own `recipes:` folders.
    pub recipe_dirs: Vec<PathBuf>,
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
    SCHEMA.get_or_init(|| Schema::new(crate::schema::fleet_schema_json(), "fleet spec"))
}

/// Reads and compiles the spec at `path` (shown to the user as `name`).
pub fn compile_file(path: &Path, name: &str, opts: &Options) -> Result<Compiled, Failure> {
    let source = match load::read(path, name).map_err(Failure::Read)? {
        Ok(s) => s,
        Err(d) => return Err(Failure::Invalid(vec![d])),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // `fleet.lock` beside the spec pins Hub models; a stale or broken one is reported here.
    let lock = crate::lockfile::read_beside(path, name).map_err(Failure::Read)?;
    let pins = match &lock {
        Some(Ok(l)) => l.lock.pins(),
        _ => Pins::new(),
    };
    crate::lockfile::verify(compile_source(source, &base, opts, &pins), lock.as_ref())
}

/// Compiles spec text; `base` is the folder relative recipe paths start from.
pub fn compile_source(source: Source, base: &Path, opts: &Options, pins: &Pins) -> Result<Compiled, Failure> {
    let spec: FleetSpec = match load::parse(&source, fleet_schema()) {
        Ok(s) => s,
        Err(d) => return Err(Failure::Invalid(d)),
    };
    let mut dirs: Vec<(PathBuf, String)> =
        opts.recipe_dirs.iter().map(|d| (d.clone(), d.display().to_string())).collect();
    dirs.extend(spec.recipes.iter().map(|d| (base.join(d), d.clone())));
    let lib = match library::load(&dirs) {
        Ok(l) => l,
        Err(d) => {
            return Err(Failure::Invalid(
                d.into_iter().map(|d| if d.path.is_none() { d.locate(&source) } else { d }).collect(),
            ))
        }
    };
    let known: Vec<&str> = lib.models.keys().map(String::as_str).collect();
    let checks = validate::check(&spec, &known);
    let (errors, warnings): (Vec<_>, Vec<_>) = checks.into_iter().partition(Diagnostic::is_error);
    if !errors.is_empty() {
        // Resolving a spec with structural errors would only add noise; report these.
        return Err(Failure::Invalid(errors.into_iter().chain(warnings).map(|d| d.locate(&source)).collect()));
    }
    match resolve::resolve(&spec, &source.name, &lib, pins) {
        Ok(mut resolution) => {
            resolution.warnings = warnings.into_iter().chain(resolution.warnings).map(|d| d.locate(&source)).collect();
            Ok(Compiled { source, spec, resolution })
        }
        Err(d) => Err(Failure::Invalid(warnings.into_iter().chain(d).map(|d| d.locate(&source)).collect())),
    }
}
