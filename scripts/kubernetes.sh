#!/usr/bin/env bash
# Third-party checks for aimgen's Kubernetes target.
#
# Renders every examples/*.yaml with `aimgen render EXAMPLE --target kubernetes -o DIR` and
# checks each DIR with tools aimgen does not control:
#   files        DIR/kustomization.yaml lists every manifest below DIR, and nothing that is not there
#   k8s-schema   kubernetes-validate --strict against each of the newest K8S_MINORS (default 3)
#                Kubernetes minor versions the installed kubernetes-validate ships (printed);
#                every object must be reported as passed: a kind without a schema fails too
#                (kubernetes-validate itself only warns about it and exits 0)
#   kustomize    `kubectl kustomize DIR` builds, and yields exactly the objects of the manifests
#   checkov      checkov's Kubernetes checks, less the ones in CHECKOV_SKIPS below (each justified)
# Then the claim test (tests/e2e/k8s_claim.py): the servers' initContainer wait and the Jobs'
# prefetch program, taken from the rendered manifests, run on this host against a shared
# folder standing in for the cache claim, with the real huggingface_hub against the mock Hub
# (tests/e2e/mock_hub.py) on 127.0.0.1.
#
# Usage:
#   scripts/kubernetes.sh                 render and check every examples/*.yaml, then the claim test
#   scripts/kubernetes.sh --dir DIR ...   check already-rendered manifest folders (repeatable)
#   scripts/kubernetes.sh --install-only  only install the tools into .tools/
#
# Environment:
#   AIMGEN   the aimgen binary; when unset, target/release/aimgen if it is newer than every
#            source file, else `cargo build` and target/debug/aimgen.
#   K8S_MINORS        how many of the newest Kubernetes minor versions to validate against (3).
#   KEEP=1            keep the rendered folders even when everything passed.
#   AIMGEN_TOOLS_DIR  install the tools there instead of .tools/ (e.g. to time a cold run).
#
# Installs (pinned, from the Python registry pip is configured with; nothing system-wide):
# .tools/k8s-venv (kubernetes-validate, checkov) and .tools/k8s-claim-venv (huggingface_hub,
# PyYAML). A second run installs nothing. kubectl: the one on PATH, else Debian trixie's
# kubectl package unpacked into .tools/bin/kubectl.
#
# Prints one line per (example, check), the tool's output under a failing one, and ends with
# `kubernetes: N passed, M failed`. Exits non-zero when anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${AIMGEN_TOOLS_DIR:-"$ROOT/.tools"}
BIN="$TOOLS/bin"
VENV="$TOOLS/k8s-venv"
CLAIM_VENV="$TOOLS/k8s-claim-venv"

# Pinned tool versions: bump deliberately, one at a time. kubernetes-validate's release
# number is the newest Kubernetes version whose schemas it bundles.
KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30
# The huggingface_hub the delivery harness (tests/e2e/delivery.sh) runs the prefetch with.
HUGGINGFACE_HUB_VERSION=2.4.0
PYYAML_VERSION=6.0.3
KUBECTL_SUITE=trixie
K8S_MINORS=${K8S_MINORS:-3}

# checkov checks switched off, each with its reason: `ID` for every resource, `ID@Kind` for one
# kind of resource only (checkov's kind: Deployment, Job, Pod for a template, ...). Everything
# else checkov has for Kubernetes runs; a finding about a real problem is a generator bug to fix,
# not a line to add here. A skip that no example needs any more fails the run.
CHECKOV_SKIPS=(
    # Image should use a digest. The images are built from the generated Dockerfile.optimized
    # and pushed by the user (aimgen prints the commands, runs none): their digest exists only
    # after that push. The tag aimgen writes is a hash of the image's Dockerfile stage, so a
    # changed stage is a new tag.
    "CKV_K8S_43"
    # Image pull policy should be Always. The tags are hashes of the stage (above): a tag never
    # names two images, so IfNotPresent pulls every new image, and without a registry
    # (`kubernetes.registry` unset: images loaded on every node) Always could not start a pod.
    "CKV_K8S_15"
    # CPU/memory requests and limits on the servers. The spec has no CPU or memory sizing: what an
    # engine needs in host memory depends on the model, the engine and its settings, and a guessed
    # memory limit OOM-kills the engine while it loads weights. The GPU limit, which is what
    # schedules the pod, is set.
    "CKV_K8S_10@Deployment"
    "CKV_K8S_11@Deployment"
    "CKV_K8S_12@Deployment"
    "CKV_K8S_13@Deployment"
    # Read-only root filesystem for the servers (Jobs and the wait have one). The engines write
    # into their image at run time beyond the caches aimgen moves to the scratch volume; no test
    # here runs vLLM or SGLang with a read-only root, and setting it untested would trade this
    # finding for a crash at start.
    "CKV_K8S_22@Deployment"
    # Secrets as files rather than environment variables. The engines take their API key from an
    # environment variable or their --api-key argument, not from a file; the Jobs run the Compose
    # target's prefetch program, which reads HF_TOKEN from the environment as huggingface_hub does
    # (its HF_TOKEN_PATH file would also work: a possible follow-up for the Jobs).
    "CKV_K8S_35"
)

