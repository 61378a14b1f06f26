# aimgen prefetch: one model revision into the shared Hugging Face cache, complete or not at
# all. argv[1] is the job aimgen wrote: {"repo", "revision", "sha" (the locked commit, or
# null), "files" ([{"path", "size", "blob"}] from the lock, or null), "workers", "verify"}.
# huggingface_hub does every transfer (plain HTTP or Xet); this program decides what to fetch.
import concurrent.futures
import errno
import hashlib
import json
import os
import re
import sys
import time
import urllib.parse

# Only what every job needs: with the interpreter's HTTP client and huggingface_hub's HfApi
# module the imports took ~40 % more CPU, and every job's first byte waits for them.
from huggingface_hub import constants, errors, hf_hub_download
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

LOADED = ("json", "safetensors", "model", "tiktoken", "txt", "py", "jinja")


def engine_files(files):
    """Configs, tokenizers, safetensors weights and remote code; never original/ checkpoints,
    *.pth, *.bin duplicates of safetensors weights, or Mistral's consolidated.safetensors
    beside the Hugging Face shards."""
    names = [f.rsplit("/", 1)[-1] for f in files]
    has_safetensors = any(n.endswith(".safetensors") for n in names)
    has_shards = any(n.endswith(".safetensors") and not n.startswith("consolidated") for n in names)
    keep = []
    for f, name in zip(files, names):
        if f.split("/", 1)[0] == "original":
            continue
        ext = name.rpartition(".")[2]
        if ext == "safetensors" and name.startswith("consolidated") and has_shards:
            continue
        if ext in LOADED or name.startswith("tokenizer") or (ext == "bin" and not has_safetensors):
            keep.append(f)
    return sorted(keep)
# (end of the engine-file rule: src/hub/files.rs runs the code above against its Rust twin)


JOB = json.loads(sys.argv[1])
REPO, REVISION = JOB["repo"], JOB["revision"]
FOLDER = os.path.join(constants.HF_HUB_CACHE, "models--" + REPO.replace("/", "--"))
SHA_RE = re.compile(r"[0-9a-f]{40}")


def say(message):
    print(f"aimgen-prefetch: {REPO}@{REVISION}: {message}", flush=True)


