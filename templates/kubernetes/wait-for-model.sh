# aimgen init container: start the server only once its model's download Job has written
# the completion marker to the shared cache. Bounded: after TIMEOUT seconds it exits 1 naming
# the Job, and the kubelet restarts it (with back-off), so a slow download delays the server
# and a failed one shows in `kubectl get pods` as Init:Error / Init:CrashLoopBackOff.
# Usage: sh wait-for-model.sh MARKER TIMEOUT_SECONDS JOB
set -eu
marker=$1
timeout=$2
job=$3
waited=0
while [ ! -f "$marker" ]; do
  if [ "$waited" -ge "$timeout" ]; then
    echo "aimgen-wait: error: timed out after $timeout s waiting for $job (no $marker); see: kubectl logs job/$job" >&2
    exit 1
  fi
  if [ $((waited % 60)) -eq 0 ]; then
    echo "aimgen-wait: waiting for $job to download the model ($waited s of $timeout s)"
  fi
  sleep 5
  waited=$((waited + 5))
done
echo "aimgen-wait: $job is complete: $marker"
