#!/usr/bin/env bash
# Builds the seed corpora under fuzz/corpus/ (gitignored) from the committed inputs:
# examples/, the end-to-end fleet, the built-in recipe files and fuzz/seeds/.
#   fuzz/seeds.sh          then: cargo fuzz run fleet fuzz/corpus/fleet ...
set -euo pipefail
FUZZ=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$FUZZ")
mkdir -p "$FUZZ/corpus/fleet" "$FUZZ/corpus/recipe_file" "$FUZZ/corpus/diagnostic" "$FUZZ/corpus/lockfile"
cp "$ROOT"/examples/*.yaml "$ROOT/tests/e2e/fleet.yaml" "$FUZZ"/seeds/fleet-*.yaml "$FUZZ/corpus/fleet/"
cp "$ROOT"/recipes/*.yaml "$FUZZ"/seeds/recipe-*.yaml "$FUZZ/corpus/recipe_file/"
cp "$FUZZ"/seeds/lock-*.lock "$FUZZ/corpus/lockfile/"
find "$ROOT/examples" "$ROOT/tests" -name '*.lock' -exec cp {} "$FUZZ/corpus/lockfile/" \;
# Spec snippets from the integration tests: every string literal that starts `version:`
# (escapes decoded, `format!` braces undone, `{HOST}` filled in).
python3 - "$ROOT/tests" "$FUZZ/corpus/fleet" <<'PY'
import pathlib, re, sys
tests, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
host = "host: {gpu: {vendor: amd, model: MI300X, count: 8}}\n"
n = 0
for f in sorted(tests.glob("*.rs")):
    for m in re.finditer(r'"(version:(?:[^"\\]|\\.)*)"', f.read_text()):
        text = m.group(1).encode().decode("unicode_escape", errors="replace")
        text = text.replace("{HOST}", host).replace("{{", "{").replace("}}", "}")
        (out / f"{f.stem}-{n:03}.yaml").write_text(text)
        n += 1
print(f"{n} spec snippets from tests/", file=sys.stderr)
PY
# A few diagnostics-shaped byte strings (the target decodes them with `arbitrary`).
printf 'error\x00\x01\x02line\x05\x00\x00\x00\x00\x00\x00\x00' >"$FUZZ/corpus/diagnostic/seed-1"
printf '\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00' >"$FUZZ/corpus/diagnostic/seed-2"
ls "$FUZZ/corpus"/* | wc -l >/dev/null
for t in fleet recipe_file diagnostic lockfile; do
    echo "$t: $(ls "$FUZZ/corpus/$t" | wc -l) seeds" >&2
done
