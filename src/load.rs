//! Reading an input file (fleet spec, recipe file, lock file) into a typed value, with every
//! problem as a positioned diagnostic: size and encoding, YAML syntax, the JSON Schema, then
//! serde. Each layer reports all it finds before the next one runs.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::{escape_segment, Pos, Source};

/// Largest input read. Specs are a few KB; this bounds time and memory on hostile input.
pub const MAX_INPUT_BYTES: usize = 4 << 20;

/// An input that could not even be read (exit status 2), as opposed to one that is invalid.
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Reads `path` as text. Size, binary content and encoding problems are diagnostics, since
/// the file exists and the user can fix it; a missing or unreadable file is a `ReadError`.
pub fn read(path: &Path, name: &str) -> Result<Result<Source, Diagnostic>, ReadError> {
    use crate::safe_fs::{read_regular, ReadProblem};
    // Only regular files, opened without blocking and measured before reading: a FIFO or a
    // device given as (or planted at) an input path is refused instead of hanging aimgen or
    // reading without end.
    match read_regular(path, MAX_INPUT_BYTES as u64, true) {
        Ok(bytes) => Ok(from_bytes(name, bytes)),
        Err(ReadProblem::TooLarge(_)) => Ok(Err(too_large(name))),
        Err(e) => Err(ReadError(format!("cannot read {name}: {e}"))),
    }
}

fn too_large(name: &str) -> Diagnostic {
    Diagnostic {
        path: Some(name.to_string()),
        ..Diagnostic::error(format!(
            "file is larger than {} MiB; aimgen reads specs, recipes and lock files up to that size",
            MAX_INPUT_BYTES >> 20
        ))
    }
}

/// Checks raw bytes and turns them into a source.
pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Source, Diagnostic> {
    let located = |d: Diagnostic| Diagnostic { path: Some(name.to_string()), ..d };
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(located(Diagnostic::error(format!(
            "file is larger than {} MiB; aimgen reads specs, recipes and lock files up to that size",
            MAX_INPUT_BYTES >> 20
        ))));
    }
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(located(
            Diagnostic::error("this is a binary file (it contains a NUL byte), not YAML").at_pos(Pos {
                line,
                col: 1,
                len: 1,
            }),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, text.strip_prefix('\u{feff}').unwrap_or(&text))),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
            let col = at - bytes[..at].iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0) + 1;
            Err(located(
                Diagnostic::error(format!("file is not valid UTF-8 (bad byte at offset {at})"))
                    .at_pos(Pos { line, col, len: 1 })
                    .help("save the file as UTF-8"),
            ))
        }
    }
}

/// Parses YAML into JSON, validates it against `schema`, then deserializes it.
pub fn parse<T: DeserializeOwned>(source: &Source, schema: &Schema) -> Result<T, Vec<Diagnostic>> {
    match parse_lenient(source, schema) {
        (Some(v), problems) if problems.is_empty() => Ok(v),
        (_, problems) => Err(problems),
    }
}

/// Like `parse`, but also returns a best-effort value when the schema found problems: the
/// offending nodes are pruned and the rest deserialized, so later stages can still report
/// what they find (every problem in one run). `None` when even that fails.
pub fn parse_lenient<T: DeserializeOwned>(source: &Source, schema: &Schema) -> (Option<T>, Vec<Diagnostic>) {
    parse_repairing(source, schema, |_| ())
}

/// `parse_lenient`, with `repair` run on the pruned value before deserializing it: it may put
/// stand-ins where pruning (or the author) left a required field out, so that one bad value
/// does not hide every check that needs the typed spec.
pub fn parse_repairing<T: DeserializeOwned>(
    source: &Source,
    schema: &Schema,
    repair: impl FnOnce(&mut Json),
) -> (Option<T>, Vec<Diagnostic>) {
    let mut json = match parse_json(source) {
        Ok(j) => j,
        Err(d) => return (None, vec![d]),
    };
    // Valid input is the common case, and (strict) serde accepts exactly what the schema,
    // generated from the same types, does; so the schema runs only when serde refuses: it
    // finds every problem and words it better. The fuzz targets assert this equivalence.
    // A schema that says more than the types (e.g. a `pattern`) always runs.
    if !schema.stricter_than_serde {
        if let Ok(v) = deserialize_strict::<T>(&json) {
            return (Some(v), Vec::new());
        }
    }
    let problems: Vec<Diagnostic> = schema.check(&json).into_iter().map(|d| d.locate(source)).collect();
    if !problems.is_empty() {
        prune(
            &mut json,
            problems
                .iter()
                .filter(|d| !is_missing_field(d))
                .filter_map(|d| d.pointer.as_deref())
                .filter(|p| !p.is_empty()),
        );
        repair(&mut json);
        return (serde_json::from_value(json).ok(), problems);
    }
    match serde_json::from_value(json) {
        Ok(v) => (Some(v), problems),
        Err(e) => (None, vec![Diagnostic::error(e.to_string()).at("").locate(source)]),
    }
}

