//! Command-line interface: clap definitions and dispatch. Each command lives in `cmd/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cmd;
use crate::spec::{Backend, Precision, Vendor};

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

/// Output format. Each command's `--format` help says what it formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people; colour on a terminal unless NO_COLOR.
    #[default]
    Human,
    /// One JSON document on standard output.
    Json,
}

/// Options shared by commands that compile a spec.
#[derive(Debug, Clone, Args)]
pub struct CompileArgs {
    /// Extra recipe folder, searched before the spec's `recipes:` and the built-in library.
    #[arg(long = "recipes", value_name = "DIR")]
    pub recipes: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Diagnostic format: `human` shows each problem's position, source line and a caret.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Output target: `compose` (one GPU host) or `kubernetes` (manifests and a
    /// kustomization). Default: the spec's `targets:`, else compose.
    #[arg(long, value_enum, value_name = "TARGET")]
    pub target: Option<crate::target::kubernetes::spec::Target>,
}

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

/// `aimgen check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Fleet specs to check.
    #[arg(required = true)]
    pub fleets: Vec<PathBuf>,
    #[command(flatten)]
    pub compile: CompileArgs,
}

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
    pub bandwidth: Option<crate::footprint::Bandwidth>,
    #[command(flatten)]
    pub compile: CompileArgs,
}

/// `aimgen lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The fleet spec; its lock file is written beside it.
    pub fleet: PathBuf,
    /// Re-resolve pinned models to the commit their revision points to now: every model, or
    /// those of the SERVICEs named. Without it, existing entries are kept.
    #[arg(long)]
    pub update: bool,
    /// Services whose models `--update` re-resolves.
    #[arg(value_name = "SERVICE", requires = "update")]
    pub services: Vec<String>,
}

/// `aimgen cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Per service: is its locked snapshot cached, and what is left to download.
    ///
    /// Also lists models and revisions in the cache that no service uses, with the `hf cache
    /// rm` command that would remove them. Reads only; deletes nothing.
    Status(CacheStatusArgs),
    /// Write the fleet's locked model files from a local cache into one tar file, for a host
    /// that cannot reach the Hub.
    ///
    /// The bundle holds exactly the files of the fleet's lock, in the Hugging Face cache layout
    /// (blobs; the snapshot links and refs are recreated by `cache import` from its manifest).
    /// Every blob is hashed on the way. Refuses a fleet without a lock file. No network.
    Export(CacheExportArgs),
    /// Verify a bundle written by `cache export` and place its files into a cache.
    ///
    /// Checks each file's size and content id (sha256 for large files, git blob sha1 for the
    /// rest) before it takes its place, keeps blobs already present, then links the snapshots
    /// and writes the refs. A damaged or altered bundle is refused, naming the file. Writes
    /// nothing outside the cache folder. No network.
    Import(CacheImportArgs),
}

/// `aimgen cache export`.
#[derive(Debug, Args)]
pub struct CacheExportArgs {
    /// The fleet spec; its lock file says which files go into the bundle.
    pub fleet: PathBuf,
    /// The hub cache folder to read (default: as for `cache status`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The bundle file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// `aimgen cache import`.
#[derive(Debug, Args)]
pub struct CacheImportArgs {
    /// The bundle file written by `cache export`.
    pub bundle: PathBuf,
    /// The hub cache folder to fill (default: HF_HUB_CACHE, else $HF_HOME/hub, else
    /// ~/.cache/huggingface/hub).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `aimgen cache status`.
#[derive(Debug, Args)]
pub struct CacheStatusArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// The hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else the fleet's
    /// `<cache.host_path>/hub`, else ~/.cache/huggingface/hub).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Format of the report: a table, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `aimgen outdated`.
#[derive(Debug, Args)]
pub struct OutdatedArgs {
    /// The fleet spec.
    pub fleet: PathBuf,
    /// Format of the report: per model what changed, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `aimgen recipes …`.
#[derive(Debug, Subcommand)]
pub enum RecipesCommand {
    /// Every recipe and its state for a query: compatible, or why not.
    List(RecipeQueryArgs),
    /// One recipe in full, and where it came from.
    Show {
        /// Recipe id.
        id: String,
        /// Extra recipe folder.
        #[arg(long = "recipes", value_name = "DIR")]
        recipes: Vec<PathBuf>,
    },
    /// The engine flags aimgen checks a service's `args` against.
    Flags {
        /// Engine.
        #[arg(value_enum)]
        engine: Backend,
        /// The engine release whose flags to list (e.g. `0.11.0`); without a catalogue of it,
        /// the nearest one's [default: the newest catalogued release].
        #[arg(long, value_name = "VERSION")]
        engine_version: Option<String>,
    },
}

/// Filters for `recipes list`.
#[derive(Debug, Args)]
pub struct RecipeQueryArgs {
    /// Hugging Face model id.
    #[arg(long)]
    pub model: Option<String>,
    /// GPU model, one aimgen knows (e.g. MI300X, H100) [default: MI300X, or H100 with
    /// `--vendor nvidia`].
    #[arg(long)]
    pub gpu: Option<String>,
    /// GPU vendor (implied by --gpu).
    #[arg(long, value_enum)]
    pub vendor: Option<Vendor>,
    /// GPUs the service uses, as `gpus:` in a spec: only recipes for exactly N GPUs (or
    /// general ones) are compatible.
    #[arg(long, value_name = "N")]
    pub gpus: Option<u32>,
    /// GPUs free on the host, when `--gpus` is not given: recipes needing more are
    /// `count_mismatch`.
    #[arg(long, value_name = "N", default_value_t = crate::cmd::recipes::DEFAULT_FREE)]
    pub free: u32,
    /// Engine.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Precision.
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// The engine release the image runs (e.g. `0.11.0`, `0.4.6.post1`): recipes not valid
    /// for it are `engine_version_mismatch` [default: the newest catalogued release].
    #[arg(long, value_name = "VERSION")]
    pub engine_version: Option<String>,
    /// Extra recipe folder.
    #[arg(long = "recipes", value_name = "DIR")]
    pub recipes: Vec<PathBuf>,
    /// Format of the list: a table, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

impl ValueEnum for Backend {
    fn value_variants<'a>() -> &'a [Self] {
        &[Backend::Vllm, Backend::Sglang]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for Vendor {
    fn value_variants<'a>() -> &'a [Self] {
        &[Vendor::Amd, Vendor::Nvidia]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for Precision {
    fn value_variants<'a>() -> &'a [Self] {
        &[Precision::Auto, Precision::Bf16, Precision::Fp16, Precision::Fp8]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
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
        Command::Schema { kind } => {
            let schema = match kind {
                SchemaKind::Fleet => crate::schema::fleet_schema_json(),
                SchemaKind::Recipe => crate::schema::recipe_schema_json(),
                SchemaKind::Lock => crate::lockfile::schema_json(),
            };
            crate::cmd::report::out(&crate::schema::to_text(&schema))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
