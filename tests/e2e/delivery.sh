#!/usr/bin/env bash
# Delivery harness (issue 13), no Docker: aimgen's prefetch jobs, exactly as rendered, against
# the mock Hub with a bandwidth limit (10 MB/s per connection, 40 MB/s in all) and ~300 MB of
# generated weights; then cache export / import. See tests/e2e/delivery.py for what is
# measured. The real huggingface_hub runs the transfers, from a venv under .tools/.
#
#   bash tests/e2e/delivery.sh            huggingface_hub 2.4.0 in full, then 0.36.0 --quick
#
# Environment: AIMGEN (binary; default: cargo build, target/debug/aimgen),
# DELIVERY_HF_VERSIONS (default "2.4.0 0.36.0:quick"), DELIVERY_ARGS (more delivery.py
# arguments, e.g. --only-fleet), DELIVERY_KEEP=1 (keep the work folder).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
VERSIONS=${DELIVERY_HF_VERSIONS:-"2.4.0 0.36.0:quick"}
T0=$SECONDS

if [ -z "${AIMGEN:-}" ]; then
    (cd "$ROOT" && cargo build --quiet --bin aimgen)
    AIMGEN="$ROOT/target/debug/aimgen"
fi

status=0
for v in $VERSIONS; do
    version=${v%%:*}
    mode=""
    [ "$v" != "${v%:quick}" ] && mode="--quick"
    venv="$TOOLS/delivery-hf-$version"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import huggingface_hub, yaml' 2>/dev/null; then
        t=$SECONDS
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "huggingface_hub==$version" pyyaml
        echo "[delivery] venv with huggingface_hub $version in $((SECONDS - t))s"
    fi
    echo "[delivery] huggingface_hub $version ${mode:-(full)}"
    # shellcheck disable=SC2086
    "$venv/bin/python" "$ROOT/tests/e2e/delivery.py" "$AIMGEN" $mode ${DELIVERY_ARGS:-} || status=1
done
echo "[delivery] total $((SECONDS - T0))s"
exit $status
