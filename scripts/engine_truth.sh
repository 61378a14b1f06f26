#!/usr/bin/env bash
# The real engines as the oracle: parse every server command aimgen generates with the
# argument parser (and post-parse validation) of the engine release its image runs.
#
#   scripts/engine_truth.sh
#
# Renders every examples/*.yaml, every built-in recipe pinned in a one-service fleet and the
# mixed-engine fleets in scripts/engine_truth_fleets/; reads each Compose file with Compose
# v2's own `config --format json`; installs each engine release the services run (labels
# aimgen.engine / aimgen.engine-version, else the image tag) from the Python registry into
# .tools/engines/ (recipes/tools/engine_venv.sh; cached, one shared download cache), and
# parses each container's full argv (entrypoint + command, or the base image's published
# ENTRYPOINT from scripts/engine_truth_images.json) there. Details: scripts/engine_truth.py.
#
# Environment:
#   AIMGEN             the aimgen binary; default: `cargo build --release`, target/release/aimgen
#   AIMGEN_TOOLS_DIR   install into this folder instead of .tools/ (e.g. to time a cold run)
#   KEEP=1             keep the rendered inputs and parser results
#
# Prints one line per failure and ends with `engine-truth: N passed, M failed`; exits non-zero
# when anything failed. Cold cost (fresh .tools/): see README.md, "The engines' own parsers".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
export AIMGEN_TOOLS_DIR="$TOOLS"
START=$SECONDS

log() { printf '[engine-truth] %s\n' "$*" >&2; }

# Compose v2 comes from scripts/conformance.sh's own installer (a no-op once installed).
bash "$ROOT/scripts/conformance.sh" --install-compose >/dev/null
COMPOSE="$TOOLS/bin/docker-compose-v2"
[ -x "$COMPOSE" ] || { log "no $COMPOSE after scripts/conformance.sh --install-compose"; exit 2; }

if [ -z "${AIMGEN:-}" ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet --bin aimgen)
    AIMGEN="$ROOT/target/release/aimgen"
fi

# The orchestrator's own Python (PyYAML) lives beside uv, which engine_venv.sh installs.
PY="$TOOLS/uv-venv/bin/python"
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    [ -x "$PY" ] || python3 -m venv "$TOOLS/uv-venv"
    "$PY" -m pip install --quiet --disable-pip-version-check pyyaml
fi

# Its own logic first (no engine needed): argv assembly, tag conventions, secrets rule.
"$PY" "$ROOT/scripts/test_engine_truth.py" 2>&1 | tail -n 1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/aimgen-engine-truth.XXXXXX")
status=0
"$PY" "$ROOT/scripts/engine_truth.py" "$AIMGEN" "$COMPOSE" "$WORK" || status=$?
if [ "$status" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
else
    log "inputs and results kept in $WORK"
fi
# du counts a hard-linked file once per run, so venvs + cache together give the real size.
log "took $((SECONDS - START))s; .tools/engines + .tools/uv-cache on disk: $(du -shc "$TOOLS/engines" "$TOOLS/uv-cache" 2>/dev/null | tail -n 1 | cut -f1)"
exit "$status"
