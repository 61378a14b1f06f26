//! A lock file from arbitrary bytes: `lockfile::parse` (YAML, schema, then duplicates and
//! unsafe paths), its diagnostics rendered.
//!
//! Properties: nothing panics; an accepted lock has only plain relative file paths; its
//! canonical text (`to_text`, what `aimgen lock` writes) holds no raw line break but `\n`
//! (`\r`, U+0085, U+2028 and U+2029 break YAML lines too) nor any other unsafe character, and
//! parses back to the same lock (so no text in it added structure).
#![no_main]

use aimgen::lockfile;
use aimgen::source::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = aimgen::load::from_bytes("fleet.lock", data.to_vec()) else { return };
    match lockfile::parse(source) {
        Ok(loaded) => {
            let lock = &loaded.lock;
            for m in &lock.models {
                for f in &m.files {
                    assert!(lockfile::is_safe_path(&f.path), "accepted unsafe path {:?}", f.path);
                }
            }
            let _ = lock.pins();
            let text = lock.to_text("fleet.yaml");
            if let Some(c) = text.chars().find(|c| *c != '\n' && aimgen::text::is_unsafe_char(*c)) {
                panic!("fleet.lock holds U+{:04X} raw:\n{text}", c as u32);
            }
            let again = match lockfile::parse(Source::new("fleet.lock", text.clone())) {
                Ok(l) => l.lock,
                Err(d) => panic!("to_text output does not parse back: {d:?}\n{text}"),
            };
            let mut normal = lock.clone();
            normal.normalize();
            assert_eq!(again, normal, "to_text round trip");
        }
        Err(diags) => {
            for d in &diags {
                let _ = d.render(false);
                let _ = d.render(true);
            }
        }
    }
});
