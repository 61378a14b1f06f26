//! `aimgen check FLEET...`: every problem in every spec, nothing written.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::report::CompileArgs;
use super::report::{compile, Report};

/// `aimgen check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Fleet specs to check.
    #[arg(required = true)]
    pub fleets: Vec<PathBuf>,
    #[command(flatten)]
    pub compile: CompileArgs,
}

/// Runs `check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    for fleet in &args.fleets {
        compile(fleet, &args.compile, &mut report)?;
    }
    report.print(args.compile.format)?;
    Ok(if report.failed(args.compile.deny_warnings) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
