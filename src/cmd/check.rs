//! `aimgen check FLEET...`: every problem in every spec, nothing written.

use std::process::ExitCode;

use super::report::{compile, Report};
use crate::cli::CheckArgs;

/// Runs `check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    for fleet in &args.fleets {
        compile(fleet, &args.compile, &mut report)?;
    }
    report.print(args.compile.format)?;
    Ok(if report.failed(args.compile.deny_warnings) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
