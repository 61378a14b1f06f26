# Shared by scripts/conformance.sh and scripts/kubernetes.sh (sourced, not run).
#
# The caller sets LOG_PREFIX (e.g. "conformance"), and, for `record`, OUT_FILE (a file holding
# the output of the check just run) and the counters PASSED, FAILED and the array FAILURES.

log() { printf '[%s] %s\n' "$LOG_PREFIX" "$*"; }

# usage: the running script's header comment (its lines up to `set -euo`).
usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

# parse_args ARGS...: the options every check script takes, into DIRS (absolute folders,
# `--dir DIR` or `--dir=DIR`, repeatable) and INSTALL_ONLY (`--install-only`); `-h` prints
# `usage`. A script with options of its own defines `own_arg ARG`, which returns 0 when it
# took ARG.
parse_args() {
    DIRS=()
    INSTALL_ONLY=0
    local d
    while [ $# -gt 0 ]; do
        case "$1" in
            --dir)
                [ $# -ge 2 ] || die "--dir needs a directory"
                d=$2
                shift 2
                ;;
            --dir=*) d=${1#--dir=}; shift ;;
            --install-only) INSTALL_ONLY=1; shift; continue ;;
            -h|--help) usage; exit 0 ;;
            *)
                if declare -F own_arg >/dev/null && own_arg "$1"; then shift; continue; fi
                die "unknown argument: $1 (see --help)"
                ;;
        esac
        [ -d "$d" ] || die "--dir $d: not a directory"
        DIRS+=("$(cd "$d" && pwd)")
    done
}
die() { printf '[%s] error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 2; }

# check_outputs PREFIX RENDER_ARG...: the caller's `check_dir LABEL DIR` on every `--dir`
# folder; without any, every examples/*.yaml rendered (`aimgen render EX RENDER_ARG... -o OUT`,
# the binary from the caller's `resolve_aimgen`) into a new folder WORK
# (`aimgen-PREFIX.XXXXXX`) and each output checked. A failed render is recorded as the check
# `render`.
check_outputs() {
    local prefix=$1
    shift
    local d ex name out status
    if [ "${#DIRS[@]}" -gt 0 ]; then
        for d in "${DIRS[@]}"; do
            check_dir "$d" "$d"
        done
        return 0
    fi
    shopt -s nullglob
    local examples=("$ROOT"/examples/*.yaml)
    shopt -u nullglob
    [ "${#examples[@]}" -gt 0 ] || die "no examples/*.yaml in $ROOT"
    resolve_aimgen
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/aimgen-$prefix.XXXXXX")
    for ex in "${examples[@]}"; do
        name=$(basename "$ex" .yaml)
        out="$WORK/$name"
        status=0
        (cd "$ROOT" && "$AIMGEN" render "$ex" "$@" -o "$out") >"$OUT_FILE" 2>&1 || status=$?
        if [ "$status" -ne 0 ] || [ ! -d "$out" ]; then
            [ "$status" -ne 0 ] || { status=1; printf 'render exited 0 but wrote no %s\n' "$out" >>"$OUT_FILE"; }
            record "$name" render "$status"
            continue
        fi
        check_dir "$name" "$out"
    done
}

# record LABEL CHECK STATUS: count one check, and show the tool's output when it failed.
record() {
    local label=$1 check=$2 status=$3
    if [ "$status" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        printf 'ok    %-28s %s\n' "$label" "$check"
    else
        FAILED=$((FAILED + 1))
        FAILURES+=("$label $check")
        printf 'FAIL  %-28s %s (exit %s)\n' "$label" "$check" "$status"
        if [ -s "$OUT_FILE" ]; then
            sed 's/^/      | /' "$OUT_FILE"
        else
            printf '      | (no output)\n'
        fi
    fi
}

# debian_unpack SUITE PACKAGE MEMBER DEST: install one file (MEMBER, a path inside the .deb)
# of Debian SUITE's PACKAGE as the executable DEST. A private apt does it: its own source list
# (the mirror this machine's apt sources name, never a written host), lists and cache, and no
# view of what is installed (else `download` asks for the installed version), so the system's
# apt state and packages are left alone; Sandbox::User=root because _apt cannot write there.
debian_unpack() {
    local suite=$1 package=$2 member=$3 dest=$4
    command -v apt-get >/dev/null || die "apt-get is needed to fetch Debian's $package"
    command -v dpkg-deb >/dev/null || die "dpkg-deb is needed to unpack Debian's $package"
    local mirror apt
    mirror=$(python3 "$(dirname "${BASH_SOURCE[0]}")/../../tests/e2e/debian_mirror.py") \
        || die "no Debian mirror in the machine's apt sources (/etc/apt/sources.list*)"
    apt=$(mktemp -d "${TMPDIR:-/tmp}/aimgen-apt.XXXXXX")
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/download" "$(dirname "$dest")"
    printf 'deb %s %s main\n' "$mirror" "$suite" >"$apt/sources.list"
    local opts=(
        -o "Dir::Etc::SourceList=$apt/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt/lists"
        -o "Dir::State::status=/dev/null"
        -o "Dir::Cache=$apt/cache"
        -o "APT::Sandbox::User=$(id -un)"
    )
    apt-get "${opts[@]}" -qq update
    (cd "$apt/download" && apt-get "${opts[@]}" -qq download "$package")
    local deb
    deb=$(find "$apt/download" -maxdepth 1 -name "${package}_*.deb" | head -n 1)
    [ -n "$deb" ] || die "apt-get download $package produced no .deb"
    dpkg-deb -x "$deb" "$apt/root"
    [ -f "$apt/root/$member" ] || die "no $member in $(basename "$deb")"
    install -m 0755 "$apt/root/$member" "$dest.tmp"
    mv "$dest.tmp" "$dest"
    rm -rf "$apt"
}
