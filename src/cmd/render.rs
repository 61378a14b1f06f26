//! `aimgen render FLEET [-o DIR [--check]]`.

use std::io::Write as _;
use std::process::ExitCode;

use super::report::{compile, Report};
use crate::cli::RenderArgs;
use crate::emit;
use crate::render::{self, Layout, COMPOSE_FILE};

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
    match &args.out_dir {
        None => {
            let files = render::render(plan, Layout::SingleFile)?;
            let mut out = std::io::stdout().lock();
            out.write_all(files.get(COMPOSE_FILE).map(String::as_bytes).unwrap_or_default())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(dir) => {
            let mut plan = plan.clone();
            plan.spec_path = emit::relative_path(dir, &args.fleet);
            let files = render::render(&plan, Layout::Folder)?;
            if !args.check {
                emit::write(dir, &files)?;
                return Ok(ExitCode::SUCCESS);
            }
            let drift = emit::check(dir, &files)?;
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