/// Whether `d` is the schema's "missing field": it points at the mapping that lacks the
/// field, which is not itself wrong, so it is neither pruned nor taken as reported.
pub fn is_missing_field(d: &Diagnostic) -> bool {
    d.missing_field
}

/// Deserializes `json` as the schema would judge it (see `Strict`): what `parse_lenient`
/// tries before running the schema.
pub fn deserialize_strict<T: DeserializeOwned>(json: &Json) -> Result<T, serde_json::Error> {
    T::deserialize(Strict(json))
}

/// A JSON value as a serde deserializer that, unlike `&serde_json::Value`, refuses a list
/// where a struct is expected: serde's derive reads a struct from a list positionally
/// (`qwen: [Qwen/Qwen3-32B]` would be a service), which the schema rejects. Found by the
/// `fleet` fuzz target.
struct Strict<'a>(&'a Json);

impl<'de> serde::de::IntoDeserializer<'de, serde_json::Error> for Strict<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> serde::Deserializer<'de> for Strict<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use serde::de::value::{MapDeserializer, SeqDeserializer};
        match self.0 {
            Json::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Json::Object(map) => {
                let mut entries = MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), Strict(v))));
                let value = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(value)
            }
            scalar => serde::Deserializer::deserialize_any(scalar, visitor),
        }
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Json::Object(_) => self.deserialize_any(visitor),
            other => Err(serde::de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Json::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // Spec enums are unit variants, read from strings.
        serde::Deserializer::deserialize_enum(self.0, name, variants, visitor)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn unexpected(v: &Json) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected as U;
    match v {
        Json::Null => U::Unit,
        Json::Bool(b) => U::Bool(*b),
        Json::Number(_) => U::Other("number"),
        Json::String(s) => U::Str(s),
        Json::Array(_) => U::Seq,
        Json::Object(_) => U::Map,
    }
}

/// Removes the nodes at `pointers` (missing nodes are fine). Linear in the number of
/// pointers plus the size of the mappings touched: the pointers are grouped by parent and each
/// parent is filtered once. Removing them one by one (`shift_remove`, `Vec::remove`) moved the
/// rest of the mapping each time: 100,000 unknown keys took 22 s.
fn prune<'a>(json: &mut Json, pointers: impl Iterator<Item = &'a str>) {
    use std::collections::{HashMap, HashSet};
    let mut by_parent: HashMap<&str, HashSet<String>> = HashMap::new();
    for pointer in pointers {
        if let Some((parent, last)) = pointer.rsplit_once('/') {
            let key = if last.contains('~') { last.replace("~1", "/").replace("~0", "~") } else { last.to_string() };
            by_parent.entry(parent).or_default().insert(key);
        }
    }
    // Deepest parents first, so removing a node never invalidates a pointer still to be used.
    let mut parents: Vec<(&str, HashSet<String>)> = by_parent.into_iter().collect();
    parents.sort_by(|a, b| b.0.matches('/').count().cmp(&a.0.matches('/').count()).then(b.0.cmp(a.0)));
    for (parent, keys) in parents {
        match json.pointer_mut(parent) {
            Some(Json::Object(m)) => m.retain(|k, _| !keys.contains(k)),
            Some(Json::Array(a)) => {
                let mut i = 0;
                a.retain(|_| {
                    let keep = !keys.contains(&i.to_string());
                    i += 1;
                    keep
                });
            }
            _ => {}
        }
    }
}

