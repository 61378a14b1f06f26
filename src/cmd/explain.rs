//! `aimgen explain FLEET`: a picture a reviewer reads at a glance — the host's GPUs and who
//! holds each, then each service's recipe, the runners-up and why they lost.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::report::{color, compile, out, Report};
use super::report::{CompileArgs, Format};
use crate::compile::Compiled;
use crate::footprint::{Bandwidth, Footprint, Size};
use crate::hub::human_bytes;
use crate::plan::{Plan, ServerPlan};
use crate::recipe::select::{self, Verdict};
use crate::resolve::Selection;
use crate::target::Target;
use crate::text::ranges;

/// `aimgen explain`.
#[derive(Debug, Args)]
#[command(mut_arg("format", |a| a.help("Format of the explanation; problems in the spec are printed for people on standard error either way")))]
pub struct ExplainArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// Also show what the fleet downloads at this rate (e.g. `1Gbit`, `10Gbit/s`, `125MB/s`):
    /// each server with its own copy vs aimgen's shared cache, first and next deployment.
    /// Offline: sizes come from the lock file, else are estimated (and said so).
    #[arg(long, value_name = "RATE")]
    pub bandwidth: Option<Bandwidth>,
    #[command(flatten)]
    pub compile: CompileArgs,
}

/// Width of a GPU memory bar, in cells.
const BAR: usize = 24;

/// How one GPU of a server is used, GB: the engine takes `fraction` of it up front (vLLM's
/// `--gpu-memory-utilization`, SGLang's `--mem-fraction-static`); of that, the weights'
/// share is fixed and the rest becomes KV cache (and activations). The rest of the GPU is
/// not the engine's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct GpuUse {
    /// Share of the GPU the engine takes.
    fraction: f64,
    /// Where `fraction` comes from: the flag, or the engine default assumed.
    from_flag: bool,
    /// Weights per GPU, when the model's size is known.
    weights: Option<f64>,
    /// The engine's share, GB.
    engine: f64,
    /// Outside the engine, GB.
    outside: f64,
}

impl GpuUse {
    fn of(s: &ServerPlan, memory_gb: f64) -> GpuUse {
        let flag = fraction_flag(&s.argv);
        let fraction = flag.unwrap_or(select::DEFAULT_MEMORY_FRACTION);
        let weights = s.recipe.weights_gb.map(|w| w / s.gpus.len().max(1) as f64);
        GpuUse {
            fraction,
            from_flag: flag.is_some(),
            weights,
            engine: fraction * memory_gb,
            outside: (1.0 - fraction) * memory_gb,
        }
    }

    /// KV cache (and activations) per GPU: the engine's share minus the weights.
    fn kv(&self) -> Option<f64> {
        self.weights.map(|w| (self.engine - w).max(0.0))
    }
}

/// `GpuUse` for `--format json`.
fn memory_json(u: &GpuUse) -> serde_json::Value {
    serde_json::json!({
        "engine_fraction": u.fraction,
        "engine_fraction_from": if u.from_flag { "flag" } else { "engine default (assumed)" },
        "weights_gb": u.weights,
        "kv_cache_gb": u.kv(),
        "outside_engine_gb": u.outside,
    })
}

/// The engine's memory fraction from its final command line (recipe args, then the service's).
fn fraction_flag(argv: &[String]) -> Option<f64> {
    const FLAGS: [&str; 2] = ["--gpu-memory-utilization", "--mem-fraction-static"];
    argv.iter().enumerate().find_map(|(i, a)| {
        let value = match a.split_once('=') {
            Some((k, v)) if FLAGS.contains(&k) => v,
            _ if FLAGS.contains(&a.as_str()) => argv.get(i + 1)?,
            _ => return None,
        };
        value.parse::<f64>().ok().filter(|f| *f > 0.0 && *f <= 1.0)
    })
}

