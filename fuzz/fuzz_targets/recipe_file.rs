//! A user recipe file from arbitrary bytes: `recipe::library::parse_recipe_file`, checked
//! against the built-in engine catalogues, and its diagnostics rendered.
//!
//! Properties: nothing panics; serde accepting the file implies the recipe schema has
//! nothing to say (`load::parse_lenient` relies on it); an accepted file round-trips
//! through `recipes show`'s YAML; every variable of an accepted recipe can be written into
//! an env file as it is (a valid name, not one aimgen owns or a secret, a value of one printable
//! line without `'` or a trailing `\`), so no recipe text can add a line to a generated file.
#![no_main]

use aimgen::recipe::{library, RecipeFile};
use libfuzzer_sys::fuzz_target;

/// Secrets (they would be written into committed files) and variables aimgen sets itself
/// (cache wiring, offline mode, GPU visibility): a recipe that set them would leak the token
/// or undo the cache or the GPU split.
const AIMGEN_VARS: &[&str] = &[
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN_PATH", "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
];

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
                for (k, v) in &r.env {
                    let v = v.as_text();
                    assert!(aimgen::text::valid_env_name(k), "accepted variable name {k:?}");
                    assert!(!AIMGEN_VARS.contains(&k.as_str()), "a recipe sets aimgen's {k}");
                    assert!(aimgen::text::single_line(&v).is_ok(), "{k}: accepted {v:?}");
                    assert!(!v.contains('\'') && !v.ends_with('\\'), "{k}: accepted {v:?}");
                }
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
