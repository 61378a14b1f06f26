#!/usr/bin/env bash
# End-to-end test: a fleet rendered by aimgen runs in a real Docker Engine.
#
# It renders tests/e2e/fleet.yaml, runs the generated docker-compose.cache.yml with
# Compose v2 plus a small generated override (test image instead of the engine image,
# no GPU keys, a stub instead of each server's engine command, and a mock Hugging Face
# Hub service), and checks that the one-shot prefetch filled the shared cache before
# any server started, that every server found its model offline through that cache and
# could not write to it, that the mock Hub served each needed file exactly once and no
# decoy, that a second `up` downloads nothing, and that `down -v` leaves nothing behind.
#
#   bash tests/e2e/run.sh
#
# Environment knobs (all optional):
#   E2E_HF_HUB_VERSION   huggingface_hub version in the test image (default 2.4.0)
#   E2E_RENDERED_DIR     use this already-rendered output folder instead of running aimgen
#   E2E_NO_BUILD=1       do not run `cargo build --release` (use target/release/aimgen as is)
#   E2E_HEALTH_TIMEOUT   seconds to wait for the servers to become healthy (default 180)
#   E2E_DOCKER_HEALTH_ON_WARM=docker  also wait for Docker's own `healthy` on the second up
#                        (the first up always does; it costs one healthcheck interval)
#   E2E_KEEP=1           keep the work folder (it is kept anyway when a check failed)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HF_HUB_VERSION=${E2E_HF_HUB_VERSION:-2.4.0}
HEALTH_TIMEOUT=${E2E_HEALTH_TIMEOUT:-180}
T0=$(date +%s)

if ! docker info >/dev/null 2>&1; then
  echo "=================================================================="
  echo "e2e: SKIPPED — no Docker engine reachable (docker info failed)"
  echo "=================================================================="
  exit 0
fi

pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "  ok   $*"; }
bad()  { fail=$((fail + 1)); echo "  FAIL $*"; }
info() { echo "  ..   $*"; }
step() { echo "== $* [$(( $(date +%s) - T0 ))s]"; }
# Run one e2e_checks.py subcommand and count its PASS/FAIL lines.
checks() {
  local out rc=0 st msg
  out=$(python3 "$HERE/e2e_checks.py" "$@" 2>&1) || rc=$?
  while IFS=$'\t' read -r st msg; do
    case $st in
      PASS) ok "$msg" ;;
      FAIL) bad "$msg" ;;
      INFO) info "$msg" ;;
      "") ;;
      *) info "$st${msg:+ $msg}" ;;
    esac
  done <<<"$out"
  [ "$rc" -eq 0 ] || bad "e2e_checks.py $1 crashed (exit $rc)"
}

PROJECT="aimgen-e2e-$(date +%s)-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aimgen-e2e.XXXXXX")
OUT="$WORK/out"
HUBSTATE="$WORK/hub-state"
mkdir -p "$HUBSTATE"
COMPOSE_UP=0

C() {
  "$COMPOSE" -p "$PROJECT" --project-directory "$OUT" \
    -f "$OUT/docker-compose.cache.yml" -f "$WORK/override.yml" "$@"
}

# The engine images Compose built for this run (named after the unique project; the test
# image they are built from is kept for the next run).
built_images() {
  docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E "^$PROJECT-(vllm|sglang):" || true
}

cleanup() {
  if [ "$COMPOSE_UP" = 1 ]; then
    C down -v --remove-orphans -t 2 >/dev/null 2>&1 || true
    COMPOSE_UP=0
  fi
  built_images | xargs -r docker rmi >/dev/null 2>&1 || true
  if [ "$fail" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "e2e: work folder kept: $WORK"
  fi
}
on_exit() {
  local rc=$1
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ -z "${FINISHED:-}" ]; then
    bad "run.sh stopped early (exit $rc, line ${LAST_LINE:-?})"
  fi
  cleanup
  echo "e2e: total $(( $(date +%s) - T0 ))s"
  echo "e2e: $pass passed, $fail failed"
  if [ "$fail" -ne 0 ]; then exit 1; fi
  exit 0
}
trap 'LAST_LINE=$LINENO' ERR
trap 'on_exit $?' EXIT
trap 'exit 130' INT TERM

# A fatal problem: count it and stop (the EXIT trap cleans up and prints the total).
die() { bad "$*"; FINISHED=1; exit 1; }

