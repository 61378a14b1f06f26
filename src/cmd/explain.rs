//! `aimgen explain FLEET`: why each service got its recipe, and who holds which GPU.

use std::process::ExitCode;

use super::report::{compile, Report};
use crate::cli::{ExplainArgs, Format};
use crate::recipe::select::Verdict;

/// Runs `explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let compiled = compile(&args.fleet, &args.compile, &mut report)?;
    report.print(if args.compile.format == Format::Json { Format::Human } else { args.compile.format })?;
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
                    "candidates": sel.candidates.iter().take(8).map(|(id, v, why)| serde_json::json!({"id": id, "state": v.name(), "reason": why})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({"fleet": plan.name, "gpu": plan.gpu, "services": services});
        super::report::out(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    out.push_str(&format!(
        "fleet {} on {} × {} ({} GB each)\n",
        plan.name, plan.gpu.count, plan.gpu.model, plan.gpu.memory_gb
    ));
    for (s, sel) in plan.servers.iter().zip(&c.resolution.selections) {
        out.push_str(&format!("\n{} — {} ({})\n", s.name, s.model_id, s.backend.as_str()));
        out.push_str(&format!(
            "  recipe   {} [{}]{}\n",
            s.recipe.id,
            s.recipe.origin,
            if s.recipe.pinned { " (pinned)" } else { "" }
        ));
        if let Some(w) = sel.weights_gb {
            let cap = s.gpus.len() as f64 * f64::from(plan.gpu.memory_gb);
            out.push_str(&format!(
                "  memory   ~{w:.0} GB weights on {} GB ({:.0}%)\n",
                cap,
                if cap > 0.0 { 100.0 * w / cap } else { 0.0 }
            ));
        }
        out.push_str(&format!("  port     {} → {}\n", s.host_port, s.port));
        for (id, v, why) in sel.candidates.iter().filter(|(id, _, _)| *id != s.recipe.id).take(3) {
            let mark = if matches!(v, Verdict::Compatible { .. }) { "ranked lower" } else { v.name() };
            out.push_str(&format!("  lost     {id}: {mark}: {why}\n"));
        }
    }
    out.push_str("\nGPU map\n");
    for g in 0..plan.gpu.count {
        let owner = plan.servers.iter().find(|s| s.gpus.contains(&g)).map(|s| s.name.as_str()).unwrap_or("(free)");
        out.push_str(&format!("  {g:>2}  {owner}\n"));
    }
    super::report::out(&out)?;
    Ok(ExitCode::SUCCESS)
}
