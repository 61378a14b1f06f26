//! `aimgen schema [fleet|recipe|lock]`: the JSON Schemas editors validate against.

use std::process::ExitCode;

use clap::ValueEnum;

/// Which schema to print.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaKind {
    /// `fleet.yaml`.
    Fleet,
    /// Recipe files.
    Recipe,
    /// Lock files (`fleet.lock`, written by `aimgen lock`).
    Lock,
}

/// Runs `schema`.
pub fn run(kind: SchemaKind) -> anyhow::Result<ExitCode> {
    let schema = match kind {
        SchemaKind::Fleet => crate::schema::fleet_schema_json(),
        SchemaKind::Recipe => crate::recipe::schema_json(),
        SchemaKind::Lock => crate::lockfile::schema_json(),
    };
    super::report::out(&crate::schema::to_text(&schema))?;
    Ok(ExitCode::SUCCESS)
}
