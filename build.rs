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

/// The YAML file as compact JSON, for the runtime to parse without a YAML parser (`None`
/// when it is not plain YAML data: the runtime then reads the YAML and reports why).
fn to_json(text: &str) -> Option<String> {
    let mut value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    value.apply_merge().ok()?;
    serde_json::to_string(&value).ok()
}

/// Every file under `dir`, at any depth (`templates/<target>/…`), sorted.
fn list_tree(dir: &Path) -> Vec<String> {
    let mut out = list(dir, "");
    let subdirs = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect::<Vec<_>>())
        .unwrap_or_default();
    for d in subdirs {
        println!("cargo:rerun-if-changed={}", d.display());
        out.extend(list_tree(&d));
    }
    out.sort();
    out
}

/// The `.yaml` files one level below `dir` (`engines/<engine>/<version>.yaml`), sorted.
fn list_nested(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .flat_map(|d| {
            println!("cargo:rerun-if-changed={}", d.display());
            list(d, ".yaml")
        })
        .collect();
    out.sort();
    out
}

/// A table of the JSON forms of `files`, in the same order, each written to `OUT_DIR`, with
/// the values of each file's top-level `keys`, joined by spaces (empty when absent).
fn json_table(name: &str, keys: &[&str], root: &Path, files: &[String], out_dir: &Path) -> String {
    let mut s = format!("pub static {name}: &[(&str, Option<&str>)] = &[\n");
    for f in files {
        let rel =
            Path::new(f).strip_prefix(root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| f.clone());
        match fs::read_to_string(f).ok().as_deref().and_then(to_json) {
            Some(json) => {
                let value = serde_json::from_str::<serde_json::Value>(&json).unwrap_or_default();
                let tag: Vec<&str> =
                    keys.iter().map(|k| value.get(k).and_then(|v| v.as_str()).unwrap_or_default()).collect();
                let tag = tag.join(" ");
                let path = out_dir.join(format!("{}.json", rel.replace('/', "__")));
                fs::write(&path, json).expect("write JSON");
                let _ = writeln!(s, "    ({tag:?}, Some(include_str!({:?}))),", path.to_string_lossy());
            }
            None => s.push_str("    (\"\", None),\n"),
        }
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
    code += &table("ENGINE_FILES", &root, &list_nested(&engines));
    code += &table("TEMPLATE_FILES", &templates, &list_tree(&templates));
    let out_dir = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).to_path_buf();
    // Parsing 500 KB of YAML took ~40 ms at every start; JSON parses an order of magnitude
    // faster. The YAML stays embedded: it is what diagnostics point into.
    code += &json_table("RECIPE_JSON", &[], &root, &list(&recipes, ".yaml"), &out_dir);
    // Engine files are tagged `<engine> <version> <base>`: enough to find a version's file,
    // and its delta's base, without parsing any catalogue.
    code += &json_table("ENGINE_JSON", &["engine", "version", "base"], &root, &list_nested(&engines), &out_dir);
    let out = out_dir.join("embedded.rs");
    fs::write(out, code).expect("write embedded.rs");
}
