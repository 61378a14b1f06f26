#!/usr/bin/env bash
# End-to-end timings of the release binary, beside what a pre-commit hook would otherwise run.
#
# Times, with hyperfine (no shell in between, warm page cache), on the reference fleet
# (examples/mi300x-fleet.yaml), generated fleets of 10, 100 and 1,000 services
# (scripts/gen_fleet.py) and the reference fleet with a user library of 1,000 recipes
# (--recipes DIR):
#   aimgen check FLEET
#   aimgen render FLEET -o DIR          DIR already up to date (the pre-commit case)
#   aimgen render FLEET -o NEW          into an empty folder (1,000 services only)
#   docker-compose-v2 -f DIR/docker-compose.cache.yml config -q     on aimgen's own output
#   check-jsonschema (draft-07, the pinned Compose schema) on the same file
#   aimgen check on specs full of errors: 100,000 unknown top-level keys, 100,000 unknown
#   engine flags, and unknown keys up to the 4 MiB input cap (each must answer in <= 1 s)
# then peak RSS (/usr/bin/time -f %M) of check and render at 1,000 services, and prints the
# medians, the ratios, and each target with PASS or MISS. Last, the prefetch line rate
# (tests/e2e/delivery.sh --only-fleet, no Docker): four models' prefetch jobs, as rendered,
# against the mock Hub at 10 MB/s per connection and 40 MB/s in all, ~920 MB; wall time /
# (bytes / 40 MB/s), with the time to the first byte (the jobs' start-up) and the load average.
#
# Usage:
#   scripts/bench.sh              everything (about 3 minutes on 2 cores)
#   scripts/bench.sh --quick      fewer runs (a smoke test: the figures are rougher)
#   scripts/bench.sh --strict     exit 1 when a target is missed
#
# Environment:
#   AIMGEN            the binary to time; default: `cargo build --release`, target/release/aimgen
#   AIMGEN_TOOLS_DIR  where scripts/conformance.sh installed Compose v2 and check-jsonschema
#                     (default .tools/); missing tools are installed by it (--install-only)
#   RUNS, SLOW_RUNS   hyperfine runs for aimgen (default 100) and for the third-party tools
#                     (default 10)
#   KEEP=1            keep the scratch folder with the inputs, outputs and hyperfine JSON
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
COMPOSE="$TOOLS/bin/docker-compose-v2"
CHECK_JSONSCHEMA="$TOOLS/venv/bin/check-jsonschema"
PINNED_SCHEMA="$ROOT/schemas/vendor/compose-spec.json"
RUNS=${RUNS:-100}
SLOW_RUNS=${SLOW_RUNS:-10}
STRICT=0

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) RUNS=20; SLOW_RUNS=3; shift ;;
        --strict) STRICT=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

# --- tools --------------------------------------------------------------------------------

if ! command -v hyperfine >/dev/null; then
    log "installing hyperfine (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null \
        || die "apt-get install hyperfine failed"
fi
[ -x /usr/bin/time ] || {
    log "installing GNU time (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null || die "apt-get install time failed"
}
if [ ! -x "$COMPOSE" ] || [ ! -x "$CHECK_JSONSCHEMA" ]; then
    log "installing the third-party checkers with scripts/conformance.sh --install-only"
    AIMGEN_TOOLS_DIR="$TOOLS" bash "$ROOT/scripts/conformance.sh" --install-only >&2
fi
if [ -z "${AIMGEN:-}" ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet --bin aimgen) || die "cargo build --release failed"
    AIMGEN="$ROOT/target/release/aimgen"
fi
[ -x "$AIMGEN" ] || die "$AIMGEN is not an executable"
if [ -f "$PINNED_SCHEMA" ]; then
    SCHEMA_ARGS=(--validator-class jsonschema.validators:Draft7Validator --schemafile "$PINNED_SCHEMA")
    SCHEMA_NAME="pinned compose-spec.json, draft-07"
else
    SCHEMA_ARGS=(--builtin-schema vendor.compose-spec)
    SCHEMA_NAME="check-jsonschema's vendored Compose schema"