# ---------------------------------------------------------------- Compose v2
step "Compose v2"
COMPOSE="${AIMGEN_TOOLS_DIR:-$ROOT/.tools}/bin/docker-compose-v2"   # where scripts/conformance.sh puts it too
install_compose() {
  # Debian bookworm has only Compose v1; take trixie's docker-compose package without
  # installing it (see shared/conformance/README.md) and keep its plugin binary in .tools/.
  local d
  d=$(mktemp -d)
  echo "deb http://deb.debian.org/debian trixie main" >"$d/sources.list"
  mkdir -p "$d/lists/partial" "$d/archives/partial"
  local o=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$d/lists" -o "Dir::Cache::Archives=$d/archives"
           -o APT::Sandbox::User=root)
  # (called under `||`, where set -e is off: every step checks for itself)
  apt-get -qq "${o[@]}" update >/dev/null || return 1
  (cd "$d" && apt-get -qq "${o[@]}" download docker-compose >/dev/null) || return 1
  dpkg-deb -x "$d"/docker-compose_*.deb "$d/x" || return 1
  mkdir -p "$(dirname "$COMPOSE")" || return 1
  install -m 0755 "$d/x/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE.tmp.$$" || return 1
  mv -f "$COMPOSE.tmp.$$" "$COMPOSE" || return 1
  rm -rf "$d"
  "$COMPOSE" version >/dev/null
}
if [ -x "$COMPOSE" ]; then
  ok "Compose v2 reused: $("$COMPOSE" version --short 2>/dev/null || echo '?') ($COMPOSE)"
else
  install_compose || die "could not install Compose v2 from trixie's docker-compose package"
  ok "Compose v2 installed: $("$COMPOSE" version --short) ($COMPOSE)"
fi
info "Docker Engine $(docker version --format '{{.Server.Version}}' 2>/dev/null), API $(docker version --format '{{.Server.APIVersion}}' 2>/dev/null); images are built from the local test image, none is pulled"

# ---------------------------------------------------------------- test image
step "test image (debootstrap + huggingface_hub $HF_HUB_VERSION)"
RECIPE=$( { cat "$HERE/build_image.sh"; echo "huggingface_hub==$HF_HUB_VERSION"; } | sha256sum | cut -c1-12)
IMAGE="aimgen-e2e-hf:$RECIPE"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  ok "test image $IMAGE reused from an earlier run"
else
  t=$(date +%s)
  bash "$HERE/build_image.sh" "$IMAGE" "$HF_HUB_VERSION" || die "building the test image failed"
  ok "test image $IMAGE built cold in $(( $(date +%s) - t ))s"
fi

# ---------------------------------------------------------------- render
step "render tests/e2e/fleet.yaml"
if [ -n "${E2E_RENDERED_DIR:-}" ]; then
  cp -r "$E2E_RENDERED_DIR" "$OUT"
  info "using pre-rendered $E2E_RENDERED_DIR (E2E_RENDERED_DIR), not aimgen"
else
  AIMGEN="$ROOT/target/release/aimgen"
  if [ "${E2E_NO_BUILD:-0}" != 1 ] || [ ! -x "$AIMGEN" ]; then
    t=$(date +%s)
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    info "cargo build --release: $(( $(date +%s) - t ))s"
  fi
  # A unique fleet name makes the project, its network and its named cache volume unique.
  # ... and the test image is the base both engine stages are built from.
  sed -e "s/^name: .*/name: $PROJECT/" -e "s/E2E_BASE_IMAGE/$IMAGE/" "$HERE/fleet.yaml" >"$WORK/fleet.yaml"
  grep -q "^name: $PROJECT\$" "$WORK/fleet.yaml" || die "fleet.yaml has no top-level name: line to make unique"
  grep -q "base: \"$IMAGE\"" "$WORK/fleet.yaml" || die "fleet.yaml names no E2E_BASE_IMAGE to build from"
  if "$AIMGEN" render "$WORK/fleet.yaml" -o "$OUT" >"$WORK/render.log" 2>&1; then
    ok "aimgen render wrote $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
  else
    sed 's/^/     /' "$WORK/render.log"
    die "aimgen render failed"
  fi
fi
[ -f "$OUT/docker-compose.cache.yml" ] || die "no docker-compose.cache.yml in the rendered output"

