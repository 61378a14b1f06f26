# aimgen download Job: run the prefetch program (the same as the Compose target's), then
# mark the model ready for the servers. The marker is written only when the program exits 0,
# which it does only once every file of the snapshot is present with its expected size (and
# sha256, with `cache.verify: sha256`), so a server never starts on a partial download.
# Usage: sh prefetch-job.sh MARKER JOB_JSON
set -eu
marker=$1
job=$2
python3 "$(dirname "$0")/prefetch.py" "$job"
mkdir -p "$(dirname "$marker")"
tmp="$marker.tmp-$$"
printf '%s\n' "$job" > "$tmp"
mv -f "$tmp" "$marker"
echo "aimgen-prefetch: ready: $marker"