LOG_PREFIX=kubernetes
# shellcheck source=scripts/lib/checks.sh
. "$ROOT/scripts/lib/checks.sh"

parse_args "$@"

# --- installs -----------------------------------------------------------------------------

# venv_install DIR WHAT PACKAGE==VERSION...: a venv with exactly these pins, made once. pip
# reads its index from the machine's own configuration (pip.conf, PIP_* variables).
venv_install() {
    local dir=$1 what=$2
    shift 2
    local stamp="$dir/.aimgen-pins" want
    # The folder is part of the stamp: a venv moved with its clone keeps scripts whose first
    # line names the old folder, so a moved one is made again.
    want=$(printf '%s\n' "$dir" "$@")
    if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "installing $what into $dir"
    local t0=$SECONDS
    rm -rf "$dir"
    python3 -m venv "$dir" \
        || die "python3 -m venv failed (on Debian's own python3: apt-get install python3-venv)"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
        || die "pip install $* failed"
    printf '%s\n' "$want" >"$stamp"
    log "installed $what in $((SECONDS - t0))s, $(du -sm "$dir" | cut -f1) MB on disk"
}

# kubectl: the machine's, else Debian's (its `kubectl kustomize` is built in).
install_kubectl() {
    if command -v kubectl >/dev/null; then KUBECTL=$(command -v kubectl); return 0; fi
    KUBECTL="$BIN/kubectl"
    if [ -x "$KUBECTL" ]; then return 0; fi
    log "no kubectl on PATH: installing Debian $KUBECTL_SUITE's kubectl into $KUBECTL"
    local t0=$SECONDS
    debian_unpack "$KUBECTL_SUITE" kubectl usr/bin/kubectl "$KUBECTL"
    log "installed kubectl in $((SECONDS - t0))s"
}

install_all() {
    mkdir -p "$TOOLS"
    venv_install "$VENV" "kubernetes-validate $KUBERNETES_VALIDATE_VERSION, checkov $CHECKOV_VERSION" \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
    # Its own venv: checkov pins much of what huggingface_hub needs, and the claim test must
    # run the huggingface_hub release the Compose harnesses run.
    venv_install "$CLAIM_VENV" "huggingface_hub $HUGGINGFACE_HUB_VERSION" \
        "huggingface_hub==$HUGGINGFACE_HUB_VERSION" "pyyaml==$PYYAML_VERSION"
    install_kubectl
}

# The newest K8S_MINORS minor versions whose schemas the installed kubernetes-validate ships
# (its own list, so that a bump of the pin moves them).
k8s_versions() {
    "$VENV/bin/python" - "$K8S_MINORS" <<'EOF'
import sys
from packaging.version import Version
from kubernetes_validate import utils
minors = sorted({Version(v).release[:2] for v in utils.all_versions()})
if len(minors) < int(sys.argv[1]):
    sys.exit(f"kubernetes-validate ships only {len(minors)} minor versions")
print(" ".join(f"{a}.{b}" for a, b in minors[-int(sys.argv[1]):]))
EOF
}

START=$SECONDS
install_all
log "tools ready in $((SECONDS - START))s; on disk: $(du -sm "$VENV" | cut -f1) MB (k8s-venv), $(du -sm "$CLAIM_VENV" | cut -f1) MB (k8s-claim-venv)"
VERSIONS=$(k8s_versions) || die "could not read the Kubernetes versions kubernetes-validate ships"
log "tool versions:"
printf '  %-20s %s\n' \
    kubernetes-validate "$("$VENV/bin/kubernetes-validate" --version 2>&1 | head -n 1)" \
    checkov "$("$VENV/bin/checkov" --version 2>&1 | head -n 1)" \
    kubectl "$("$KUBECTL" version --client 2>&1 | tr '\n' ' ')" \
    huggingface_hub "$("$CLAIM_VENV/bin/python" -c 'import huggingface_hub as h; print(h.__version__)')"
log "Kubernetes versions validated against (the newest $K8S_MINORS kubernetes-validate ships): $VERSIONS"
if [ "$INSTALL_ONLY" = 1 ]; then exit 0; fi

# --- checks -------------------------------------------------------------------------------