def fail(message):
    """One line naming the model and what happened; the job exits 1 and only the servers of
    this model stay down."""
    print(f"aimgen-prefetch: error: {REPO}@{REVISION}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def gb(n):
    return f"{n / 1e9:.2f} GB"


def chain(error):
    """The exception and every cause or context behind it (huggingface_hub wraps transport
    errors in its own)."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def unreachable(error):
    # Transport errors differ by client (requests in 0.x, httpx in 1.x and later): match the
    # builtin types and the client classes' names rather than importing either client.
    for e in chain(error):
        if isinstance(e, (ConnectionError, TimeoutError, errors.OfflineModeIsEnabled)):
            return True
        if any(n in c.__name__ for c in type(e).__mro__ for n in ("ConnectError", "ConnectionError", "Timeout")):
            return True
    return False


def endpoint_answers():
    """Whether anything answers HTTP at the endpoint: a client error raised while the
    connection failed does not always carry the connection error."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(constants.ENDPOINT, timeout=10).close()
    except urllib.error.HTTPError:
        return True
    except Exception:  # noqa: BLE001 - any failure to connect means no answer
        return False
    return True


def status_of(error):
    for e in chain(error):
        response = getattr(e, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def describe(error, path=None):
    """What happened, in one line, from huggingface_hub's exception classes (the same names in
    0.36 and 2.x; a missing file is RemoteEntryNotFoundError from 1.0 on)."""
    what = f"`{path}`" if path else "the repository"
    for e in chain(error):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"disk full: no space left in the cache ({constants.HF_HUB_CACHE}) while writing {what}"
    if isinstance(error, errors.GatedRepoError):
        return ("access denied: the repository is gated; set HF_TOKEN to a token of an account "
                "that has accepted the model's licence on its Hub page")
    if isinstance(error, errors.RevisionNotFoundError):
        return f"revision `{REVISION}` not found: the repository exists but has no such branch, tag or commit"
    if isinstance(error, errors.RepositoryNotFoundError):
        return ("repository not found: check the model id, or set HF_TOKEN if it is private "
                "(the Hub answers the same for both)")
    remote_missing = getattr(errors, "RemoteEntryNotFoundError", None)
    if (remote_missing and isinstance(error, remote_missing)) or (
        isinstance(error, errors.EntryNotFoundError) and not isinstance(error, errors.LocalEntryNotFoundError)
    ):
        return f"{what} is not in the repository at this commit"
    if unreachable(error):
        return f"Hub unreachable at {constants.ENDPOINT} while fetching {what}"
    if isinstance(error, errors.LocalEntryNotFoundError) and error.__cause__ is not None:
        # "not in the local cache either": what matters is why the Hub did not answer.
        error = error.__cause__
    if not endpoint_answers():
        return f"Hub unreachable at {constants.ENDPOINT} while fetching {what}"
    code = status_of(error)
    if code in (401, 403):
        return f"access denied (HTTP {code}) to {what}: set HF_TOKEN to a token with read access"
    first = (str(error).strip().splitlines() or [""])[0][:200]
    return f"{type(error).__name__} while fetching {what}" + (f" (HTTP {code})" if code else "") + f": {first}"


RANK = ("disk full", "access denied", "repository not found", "revision", "Hub unreachable", "`")


def snapshot_path(sha, path):
    return os.path.join(FOLDER, "snapshots", sha, *path.split("/"))


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def problem(sha, f, hash_lfs):
    """Why a file is not delivered yet, or None. A size check reads no data; with `hash_lfs`,
    an LFS file (64-hex blob id: its sha256) is hashed too."""
    p = snapshot_path(sha, f["path"])
    if not os.path.exists(p):
        return "missing"
    size = os.path.getsize(p)
    if f.get("size") is not None and size != f["size"]:
        return f"{size} bytes instead of {f['size']}"
    if hash_lfs and len(f.get("blob") or "") == 64 and sha256_of(p) != f["blob"]:
        return "sha256 differs from the lock file"
    return None


def name_files(bad):
    shown = ", ".join(f"{p} ({why})" for p, why in bad[:5])
    return shown + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")


def listing(revision):
    """One API call: the commit `revision` points to now, and the engine's files there with
    their sizes and content ids. The request `HfApi().model_info(files_metadata=True)`
    makes, with the same headers (token) and the same errors raised."""
    url = f"{constants.ENDPOINT}/api/models/{REPO}/revision/{urllib.parse.quote(revision, safe='')}"
    response = get_session().get(url, headers=build_hf_headers(), params={"blobs": True})
    hf_raise_for_status(response)
    info = response.json()
    by_name = {s["rfilename"]: s for s in info.get("siblings") or []}
    files = []
    for path in engine_files(list(by_name)):
        s = by_name[path]
        sha256 = (s.get("lfs") or {}).get("sha256")
        files.append({"path": path, "size": s.get("size"), "blob": sha256 or s.get("blobId")})
    return info["sha"], files


def write_ref(sha):
    """`refs/<revision>` → sha, written last: a branch name offline resolves only to a
    snapshot this job saw complete."""
    if REVISION == sha:
        return
    ref = os.path.join(FOLDER, "refs", *REVISION.split("/"))
    try:
        with open(ref) as f:
            if f.read(64).strip() == sha:
                return  # a warm restart leaves the cache exactly as it was
    except OSError:
        pass
    os.makedirs(os.path.dirname(ref), exist_ok=True)
    tmp = f"{ref}.aimgen-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(sha)
    os.replace(tmp, ref)


LEFTOVER = re.compile(r"[^.]+\.[0-9a-f]{8}\.incomplete")


def sweep_incomplete(idle=60):
    """A killed download leaves its partial file in blobs/. huggingface_hub 2.x writes into
    `<blob>.<8 hex>.incomplete`, unique per process, and never resumes one; 0.36 resumes
    `<blob>.incomplete` with a Range request, so that one stays. This job is its
    model's only downloader in the fleet; a file nobody wrote to for a minute is a leftover,
    not a download in flight."""
    blobs = os.path.join(FOLDER, "blobs")
    for name in os.listdir(blobs) if os.path.isdir(blobs) else []:
        path = os.path.join(blobs, name)
        try:
            if LEFTOVER.fullmatch(name) and time.time() - os.path.getmtime(path) > idle:
                os.remove(path)
        except OSError:
            pass


def offline_fallback(error):
    """The Hub is unreachable and nothing is locked: serve the snapshot `refs/<revision>`
    names, which this program writes only once that snapshot was complete."""
    sha = REVISION if SHA_RE.fullmatch(REVISION) else None
    ref = os.path.join(FOLDER, "refs", *REVISION.split("/"))
    if sha is None and os.path.isfile(ref):
        with open(ref) as f:
            sha = f.read().strip()
    root = os.path.join(FOLDER, "snapshots", sha) if sha else None
    if not root or not os.path.isdir(root):
        fail(f"{describe(error)}, and no complete copy is cached")
    broken = []
    for d, _, names in os.walk(root):
        broken += [os.path.relpath(os.path.join(d, n), root) for n in names if not os.path.exists(os.path.join(d, n))]
    if broken:
        fail(f"{describe(error)}; the cached copy {sha[:12]} lacks {name_files([(b, 'missing') for b in broken])}")
    say(f"{describe(error)}; using the complete cached copy {sha[:12]}")
    sys.exit(0)


def main():
    workers = max(1, int(JOB.get("workers") or 8))
    hash_lfs = JOB.get("verify") == "sha256"
    sha, files = JOB.get("sha"), JOB.get("files")
    if files is None:
        # Unpinned: resolve the revision once; every file is then fetched at that commit, so
        # a branch moving mid-download cannot mix two snapshots.
        try:
            sha, files = listing(sha or REVISION)
        except Exception as error:  # noqa: BLE001 - classified below, one line each
            if unreachable(error):
                offline_fallback(error)
            fail(describe(error))
        say(f"resolved to {sha[:12]}")
    if not SHA_RE.fullmatch(sha or ""):
        fail(f"no commit to download (got {sha!r})")

    sweep_incomplete()
    todo = [f for f in files if problem(sha, f, hash_lfs)]
    total = sum(f.get("size") or 0 for f in files)
    need = sum(f.get("size") or 0 for f in todo)
    if not todo:
        write_ref(sha)
        say(f"complete: all {len(files)} files cached ({gb(total)}), nothing to download")
        return
    say(f"{len(todo)} of {len(files)} files to download ({gb(need)} of {gb(total)}), {workers} at a time")
    # Largest first: the last files in flight are small ones, so the link stays full to the end.
    todo.sort(key=lambda f: (-(f.get("size") or 0), f["path"]))
    started, done_bytes, failures = time.monotonic(), 0, []

    def fetch(f):
        if hash_lfs and problem(sha, f, hash_lfs) == "sha256 differs from the lock file":
            # The blob's name is its sha256: content that does not hash to it is corrupt.
            os.remove(os.path.realpath(snapshot_path(sha, f["path"])))
        hf_hub_download(REPO, f["path"], revision=sha)
        return f

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {pool.submit(fetch, f): f for f in todo}
        for future in concurrent.futures.as_completed(pending):
            f = pending[future]
            error = future.exception()
            if error is not None:
                failures.append((f["path"], error))
                # A denied or missing repository fails every file alike: stop queueing.
                for other in pending:
                    other.cancel()
                continue
            done_bytes += f.get("size") or 0
            rate = done_bytes / max(time.monotonic() - started, 1e-6)
            say(f"{f['path']} ({gb(f.get('size') or 0)}); {gb(done_bytes)} of {gb(need)} at {rate / 1e6:.0f} MB/s")

    bad = [(f["path"], why) for f in files if (why := problem(sha, f, hash_lfs))]
    if failures or bad:
        # Workers fail together (the Hub went away, the token is refused): the most specific
        # reason speaks for all.
        reasons = [describe(e, p) for p, e in failures]
        ranked = sorted(reasons, key=lambda r: next((i for i, k in enumerate(RANK) if r.startswith(k)), len(RANK)))
        cause = ranked[0] if ranked else "download finished short"
        fail(f"{cause}; not delivered: {name_files(bad or [(p, 'failed') for p, _ in failures])}")
    write_ref(sha)
    elapsed = time.monotonic() - started
    say(f"complete: {len(files)} files at {sha[:12]}, {gb(need)} downloaded in {elapsed:.1f} s")


main()
