//! `aimgen recipes list|show|flags`.

use std::process::ExitCode;

use crate::cli::{Format, RecipesCommand};
use crate::recipe::select::{self, Query};
use crate::recipe::{known_gpu_memory_gb, library, Library, KNOWN_GPUS};
use crate::spec::{Backend, Precision, Vendor};

fn library(dirs: &[std::path::PathBuf]) -> anyhow::Result<std::borrow::Cow<'static, Library>> {
    let dirs: Vec<_> = dirs.iter().map(|d| (d.clone(), d.display().to_string())).collect();
    library::load(&dirs).map_err(|d| anyhow::anyhow!(d.iter().map(|d| d.render(false)).collect::<String>()))
}

/// Runs `recipes …`.
pub fn run(cmd: &RecipesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RecipesCommand::List(q) => {
            let lib = library(&q.recipes)?;
            let gpu = q.gpu.clone().unwrap_or_else(|| "MI300X".into());
            let vendor = q
                .vendor
                .or_else(|| KNOWN_GPUS.iter().find(|(m, _)| m.eq_ignore_ascii_case(&gpu)).map(|(_, v)| *v))
                .unwrap_or(Vendor::Amd);
            let model = q.model.clone().unwrap_or_default();
            let query = Query {
                model: &model,
                backend: q.backend.unwrap_or(Backend::Vllm),
                vendor,
                gpu_model: &gpu,
                memory_gb: f64::from(known_gpu_memory_gb(&gpu).unwrap_or(0)),
                gpus: None,
                available: q.gpus.unwrap_or(8),
                precision: q.precision.unwrap_or(Precision::Auto),
            };
            // Rank order: the compatible recipes first, the first being what a service
            // with this query would get; then the rest, closest first.
            let rows: Vec<_> = select::rank(&lib, &query)
                .into_iter()
                .filter(|c| {
                    q.model.is_none() || c.recipe.recipe.is_general() || c.recipe.recipe.models.contains(&model)
                })
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
        RecipesCommand::Show { id, recipes } => {
            let lib = library(recipes)?;
            let Some(r) = lib.get(id) else {
                super::report::err(&format!("error: no recipe `{id}`\n"));
                return Ok(ExitCode::from(1));
            };
            let note = if r.replaces_builtin { " (replaces the built-in recipe)" } else { "" };
            super::report::out(&format!("# from {}{note}\n{}", r.origin, serde_yaml::to_string(&r.recipe)?))?;
            Ok(ExitCode::SUCCESS)
        }
        RecipesCommand::Flags { engine } => {
            let lib = library(&[])?;
            let mut text = String::new();
            let version = lib.catalog.newest(*engine);
            for f in version.iter().flat_map(|v| lib.catalog.flags(*engine, v)) {
                let owned = if f.owned { " (set by aimgen)" } else { "" };
                text.push_str(&format!(
                    "--{:<36} {:?}{owned}  {}\n",
                    f.name,
                    f.kind,
                    f.help.clone().unwrap_or_default()
                ));
            }
            super::report::out(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
