//! Embeds the recipe library and the templates in the binary: one `include_str!` per file,
//! listed in sorted order so the binary (and everything it renders) is reproducible.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn list(dir: &Path, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(ext))
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn table(name: &str, root: &Path, files: &[String]) -> String {
    let mut s = format!("pub static {name}: &[(&str, &str)] = &[\n");
    for f in files {
        let rel =
            Path::new(f).strip_prefix(root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| f.clone());
        let _ = writeln!(s, "    ({rel:?}, include_str!({f:?})),");
    }
    s.push_str("];\n");
    s
}

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).to_path_buf();
    let recipes = root.join("recipes");
    let engines = recipes.join("engines");
    let templates = root.join("templates");
    for d in [&recipes, &engines, &templates] {
        println!("cargo:rerun-if-changed={}", d.display());
    }
    let mut code = String::new();
    code += &table("RECIPE_FILES", &root, &list(&recipes, ".yaml"));
    code += &table("ENGINE_FILES", &root, &list(&engines, ".yaml"));
    code += &table("TEMPLATE_FILES", &templates, &list(&templates, ""));
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    fs::write(out, code).expect("write embedded.rs");
}
