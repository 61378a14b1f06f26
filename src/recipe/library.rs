//! Loading the recipe library: the built-in files embedded in the binary (parsed once, on
//! first use), then user folders, which come first in the search order and may replace a
//! built-in recipe by id.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use crate::diagnostic::Diagnostic;
use crate::load::{self, Schema};
use crate::source::Source;
use crate::spec::Precision;

use super::catalog::{self, Catalog, EngineCatalog};
use super::version::{EngineVersion, VersionReq};
use super::{ModelFacts, Recipe, RecipeFile};

use crate::embedded;

/// Where a recipe came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum Origin {
    /// Embedded in aimgen, from this file of `recipes/`.
    Builtin(String),
    /// A user's recipe file.
    User(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin(p) => write!(f, "built-in {p}"),
            Origin::User(p) => write!(f, "{p}"),
        }
    }
}

/// A recipe with its provenance.
#[derive(Debug, Clone)]
pub struct LoadedRecipe {
    /// The recipe.
    pub recipe: Recipe,
    /// The file it came from.
    pub origin: Origin,
    /// It replaced a built-in recipe of the same id.
    pub replaces_builtin: bool,
    /// The engine releases it is valid for (its `engines:`), parsed once.
    pub versions: Option<VersionReq>,
}

impl LoadedRecipe {
    /// A recipe from `origin`.
    pub fn new(recipe: Recipe, origin: Origin, replaces_builtin: bool) -> LoadedRecipe {
        LoadedRecipe { versions: recipe.versions(), recipe, origin, replaces_builtin }
    }
}

/// All recipes in search order (user, then model-specific, then general), model facts and
/// the engine catalogues.
#[derive(Debug, Clone)]
pub struct Library {
    /// Recipes in search order.
    pub recipes: Vec<LoadedRecipe>,
    /// Model facts by repo id.
    pub models: BTreeMap<String, ModelFacts>,
    /// Engine flag and variable catalogues.
    pub catalog: Catalog,
}

/// The recipe file schema (also `schemas/recipe.schema.json`).
pub fn recipe_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::lazy(super::schema_json, "recipe file"))
}

fn catalog_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::lazy(
            || serde_json::to_value(schemars::schema_for!(EngineCatalog)).unwrap_or_default(),
            "engine catalogue",
        )
    })
}

/// The embedded library, parsed on first use. Its files are checked in full by the test
/// suite (`check_builtin`); should one still fail to load, the error names it rather than
/// panicking.
pub fn builtin() -> Result<&'static Library, Vec<Diagnostic>> {
    static LIB: OnceLock<Result<Library, Vec<Diagnostic>>> = OnceLock::new();
    LIB.get_or_init(|| parse_builtin().map_or_else(check_builtin, Ok)).as_ref().map_err(Clone::clone)
}

/// The embedded library from the JSON that build.rs made of it: no YAML, no schema, no
/// catalogue checks, which the test suite has already run on the same files (this is what
/// every start pays for). `None` when any file does not convert; `builtin` then takes the
/// checking path, which says what is wrong.
pub fn parse_builtin() -> Option<Library> {
    // Catalogues are parsed per engine on first use; here only check they were converted.
    if embedded::ENGINE_JSON.iter().any(|(_, json)| json.is_none()) {
        return None;
    }
    let mut lib = Library { recipes: Vec::new(), models: BTreeMap::new(), catalog: Catalog::builtin() };
    let (mut specific, mut general) = (Vec::new(), Vec::new());
    for ((name, _), (_, json)) in embedded::RECIPE_FILES.iter().zip(embedded::RECIPE_JSON) {
        let file = serde_json::from_str::<RecipeFile>((*json)?).ok()?;
        for m in file.models {
            lib.models.insert(m.id.clone(), m);
        }
        for r in file.recipes {
            let loaded = LoadedRecipe::new(r, Origin::Builtin(name.to_string()), false);
            if loaded.recipe.is_general() {
                general.push(loaded);
            } else {
                specific.push(loaded);
            }
        }
    }
    lib.recipes.extend(specific);
    lib.recipes.extend(general);
    duplicate_ids(&lib.recipes).is_empty().then_some(lib)
}

