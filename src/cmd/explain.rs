//! `aimgen explain FLEET`: a picture a reviewer reads at a glance — the host's GPUs and who
//! holds each, then each service's recipe, the runners-up and why they lost.

use std::process::ExitCode;

use super::report::{color, compile, out, Report};
use crate::cli::{ExplainArgs, Format};
use crate::recipe::select::{self, Verdict};
use crate::resolve::ranges;

/// Width of a GPU memory bar, in cells.
const BAR: usize = 24;

/// Runs `explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let compiled = compile(&args.fleet, &args.compile, &mut report)?;
    // Diagnostics go to stderr in human form even with --format json: stdout stays one document.
    report.print(Format::Human)?;
    let Some(c) = compiled.filter(|_| !report.failed(args.compile.deny_warnings)) else {
        return Ok(ExitCode::from(1));
    };
    let plan = &c.resolution.plan;
    if args.compile.format == Format::Json {
        let services: Vec<_> = plan
            .servers
            .iter()
            .zip(&c.resolution.selections)
            .map(|(s, sel)| {
                serde_json::json!({
                    "service": s.name,
                    "model": s.model_id,
                    "backend": s.backend.as_str(),
                    "recipe": s.recipe,
                    "gpus": s.gpus,
                    "host_port": s.host_port,
                    "weights_gb": sel.weights_gb,
                    "candidates": sel.candidates(&c.library).iter().map(|(id, v, why)| serde_json::json!({"id": id, "state": v.name(), "reason": why})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({"fleet": plan.name, "gpu": plan.gpu, "services": services});
        out(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let paint = {
        let on = color();
        move |code: &str, s: &str| if on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    };
    let mut text = String::new();
    let mem = f64::from(plan.gpu.memory_gb);
    text.push_str(&format!(
        "{}: {} × {} ({} GB each), {} service{}\n\n",
        plan.name,
        plan.gpu.count,
        plan.gpu.model,
        plan.gpu.memory_gb,
        plan.servers.len(),
        if plan.servers.len() == 1 { "" } else { "s" }
    ));
    let name_w = plan.servers.iter().map(|s| s.name.len()).max().unwrap_or(6).max(7);
    text.push_str(&format!("GPU  {:<name_w$}  {:<BAR$}  WEIGHTS PER GPU\n", "SERVICE", "MEMORY"));
    for g in 0..plan.gpu.count {
        let owner = plan.servers.iter().find(|s| s.gpus.contains(&g));
        let (name, share) = match owner {
            Some(s) => (s.name.as_str(), s.recipe.weights_gb.map(|w| w / s.gpus.len().max(1) as f64)),
            None => ("(free)", None),
        };
        let filled = share.map(|w| ((w / mem.max(1.0)) * BAR as f64).ceil() as usize).unwrap_or(0).min(BAR);
        let bar = format!("{}{}", paint("32", &"█".repeat(filled)), paint("2", &"░".repeat(BAR - filled)));
        let label = match (owner, share) {
            (Some(_), Some(w)) => format!("~{w:.0} GB"),
            (Some(_), None) => "unknown size".into(),
            (None, _) => String::new(),
        };
        text.push_str(&format!("{g:>3}  {name:<name_w$}  {bar}  {label}\n"));
    }
    for (s, sel) in plan.servers.iter().zip(&c.resolution.selections) {
        text.push_str(&format!(
            "\n{} — {} on {} with {}, port {}\n",
            paint("1", &s.name),
            s.model_id,
            ranges(&s.gpus),
            s.backend.as_str(),
            s.host_port
        ));
        let origin = format!("{}{}", s.recipe.origin, if s.recipe.pinned { ", pinned" } else { "" });
        text.push_str(&format!("  {} {}  ({origin})\n", paint("32", "✓"), s.recipe.id));
        if let Some(w) = sel.weights_gb {
            let cap = s.gpus.len() as f64 * mem;
            text.push_str(&format!(
                "    ~{w:.0} GB of {} weights on {cap:.0} GB of GPU memory ({:.0}%)\n",
                s.recipe.precision.as_str(),
                if cap > 0.0 { 100.0 * w / cap } else { 0.0 }
            ));
        }
        let query = sel.query();
        let mut shown = 0;
        for (id, v, why) in sel.candidates(&c.library).iter().filter(|(id, _, _)| *id != s.recipe.id) {
            if matches!(v, Verdict::ModelMismatch | Verdict::BackendMismatch | Verdict::GpuMismatch) {
                continue;
            }
            // Recipes the image's engine release cannot run are always named: the reason is
            // the image, which the user can change.
            let version = matches!(v, Verdict::EngineVersionMismatch { .. });
            if shown == 4 && !version {
                continue;
            }
            shown += usize::from(!version);
            let reason = match v {
                Verdict::Compatible { gpus } => {
                    let lost = c.library.get(&s.recipe.id).zip(c.library.get(id));
                    match lost {
                        Some((a, b)) => {
                            format!("ranked lower: {}", select::why_lower(a, b, &query, (s.gpus.len() as u32, *gpus)))
                        }
                        None => "ranked lower".into(),
                    }
                }
                _ => format!("{}: {why}", v.name()),
            };
            text.push_str(&format!("  {} {id}  {}\n", paint("2", "·"), paint("2", &reason)));
        }
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}