# ---------------------------------------------------------------- override
step "override"
# Never a real token: a fake one, to see that the generated file hands it to the prefetch
# (the mock Hub checks it arrives on API and resolve requests, and never at the CDN host).
export HF_TOKEN="hf_e2e_fake_token_not_a_secret"
touch "$WORK/override.yml"
if ! "$COMPOSE" -p "$PROJECT" --project-directory "$OUT" -f "$OUT/docker-compose.cache.yml" \
     config --format json >"$WORK/config.json" 2>"$WORK/config.err"; then
  sed 's/^/     /' "$WORK/config.err"
  die "Compose v2 rejects the generated docker-compose.cache.yml"
fi
ok "Compose v2 accepts the generated docker-compose.cache.yml"
if images=$(python3 "$ROOT/scripts/check_compose_images.py" "$OUT/Dockerfile.optimized" <"$WORK/config.json" 2>&1); then
  ok "images as Compose reads them: $images"
else
  bad "images as Compose reads them:"; printf '%s\n' "$images" | sed 's/^/     /'
fi
python3 "$HERE/make_override.py" "$WORK/config.json" "$IMAGE" "$HERE" "$HUBSTATE" \
  "$WORK/override.yml" "$WORK/plan.json" || die "make_override.py failed"
if C config >"$WORK/merged.yml" 2>"$WORK/merged.err"; then
  ok "generated + override merge cleanly ($(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print("prefetch:", ",".join(p["prefetch"]), "servers:", ",".join(p["servers"]))' "$WORK/plan.json"))"
else
  sed 's/^/     /' "$WORK/merged.err"
  die "the override does not merge with the generated file"
fi
python3 - "$WORK/plan.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
for w in p["warnings"]:
    print(f"  ..   warning: {w}")
for n, s in p["servers"].items():
    print(f"  ..   {n}: {s['engine']} {s['model']} --revision {s['revision']} --port {s['port']}"
          f"{'' if s['port_from_command'] else ' (engine default: no --port in command)'}"
          f" published {[x['published'] for x in s['ports']]} healthcheck={s['healthcheck']}")
EOF
mapfile -t SERVERS < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["servers"]))' "$WORK/plan.json")
mapfile -t PREFETCH < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["prefetch"]))' "$WORK/plan.json")
mapfile -t CACHE_VOLS < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["cache_volumes"]))' "$WORK/plan.json")
info "shared cache volume(s): ${CACHE_VOLS[*]}"
port_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["port"])' "$WORK/plan.json" "$1"; }
published_of() { python3 -c 'import json,sys; print(" ".join(str(x["published"]) for x in json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["ports"] if x["published"]))' "$WORK/plan.json" "$1"; }

# ---------------------------------------------------------------- one full `up`
cid_of() { C ps -a -q "$1" 2>/dev/null | head -n1; }

dump_logs() {
  local s
  for s in "$@"; do
    echo "     --- logs: $s (last 25 lines)"
    C logs --no-color --no-log-prefix --tail 25 "$s" 2>&1 | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | cut -c1-400 | sed 's/^/     /' || true
  done
}