fi

# Compose must see the same environment on every run, and no token.
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN COMPOSE_FILE COMPOSE_PROJECT_NAME COMPOSE_PROFILES \
    COMPOSE_ENV_FILES COMPOSE_PATH_SEPARATOR
export NO_COLOR=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/aimgen-bench.XXXXXX")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- inputs -------------------------------------------------------------------------------

cp "$ROOT/examples/mi300x-fleet.yaml" "$WORK/ref.yaml"
for n in 10 100 1000; do
    python3 "$ROOT/scripts/gen_fleet.py" fleet "$n" "$WORK/n$n.yaml"
done
python3 "$ROOT/scripts/gen_fleet.py" recipes 1000 "$WORK/recipes"
python3 "$ROOT/scripts/gen_fleet.py" unknown-keys 100000 "$WORK/keys.yaml"
python3 "$ROOT/scripts/gen_fleet.py" unknown-flags 100000 "$WORK/flags.yaml"
python3 "$ROOT/scripts/gen_fleet.py" max-size 0 "$WORK/max.yaml"
# The reference fleet, with the 1,000-recipe folder named on the command line.
cp "$WORK/ref.yaml" "$WORK/lib.yaml"

CASES=(ref n10 n100 n1000 lib)
label() {
    case "$1" in
        ref) echo "reference fleet" ;;
        n10) echo "10 services" ;;
        n100) echo "100 services" ;;
        n1000) echo "1,000 services" ;;
        lib) echo "reference + 1,000 recipes" ;;
    esac
}
extra() { if [ "$1" = lib ]; then echo "--recipes $WORK/recipes"; fi; }

# --- timing -------------------------------------------------------------------------------

# measure NAME RUNS CMD...: hyperfine CMD; the median in ms on stdout.
measure() {
    local name=$1 runs=$2
    shift 2
    hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$WORK/$name.json" "$@" >/dev/null 2>&1 \
        || die "hyperfine failed on: $*"
    python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' \
        "$WORK/$name.json"
}

# measure_prepared NAME RUNS PREPARE CMD: as measure, with PREPARE before every run.
measure_prepared() {
    local name=$1 runs=$2 prepare=$3 cmd=$4
    hyperfine -N --style none --warmup 3 --runs "$runs" --prepare "$prepare" --export-json "$WORK/$name.json" \
        "$cmd" >/dev/null 2>&1 || die "hyperfine failed on: $cmd"
    python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' \
        "$WORK/$name.json"
}

declare -A T
for c in "${CASES[@]}"; do
    f="$WORK/$c.yaml"
    out="$WORK/out-$c"
    x=$(extra "$c")
    # shellcheck disable=SC2086
    "$AIMGEN" render "$f" -o "$out" $x >/dev/null || die "aimgen render $c failed"
    "$AIMGEN" check "$f" $x 2>/dev/null || die "aimgen check $c failed"
    log "timing $(label "$c")"
    T[$c.check]=$(measure "$c-check" "$RUNS" "$AIMGEN check $f $x")
    T[$c.render]=$(measure "$c-render" "$RUNS" "$AIMGEN render $f -o $out $x")
    (cd "$out" && "$COMPOSE" -f docker-compose.cache.yml config -q) >/dev/null 2>&1 \
        || die "docker-compose-v2 config -q rejects aimgen's output for $c"
    T[$c.compose]=$(measure "$c-compose" "$SLOW_RUNS" "$COMPOSE -f $out/docker-compose.cache.yml config -q")
    "$CHECK_JSONSCHEMA" "${SCHEMA_ARGS[@]}" "$out/docker-compose.cache.yml" >/dev/null 2>&1 \
        || die "check-jsonschema rejects aimgen's output for $c"
    T[$c.schema]=$(measure "$c-schema" "$SLOW_RUNS" \
        "$CHECK_JSONSCHEMA ${SCHEMA_ARGS[*]} $out/docker-compose.cache.yml")
