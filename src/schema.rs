//! JSON Schemas generated from the spec types: what editors validate against and what
//! `check` enforces. Committed copies live in `schemas/`; a test keeps them equal.

use schemars::generate::SchemaSettings;
use serde_json::Value as Json;

use crate::recipe::RecipeFile;
use crate::spec::FleetSpec;

fn generate<T: schemars::JsonSchema>(id: &str, title: &str) -> Json {
    // Draft-07: the draft every YAML editor plugin understands.
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".into(), Json::String(id.into()));
        obj.insert("title".into(), Json::String(title.into()));
    }
    value
}

/// The fleet spec schema (`schemas/fleet.schema.json`).
pub fn fleet_schema_json() -> Json {
    generate::<FleetSpec>("urn:aimgen:schema:fleet:1", "aimgen fleet spec (version 1)")
}

/// The recipe file schema (`schemas/recipe.schema.json`).
pub fn recipe_schema_json() -> Json {
    generate::<RecipeFile>("urn:aimgen:schema:recipe:1", "aimgen recipe file")
}

/// Pretty JSON with a final newline, as committed.
pub fn to_text(schema: &Json) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