/// Runs `explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let compiled = compile(&args.fleet, &args.compile, &mut report)?;
    // Diagnostics go to stderr in human form even with --format json: stdout stays one document.
    report.print(Format::Human)?;
    let Some(c) = compiled.filter(|_| !report.failed(args.compile.deny_warnings)) else {
        return Ok(ExitCode::from(1));
    };
    let text = match args.compile.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&json(args, &c))?),
        Format::Human => human(args, &c),
    };
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Colours a piece of text with an SGR code, or leaves it plain.
type Paint<'a> = &'a dyn Fn(&str, &str) -> String;

/// The JSON document: per service its recipe, GPUs, memory and every candidate's verdict.
fn json(args: &ExplainArgs, c: &Compiled) -> serde_json::Value {
    let plan = &c.resolution.plan;
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
                "memory_per_gpu": memory_json(&GpuUse::of(s, f64::from(plan.gpu.memory_gb))),
                "candidates": sel.candidates(&c.library).iter().map(|(id, v, why)| serde_json::json!({"id": id, "state": v.name(), "reason": why})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = serde_json::json!({"fleet": plan.name, "gpu": plan.gpu, "services": services});
    if let (Some(rate), Some(obj)) = (args.bandwidth, doc.as_object_mut()) {
        obj.insert("bandwidth".into(), bandwidth_json(&footprint(args, c), rate));
    }
    doc
}

/// The text report: the host, the GPU map, each service's recipe and runners-up, and with
/// `--bandwidth` the download times.
fn human(args: &ExplainArgs, c: &Compiled) -> String {
    let on = color();
    let paint = move |code: &str, s: &str| if on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    let plan = &c.resolution.plan;
    // Kubernetes alone: `host.gpu` is one node, and each server is on a node of its own.
    let per_node = super::report::targets(&args.compile, &c.spec) == [Target::Kubernetes];
    let mut text = format!(
        "{}: {} × {} ({} GB each){}, {} service{}\n\n",
        plan.name,
        plan.gpu.count,
        plan.gpu.model,
        plan.gpu.memory_gb,
        if per_node { " per node (Kubernetes: GPUs numbered per server's node)" } else { "" },
        plan.servers.len(),
        if plan.servers.len() == 1 { "" } else { "s" }
    );
    text.push_str(&gpu_map(plan, per_node, &paint));
    for (s, sel) in plan.servers.iter().zip(&c.resolution.selections) {
        text.push_str(&service_section(s, sel, c, &paint));
    }
    if let Some(rate) = args.bandwidth {
        text.push('\n');
        text.push_str(&bandwidth_table(&footprint(args, c), rate));
        let local: Vec<&str> =
            c.spec.services.iter().filter(|(_, s)| s.model_path.is_some()).map(|(n, _)| n.as_str()).collect();
        if !local.is_empty() {
            text.push_str(&format!(
                "  Not counted: {} (local `model_path` copies, never downloaded).\n",
                local.join(", ")
            ));
        }
    }
    text
}

/// One line per GPU (per server's GPU on Kubernetes): who holds it and how its memory is
/// shared between weights, KV cache and what is not the engine's; then the legend.
fn gpu_map(plan: &Plan, per_node: bool, paint: Paint) -> String {
    let mem = f64::from(plan.gpu.memory_gb);
    let name_w = plan.servers.iter().map(|s| s.name.len()).max().unwrap_or(6).max(7);
    let mut text = format!("GPU  {:<name_w$}  {:<BAR$}  WEIGHTS  KV CACHE  NOT THE ENGINE'S\n", "SERVICE", "MEMORY");
    let cells = |gb: f64| ((gb / mem.max(1.0)) * BAR as f64).round() as usize;
    let rows: Vec<(u32, Option<&ServerPlan>)> = if per_node {
        plan.servers.iter().flat_map(|s| s.gpus.iter().map(move |g| (*g, Some(s)))).collect()
    } else {
        (0..plan.gpu.count).map(|g| (g, plan.servers.iter().find(|s| s.gpus.contains(&g)))).collect()
    };
    for (g, owner) in rows {
        let Some(s) = owner else {
            text.push_str(&format!("{g:>3}  {:<name_w$}  {}\n", "(free)", paint("2", &"░".repeat(BAR))));
            continue;
        };
        let u = GpuUse::of(s, mem);
        let engine = cells(u.engine).min(BAR);
        // At least one cell for weights that exist, however small.
        let weights = u.weights.map(|w| cells(w).max(1).min(engine)).unwrap_or(0);
        let bar = format!(
            "{}{}{}",
            paint("32", &"█".repeat(weights)),
            paint("36", &"▒".repeat(engine - weights)),
            paint("2", &"░".repeat(BAR - engine))
        );
        let gb = |v: Option<f64>| v.map(|v| format!("~{v:.0} GB")).unwrap_or_else(|| "unknown".into());
        text.push_str(&format!(
            "{g:>3}  {:<name_w$}  {bar}  {:<7}  {:<8}  {:.0} GB\n",
            s.name,
            gb(u.weights),
            gb(u.kv()),
            u.outside
        ));
    }
    text.push_str(&format!(
        "     {:<name_w$}  {} weights  {} KV cache and activations  {} not the engine's\n",
        "",
        paint("32", "█"),
        paint("36", "▒"),
        paint("2", "░")
    ));
    text
}

/// One service: where it runs, its recipe and memory, and the recipes that lost, with why.
fn service_section(s: &ServerPlan, sel: &Selection, c: &Compiled, paint: Paint) -> String {
    let mem = f64::from(c.resolution.plan.gpu.memory_gb);
    let mut text = format!(
        "\n{} — {} on {} with {}, port {}\n",
        paint("1", &s.name),
        s.model_id,
        ranges(&s.gpus),
        s.backend.as_str(),
        s.host_port
    );
    let origin = format!("{}{}", s.recipe.origin, if s.recipe.pinned { ", pinned" } else { "" });
    text.push_str(&format!("  {} {}  ({origin})\n", paint("32", "✓"), s.recipe.id));
    let u = GpuUse::of(s, mem);
    let source = match (u.from_flag, s.backend) {
        (true, crate::plan::Engine::Vllm) => "--gpu-memory-utilization".to_string(),
        (true, crate::plan::Engine::Sglang) => "--mem-fraction-static".to_string(),
        (false, b) => format!("{}'s default, assumed", b.as_str()),
    };
    let weights = match sel.weights_gb {
        Some(w) => format!("~{w:.0} GB of {} weights", s.recipe.precision.as_str()),
        None => format!("{} weights of unknown size", s.recipe.precision.as_str()),
    };
    text.push_str(&format!(
        "    {weights} on {} × {:.0} GB; the engine takes {:.0}% of each GPU ({source}): {} weights + {} KV cache per GPU, {:.0} GB not the engine's\n",
        s.gpus.len(),
        mem,
        u.fraction * 100.0,
        u.weights.map(|w| format!("~{w:.0} GB")).unwrap_or_else(|| "unknown".into()),
        u.kv().map(|w| format!("~{w:.0} GB")).unwrap_or_else(|| "unknown".into()),
        u.outside
    ));
    text.push_str(&runners_up(s, sel, c, paint));
    text
}

/// The recipes that lost to the chosen one, with why: at most four for this model, engine
/// and GPU, and every one the image's engine release cannot run.
fn runners_up(s: &ServerPlan, sel: &Selection, c: &Compiled, paint: Paint) -> String {
    let query = sel.query();
    let mut text = String::new();
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
    text
}

/// The fleet's models sized from the lock beside the spec (already checked by `compile`),
/// else estimated.
fn footprint(args: &ExplainArgs, c: &Compiled) -> Footprint {
    let name = args.fleet.display().to_string();
    let lock = crate::lockfile::read_beside(&args.fleet, &name).ok().flatten().and_then(Result::ok);
    Footprint::of(&c.spec, &c.library.models, lock.as_ref().map(|l| &l.lock))
}

/// What `aimgen outdated` would add: it needs the Hub, which `explain` never asks.
fn pending_update(f: &Footprint) -> &'static str {
    if f.is_exact() {
        "needs `aimgen outdated` (it asks the Hub; explain stays offline)"
    } else {
        "needs a lock: `aimgen lock`, then `aimgen outdated` (both ask the Hub)"
    }
}