/// The embedded library read the way user files are: YAML, schema, catalogue checks, every
/// problem reported.
pub fn check_builtin() -> Result<Library, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut catalogs = Vec::new();
    for (name, text) in embedded::ENGINE_FILES {
        let src = Source::new(*name, *text);
        match load::parse::<EngineCatalog>(&src, catalog_schema()) {
            Ok(c) => catalogs.push(c),
            Err(d) => problems.extend(d),
        }
    }
    let catalog = match Catalog::new(catalogs) {
        Ok(c) => c,
        Err(d) => {
            problems.extend(d);
            Catalog::default()
        }
    };
    let mut lib = Library { recipes: Vec::new(), models: BTreeMap::new(), catalog };
    let mut specific = Vec::new();
    let mut general = Vec::new();
    for (name, text) in embedded::RECIPE_FILES {
        let src = Source::new(*name, *text);
        match parse_recipe_file(&src, &lib.catalog) {
            Ok(file) => {
                for m in file.models {
                    lib.models.insert(m.id.clone(), m);
                }
                for r in file.recipes {
                    let loaded = LoadedRecipe::new(r, Origin::Builtin(name.to_string()), false);
                    if loaded.recipe.is_general() {
                        general.push(loaded);
                    } else {
                        specific.push(loaded);
                    }
                }
            }
            Err(d) => problems.extend(d),
        }
    }
    lib.recipes.extend(specific);
    lib.recipes.extend(general);
    problems.extend(duplicate_ids(&lib.recipes));
    if problems.is_empty() {
        Ok(lib)
    } else {
        Err(problems)
    }
}

fn duplicate_ids(recipes: &[LoadedRecipe]) -> Vec<Diagnostic> {
    let mut seen: BTreeMap<&str, &Origin> = BTreeMap::new();
    let mut out = Vec::new();
    for r in recipes {
        if let Some(first) = seen.insert(&r.recipe.id, &r.origin) {
            out.push(Diagnostic::error(format!(
                "recipe id `{}` is defined twice ({first} and {})",
                r.recipe.id, r.origin
            )));
        }
    }
    out
}

/// Parses one recipe file and checks each recipe against the catalogue.
pub fn parse_recipe_file(src: &Source, catalog: &Catalog) -> Result<RecipeFile, Vec<Diagnostic>> {
    let file: RecipeFile = load::parse(src, recipe_schema())?;
    let mut problems = Vec::new();
    for (i, r) in file.recipes.iter().enumerate() {
        let base = format!("/recipes/{i}");
        if !valid_recipe_id(&r.id) {
            problems
                .push(Diagnostic::error(format!("recipe id `{}` is not valid", r.id)).at(format!("{base}/id")).help(
                "use lowercase letters, digits, `.`, `_`, `-` and `/`, e.g. `qwen3-32b/vllm-mi300x-bf16-tp4-latency`",
            ));
        }
        if r.precision == Precision::Auto {
            problems.push(
                Diagnostic::error("a recipe has one precision; `auto` is for services")
                    .at(format!("{base}/precision"))
                    .help("use `bf16`, `fp16` or `fp8`"),
            );
        }
        if r.gpu_count == Some(0) {
            problems.push(Diagnostic::error("`gpu_count` must be at least 1").at(format!("{base}/gpu_count")));
        }
        problems.extend(check_against_releases(r, catalog, &base));
        // A recipe is checked like a spec: it may not set what aimgen owns, nor values an env
        // file cannot hold (a recipe once injected variables with quotes and newlines).
        problems.extend(crate::reserved::check_env(&r.env, &format!("{base}/env")));
        for (k, v) in &r.args {
            if v.as_str().is_some_and(|s| s.contains('\0')) {
                problems.push(
                    Diagnostic::error("argument values may not contain NUL")
                        .at(format!("{base}/args/{}", crate::source::escape_segment(k))),
                );
            }
        }
    }
    for (i, m) in file.models.iter().enumerate() {
        if !(m.params_b.is_finite() && m.params_b > 0.0) {
            problems
                .push(Diagnostic::error("`params_b` must be a positive number").at(format!("/models/{i}/params_b")));
        }
    }
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems.into_iter().map(|d| d.locate(src)).collect())
    }
}