PASSED=0
FAILED=0
FAILURES=()
OUT_FILE=$(mktemp)
SKIPS_USED=$(mktemp)
WORK=""
cleanup() {
    rm -f "$OUT_FILE" "$SKIPS_USED"
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$FAILED" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
            rm -rf "$WORK"
        else
            log "rendered output kept in $WORK"
        fi
    fi
}
trap cleanup EXIT

# The manifests kustomization.yaml lists, one per line; fails unless they are exactly the
# *.yaml/*.yml files below DIR (subfolders too) besides kustomization.yaml itself.
manifests() {
    "$VENV/bin/python" - "$1" <<'EOF'
import os, sys, yaml
d = sys.argv[1]
with open(os.path.join(d, "kustomization.yaml")) as f:
    k = yaml.safe_load(f)
listed = k.get("resources") or []
on_disk = sorted(os.path.relpath(os.path.join(r, n), d) for r, _, names in os.walk(d) for n in names
                 if n.endswith((".yaml", ".yml")) and os.path.join(r, n) != os.path.join(d, "kustomization.yaml"))
problems = []
if k.get("kind") != "Kustomization":
    problems.append(f"kind is {k.get('kind')!r}, not Kustomization")
if len(set(listed)) != len(listed):
    problems.append(f"resources lists a file twice: {listed}")
for n in sorted(set(on_disk) - set(listed)):
    problems.append(f"{n} is in the folder but not in resources: kubectl apply -k would skip it")
for n in sorted(set(listed) - set(on_disk)):
    problems.append(f"resources lists {n}, which is not in the folder")
if not listed:
    problems.append("resources is empty")
if problems:
    sys.exit("\n".join(problems))
print("\n".join(listed))
EOF
}

