#!/usr/bin/env bash
# Build the small image of the delivery test's Compose pass (tests/e2e/delivery.sh): Debian
# bookworm minbase from the configured Debian mirror (debootstrap) + a venv with the real
# huggingface_hub, `docker import`ed. No container registry. It runs the generated prefetch
# jobs, the stub servers (tests/e2e/stub_server.py) and the mock Hub; ~200 MB instead of
# the vLLM image's ~7 GB.
#
#   build_delivery_image.sh TAG HF_VERSION
#
# The caller derives TAG from a hash of this file and HF_VERSION, so editing the recipe
# yields a new tag; an existing tag is reused.
set -euo pipefail

tag=${1:?usage: build_delivery_image.sh TAG HF_VERSION}
hf_version=${2:?usage: build_delivery_image.sh TAG HF_VERSION}
suite=bookworm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mirror=$(python3 "$HERE/debian_mirror.py") || { echo "build_delivery_image: no Debian mirror configured" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  echo "build_delivery_image: installing debootstrap (apt)" >&2
  # Spelled out: `set -e` does not stop on a failure inside an && list in a || group.
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
    { echo "build_delivery_image: could not install debootstrap (apt-get failed)" >&2; exit 1; }
}

root=$(mktemp -d /var/tmp/aimgen-e2e-delivery-rootfs.XXXXXX)
cleanup() {
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc" || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

t0=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
echo "build_delivery_image: debootstrap took $((SECONDS - t0))s" >&2

# pip in the chroot uses the host's DNS, CA bundle and pip settings; removed before the import.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/host-ca.crt"
mount -t proc proc "$root/proc"
pip_env=(PIP_CERT=/tmp/host-ca.crt PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1)
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
  [ -n "${!v:-}" ] && pip_env+=("$v=${!v}")
done
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
in_root() { env -i PATH=/opt/hf/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "${pip_env[@]}" chroot "$root" "$@"; }
in_root python3 -m venv /opt/hf
in_root pip install --quiet "huggingface_hub==$hf_version"
in_root python3 -c 'import huggingface_hub; print("build_delivery_image: huggingface_hub", huggingface_hub.__version__)' >&2
umount "$root/proc"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
  "$root"/usr/share/locale/* "$root"/tmp/* "$root"/root/.cache "$root/etc/pip.conf"
: >"$root/etc/resolv.conf"

tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV PATH=/opt/hf/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV HF_HUB_DISABLE_TELEMETRY=1' \
  --change 'CMD ["python3"]' \
  --message "aimgen e2e delivery: debian $suite minbase + huggingface_hub $hf_version" \
  - "$tag" >/dev/null
echo "build_delivery_image: $tag built in $((SECONDS - t0))s" >&2
