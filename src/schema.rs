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
    bound_integer_formats(&mut value);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".into(), Json::String(id.into()));
        obj.insert("title".into(), Json::String(title.into()));
    }
    value
}

/// States the range of each sized integer (`"format": "uint32"` and the like) as `minimum` and
/// `maximum`, keeping a narrower bound the type already has. schemars writes only the format,
/// which validators ignore; serde refuses `count: 99999999999` for a u32 without a position,
/// and the schema is what puts that error at its line. It says no more than serde does.
fn bound_integer_formats(schema: &mut Json) {
    match schema {
        Json::Object(m) => {
            if let Some((lo, hi)) = m.get("format").and_then(Json::as_str).and_then(integer_range) {
                let lo = m.get("minimum").and_then(as_i128).map_or(lo, |had| had.max(lo));
                let hi = m.get("maximum").and_then(as_i128).map_or(hi, |had| had.min(hi));
                m.insert("minimum".into(), integer_json(lo));
                m.insert("maximum".into(), integer_json(hi));
            }
            m.values_mut().for_each(bound_integer_formats);
        }
        Json::Array(a) => a.iter_mut().for_each(bound_integer_formats),
        _ => {}
    }
}

/// The values a schemars integer format holds.
fn integer_range(format: &str) -> Option<(i128, i128)> {
    Some(match format {
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" => (0, u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// A bound already in the schema, as a whole number (schemars writes some as `0.0`).
fn as_i128(v: &Json) -> Option<i128> {
    v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from)).or_else(|| v.as_f64().map(|f| f as i128))
}

/// An exact JSON integer (a float would round `u64::MAX`).
fn integer_json(n: i128) -> Json {
    i64::try_from(n).map(Json::from).or_else(|_| u64::try_from(n).map(Json::from)).unwrap_or(Json::Null)
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
