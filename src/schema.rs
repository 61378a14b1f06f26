//! JSON Schemas generated from the input types: what editors validate against and what
//! `check` enforces. Committed copies live in `schemas/`; a test keeps them equal. The fleet
//! spec's is here; the recipe file's and the lock file's live with their types.

use schemars::generate::SchemaSettings;
use serde_json::Value as Json;

use crate::spec::FleetSpec;

/// The draft-07 schema of `T`, with its `$id` and `title`.
pub fn generate<T: schemars::JsonSchema>(id: &str, title: &str) -> Json {
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

/// Pretty JSON with a final newline, as committed.
pub fn to_text(schema: &Json) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