/// YAML text to a JSON value. Syntax errors, duplicate keys, several documents, alias bombs
/// (serde_yaml limits alias repetition) and excessive nesting are reported with positions.
pub fn parse_json(source: &Source) -> Result<Json, Diagnostic> {
    if source.text.trim().is_empty() {
        return Err(Diagnostic::error("file is empty").at("").locate(source));
    }
    if let Some(pos) = too_deep(&source.text) {
        return Err(Diagnostic::error(format!("nesting deeper than {MAX_FLOW_DEPTH} levels"))
            .at_pos(pos)
            .help("a fleet spec is a few levels deep; this looks generated or hostile")
            .locate(source));
    }
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(&source.text).map_err(|e| {
        let mut d = Diagnostic::error(syntax_message(&e));
        let duplicate = e.to_string().contains("duplicate entry").then(|| source.first_duplicate_key()).flatten();
        if let Some(pos) = duplicate {
            d = d.at_pos(pos).help("a key may appear once per mapping; remove or merge the repeated one");
        } else if let Some(loc) = e.location() {
            d = d.at_pos(Pos { line: loc.line(), col: loc.column(), len: 1 });
        }
        d.locate(source)
    })?;
    yaml.apply_merge().map_err(|e| Diagnostic::error(syntax_message(&e)).locate(source))?;
    to_json(yaml, &mut String::new()).map_err(|d| d.locate(source))
}

/// Deepest `[`/`{` nesting accepted. The YAML parser's own recursion limit comes too late:
/// scanning deeply nested flow collections is quadratic there.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Where flow nesting first exceeds the limit, by a linear scan that skips quoted text and
/// comments.
fn too_deep(text: &str) -> Option<Pos> {
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    let mut prev = ' ';
    for c in text.chars() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            comment = false;
            // Flow scalars may span lines; quotes stay open.
            prev = c;
            continue;
        }
        if comment {
            continue;
        }
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' if prev.is_whitespace() => comment = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(Pos { line, col, len: 1 });
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    None
}

fn syntax_message(e: &serde_yaml::Error) -> String {
    // serde_yaml appends " at line L column C"; the location is shown separately.
    let msg = e.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    format!("invalid YAML: {msg}")
}

/// Takes the YAML value apart rather than copying it: every string moves into the JSON value.
/// `pointer` is only read for messages, so it is kept up to date without allocating per node.
fn to_json(v: serde_yaml::Value, pointer: &mut String) -> Result<Json, Diagnostic> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Json::Null,
        Y::Bool(b) => Json::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .ok_or_else(|| Diagnostic::error(format!("`{n}` is not a finite number")).at(pointer.clone()))?
            }
        }
        Y::String(s) => Json::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = pointer.len();
                let _ = write!(pointer, "/{i}");
                out.push(to_json(item, pointer)?);
                pointer.truncate(len);
            }
            Json::Array(out)
        }
        Y::Mapping(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, val) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    _ => {
                        return Err(Diagnostic::error("mapping keys must be plain text, not lists or mappings")
                            .at(pointer.clone()))
                    }
                };
                let len = pointer.len();
                pointer.push('/');
                if key.contains(['~', '/']) {
                    pointer.push_str(&escape_segment(&key));
                } else {
                    pointer.push_str(&key);
                }
                let value = to_json(val, pointer)?;
                pointer.truncate(len);
                out.insert(key, value);
            }
            Json::Object(out)
        }
        Y::Tagged(t) => {
            return Err(
                Diagnostic::error(format!("YAML tags like `{}` are not supported here", t.tag)).at(pointer.clone())
            )
        }
    })
}

/// A JSON Schema plus the schema document, for suggestions. Generating the document and
/// compiling the validator cost milliseconds, and valid input never needs either (see
/// `parse_lenient`), so both happen on first use.
pub struct Schema {
    document: OnceLock<Json>,
    make: fn() -> Json,
    validator: OnceLock<jsonschema::Validator>,
    /// What the whole document is, for messages ("fleet spec").
    what: &'static str,
    /// The schema says more than the serde types (e.g. a `pattern`), so it must run even when
    /// serde accepts the value.
    stricter_than_serde: bool,
}

/// Keywords serde's derived types cannot express; a schema with any of them always runs.
const STRICTER_KEYWORDS: &[&str] = &["pattern", "minLength", "maxLength", "minItems", "maxItems", "exclusiveMinimum"];

/// Whether `schema` uses any keyword in `STRICTER_KEYWORDS`.
pub fn stricter_than_serde(schema: &Json) -> bool {
    match schema {
        Json::Object(m) => m.iter().any(|(k, v)| STRICTER_KEYWORDS.contains(&k.as_str()) || stricter_than_serde(v)),
        Json::Array(a) => a.iter().any(stricter_than_serde),
        _ => false,
    }
}

impl Schema {
    /// A schema generated by schemars.
    pub fn new(document: Json, what: &'static str) -> Schema {
        let stricter_than_serde = stricter_than_serde(&document);
        Schema {
            document: OnceLock::from(document),
            make: || Json::Null,
            validator: OnceLock::new(),
            what,
            stricter_than_serde,
        }
    }

