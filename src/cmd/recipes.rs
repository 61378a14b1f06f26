//! `aimgen recipes list|show|flags`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::report::Format;
use crate::diagnostic::did_you_mean;
use crate::recipe::catalog::Picked;
use crate::recipe::select::{self, Query};
use crate::recipe::{known_gpu_memory_gb, library, EngineVersion, Library, KNOWN_GPUS};
use crate::spec::{Backend, Precision, Vendor};

/// `aimgen recipes …`.
#[derive(Debug, Subcommand)]
pub enum RecipesCommand {
    /// Every recipe and its state for a query: compatible, or why not.
    List(RecipeQueryArgs),
    /// One recipe in full, and where it came from.
    Show {
        /// Recipe id.
        id: String,
        /// Extra recipe folder.
        #[arg(long = "recipes", value_name = "DIR")]
        recipes: Vec<PathBuf>,
    },
    /// The engine flags aimgen checks a service's `args` against.
    Flags {
        /// Engine.
        #[arg(value_enum)]
        engine: Backend,
        /// The engine release whose flags to list (e.g. `0.11.0`); without a catalogue of it,
        /// the nearest one's [default: the newest catalogued release].
        #[arg(long, value_name = "VERSION")]
        engine_version: Option<String>,
    },
}

/// Filters for `recipes list`.
#[derive(Debug, Args)]
pub struct RecipeQueryArgs {
    /// Hugging Face model id.
    #[arg(long)]
    pub model: Option<String>,
    /// GPU model, one aimgen knows (e.g. MI300X, H100) [default: MI300X, or H100 with
    /// `--vendor nvidia`].
    #[arg(long)]
    pub gpu: Option<String>,
    /// GPU vendor (implied by --gpu).
    #[arg(long, value_enum)]
    pub vendor: Option<Vendor>,
    /// GPUs the service uses, as `gpus:` in a spec: only recipes for exactly N GPUs (or
    /// general ones) are compatible.
    #[arg(long, value_name = "N")]
    pub gpus: Option<u32>,
    /// GPUs free on the host, when `--gpus` is not given: recipes needing more are
    /// `count_mismatch`.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FREE)]
    pub free: u32,
    /// Engine.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Precision.
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// The engine release the image runs (e.g. `0.11.0`, `0.4.6.post1`): recipes not valid
    /// for it are `engine_version_mismatch` [default: the newest catalogued release].
    #[arg(long, value_name = "VERSION")]
    pub engine_version: Option<String>,
    /// Extra recipe folder.
    #[arg(long = "recipes", value_name = "DIR")]
    pub recipes: Vec<PathBuf>,
    /// Format of the list: a table, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

impl ValueEnum for Backend {
    fn value_variants<'a>() -> &'a [Self] {
        &[Backend::Vllm, Backend::Sglang]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for Vendor {
    fn value_variants<'a>() -> &'a [Self] {
        &[Vendor::Amd, Vendor::Nvidia]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for Precision {
    fn value_variants<'a>() -> &'a [Self] {
        &[Precision::Auto, Precision::Bf16, Precision::Fp16, Precision::Fp8]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// GPUs `recipes list` assumes free on the host without `--free` (an 8-GPU node).
pub const DEFAULT_FREE: u32 = 8;

/// The GPU model and vendor a `recipes list` query is for: `--gpu` (a known model), else the
/// vendor's reference GPU. `None` when the options are wrong (already reported): an unknown
/// model would silently match nothing, or the wrong vendor's recipes.
fn query_gpu(gpu: Option<&str>, vendor: Option<Vendor>) -> anyhow::Result<Option<(&'static str, Vendor)>> {
    let Some(asked) = gpu else {
        return Ok(Some(match vendor {
            Some(Vendor::Nvidia) => ("H100", Vendor::Nvidia),
            _ => ("MI300X", Vendor::Amd),
        }));
    };
    let Some(&(model, is)) = KNOWN_GPUS.iter().find(|(m, _)| m.eq_ignore_ascii_case(asked)) else {
        let known: Vec<&str> = KNOWN_GPUS.iter().map(|(m, _)| *m).collect();
        let close = did_you_mean(asked, known.iter().copied())
            .map(|m| format!("  = help: did you mean `{m}`?\n"))
            .unwrap_or_default();
        super::report::err(&format!(
            "error: unknown GPU model `{asked}`\n{close}  = note: known models: {}\n",
            known.join(", ")
        ));
        return Ok(None);
    };
    if let Some(v) = vendor.filter(|v| *v != is) {
        super::report::err(&format!(
            "error: {model} is an {} GPU, but --vendor is `{}`\n  = help: leave out --vendor; --gpu implies it\n",
            is.as_str().to_uppercase(),
            v.as_str()
        ));
        return Ok(None);
    }
    Ok(Some((model, is)))
}

fn library(dirs: &[std::path::PathBuf]) -> anyhow::Result<std::borrow::Cow<'static, Library>> {
    let dirs: Vec<_> = dirs.iter().map(|d| (d.clone(), d.display().to_string())).collect();
    library::load(&dirs).map_err(|d| anyhow::anyhow!(d.iter().map(|d| d.render(false)).collect::<String>()))
}

/// Runs `recipes …`.
pub fn run(cmd: &RecipesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RecipesCommand::List(q) => list(q),
        RecipesCommand::Show { id, recipes } => show(id, recipes),
        RecipesCommand::Flags { engine, engine_version } => flags(*engine, engine_version.as_deref()),
    }
}

/// `recipes list`: every recipe's state for the query, compatible ones first in rank order.
fn list(q: &RecipeQueryArgs) -> anyhow::Result<ExitCode> {
    let lib = library(&q.recipes)?;
    let Some((gpu, vendor)) = query_gpu(q.gpu.as_deref(), q.vendor)? else {
        return Ok(ExitCode::from(2));
    };
    let model = q.model.clone().unwrap_or_default();
    if q.model.is_some() && !lib.models.contains_key(&model) {
        // Not an error (general recipes serve any model), but a case slip in an id
        // silently loses every tuned recipe and the size check.
        let hint = did_you_mean(&model, lib.models.keys().map(String::as_str))
            .map(|m| format!("; did you mean `{m}`? (ids are case-sensitive)"))
            .unwrap_or_default();
        super::report::err(&format!(
            "note: aimgen has no facts for `{model}`: only general recipes apply, and its size is unknown{hint}\n"
        ));
    }
    let backend = q.backend.unwrap_or(Backend::Vllm);
    let release = match &q.engine_version {
        Some(text) => match EngineVersion::parse(text) {
            Some(v) => Some(v),
            None => {
                super::report::err(&format!(
                    "error: `{text}` is not an engine version (e.g. `0.11.0`, `0.4.6.post1`)\n"
                ));
                return Ok(ExitCode::from(2));
            }
        },
        None => lib.catalog.newest(backend),
    };
    let query = Query {
        model: &model,
        backend,
        vendor,
        gpu_model: gpu,
        memory_gb: f64::from(known_gpu_memory_gb(gpu).unwrap_or(0)),
        // `--gpus` means what `gpus:` means in a spec: the GPUs the service uses.
        gpus: q.gpus,
        available: q.free,
        precision: q.precision.unwrap_or(Precision::Auto),
        engine_version: release.as_ref(),
        memory_fraction: None,
        locked_gb: None,
    };
    // Rank order: the compatible recipes first, the first being what a service
    // with this query would get; then the rest, closest first.
    let rows: Vec<_> = select::rank(&lib, &query)
        .into_iter()
        .filter(|c| q.model.is_none() || c.recipe.recipe.is_general() || c.recipe.recipe.models.contains(&model))
        .map(|c| {
            let why = c.verdict.reason(c.recipe, &query);
            (c.recipe, c.verdict, why)
        })
        .collect();
    if q.format == Format::Json {
        let doc: Vec<_> = rows
            .iter()
            .map(|(r, v, why)| serde_json::json!({"id": r.recipe.id, "state": v.name(), "reason": why, "origin": r.origin}))
            .collect();
        super::report::out(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
    } else {
        let width = rows.iter().map(|(r, _, _)| r.recipe.id.len()).max().unwrap_or(2);
        let mut out = format!("{:<width$}  {:<18}  {}\n", "ID", "STATE", "WHY");
        for (r, v, why) in &rows {
            out.push_str(&format!("{:<width$}  {:<18}  {}\n", r.recipe.id, v.name(), why));
        }
        super::report::out(&out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `recipes show`: one recipe as YAML, with the file it came from.
fn show(id: &str, recipes: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let lib = library(recipes)?;
    let Some(r) = lib.get(id) else {
        let help = match did_you_mean(id, lib.recipes.iter().map(|r| r.recipe.id.as_str())) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "`aimgen recipes list` shows every id".into(),
        };
        super::report::err(&format!("error: no recipe `{id}`\n  = help: {help}\n"));
        return Ok(ExitCode::from(1));
    };
    let note = if r.replaces_builtin { " (replaces the built-in recipe)" } else { "" };
    super::report::out(&format!("# from {}{note}\n{}", r.origin, serde_yaml::to_string(&r.recipe)?))?;
    Ok(ExitCode::SUCCESS)
}

/// `recipes flags`: the flags of the engine's catalogue for a release (the nearest one when
/// aimgen has no catalogue of it).
fn flags(engine: Backend, engine_version: Option<&str>) -> anyhow::Result<ExitCode> {
    let lib = library(&[])?;
    let want = match engine_version.map(|t| (t, EngineVersion::parse(t))) {
        Some((_, Some(v))) => Some(v),
        Some((t, None)) => {
            super::report::err(&format!("error: `{t}` is not an engine version (e.g. `0.11.0`, `0.4.6.post1`)\n"));
            return Ok(ExitCode::from(2));
        }
        None => None,
    };
    let picked = lib.catalog.pick(engine, want.as_ref());
    let mut text = String::new();
    let name = crate::recipe::catalog::engine_name(engine);
    match (&picked, &want) {
        (Some(Picked::Nearest(v)), Some(w)) => {
            text.push_str(&format!("# {name} {v} (aimgen has no catalogue of {w}; this is the nearest)\n"))
        }
        (Some(p), _) => text.push_str(&format!("# {name} {}\n", p.version())),
        (None, _) => {}
    }
    for f in picked.iter().flat_map(|p| lib.catalog.flags(engine, p.version())) {
        let owned = if f.owned { " (set by aimgen)" } else { "" };
        text.push_str(&format!("--{:<36} {:?}{owned}  {}\n", f.name, f.kind, f.help.clone().unwrap_or_default()));
    }
    super::report::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
