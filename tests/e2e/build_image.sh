#!/usr/bin/env bash
# Build the e2e test image without any container registry:
# debootstrap a minimal Debian root, add python3 + a venv holding the REAL
# huggingface_hub from PyPI (it brings the `hf` CLI and snapshot_download),
# and `docker import` the tree.
#
#   build_image.sh TAG [HF_HUB_VERSION]
#
# The caller (run.sh) derives TAG from a hash of this file and the version,
# so editing this recipe yields a new tag and the old image is not reused.
set -euo pipefail

tag=${1:?usage: build_image.sh TAG [HF_HUB_VERSION]}
hf_version=${2:-2.4.0}
suite=bookworm                # python3.11, same as the project's hosts
mirror=http://deb.debian.org/debian

command -v debootstrap >/dev/null || {
  echo "build_image: installing debootstrap (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

root=$(mktemp -d /var/tmp/aimgen-e2e-rootfs.XXXXXX)
cleanup() {
  # never leave proc mounted inside a tree we are about to delete
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc" || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "build_image: debootstrap $suite (minbase) into $root" >&2
debootstrap --variant=minbase \
  --include=python3,python3-venv,ca-certificates,curl \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# pip in the chroot talks to PyPI with the host's DNS and CA bundle; both are
# removed again before the image is made.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/host-ca.crt"
mount -t proc proc "$root/proc"
in_root() { env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$root" "$@"; }

echo "build_image: venv + huggingface_hub==$hf_version from PyPI" >&2
in_root python3 -m venv /opt/hf
in_root /opt/hf/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \
  --cert /tmp/host-ca.crt --timeout 180 \
  "huggingface_hub==$hf_version" pyyaml
in_root /opt/hf/bin/python -c 'import huggingface_hub, yaml; print("build_image: huggingface_hub", huggingface_hub.__version__)' >&2
umount "$root/proc"

# slim down: nothing here is needed at run time
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
  "$root"/tmp/* "$root"/root/.cache
: >"$root/etc/resolv.conf"

echo "build_image: docker import -> $tag" >&2
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV PATH=/opt/hf/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV HF_HUB_DISABLE_TELEMETRY=1' \
  --change 'CMD ["python3"]' \
  --message "aimgen e2e: debian $suite minbase + huggingface_hub $hf_version" \
  - "$tag" >/dev/null
docker image inspect "$tag" --format 'build_image: {{.Id}} {{.Size}} bytes' >&2