    /// A schema whose document `make` generates when it is first needed. Only for schemas
    /// that say no more than the serde types (a test checks the built-in ones).
    pub fn lazy(make: fn() -> Json, what: &'static str) -> Schema {
        Schema { document: OnceLock::new(), make, validator: OnceLock::new(), what, stricter_than_serde: false }
    }

    fn document(&self) -> &Json {
        self.document.get_or_init(self.make)
    }

    fn validator(&self) -> &jsonschema::Validator {
        self.validator.get_or_init(|| {
            // The schema is generated from our own types: failing to compile it is a bug.
            #[allow(clippy::expect_used)]
            jsonschema::options().build(self.document()).expect("generated schema compiles")
        })
    }

    /// Every schema violation, most specific first, as diagnostics without positions yet.
    pub fn check(&self, value: &Json) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = Vec::new();
        for err in self.validator().iter_errors(value) {
            self.diagnose(&err, &mut out);
        }
        // anyOf/type errors can repeat for one node; keep the first of each message and place.
        // Decided on borrowed text first: cloning both per diagnostic was 200,000 allocations
        // for 100,000 unknown keys.
        let keep: Vec<bool> = {
            let mut seen = std::collections::HashSet::new();
            out.iter().map(|d| seen.insert((d.pointer.as_deref(), d.message.as_str()))).collect()
        };
        let mut keep = keep.into_iter();
        out.retain(|_| keep.next().unwrap_or(true));
        out
    }

    /// One schema violation as diagnostics, pushed onto `out`.
    fn diagnose(&self, err: &jsonschema::ValidationError<'_>, out: &mut Vec<Diagnostic>) {
        use jsonschema::error::ValidationErrorKind as K;
        let path = err.instance_path().as_str().to_string();
        // An optional mapping (`serving: {…}`, anyOf [ServingSpec, null]) that fails inside
        // fails as a whole: "`serving` has the wrong type: expected a mapping, found a
        // mapping". The branch whose type the value has says what is wrong, and where.
        if let K::AnyOf { context } | K::OneOfNotValid { context } = err.kind() {
            let enum_text = err.instance().is_string() && !self.enum_at(&path).is_empty();
            let same_type = |branch: &&Vec<jsonschema::ValidationError<'static>>| {
                !branch.is_empty()
                    && !branch.iter().any(|e| e.instance_path().as_str() == path && matches!(e.kind(), K::Type { .. }))
            };
            if let Some(branch) = context.iter().find(same_type).filter(|_| !enum_text) {
                for e in branch {
                    self.diagnose(e, out);
                }
                return;
            }
        }
        let d = match err.kind() {
            K::AdditionalProperties { unexpected } => {
                let allowed = self.properties_at(&path);
                // The same for every key of this mapping: listed once, not once per key
                // (a fifth of the time 100,000 unknown keys took).
                let expected = (!allowed.is_empty()).then(|| format!("expected one of {}", list(&allowed)));
                for key in unexpected {
                    let help = did_you_mean(key, allowed.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| expected.clone());
                    out.push(
                        Diagnostic::error(format!("unknown field `{key}`"))
                            .at_key(format!("{path}/{}", escape_segment(key)))
                            .help_opt(help),
                    );
                }
                return;
            }
            K::Required { property } => {
                let name = property.as_str().unwrap_or("?");
                let whose = if path.is_empty() { self.what.to_string() } else { format!("`{}`", last_segment(&path)) };
                Diagnostic::error(format!("missing field `{name}` in {whose}")).at_key(path.clone()).missing()
            }
            K::Enum { options } => {
                let opts: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().filter_map(|o| o.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                not_one_of(err.instance(), &opts, &path)
            }
            // An optional enum fails as anyOf/type: still a "not one of" for a string.
            K::Type { .. } | K::AnyOf { .. } | K::OneOfNotValid { .. }
                if err.instance().is_string() && !self.enum_at(&path).is_empty() =>
            {
                not_one_of(err.instance(), &self.enum_at(&path), &path)
            }
            K::Type { .. } | K::AnyOf { .. } | K::OneOfNotValid { .. } => {
                let expected = self.expected_at(&path);
                Diagnostic::error(format!(
                    "`{}` has the wrong type: expected {expected}, found {}",
                    if path.is_empty() { self.what.to_string() } else { last_segment(&path) },
                    type_name(err.instance())
                ))
                .at(path.clone())
            }
            _ => Diagnostic::error(format!("`{}`: {err}", last_segment(&path))).at(path.clone()),
        };
        out.push(d);
    }

    fn resolve<'a>(&'a self, mut node: &'a Json) -> &'a Json {
        for _ in 0..16 {
            match node.get("$ref").and_then(Json::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| self.document().pointer(p)) {
                    Some(n) => node = n,
                    None => return node,
                },
                None => return node,
            }
        }
        node
    }

    /// The schema nodes that may describe the instance at `pointer` (anyOf/oneOf expanded).
    fn nodes_at(&self, pointer: &str) -> Vec<&Json> {
        let mut nodes = vec![self.resolve(self.document())];
        for seg in pointer.split('/').skip(1) {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            let mut next = Vec::new();
            for n in expand(self, nodes) {
                if let Some(p) = n.get("properties").and_then(|p| p.get(&seg)) {
                    next.push(self.resolve(p));
                } else if let Some(a) = n.get("additionalProperties").filter(|a| a.is_object()) {
                    next.push(self.resolve(a));
                } else if let Some(i) = n.get("items").filter(|a| a.is_object()) {
                    next.push(self.resolve(i));
                }
            }
            nodes = next;
        }
        expand(self, nodes)
    }

    fn properties_at(&self, pointer: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .nodes_at(pointer)
            .iter()
            .filter_map(|n| n.get("properties").and_then(Json::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn enum_at(&self, pointer: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.nodes_at(pointer) {
            if let Some(e) = n.get("enum").and_then(Json::as_array) {
                out.extend(e.iter().filter_map(|v| v.as_str().map(str::to_string)));
            }
            if let Some(c) = n.get("const").and_then(Json::as_str) {
                out.push(c.to_string());
            }
        }
        out.dedup();
        out
    }

    fn expected_at(&self, pointer: &str) -> String {
        let mut kinds: Vec<String> = Vec::new();
        for n in self.nodes_at(pointer) {
            match n.get("type") {
                Some(Json::String(t)) => kinds.push(t.clone()),
                Some(Json::Array(ts)) => kinds.extend(ts.iter().filter_map(|t| t.as_str().map(str::to_string))),
                _ if n.get("enum").is_some() => kinds.push("string".into()),
                _ => {}
            }
        }
        kinds.retain(|k| k != "null");
        for k in kinds.iter_mut() {
            if k == "object" {
                *k = "a mapping".into();
            } else if k == "array" {
                *k = "a list".into();
            } else if k == "integer" {
                *k = "a whole number".into();
            } else if k == "number" {
                *k = "a number".into();
            } else if k == "string" {
                *k = "text".into();
            } else if k == "boolean" {
                *k = "true or false".into();
            }
        }
        kinds.dedup();
        if kinds.is_empty() {
            "another type".into()
        } else {
            kinds.join(" or ")
        }
    }
}

/// The schema nodes under `nodes`, anyOf/oneOf/allOf branches expanded, in document order (so
/// "expected a whole number or a mapping" follows the schema's order of branches).
fn expand<'a>(schema: &'a Schema, nodes: Vec<&'a Json>) -> Vec<&'a Json> {
    let mut out = Vec::new();
    let mut stack: Vec<&Json> = nodes.into_iter().rev().collect();
    while let Some(n) = stack.pop() {
        let n = schema.resolve(n);
        let mut branched = false;
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(arr) = n.get(key).and_then(Json::as_array) {
                branched = true;
                stack.extend(arr.iter().rev());
            }
        }
        if !branched || n.get("properties").is_some() || n.get("type").is_some() {
            out.push(n);
        }
    }
    out
}

fn not_one_of(value: &Json, opts: &[String], path: &str) -> Diagnostic {
    let got = value_text(value);
    let help = did_you_mean(&got, opts.iter().map(String::as_str))
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| format!("expected one of {}", list(opts)));
    Diagnostic::error(format!("`{got}` is not a valid value for `{}`", last_segment(path))).at(path).help(help)
}

fn last_segment(pointer: &str) -> String {
    let mut segments = pointer.rsplit('/').map(|s| s.replace("~1", "/").replace("~0", "~"));
    let last = segments.next().unwrap_or_default();
    // A list item is named by its list: `recipes[0]`, not `0`.
    match segments.next() {
        Some(list) if !list.is_empty() && !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{list}[{last}]")
        }
        _ => last,
    }
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

fn value_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "nothing (null)",
        Json::Bool(_) => "true/false",
        Json::Number(n) if n.is_f64() => "a decimal number",
        Json::Number(n) if n.as_i64().is_some_and(|i| i < 0) => "a negative number",
        Json::Number(_) => "a number",
        Json::String(_) => "text",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}