done
log "timing render of 1,000 services into an empty folder"
T[fresh]=$(measure_prepared n1000-fresh "$SLOW_RUNS" "rm -rf $WORK/fresh" "$AIMGEN render $WORK/n1000.yaml -o $WORK/fresh")

# Specs full of errors: `check` exits 1 (hyperfine -i), after reporting the first 200.
for c in keys flags max; do
    code=0
    "$AIMGEN" check "$WORK/$c.yaml" >/dev/null 2>"$WORK/$c.err" || code=$?
    [ "$code" = 1 ] && grep -q 'and [0-9,]* more' "$WORK/$c.err" \
        || die "aimgen check $c.yaml: exit $code, expected 1 with the count of what was not shown"
    log "timing check of $c.yaml ($(wc -c <"$WORK/$c.yaml") bytes)"
    hyperfine -N -i --style none --warmup 1 --runs "$SLOW_RUNS" --export-json "$WORK/$c-errors.json" \
        "$AIMGEN check $WORK/$c.yaml" >/dev/null 2>&1 || die "hyperfine failed on check $c.yaml"
    T[$c.errors]=$(python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' \
        "$WORK/$c-errors.json")
done

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
RSS_CHECK=$(rss "$AIMGEN" check "$WORK/n1000.yaml")
rm -rf "$WORK/rss-out"
RSS_RENDER=$(rss "$AIMGEN" render "$WORK/n1000.yaml" -o "$WORK/rss-out")

# --- report -------------------------------------------------------------------------------

py() { python3 -c "import sys; print($1)"; }
echo
echo "aimgen $("$AIMGEN" --version | awk '{print $2}') on $(nproc) cores; medians in ms (hyperfine, $RUNS runs; third-party tools $SLOW_RUNS runs)"
echo "compose: $("$COMPOSE" version --short 2>/dev/null); check-jsonschema $("$CHECK_JSONSCHEMA" --version 2>/dev/null | awk '{print $NF}') with the $SCHEMA_NAME"
echo
printf '%-27s %9s %9s %11s %11s %9s %9s\n' fleet check render compose-cfg jsonschema cfg/check cfg/rend
for c in "${CASES[@]}"; do
    printf '%-27s %9.2f %9.2f %11.1f %11.1f %8.1fx %8.1fx\n' "$(label "$c")" \
        "${T[$c.check]}" "${T[$c.render]}" "${T[$c.compose]}" "${T[$c.schema]}" \
        "$(py "${T[$c.compose]} / ${T[$c.check]}")" "$(py "${T[$c.compose]} / ${T[$c.render]}")"
done
echo
printf 'check-jsonschema / aimgen check: %s (reference) to %s (1,000 services)\n' \
    "$(py "'%.0fx' % (${T[ref.schema]} / ${T[ref.check]})")" "$(py "'%.0fx' % (${T[n1000.schema]} / ${T[n1000.check]})")"
printf 'render of 1,000 services into an empty folder: %.1f ms\n' "${T[fresh]}"
LIN_CHECK=$(py "'%.2f' % (${T[n1000.check]} / ${T[n100.check]})")
LIN_RENDER=$(py "'%.2f' % (${T[n1000.render]} / ${T[n100.render]})")
printf 'growth 100 -> 1,000 services: check %sx, render %sx\n' "$LIN_CHECK" "$LIN_RENDER"
printf 'check with 100,000 unknown keys: %.1f ms; 100,000 unknown flags: %.1f ms; 4 MiB of unknown keys: %.1f ms\n' \
    "${T[keys.errors]}" "${T[flags.errors]}" "${T[max.errors]}"
printf 'peak RSS at 1,000 services: check %.1f MB, render %.1f MB\n' \
    "$(py "$RSS_CHECK / 1024")" "$(py "$RSS_RENDER / 1024")"

echo
MISSED=0
target() {
    local what=$1 ok=$2
    if [ "$ok" = True ]; then printf 'PASS  %s\n' "$what"; else printf 'MISS  %s\n' "$what"; MISSED=$((MISSED + 1)); fi
}
target "reference check < 5 ms (${T[ref.check]})" "$(py "${T[ref.check]} < 5")"
target "reference render < 5 ms (${T[ref.render]})" "$(py "${T[ref.render]} < 5")"
target "1,000 services check < 100 ms (${T[n1000.check]})" "$(py "${T[n1000.check]} < 100")"
target "1,000 services render < 100 ms (${T[n1000.render]})" "$(py "${T[n1000.render]} < 100")"
target "linear: 1,000 services <= 12 x 100 services (check ${LIN_CHECK}x, render ${LIN_RENDER}x)" \
    "$(py "${T[n1000.check]} <= 12 * ${T[n100.check]} and ${T[n1000.render]} <= 12 * ${T[n100.render]}")"
target "100,000 unknown keys diagnosed <= 1 s (${T[keys.errors]})" "$(py "${T[keys.errors]} <= 1000")"
target "100,000 unknown flags diagnosed <= 1 s (${T[flags.errors]})" "$(py "${T[flags.errors]} <= 1000")"
target "a 4 MiB spec of unknown keys diagnosed <= 1 s (${T[max.errors]})" "$(py "${T[max.errors]} <= 1000")"
target "peak RSS < 50 MB at 1,000 services (${RSS_CHECK} KB, ${RSS_RENDER} KB)" \
    "$(py "max($RSS_CHECK, $RSS_RENDER) < 50 * 1024")"
ten_x() { py "${T[$1.compose]} >= 10 * ${T[$1.check]} and ${T[$1.compose]} >= 10 * ${T[$1.render]}"; }
ALL10=True
for c in ref n10 n100 n1000; do
    [ "$(ten_x "$c")" = True ] || ALL10=False
done
target ">= 10 x faster than docker-compose config -q on its own output (check and render; reference, 10, 100, 1,000 services)" "$ALL10"
# Reported on its own: aimgen reads 1,000 user recipes (~350 KB of YAML) while Compose only
# sees the reference fleet's three services.
target ">= 10 x faster than docker-compose config -q with a 1,000-recipe --recipes folder" "$(ten_x lib)"
log "prefetch line rate (tests/e2e/delivery.sh --only-fleet, huggingface_hub 2.4.0)"
DELIVERY_OUT=$(AIMGEN="$AIMGEN" DELIVERY_HF_VERSIONS=2.4.0 DELIVERY_ARGS=--only-fleet DELIVERY_COMPOSE=0 \
    bash "$ROOT/tests/e2e/delivery.sh" 2>&1) || true
RATIO=$(printf '%s\n' "$DELIVERY_OUT" | awk '$1 == "METRIC" && $2 == "line_rate_ratio" {print $3}')
WALL=$(printf '%s\n' "$DELIVERY_OUT" | awk '$1 == "METRIC" && $2 == "prefetch_wall_s" {print $3}')
BYTES=$(printf '%s\n' "$DELIVERY_OUT" | awk '$1 == "METRIC" && $2 == "prefetch_bytes" {print $3}')
if [ -n "$RATIO" ]; then
    FIRST=$(printf '%s\n' "$DELIVERY_OUT" | awk '$1 == "METRIC" && $2 == "first_byte_s" {print $3}')
    LOAD=$(printf '%s\n' "$DELIVERY_OUT" | awk '$1 == "METRIC" && $2 == "load_average_1min" {print $3}')
    printf 'prefetch: %s MB in %s s at 40 MB/s (10 MB/s per connection): line-rate ratio %s (first byte after %s s; load average %s)\n' \
        "$(py "round($BYTES / 1e6)")" "$WALL" "$RATIO" "$FIRST" "$LOAD"
    target "prefetch line rate: wall time / (bytes / bandwidth) <= 1.15 ($RATIO)" "$(py "$RATIO <= 1.15")"
else
    printf '%s\n' "$DELIVERY_OUT" | tail -n 20 >&2
    target "prefetch line rate (the harness did not run)" False
fi
echo "bench: $((12 - MISSED)) targets met, $MISSED missed"
if [ "$STRICT" = 1 ] && [ "$MISSED" -gt 0 ]; then exit 1; fi