# kubernetes-validate exits 0 when it has no schema for a kind (a WARN line): count what it
# reports instead, one `passed` line per object and version, and nothing else.
check_schema() {
    local label=$1 dir=$2
    shift 2
    local files=("$@") status=0 args=() v
    for v in $VERSIONS; do args+=(-k "$v"); done
    (
        cd "$dir"
        "$VENV/bin/kubernetes-validate" --strict "${args[@]}" "${files[@]}"
    ) >"$OUT_FILE" 2>&1 || status=$?
    local objects expected passed
    objects=$("$VENV/bin/python" -c '
import sys, yaml
print(sum(1 for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d))' "${files[@]/#/$dir/}")
    expected=$((objects * $(wc -w <<<"$VERSIONS")))
    passed=$(grep -c '^INFO .* passed for resource ' "$OUT_FILE" || true)
    if [ "$status" -eq 0 ] && { grep -qv '^INFO ' "$OUT_FILE" || [ "$passed" -ne "$expected" ]; }; then
        status=1
        printf '(exit 0, but %s of %s object validations passed, or it printed more than INFO lines)\n' \
            "$passed" "$expected" >>"$OUT_FILE"
    fi
    if [ "$status" -eq 0 ]; then
        printf 'k8s-schema %s: %s objects\n' "$VERSIONS" "$objects" >"$OUT_FILE"
    fi
    record "$label" "k8s-schema ($objects objects x ${VERSIONS// /, })" "$status"
}

# `kubectl kustomize` builds the folder, and the build holds exactly the manifests' objects
# (kind/namespace/name), none lost and none added.
check_kustomize() {
    local label=$1 dir=$2
    shift 2
    local status=0 built
    built=$(mktemp)
    "$KUBECTL" kustomize "$dir" >"$built" 2>"$OUT_FILE" || status=$?
    if [ "$status" -eq 0 ]; then
        (cd "$dir" && "$VENV/bin/python" - "$built" "$@") >>"$OUT_FILE" 2>&1 <<'EOF' || status=$?
import sys, yaml
def ids(docs):
    return sorted((d["kind"], (d.get("metadata") or {}).get("namespace") or "", d["metadata"]["name"]) for d in docs if d)
built = ids(yaml.safe_load_all(open(sys.argv[1])))
source = ids(d for f in sys.argv[2:] for d in yaml.safe_load_all(open(f)))
if built != source:
    sys.exit(f"kubectl kustomize built {built}\nbut the manifests hold {source}")
EOF
    fi
    rm -f "$built"
    record "$label" kustomize "$status"
}

# checkov runs every Kubernetes check; findings of a check in CHECKOV_SKIPS are left out here,
# and a skip no example needs any more fails the run (see check_skips_used): the list stays true.
check_checkov() {
    local label=$1 dir=$2 status=0 json
    json=$(mktemp)
    # --skip-download: no call to the vendor's platform (guidelines, custom policies).
    "$VENV/bin/checkov" --directory "$dir" --framework kubernetes --skip-download --output json \
        >"$json" 2>"$OUT_FILE" || status=$?
    local skips
    skips=$(printf '%s\n' "${CHECKOV_SKIPS[@]+"${CHECKOV_SKIPS[@]}"}")
    "$VENV/bin/python" - "$json" "$status" "$SKIPS_USED" "$skips" >"$OUT_FILE" 2>&1 <<'EOF' && status=0 || status=$?
import json, sys
path, status, used_file, skips = sys.argv[1], int(sys.argv[2]), sys.argv[3], set(sys.argv[4].split())
try:
    report = json.load(open(path))
except ValueError:
    sys.exit(f"checkov exited {status} without a JSON report")
if report["results"].get("parsing_errors"):
    sys.exit(f"checkov could not parse: {report['results']['parsing_errors']}")
failed = report["results"]["failed_checks"]
passed = len(report["results"]["passed_checks"])
if passed == 0:
    sys.exit("checkov passed no check: it read no manifest")
def skip(c):
    """The CHECKOV_SKIPS entry that covers this finding, or None."""
    scoped = f"{c['check_id']}@{c['resource'].split('.')[0]}"
    return next((k for k in (scoped, c["check_id"]) if k in skips), None)
kept = [c for c in failed if not skip(c)]
with open(used_file, "a") as f:
    f.writelines(skip(c) + "\n" for c in failed if skip(c))
for c in sorted(kept, key=lambda c: (c["check_id"], c["resource"])):
    lines = "-".join(map(str, c["file_line_range"]))
    print(f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path'].lstrip('/')}:{lines})")
print(f"checkov {report['summary']['checkov_version']}: {passed} passed, {len(failed) - len(kept)} skipped "
      f"(CHECKOV_SKIPS), {len(kept)} failed")
sys.exit(1 if kept else 0)
EOF
    rm -f "$json"
    record "$label" checkov "$status"
}

# Every skip must still be needed by some example (only when all examples were checked).
check_skips_used() {
    local id status=0
    : >"$OUT_FILE"
    for id in "${CHECKOV_SKIPS[@]+"${CHECKOV_SKIPS[@]}"}"; do
        if ! grep -qxF "$id" "$SKIPS_USED"; then
            printf '%s is in CHECKOV_SKIPS but no example fails it: remove the skip\n' "$id" >>"$OUT_FILE"
            status=1
        fi
    done
    record "all examples" "checkov skips all needed" "$status"
}

check_dir() {
    local label=$1 dir=$2 files=()
    if [ ! -f "$dir/kustomization.yaml" ]; then
        printf '%s: no such file\n' "$dir/kustomization.yaml" >"$OUT_FILE"
        record "$label" files 1
        return
    fi
    local status=0
    manifests "$dir" >"$OUT_FILE" 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then mapfile -t files <"$OUT_FILE"; fi
    record "$label" files "$status"
    [ "$status" -eq 0 ] || return 0
    check_schema "$label" "$dir" "${files[@]}"
    check_kustomize "$label" "$dir" "${files[@]}"
    check_checkov "$label" "$dir"
}

resolve_aimgen() {
    if [ -n "${AIMGEN:-}" ]; then
        [ -x "$AIMGEN" ] || die "AIMGEN=$AIMGEN is not an executable"
        return 0
    fi
    # Always ask cargo (a no-op when current): a stale binary would check yesterday's generator.
    command -v cargo >/dev/null || die "no cargo to build aimgen (or set AIMGEN)"
    log "cargo build"
    (cd "$ROOT" && cargo build --quiet --bin aimgen) || die "cargo build failed"
    AIMGEN="$ROOT/target/debug/aimgen"
}

check_outputs kubernetes --target kubernetes
if [ "${#DIRS[@]}" -eq 0 ]; then
    check_skips_used
    # The claim test prints its own PASS/FAIL lines; counted here as one check.
    t0=$SECONDS
    status=0
    "$CLAIM_VENV/bin/python" "$ROOT/tests/e2e/k8s_claim.py" "$AIMGEN" >"$OUT_FILE" 2>&1 || status=$?
    grep -E '^(PASS|FAIL|METRIC) ' "$OUT_FILE" | sed 's/^/      /' || true
    if [ "$status" -eq 0 ] && ! grep -qE '^[1-9][0-9]* passed, 0 failed$' "$OUT_FILE"; then
        status=1
        printf '(exit 0 without a closing "N passed, 0 failed" line)\n' >>"$OUT_FILE"
    fi
    record "claim" "initContainer wait + Job prefetch ($((SECONDS - t0))s)" "$status"
fi

if [ "$FAILED" -gt 0 ]; then
    log "failed checks:"
    printf '  %s\n' "${FAILURES[@]}"
fi
log "checks took $((SECONDS - START))s in all"
echo "kubernetes: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