/// What sharing the cache saves, for this fleet: download volume and time without a shared
/// cache (each server its own copy, kept in its container) and with aimgen's.
fn bandwidth_table(f: &Footprint, rate: Bandwidth) -> String {
    let approx = if f.is_exact() { "" } else { "~" };
    let at_least = if f.models.iter().any(|m| m.size.bytes().is_none()) { "≥" } else { "" };
    let vol = |n: u64| format!("{at_least}{approx}{}", human_bytes(n)).replace("~0 B", "0 B").replace("≥0 B", "0 B");
    let cell = |n: u64| format!("{:<10} {}", vol(n), rate.time(n));
    let mut t = format!("Downloads at {rate} (sizes: {})\n", f.provenance());
    let w = f.models.iter().map(|m| m.repo.len() + m.revision.len() + 1).max().unwrap_or(0);
    for m in &f.models {
        let n = m.services.len();
        t.push_str(&format!(
            "  {:<w$}  {:<22}  {n} server{} ({})\n",
            format!("{}@{}", m.repo, m.revision),
            m.size.human(),
            if n == 1 { "" } else { "s" },
            m.services.join(", ")
        ));
    }
    let own = f.per_server_bytes();
    let shared = f.known_bytes();
    t.push_str(&format!("\n  {:<17}  {:<28}  {}\n", "", "EACH SERVER ITS OWN COPY", "AIMGEN'S SHARED CACHE"));
    t.push_str(&format!("  {:<17}  {:<28}  {}\n", "first deployment", cell(own), cell(shared)));
    t.push_str(&format!("  {:<17}  {:<28}  {}\n", "next deployment", cell(own), cell(0)));
    t.push_str(&format!("  {:<17}  {}\n", "pending update", pending_update(f)));
    t.push_str(
        "  Each server with its own copy keeps it in its container, so re-creating the container\n  downloads it again; aimgen's prefetch downloads each (model, revision) once into the\n  shared cache, and a redeploy finds it there.\n",
    );
    t
}

