//! Printing diagnostics: human (stderr, colour on a terminal unless NO_COLOR) or JSON (stdout).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::compile::{self, Compiled, Failure, Fleet, Options};
use crate::diagnostic::{Diagnostic, Severity};
use crate::target::Target;

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
    pub target: Option<Target>,
}

/// Whether to colour standard error.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Human output stops listing after this many; the summary still counts them all.
const MAX_SHOWN: usize = 200;

/// Collects diagnostics across files and prints them once at the end.
#[derive(Debug, Default)]
pub struct Report {
    diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Adds one file's diagnostics, in source order (top to bottom is how people fix them;
    /// problems without a position come first).
    pub fn extend(&mut self, d: impl IntoIterator<Item = Diagnostic>) {
        let start = self.diagnostics.len();
        self.diagnostics.extend(d);
        // Compared by reference: a key that cloned the path allocated twice per comparison,
        // an eighth of the time 100,000 unknown flags took. One file's diagnostics (the usual
        // case) all have the same path: then only the numbers are compared, sorted as a list
        // of keys (stable, like `sort_by`), since moving the diagnostics themselves (a few
        // hundred bytes each) cost more than comparing them.
        let added = &mut self.diagnostics[start..];
        if added.windows(2).all(|w| w[0].path == w[1].path) {
            added.sort_by_cached_key(|d| (d.line, d.column));
        } else {
            added.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        }
    }

    /// Errors so far (warnings count with `deny_warnings`).
    pub fn failed(&self, deny_warnings: bool) -> bool {
        self.diagnostics.iter().any(|d| d.is_error() || deny_warnings)
    }

    /// Prints in `format`; JSON always prints a document, human prints a summary line when
    /// anything was reported.
    pub fn print(&self, format: Format) -> anyhow::Result<()> {
        let errors = self.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = self.diagnostics.len() - errors;
        match format {
            Format::Json => {
                let doc = serde_json::json!({
                    "diagnostics": self.diagnostics,
                    "errors": errors,
                    "warnings": warnings,
                });
                super::report::out(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))?;
            }
            Format::Human => {
                let color = color();
                let mut out = String::new();
                for d in self.diagnostics.iter().take(MAX_SHOWN) {
                    out.push_str(&d.render(color));
                    out.push('\n');
                }
                if self.diagnostics.len() > MAX_SHOWN {
                    out.push_str(&format!("… and {} more not shown\n", self.diagnostics.len() - MAX_SHOWN));
                }
                if errors > 0 || warnings > 0 {
                    let mut parts = Vec::new();
                    if errors > 0 {
                        parts.push(format!("{errors} error{}", if errors == 1 { "" } else { "s" }));
                    }
                    if warnings > 0 {
                        parts.push(format!("{warnings} warning{}", if warnings == 1 { "" } else { "s" }));
                    }
                    out.push_str(&format!("{}\n", parts.join(", ")));
                }
                err(&out);
            }
        }
        Ok(())
    }
}

/// Compiles one spec for a command, adding its diagnostics to `report`. `Ok(None)` means it
/// was invalid (reported); `Err` is an I/O problem (exit 2).
pub fn compile(path: &Path, args: &CompileArgs, report: &mut Report) -> anyhow::Result<Option<Compiled>> {
    let opts = Options { recipe_dirs: args.recipes.clone(), target: args.target };
    let name = path.display().to_string();
    match compile::compile_file(path, &name, &opts) {
        Ok(c) => {
            report.extend(c.resolution.warnings.clone());
            Ok(Some(c))
        }
        Err(Failure::Invalid(d)) => {
            report.extend(d);
            Ok(None)
        }
        Err(Failure::Read(e)) => Err(e.into()),
    }
}

/// Reads one spec and its lock for a command that chooses no recipe (`lock`, `outdated`,
/// `cache status`, `cache export`), printing its problems as `check` prints them. `Ok(None)`
/// means it was invalid (reported); `Err` is an I/O problem (exit 2).
pub fn read_fleet(path: &Path) -> anyhow::Result<Option<Fleet>> {
    let mut report = Report::default();
    let fleet = match compile::read_fleet(path, &path.display().to_string()) {
        Ok(f) => Some(f),
        Err(Failure::Invalid(d)) => {
            report.extend(d);
            None
        }
        Err(Failure::Read(e)) => return Err(e.into()),
    };
    report.print(Format::Human)?;
    Ok(fleet)
}

/// The targets a command works for: `--target`, else the spec's `targets:`, else Compose.
pub fn targets(args: &CompileArgs, spec: &crate::spec::FleetSpec) -> Vec<Target> {
    Target::chosen(args.target, &spec.targets)
}

/// Writes to standard output. A closed pipe (`aimgen … | head`) ends output quietly instead
/// of panicking as `print!` would.
pub fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes to standard error, ignoring a closed stream (nothing better can be done with it).
pub fn err(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str, line: usize, message: &str) -> Diagnostic {
        Diagnostic { path: Some(path.into()), line: Some(line), column: Some(1), ..Diagnostic::error(message) }
    }

    #[test]
    fn sorts_each_file_by_position_keeping_the_order_of_ties() {
        let order = |r: &Report| r.diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>();
        let mut one = Report::default();
        one.extend([at("a", 3, "x"), at("a", 1, "y"), at("a", 3, "z")]);
        // Equal positions in the order found.
        assert_eq!(order(&one), ["y", "x", "z"]);
        // No file and no position first.
        one.extend([at("a", 2, "u"), Diagnostic::error("w")]);
        assert_eq!(order(&one), ["y", "x", "z", "w", "u"]);
        let mut two = Report::default();
        two.extend([at("b", 1, "x"), at("a", 2, "y"), at("a", 2, "z"), at("b", 0, "v")]);
        assert_eq!(order(&two), ["y", "z", "v", "x"]);
    }
}
