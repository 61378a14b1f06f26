//! Command-line interface: the command list and dispatch. Each command, with its arguments,
//! lives in `cmd/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::cmd::cache::CacheCommand;
use crate::cmd::check::CheckArgs;
use crate::cmd::explain::ExplainArgs;
use crate::cmd::lock::LockArgs;
use crate::cmd::outdated::OutdatedArgs;
use crate::cmd::recipes::RecipesCommand;
use crate::cmd::render::RenderArgs;
use crate::cmd::schema::SchemaKind;

/// Compile an LLM fleet spec into a Compose deployment that shares one base image and one
/// Hugging Face model cache.
#[derive(Debug, Parser)]
#[command(name = "aimgen", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the deployment: the Compose file to standard output, or every file into a folder.
    Render(RenderArgs),
    /// Validate fleet specs and report every problem; writes nothing (the pre-commit entry).
    Check(CheckArgs),
    /// Show each service's recipe, the runners-up and why they lost, memory, and the GPU map.
    Explain(ExplainArgs),
    /// Browse the recipe library.
    #[command(subcommand)]
    Recipes(RecipesCommand),
    /// Pin each Hub model to a commit in the fleet's lock file (fleet.yaml → fleet.lock).
    ///
    /// Records, per model, the files the engine loads (path, size, blob id); `render` then pins
    /// the prefetch job and every server to those commits. Asks HF_ENDPOINT (the fleet's
    /// `cache.hf_endpoint` wins) with HF_TOKEN for gated models; AIMGEN_HUB_TIMEOUT_SECS and
    /// AIMGEN_HUB_RETRIES tune the requests.
    Lock(LockArgs),
    /// Inspect the local Hugging Face cache (offline).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show which locked models moved on the Hub and what an update would download.
    ///
    /// Exit status: 0 when all are current, 1 when something is outdated or not locked, 2 on
    /// network or usage errors.
    Outdated(OutdatedArgs),
    /// Print a JSON Schema: the fleet spec's (default), the recipe file's or the lock file's.
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value_t = SchemaKind::Fleet)]
        kind: SchemaKind,
    },
}

/// Parses arguments, runs the command, maps the outcome to an exit status: 0 success, 1
/// invalid input or stale output, 2 usage or I/O errors.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            crate::cmd::report::err(&format!("error: {e:#}\n"));
            ExitCode::from(2)
        }
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(a) => cmd::render::run(&a),
        Command::Check(a) => cmd::check::run(&a),
        Command::Explain(a) => cmd::explain::run(&a),
        Command::Recipes(r) => cmd::recipes::run(&r),
        Command::Lock(a) => cmd::lock::run(&a),
        Command::Cache(CacheCommand::Status(a)) => cmd::cache::status(&a),
        Command::Cache(CacheCommand::Export(a)) => cmd::bundle::export(&a),
        Command::Cache(CacheCommand::Import(a)) => cmd::bundle::import(&a),
        Command::Outdated(a) => cmd::outdated::run(&a),
        Command::Schema { kind } => cmd::schema::run(kind),
    }
}
