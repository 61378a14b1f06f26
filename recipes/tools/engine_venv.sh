#!/usr/bin/env bash
# Install one engine release from the Python registry into its own venv (no GPU needed):
#
#   recipes/tools/engine_venv.sh ENGINE VERSION      # prints the venv's python on stdout
#
# ENGINE is vllm or sglang. The venv is $TOOLS/engines/<engine>-<version>/ ($TOOLS is
# $AIMGEN_TOOLS_DIR or .tools/ at the repository root); a second call returns at once.
# Used by recipes/tools/gen_engine_catalogues.py (catalogues) and scripts/engine_truth.sh
# (the real parsers in CI).
#
# Installs go through uv (itself installed from the registry into $TOOLS/uv-venv) with one
# cache, $TOOLS/uv-cache, hard-linked into every venv: venvs that share torch and the CUDA
# libraries share them on disk and download them once. uv is told the registry and CA
# bundle this machine's pip is configured with (pip config / PIP_* variables), never a host
# of its own.
#
# SGLang's `srt` extra is what `python3 -m sglang.launch_server` imports; a few releases
# need their torch stack overridden to one another venv already has (see OVERRIDES): the
# argument parser does not depend on the torch build, and each override was checked to
# import and parse.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
UV_VERSION=0.13.9

engine=${1:?usage: engine_venv.sh vllm|sglang VERSION}
version=${2:?usage: engine_venv.sh vllm|sglang VERSION}
case "$engine" in
    vllm) spec="vllm==$version" ;;
    sglang) spec="sglang[srt]==$version" ;;
    *) echo "engine_venv: unknown engine $engine (vllm or sglang)" >&2; exit 2 ;;
esac

# Overrides by release (space-separated requirements), each with its reason.
overrides_for() {
    case "$1-$2" in
        # sglang 0.4.6.post1 pins torch 2.6.0 (a torch/CUDA stack no other venv uses, ~4 GB);
        # its parser imports fine on vLLM 0.11.2's torch 2.9.0 with triton 3.2.0, the
        # triton release whose runtime API (triton.runtime.cache.default_cache_dir) it imports.
        sglang-0.4.6.post1) echo "torch==2.9.0 torchvision==0.24.0 torchaudio==2.9.0 triton==3.2.0" ;;
        # sglang 0.5.23 pins torch 2.14.1; vLLM 0.33.0 pins 2.14.0 (same CUDA libraries).
        sglang-0.5.23) echo "torch==2.14.0 torchvision==0.29.0 torchaudio==2.11.0" ;;
        *) echo "" ;;
    esac
}

venv="$TOOLS/engines/$engine-$version"
if [ -f "$venv/.aimgen-ok" ]; then
    echo "$venv/bin/python"
    exit 0
fi

log() { printf '[engine_venv] %s\n' "$*" >&2; }

uv="$TOOLS/uv-venv/bin/uv"
if [ ! -x "$uv" ]; then
    log "installing uv $UV_VERSION into $TOOLS/uv-venv"
    mkdir -p "$TOOLS"
    python3 -m venv "$TOOLS/uv-venv"
    "$TOOLS/uv-venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

# The registry and CA bundle pip uses here, handed to uv (which does not read pip's config).
pip_conf() {
    local key=$1 env=$2
    if [ -n "${!env:-}" ]; then printf '%s' "${!env}"; return; fi
    python3 -m pip config get "global.$key" 2>/dev/null || true
}
index=$(pip_conf index-url PIP_INDEX_URL)
extra=$(pip_conf extra-index-url PIP_EXTRA_INDEX_URL)
cert=$(pip_conf cert PIP_CERT)
export UV_CACHE_DIR="$TOOLS/uv-cache" UV_LINK_MODE=hardlink UV_NO_PROGRESS=1
export UV_HTTP_TIMEOUT=${PIP_DEFAULT_TIMEOUT:-180}
[ -n "$index" ] && export UV_INDEX_URL="$index"
[ -n "$extra" ] && export UV_EXTRA_INDEX_URL="$extra"
[ -n "$cert" ] && export SSL_CERT_FILE="$cert"

t0=$SECONDS
log "installing $spec into $venv"
rm -rf "$venv"
"$uv" venv --quiet --python "$(command -v python3)" "$venv"
args=()
ov=$(overrides_for "$engine" "$version")
if [ -n "$ov" ]; then
    printf '%s\n' $ov >"$venv/overrides.txt"
    args+=(--override "$venv/overrides.txt")
fi
"$uv" pip install --quiet --python "$venv/bin/python" "${args[@]+"${args[@]}"}" "$spec" pyyaml >&2
touch "$venv/.aimgen-ok"
log "$spec ready in $((SECONDS - t0))s"
echo "$venv/bin/python"