# Runs a container's configured healthcheck command by hand (what dockerd would run).
run_healthcheck() {
  local cid=$1 argv=()
  mapfile -d '' -t argv < <(docker inspect -f '{{json .Config.Healthcheck}}' "$cid" | python3 -c '
import json, sys
hc = json.load(sys.stdin) or {}
t = hc.get("Test") or []
argv = t[1:] if t[:1] == ["CMD"] else ["sh", "-c", t[1]] if t[:1] == ["CMD-SHELL"] else []
sys.stdout.write("".join(a + "\0" for a in argv))')
  [ "${#argv[@]}" -gt 0 ] || return 2
  docker exec "$cid" "${argv[@]}" >/dev/null 2>&1
}

# Waits until every server is healthy: the stub answers /health 200, the generated
# healthcheck command succeeds when run by hand, and -- when $2 is "docker" -- Docker's
# own health status has turned `healthy` (on Engine < 25 that takes one full healthcheck
# `interval`, as start_interval is not supported there). One check per server.
wait_healthy() {
  local label=$1 want_docker=$2 deadline=$(( $(date +%s) + HEALTH_TIMEOUT )) s cid st hs code hc pending
  declare -A done_=() hc_ok=()
  while :; do
    pending=0
    for s in "${SERVERS[@]}"; do
      [ -n "${done_[$s]:-}" ] && continue
      cid=$(cid_of "$s")
      st=$(docker inspect -f '{{.State.Status}}' "$cid" 2>/dev/null || echo missing)
      hs=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$cid" 2>/dev/null || echo missing)
      code=$(docker exec "$cid" python3 -c "import urllib.request as u
try: print(u.urlopen('http://127.0.0.1:$(port_of "$s")/health', timeout=3).status)
except Exception as e: print(getattr(e, 'code', 0))" 2>/dev/null || echo 0)
      if [ "$code" = 200 ] && [ -z "${hc_ok[$s]:-}" ]; then
        hc=0; run_healthcheck "$cid" || hc=$?
        case $hc in
          0) hc_ok[$s]=ran ;;
          2) hc_ok[$s]=none ;;
          *) hc_ok[$s]=failed ;;
        esac
      fi
      local docker_ok=1
      if [ "$want_docker" = docker ] && [ "$hs" != healthy ] && [ "$hs" != none ]; then docker_ok=0; fi
      if [ "$st" = running ] && [ "$code" = 200 ] && [ "${hc_ok[$s]:-}" != failed ] && [ "$docker_ok" = 1 ]; then
        ok "$label: $s healthy after $(( $(date +%s) - UP_T ))s (stub /health 200; generated healthcheck run by hand: ${hc_ok[$s]}; docker health: $hs)"
        done_[$s]=1
      elif [ "$st" = exited ] || [ "$st" = dead ] || [ "$st" = missing ] || [ "$hs" = unhealthy ] \
           || [ "${hc_ok[$s]:-}" = failed ] || [ "$code" = 503 ] || [ "$(date +%s)" -ge "$deadline" ]; then
        bad "$label: $s not healthy (state $st, docker health $hs, stub /health $code, generated healthcheck by hand: ${hc_ok[$s]:-not run})"
        dump_logs "$s"
        done_[$s]=1
      else
        pending=1
      fi
    done
    [ "$pending" = 0 ] && break
    sleep 1
  done
}

fleet_up() {
  local label=$1 health=$2
  UP_T=$(date +%s)
  COMPOSE_UP=1
  if ! C up -d --wait --wait-timeout 60 mock-hub >"$WORK/up-mock-$label.log" 2>&1; then
    sed 's/^/     /' "$WORK/up-mock-$label.log"
    dump_logs mock-hub
    die "$label: mock-hub did not become healthy"
  fi
  info "$label: mock-hub healthy after $(( $(date +%s) - UP_T ))s"
  # Plain `up -d`: Compose itself waits for the prefetch to complete before it starts the
  # servers (depends_on: service_completed_successfully).
  if timeout 600 "$COMPOSE" -p "$PROJECT" --project-directory "$OUT" -f "$OUT/docker-compose.cache.yml" \
       -f "$WORK/override.yml" up -d >"$WORK/up-$label.log" 2>&1; then
    ok "$label: compose up -d returned after $(( $(date +%s) - UP_T ))s"
  else
    bad "$label: compose up -d failed"
    sed 's/^/     /' "$WORK/up-$label.log" | tail -n 20
    dump_logs "${PREFETCH[@]}"
  fi
  local p
  for p in "${PREFETCH[@]}"; do
    C logs --no-color --no-log-prefix "$p" 2>&1 | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | grep -v '^$' | tail -n 8 | sed "s/^/     [$p] /" || true
  done
  wait_healthy "$label" "$health"
  # Start/finish order, exit codes and mounts, from docker inspect.
  local ids
  ids=$(C ps -a -q)
  # shellcheck disable=SC2086
  docker inspect $ids >"$WORK/inspect-$label.json"
  checks order "$WORK/plan.json" "$WORK/inspect-$label.json"
}

step "up #1 (cold cache)"
fleet_up "up#1" docker

