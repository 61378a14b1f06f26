//! A user recipe file from arbitrary bytes: `recipe::library::parse_recipe_file`, checked
//! against the built-in engine catalogues, and its diagnostics rendered.
//!
//! Properties: nothing panics; serde accepting the file implies the recipe schema has
//! nothing to say (`load::parse_lenient` relies on it); an accepted file round-trips
//! through `recipes show`'s YAML.
#![no_main]

use aimgen::recipe::{library, RecipeFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(lib) = library::builtin() else { panic!("the built-in library loads") };
    let Ok(source) = aimgen::load::from_bytes("user/recipes.yaml", data.to_vec()) else { return };
    if let Ok(json) = aimgen::load::parse_json(&source) {
        if aimgen::load::deserialize_strict::<RecipeFile>(&json).is_ok() {
            let problems = library::recipe_schema().check(&json);
            assert!(problems.is_empty(), "serde accepts what the schema rejects: {problems:?}");
        }
    }
    match library::parse_recipe_file(&source, &lib.catalog) {
        Ok(file) => {
            for r in &file.recipes {
                let text = serde_yaml::to_string(r).expect("a recipe serializes");
                let back: aimgen::recipe::Recipe = serde_yaml::from_str(&text).expect("and reads back");
                assert_eq!(format!("{back:?}"), format!("{r:?}"));
            }
        }
        Err(diags) => {
            for d in &diags {
                let _ = d.render(false);
                let _ = d.render(true);
            }
        }
    }
});