fn bandwidth_json(f: &Footprint, rate: Bandwidth) -> serde_json::Value {
    let dl = |n: u64| serde_json::json!({"bytes": n, "seconds": (n as f64 * 8.0 / rate.bits_per_sec).ceil() as u64});
    serde_json::json!({
        "bits_per_second": rate.bits_per_sec,
        "sizes": f.provenance(),
        "exact": f.is_exact(),
        "models": f.models.iter().map(|m| serde_json::json!({
            "repo": m.repo,
            "revision": m.revision,
            "services": m.services,
            "bytes": m.size.bytes(),
            "size": match m.size { Size::Exact(_) => "exact", Size::Estimate(_) => "estimate", Size::Unknown => "unknown" },
        })).collect::<Vec<_>>(),
        "each_server_own_copy": {"first_deployment": dl(f.per_server_bytes()), "next_deployment": dl(f.per_server_bytes())},
        "shared_cache": {"first_deployment": dl(f.known_bytes()), "next_deployment": dl(0)},
        "pending_update": pending_update(f),
    })
}

#[cfg(test)]
mod tests {
    use super::fraction_flag;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_engine_fraction_is_read_from_either_flag_in_either_form() {
        assert_eq!(fraction_flag(&argv(&["vllm", "serve", "m", "--gpu-memory-utilization", "0.8"])), Some(0.8));
        assert_eq!(fraction_flag(&argv(&["x", "--mem-fraction-static=0.85"])), Some(0.85));
        assert_eq!(fraction_flag(&argv(&["x", "--max-model-len", "0.5"])), None);
        // Out of range or not a number: the engine would refuse it; the default is assumed.
        assert_eq!(fraction_flag(&argv(&["x", "--gpu-memory-utilization", "1.5"])), None);
        assert_eq!(fraction_flag(&argv(&["x", "--gpu-memory-utilization"])), None);
    }
}
