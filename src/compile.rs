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
    let lock = crate::lockfile::read_beside(path, name).map_err(Failure::Read)?;
    let pins = match &lock {
        Some(Ok(l)) => l.lock.pins(),
        _ => Pins::new(),
    };
    crate::lockfile::verify(compile_source(source, &base, opts, &pins), lock.as_ref())
}

/// Compiles spec text; `base` is the folder relative recipe paths start from.
pub fn compile_source(source: Source, base: &Path, opts: &Options, pins: &Pins) -> Result<Compiled, Failure> {
    // Every layer reports together: schema problems, then semantic checks on what could
    // still be read, then resolution, unless an earlier problem makes it meaningless.
    let (spec, mut diags) = load::parse_lenient::<FleetSpec>(&source, fleet_schema());
    let Some(spec) = spec else { return Err(Failure::Invalid(diags)) };
    let mut dirs: Vec<(PathBuf, String)> =
        opts.recipe_dirs.iter().map(|d| (d.clone(), d.display().to_string())).collect();
    dirs.extend(spec.recipes.iter().map(|d| (base.join(d), d.clone())));
    let lib = match library::load(&dirs) {
        Ok(l) => l,
        Err(d) => {
            diags.extend(d.into_iter().map(|d| if d.path.is_none() { d.locate(&source) } else { d }));
            return Err(Failure::Invalid(diags));
        }
    };
    let known: Vec<&str> = lib.models.keys().map(String::as_str).collect();
    diags.extend(validate::check(&spec, &known).into_iter().map(|d| d.locate(&source)));
    // GPU, version or schema problems make recipe selection noise: stop before it.
    let blocking = diags.iter().any(|d| {
        d.is_error()
            && d.pointer.as_deref().is_some_and(|p| p.is_empty() || p.starts_with("/host") || p.starts_with("/version"))
    });
    let schema_failed = diags.iter().any(|d| d.is_error() && d.message.starts_with("missing field"));
    if blocking || schema_failed {
        return Err(Failure::Invalid(diags));
    }
    let reported: std::collections::HashSet<String> =
        diags.iter().filter(|d| d.is_error()).filter_map(|d| d.pointer.clone()).collect();
    let had_errors = diags.iter().any(Diagnostic::is_error);
    match resolve::resolve(&spec, &source.name, &lib, pins) {
        Ok(mut resolution) if !had_errors => {
            diags.extend(resolution.warnings.drain(..).map(|d| d.locate(&source)));
            resolution.warnings = diags;
            Ok(Compiled { source, spec, resolution, library: lib })
        }
        Ok(resolution) => {
            diags.extend(resolution.warnings.into_iter().map(|d| d.locate(&source)));
            Err(Failure::Invalid(diags))
        }
        Err(more) => {
            // Drop what resolving says again about a node already reported.
            diags.extend(
                more.into_iter()
                    .filter(|d| !d.pointer.as_deref().is_some_and(|p| ancestors(p).any(|a| reported.contains(a))))
                    .map(|d| d.locate(&source)),
            );
            Err(Failure::Invalid(diags))
        }
    }
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