step "what each server found"
for s in "${SERVERS[@]}"; do
  cid=$(cid_of "$s")
  if docker exec "$cid" python3 -c "import urllib.request as u, sys; sys.stdout.write(u.urlopen('http://127.0.0.1:$(port_of "$s")/_report', timeout=5).read().decode())" >"$WORK/report-$s.json" 2>/dev/null; then
    checks report "$WORK/plan.json" "$s" "$WORK/report-$s.json"
  else
    bad "$s: could not read the stub's /_report"
    dump_logs "$s"
  fi
  # And from outside: the engine's user cannot write into the cache mount either.
  target=""
  for v in "${CACHE_VOLS[@]}"; do
    target+=$(docker inspect -f "{{range .Mounts}}{{if eq .Name \"$v\"}}{{.Destination}}{{end}}{{end}}" "$cid")
  done
  if [ -z "$target" ]; then
    bad "$s: does not mount the cache volume(s) ${CACHE_VOLS[*]}"
  else
    if docker exec "$cid" sh -c "touch '$target/.e2e-outside-probe'" 2>/dev/null; then
      bad "$s: docker exec could create a file in $target"
    else
      ok "$s: docker exec cannot create a file in $target"
    fi
  fi
  for hp in $(published_of "$s"); do
    if code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$hp/health") && [ "$code" = 200 ]; then
      ok "$s: host port $hp answers /health 200"
    else
      bad "$s: host port $hp: /health gave ${code:-no answer}"
    fi
  done
done

n_images=$(built_images | wc -l)
if [ "$n_images" = 2 ]; then ok "Compose built the vLLM and the SGLang image from Dockerfile.optimized: $(built_images | tr '\n' ' ')"
else bad "expected 2 built engine images, found $n_images: $(built_images | tr '\n' ' ')"; fi

step "mock Hub traffic after up #1"
cp "$HUBSTATE/stats.json" "$WORK/stats-1.json"
checks stats "$WORK/plan.json" "$WORK/stats-1.json"

step "down (keep volumes), up #2 (warm cache)"
C down -t 5 >"$WORK/down-1.log" 2>&1 || bad "compose down failed"
COMPOSE_UP=0
vols=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | tr '\n' ' ')
if [ -n "$vols" ]; then ok "down kept the cache volume(s): $vols"; else bad "down removed the cache volume"; fi
fleet_up "up#2" "${E2E_DOCKER_HEALTH_ON_WARM:-quick}"
cp "$HUBSTATE/stats.json" "$WORK/stats-2.json"
checks delta "$WORK/plan.json" "$WORK/stats-1.json" "$WORK/stats-2.json"

step "prefetch again with the Hub unreachable"
# A host reboot or `up` while the Hub/mirror is down must not keep a fleet with a full
# cache from starting: the generated prefetch, unchanged, must still exit 0.
C rm -s -f mock-hub >/dev/null 2>&1 || true
for p in "${PREFETCH[@]}"; do
  if C up -d --no-deps --force-recreate "$p" >"$WORK/up-offline.log" 2>&1; then
    cid=$(cid_of "$p")
    rc=$(timeout 300 docker wait "$cid" 2>/dev/null || echo timeout)
    if [ "$rc" = 0 ]; then
      ok "$p exits 0 with the Hub unreachable (full cache)"
    else
      bad "$p with the Hub unreachable: exit $rc"
    fi
    C logs --no-color --no-log-prefix "$p" 2>&1 | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | grep -v '^$' | tail -n 4 | cut -c1-200 | sed "s/^/     [$p] /" || true
  else
    bad "compose up $p (Hub unreachable) failed"; sed 's/^/     /' "$WORK/up-offline.log"
  fi
done

step "down -v"
mapfile -t NAMED < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
for kind in ("volumes", "networks"):
    for k, v in (c.get(kind) or {}).items():
        if (v or {}).get("name") and not (v or {}).get("external"):
            print(kind, v["name"])' "$WORK/config.json")
if C down -v --remove-orphans -t 5 >"$WORK/down-2.log" 2>&1; then
  ok "compose down -v"
else
  bad "compose down -v failed"; sed 's/^/     /' "$WORK/down-2.log"
fi
COMPOSE_UP=0
left_c=$(docker ps -a -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
left_n=$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
left_v=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
for kv in "containers:$left_c" "networks:$left_n" "volumes:$left_v"; do
  if [ "${kv#*:}" = 0 ]; then ok "no ${kv%%:*} of project $PROJECT left"; else bad "${kv#*:} ${kv%%:*} of project $PROJECT left behind"; fi
done
for kn in "${NAMED[@]}"; do
  kind=${kn%% *} name=${kn#* }
  if docker "${kind%s}" inspect "$name" >/dev/null 2>&1; then
    bad "${kind%s} $name (named in the generated file) still exists"
  else
    ok "${kind%s} $name (named in the generated file) is gone"
  fi
done

FINISHED=1
