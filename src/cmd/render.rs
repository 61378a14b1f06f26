//! `aimgen render FLEET [-o DIR [--check]] [--target T]`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::report::CompileArgs;
use super::report::{compile, targets, Report};
use crate::emit;
use crate::target::{kubernetes, Files, Layout, Prune, Target};

/// `aimgen render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// Write the target's files into this folder (Compose: docker-compose.cache.yml,
    /// Dockerfile.optimized, env/*.env; Kubernetes: kustomization.yaml and the manifests).
    #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Compare with what is in the folder instead of writing: exit 1 with a diff if stale.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
    #[command(flatten)]
    pub compile: CompileArgs,
}

/// Runs `render`.
pub fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let compiled = compile(&args.fleet, &args.compile, &mut report)?;
    let failed = report.failed(args.compile.deny_warnings);
    report.print(args.compile.format)?;
    let Some(compiled) = compiled.filter(|_| !failed) else {
        return Ok(ExitCode::from(1));
    };
    let targets = targets(&args.compile, &compiled.spec);
    let plan = &compiled.resolution.plan;
    let Some(dir) = &args.out_dir else {
        let [target] = targets[..] else {
            super::report::err(
                "error: the spec names several `targets:`; give `-o DIR` to render each into its own folder, or `--target`\n",
            );
            return Ok(ExitCode::from(2));
        };
        if target == Target::Kubernetes {
            print_build(&kubernetes::build_commands(plan)?);
        }
        let files = target.render(plan, Layout::SingleFile)?;
        let mut out = std::io::stdout().lock();
        out.write_all(files.get(target.stdout_file()).map(String::as_bytes).unwrap_or_default())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut stale = String::new();
    for &target in &targets {
        // One target renders into DIR; several each into DIR/<target>.
        let dir: PathBuf = if targets.len() == 1 { dir.clone() } else { dir.join(target.as_str()) };
        let mut plan = plan.clone();
        plan.spec_path = emit::relative_path(&dir, &args.fleet);
        let files = target.render(&plan, Layout::Folder)?;
        if args.check {
            stale.push_str(&drift_report(&dir, &files, target.prune())?);
            continue;
        }
        if target == Target::Kubernetes {
            print_build(&kubernetes::build_commands(&plan)?);
        }
        emit::write(&dir, &files, target.prune())?;
    }
    if stale.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    stale.push_str(&format!(
        "error: {} is out of date with {}; regenerate it with:\n    aimgen render {} -o {}{}\n",
        dir.display(),
        args.fleet.display(),
        args.fleet.display(),
        dir.display(),
        args.compile.target.map(|t| format!(" --target {}", t.as_str())).unwrap_or_default()
    ));
    super::report::err(&stale);
    Ok(ExitCode::from(1))
}

/// The build and push commands of the Kubernetes target's images (aimgen runs none).
fn print_build(build: &[String]) {
    let mut msg = String::from("aimgen: the images are built from Dockerfile.optimized (aimgen runs none of this):\n");
    for b in build {
        msg.push_str(&format!("    {b}\n"));
    }
    super::report::err(&msg);
}

/// What differs between `dir` and the rendering, as text (empty when up to date).
fn drift_report(dir: &Path, files: &Files, prune: &[Prune]) -> anyhow::Result<String> {
    let drift = emit::check(dir, files, prune)?;
    // `Path::join`, not "{dir}/{rel}": `-o deploy/` would print `deploy//env/…`.
    let shown = |rel: &String| dir.join(rel).display().to_string();
    let mut msg = String::new();
    for (rel, diff) in &drift.changed {
        msg.push_str(&format!("stale: {}\n{diff}", shown(rel)));
    }
    for rel in &drift.missing {
        msg.push_str(&format!("missing: {}\n", shown(rel)));
    }
    for rel in &drift.unexpected {
        msg.push_str(&format!("unexpected: {} (generated for a service the spec no longer has)\n", shown(rel)));
    }
    Ok(msg)
}
