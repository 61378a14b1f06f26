//! `aimgen render FLEET [-o DIR [--check]]`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::report::CompileArgs;
use super::report::{compile, Report};
use crate::emit;
use crate::target::{Layout, Target};

/// `aimgen render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// Write docker-compose.cache.yml, Dockerfile.optimized and env/*.env into this folder.
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
    let plan = &compiled.resolution.plan;
    let target = Target::Compose;
    match &args.out_dir {
        None => {
            let files = target.render(plan, Layout::SingleFile)?;
            let mut out = std::io::stdout().lock();
            out.write_all(files.get(target.stdout_file()).map(String::as_bytes).unwrap_or_default())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(dir) => {
            let mut plan = plan.clone();
            plan.spec_path = emit::relative_path(dir, &args.fleet);
            let files = target.render(&plan, Layout::Folder)?;
            if !args.check {
                emit::write(dir, &files, target.prune())?;
                return Ok(ExitCode::SUCCESS);
            }
            let drift = emit::check(dir, &files, target.prune())?;
            if drift.is_clean() {
                return Ok(ExitCode::SUCCESS);
            }
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
            msg.push_str(&format!(
                "error: {} is out of date with {}; regenerate it with:\n    aimgen render {} -o {}\n",
                dir.display(),
                args.fleet.display(),
                args.fleet.display(),
                dir.display()
            ));
            super::report::err(&msg);
            Ok(ExitCode::from(1))
        }
    }
}
