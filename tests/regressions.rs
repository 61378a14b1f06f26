//! Inputs the fuzz targets (`fuzz/`) found crashing or breaking a property, each fixed in
//! `src/`: they stay here so the bug cannot come back. Inputs are inline when short, else
//! under `tests/fuzz-regressions/`.

use aimgen::diagnostic::{Diagnostic, Severity};

/// fuzz target `diagnostic`: a column of 0 underflowed `c - 1` (a panic in debug builds, a
/// one-caret guess in release). Column 0 now renders as column 1.
#[test]
fn diagnostic_with_column_zero_renders() {
    let d = Diagnostic {
        severity: Severity::Error,
        message: "m".into(),
        path: Some("f.yaml".into()),
        line: Some(1),
        column: Some(0),
        pointer: None,
        help: None,
        len: 3,
        at_key: false,
        snippet: Some("abc".into()),
        missing_field: false,
    };
    assert_eq!(d.render(false), "error: m\n --> f.yaml:1:0\n  |\n1 | abc\n  | ^^^\n");
}

fn compile(text: &str) -> Result<aimgen::compile::Compiled, Vec<Diagnostic>> {
    let source = aimgen::source::Source::new("fleet.yaml", text);
    match aimgen::compile::compile_source(
        source,
        std::path::Path::new("."),
        &aimgen::compile::Options::default(),
        &aimgen::lockfile::Pins::new(),
    ) {
        Ok(c) => Ok(c),
        Err(aimgen::compile::Failure::Invalid(d)) => Err(d),
        Err(aimgen::compile::Failure::Read(e)) => panic!("{e}"),
    }
}

/// fuzz target `fleet` (property: serde accepts ⇒ the schema accepts): serde's derive reads
/// a struct from a list, positionally, so once the schema ran only when serde refused, a
/// service written as a list compiled as if it were `{model: …}`. It is a type error again.
#[test]
fn service_written_as_a_list_is_a_type_error() {
    let spec = "version: 1\nname: x\nhost: {gpu: {vendor: amd, model: MI300X, count: 8}}\n\
                image: {base: a/b:1}\nservices:\n  q: [Qwen/Qwen3-32B]\n";
    let diags = compile(spec).expect_err("a list is not a service");
    assert!(diags.iter().any(|d| d.message == "`q` has the wrong type: expected a mapping, found a list"), "{diags:?}");
}

/// The same for a recipe file: model facts written as a list.
#[test]
fn recipe_model_facts_written_as_a_list_are_a_type_error() {
    let src = aimgen::source::Source::new("r.yaml", "models:\n  - [org/model, 7]\n");
    let lib = aimgen::recipe::library::builtin().expect("built-in library");
    let diags = aimgen::recipe::library::parse_recipe_file(&src, &lib.catalog).expect_err("rejected");
    assert!(diags.iter().any(|d| d.message.contains("wrong type")), "{diags:?}");
}
