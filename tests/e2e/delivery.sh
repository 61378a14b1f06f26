#!/usr/bin/env bash
# Delivery test (issue 13): aimgen's prefetch jobs, exactly as rendered, against the mock Hub
# (tests/e2e/mock_hub.py) with a bandwidth limit (10 MB/s per connection, 40 MB/s in all) and
# ~920 MB of generated weights; cache export / import; then, with a Docker engine, the same
# fleet under the real `docker compose up` (Compose v2 from .tools/), stub servers in a small
# local image (tests/e2e/build_delivery_image.sh: debootstrap + docker import, no registry).
# See tests/e2e/delivery.py for what is checked and measured. The real huggingface_hub runs
# the transfers, from a venv under .tools/.
#
#   bash tests/e2e/delivery.sh      huggingface_hub 2.4.0 in full (+ Compose), then 0.36.0 --quick
#
# Environment: AIMGEN (binary; default: cargo build, target/debug/aimgen),
# DELIVERY_HF_VERSIONS (default "2.4.0 0.36.0:quick"; the Compose pass runs with the first),
# DELIVERY_ARGS (more delivery.py arguments, e.g. --only-fleet), DELIVERY_COMPOSE=0 (no
# Compose pass), DELIVERY_KEEP=1 (keep the work folder). Under CI=true the Compose pass is
# required: without a Docker engine the run fails rather than skip it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
VERSIONS=${DELIVERY_HF_VERSIONS:-"2.4.0 0.36.0:quick"}
T0=$SECONDS

if [ -z "${AIMGEN:-}" ]; then
    (cd "$ROOT" && cargo build --quiet --bin aimgen)
    AIMGEN="$ROOT/target/debug/aimgen"
fi

compose_args=()
if [ "${DELIVERY_COMPOSE:-1}" != 0 ]; then
    if docker info >/dev/null 2>&1; then
        first=${VERSIONS%% *}
        first=${first%%:*}
        # The tag names the recipe: editing the build script or the version makes a new image.
        tag="aimgen-e2e-delivery:$(cat "$ROOT/tests/e2e/build_delivery_image.sh" - <<<"$first" | sha256sum | cut -c1-12)"
        if ! docker image inspect "$tag" >/dev/null 2>&1; then
            t=$SECONDS
            nice -n 10 bash "$ROOT/tests/e2e/build_delivery_image.sh" "$tag" "$first"
            echo "[delivery] image $tag built in $((SECONDS - t))s"
        fi
        [ -x "$TOOLS/bin/docker-compose-v2" ] || bash "$ROOT/scripts/conformance.sh" --install-only
        compose_args=(--compose-image "$tag" --compose "$TOOLS/bin/docker-compose-v2")
    elif [ "${CI:-}" = true ]; then
        echo "[delivery] ERROR: CI=true and no Docker engine reachable: the Compose pass cannot run" >&2
        exit 1
    else
        echo "[delivery] no Docker engine reachable (docker info failed): the Compose pass is SKIPPED"
    fi
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
    t=$SECONDS
    # shellcheck disable=SC2086
    "$venv/bin/python" "$ROOT/tests/e2e/delivery.py" "$AIMGEN" $mode ${DELIVERY_ARGS:-} "${compose_args[@]}" || status=1
    echo "[delivery] huggingface_hub $version took $((SECONDS - t))s"
    compose_args=()  # the Compose pass once, with the first version
done
echo "[delivery] total $((SECONDS - T0))s"
exit $status