/// Checks a recipe's `engines:` and, against every catalogued release it states (all of
/// them when it states none), its arguments and variables: each problem once, for the oldest
/// release that has it.
fn check_against_releases(r: &Recipe, catalog: &Catalog, base: &str) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let mut req = None;
    for (engine, text) in &r.engines {
        let at = format!("{base}/engines/{}", engine.as_str());
        if *engine != r.engine {
            problems.push(
                Diagnostic::error(format!("a {} recipe cannot state {} releases", r.engine.as_str(), engine.as_str()))
                    .at_key(at)
                    .help(format!("state the {} releases it is valid for", r.engine.as_str())),
            );
            continue;
        }
        match VersionReq::parse(text) {
            Ok(q) => req = Some(q),
            Err(e) => problems.push(Diagnostic::error(e).at(at)),
        }
    }
    let known = catalog.versions(r.engine);
    let releases: Vec<&EngineVersion> = known.iter().filter(|v| req.as_ref().is_none_or(|q| q.matches(v))).collect();
    if let (Some(q), true, false) = (&req, releases.is_empty(), known.is_empty()) {
        let list: Vec<String> = known.iter().map(EngineVersion::to_string).collect();
        problems.push(
            Diagnostic::error(format!("no catalogued {} release is {q}", catalog::engine_name(r.engine)))
                .at(format!("{base}/engines/{}", r.engine.as_str()))
                .help(format!("aimgen has catalogues of {}", list.join(", "))),
        );
    }
    let mut seen = BTreeSet::new();
    for v in releases {
        let context = match &req {
            Some(q) => format!("the recipe's `engines:` allows {v} ({q})"),
            None => format!("the recipe states no `engines:`, so it must suit every release, {v} too"),
        };
        let found = catalog
            .check_args_in(r.engine, v, &r.args, &format!("{base}/args"), &context)
            .into_iter()
            .chain(catalog.check_env_in(r.engine, v, &r.env, &format!("{base}/env"), &context));
        for d in found {
            if seen.insert(d.pointer.clone()) {
                problems.push(d);
            }
        }
    }
    problems
}

fn valid_recipe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        && !id.contains("..")
}

/// The built-in library alone when there are no user folders (no copy), else extended.
pub fn load(dirs: &[(std::path::PathBuf, String)]) -> Result<std::borrow::Cow<'static, Library>, Vec<Diagnostic>> {
    if dirs.is_empty() {
        builtin().map(std::borrow::Cow::Borrowed)
    } else {
        Library::with_user_dirs(dirs).map(std::borrow::Cow::Owned)
    }
}

impl Library {
    /// The built-in library extended with user folders (first folder first). User recipes
    /// come before all built-in ones in the search order; one with a built-in id replaces it.
    pub fn with_user_dirs(dirs: &[(std::path::PathBuf, String)]) -> Result<Library, Vec<Diagnostic>> {
        let base = builtin()?;
        let mut user = Vec::new();
        let mut models = base.models.clone();
        let mut problems = Vec::new();
        for (dir, shown) in dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(rd) => rd,
                Err(e) => {
                    problems.push(Diagnostic::error(format!("cannot read recipe folder {shown}: {e}")));
                    continue;
                }
            };
            let mut files: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .collect();
            files.sort();
            for path in files {
                let name = display_join(shown, &path);
                let src = match load::read(&path, &name) {
                    Ok(Ok(s)) => s,
                    Ok(Err(d)) => {
                        problems.push(d);
                        continue;
                    }
                    Err(e) => {
                        problems.push(Diagnostic::error(e.0));
                        continue;
                    }
                };
                match parse_recipe_file(&src, &base.catalog) {
                    Ok(file) => {
                        for m in file.models {
                            models.insert(m.id.clone(), m);
                        }
                        for r in file.recipes {
                            let replaces = base.recipes.iter().any(|b| b.recipe.id == r.id);
                            user.push(LoadedRecipe::new(r, Origin::User(name.clone()), replaces));
                        }
                    }
                    Err(d) => problems.extend(d),
                }
            }
        }
        problems.extend(duplicate_ids(&user));
        if !problems.is_empty() {
            return Err(problems);
        }
        let replaced: BTreeSet<String> = user.iter().map(|r| r.recipe.id.clone()).collect();
        let mut recipes = user;
        recipes.extend(base.recipes.iter().filter(|r| !replaced.contains(&r.recipe.id)).cloned());
        Ok(Library { recipes, models, catalog: base.catalog.clone() })
    }

    /// The recipe with this id.
    pub fn get(&self, id: &str) -> Option<&LoadedRecipe> {
        self.recipes.iter().find(|r| r.recipe.id == id)
    }
}

fn display_join(shown: &str, path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    if shown.ends_with('/') {
        format!("{shown}{file}")
    } else {
        format!("{shown}/{file}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every start uses (the JSON build.rs made) is what the checking path reads from
    /// the YAML, and the YAML passes every check.
    #[test]
    fn builtin_json_matches_checked_yaml() {
        let checked = match check_builtin() {
            Ok(l) => l,
            Err(d) => panic!("built-in library: {}", d.iter().map(|d| d.render(false)).collect::<String>()),
        };
        let fast = parse_builtin().expect("every embedded file converts to JSON");
        let ids = |l: &Library| l.recipes.iter().map(|r| (r.recipe.clone(), r.origin.clone())).collect::<Vec<_>>();
        assert_eq!(ids(&fast), ids(&checked));
        assert_eq!(fast.models, checked.models);
        assert_eq!(fast.catalog.dump(), checked.catalog.dump());
    }
}
