#!/usr/bin/env python3
"""A mock Hugging Face Hub for aimgen's end-to-end test (Python stdlib only).

It publishes the tiny models tests/e2e/make_models.py generated (--models DIR) as Hub
repositories with several commits, in the shape the real `huggingface_hub` client expects
(checked against huggingface_hub 2.4.0's hf_api.py / file_download.py):

  GET  /api/models/{org}/{name}[/revision/{rev}][?blobs=true]
         -> {"id", "sha", "siblings": [{"rfilename", (size, blobId, lfs)}], ...}
  GET  /api/models/{org}/{name}/tree/{rev}[/{path}]?recursive=true
         -> pages of [{"type", "path", "oid", "size", "lfs"?}], next page in
            `Link: <...>; rel="next"` (page size PAGE_SIZE)
  HEAD/GET /{org}/{name}/resolve/{rev}/{path}
         regular file: 200 + bytes, ETag = git blob sha1, X-Repo-Commit, Content-Length
         LFS file:     302 to http://mock-cdn:PORT/_cdn/... (another host name, like
                       the real CDN), with X-Linked-Etag = sha256, X-Linked-Size,
                       X-Repo-Commit; the CDN URL serves the bytes (Range supported)
  unknown repo -> 401 X-Error-Code: RepoNotFound; unknown revision -> 404
  RevisionNotFound; unknown file -> 404 EntryNotFound (with X-Repo-Commit).

A revision is a branch (`main`) or a commit sha. `main` starts at a repo's first commit;
STATE_DIR/branches.json ({"org/name": {"main": "<label>"}}) moves it while the Hub runs.
Each commit has the generated files, a .gitattributes and decoys (`pytorch_model.bin`,
`original/*`) that no engine loading safetensors reads.

Test hooks:
  GET /_health  -> 200 "ok"
  GET /_stats   -> JSON: per `org/name@sha/path` counts of HEAD, GET-with-body,
                   redirects, bytes sent; API call counts; per kind of request (api,
                   resolve, cdn) whether it carried the expected token, another one or
                   none; the catalogue (commits, branches, and which files are `needed`,
                   `decoy` or `extra`, with sizes). Counts are kept in STATE_DIR/stats.json
                   when --state is given, so they survive `docker compose down` / `up`.

A commit's sha is derived from its files' bytes, so the same generated models give the
same shas and etags in every run.

Delivery options (tests/e2e/delivery.py; all off by default, and --models may then be left
out): --rate-per-conn / --rate-total cap the bytes/s the Hub sends, per connection and in all;
--synthetic adds a large generated repo (SHARDS safetensors shards of MB megabytes, created
at start-up, never on disk); --gated makes a repo answer 401 GatedRepo without the expected
token and 403 with another one; --move-main-after moves a repo's `main` to a second commit
(its config and first shard differ) once N file bodies of the repo have started.
"""

import argparse
import hashlib
import struct
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_SIZE = 4  # small on purpose: the tree listing must be paginated


def det_bytes(seed: str, n: int) -> bytes:
    """n random-looking but deterministic bytes."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return (
        "version https://git-lfs.github.com/spec/v1\n"
        f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
    ).encode()


LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
GITATTRIBUTES = b"".join(b"*%s filter=lfs diff=lfs merge=lfs -text\n" % s.encode() for s in LFS_SUFFIXES)
# What the generated folder holds that no engine loads: the Hub shows them, nobody should fetch them.
EXTRA = {"README.md", ".gitattributes"}


def commit_files(repo_id: str, label: str, folder: str) -> dict:
    """Files of one commit: the generated model folder, plus .gitattributes and decoys.
    path -> (bytes, role) with role needed / extra / decoy."""
    files = {}
    for root, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                rel = os.path.relpath(p, folder).replace(os.sep, "/")
                files[rel] = (f.read(), "extra" if rel in EXTRA else "needed")
    files[".gitattributes"] = (GITATTRIBUTES, "extra")
    weights = sum(len(d) for p, (d, _) in files.items() if p.endswith(".safetensors"))
    config = json.loads(files["config.json"][0])
    # Decoys: a .bin duplicate of the safetensors weights and Meta's original/ checkpoint; an
    # engine loading safetensors never reads these, and neither may the prefetch.
    files["pytorch_model.bin"] = (det_bytes(f"{repo_id}@{label}:bin", weights), "decoy")
    files["original/params.json"] = (json.dumps({"dim": config.get("hidden_size"),
                                                 "n_layers": config.get("num_hidden_layers")}).encode(), "decoy")
    files["original/consolidated.pth"] = (det_bytes(f"{repo_id}@{label}:pth", weights // 2), "decoy")
    return files


def catalogue_entries(files: dict) -> dict:
    """path -> catalogue entry (bytes, role, size, LFS pointer facts, etag) of one commit."""
    entries = {}
    for path, (data, role) in sorted(files.items()):
        lfs = path.endswith(LFS_SUFFIXES)
        e = {"data": data, "role": role, "size": len(data), "lfs": lfs}
        if lfs:
            ptr = lfs_pointer(data)
            e["sha256"] = hashlib.sha256(data).hexdigest()
            e["oid"] = git_blob_sha1(ptr)
            e["pointer_size"] = len(ptr)
            e["etag"] = e["sha256"]
        else:
            e["oid"] = git_blob_sha1(data)
            e["etag"] = e["oid"]
        entries[path] = e
    return entries


def commit_sha(repo_id: str, label: str, entries: dict) -> str:
    return hashlib.sha1(f"{repo_id}@{label}:".encode()
                        + "".join(f"{p}={e['oid']};" for p, e in entries.items()).encode()).hexdigest()


def build_catalogue(models_dir: str) -> dict:
    """repo id -> {"commits": {sha: {"label", "files"}}, "labels": {label: sha}, "default": {branch: sha}}.

    models_dir holds <org>/<name>/commits.json (labels, oldest first) and one folder per label
    (written by make_models.py). A commit's sha is a hash of its repo id, label and file blob
    ids: the same generated bytes give the same shas in every run."""
    cat = {}
    for org in sorted(os.listdir(models_dir)) if models_dir else []:
        for name in sorted(os.listdir(os.path.join(models_dir, org))):
            base = os.path.join(models_dir, org, name)
            repo_id = f"{org}/{name}"
            with open(os.path.join(base, "commits.json")) as f:
                labels = json.load(f)
            commits, by_label = {}, {}
            for label in labels:
                entries = catalogue_entries(commit_files(repo_id, label, os.path.join(base, label)))
                sha = commit_sha(repo_id, label, entries)
                commits[sha] = {"label": label, "files": entries}
                by_label[label] = sha
            cat[repo_id] = {"commits": commits, "labels": by_label, "default": {"main": by_label[labels[0]]}}
    return cat


def fast_bytes(seed: str, n: int) -> bytes:
    """n deterministic bytes, quickly (hundreds of MB at start-up): a 4 MiB block tiled. Plain
    HTTP neither compresses nor deduplicates, so repetition costs the transfer nothing."""
    block = hashlib.shake_256(seed.encode()).digest(min(n, 4 << 20))
    return (block * (n // len(block) + 1))[:n]


def synthetic_files(repo_id: str, shards: int, mb: float, label: str, only=None) -> dict:
    """path -> (bytes, role) of a generated model: `shards` safetensors shards of `mb` MB (the
    last one 60 %, like real checkpoints), an index, config and tokenizer files; a decoy
    original/ folder. Another label changes the config and the first shard; `only` limits
    the shards generated to the first ones."""
    j = lambda o: (json.dumps(o, indent=2) + "\n").encode()  # noqa: E731
    files = {
        "config.json": (j({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
                           "num_hidden_layers": shards, "vocab_size": 256, "_name_or_path": repo_id,
                           "aimgen_commit": label}), "needed"),
        "tokenizer.json": (j({"version": "1.0", "model": {"type": "BPE", "vocab": {"<s>": 1}}}), "needed"),
        "tokenizer_config.json": (j({"bos_token": "<s>", "eos_token": "</s>"}), "needed"),
        "generation_config.json": (j({"bos_token_id": 1, "eos_token_id": 2}), "needed"),
        "README.md": (f"# {repo_id}\n".encode(), "extra"),
        ".gitattributes": (GITATTRIBUTES, "extra"),
        "original/params.json": (j({"dim": 64, "n_layers": shards}), "decoy"),
    }
    weight_map = {f"layer.{i}": f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)}
    for i in range(shards if only is None else only):
        name = weight_map[f"layer.{i}"]
        n = int(mb * 1e6 * (0.6 if i == shards - 1 and shards > 1 else 1.0))
        header = json.dumps({f"layer.{i}": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
        header += b" " * (-len(header) % 8)
        seed = f"{repo_id}:{name}" + (f":{label}" if i == 0 and label != "v1" else "")
        files[name] = (struct.pack("<Q", len(header)) + header + fast_bytes(seed, n), "needed")
    files["model.safetensors.index.json"] = (j({"metadata": {}, "weight_map": weight_map}), "needed")
    return files


def add_synthetic(cat: dict, repo_id: str, shards: int, mb: float, moves: bool) -> None:
    """A generated repo: commit `v1` (main), and `moved` when `main` is to move."""
    commits, by_label, v1 = {}, {}, None
    for label in ["v1", "moved"] if moves else ["v1"]:
        files = synthetic_files(repo_id, shards, mb, label, only=None if v1 is None else 1)
        entries = dict(v1 or {}, **catalogue_entries(files))  # unchanged files shared with v1
        v1 = v1 or entries
        sha = commit_sha(repo_id, label, entries)
        commits[sha] = {"label": label, "files": entries}
        by_label[label] = sha
    cat[repo_id] = {"commits": commits, "labels": by_label, "default": {"main": by_label["v1"]}}


class Limiter:
    """Bandwidth caps on what the Hub sends. Per connection: the connection's own clock.
    In all: one shared clock every chunk of every connection books its slot on, in the order
    they come, so no connection can take more than its turn and the sum never exceeds the
    rate. A chunk books the shared clock only once its own connection is ready to send it,
    so a slot is never booked and then left unused."""

    CHUNK = 64 * 1024

    def __init__(self, per_conn: float, total: float):
        self.per_conn, self.total = per_conn, total
        self.lock, self.free_at = threading.Lock(), 0.0

    def book(self, n):
        with self.lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + n / self.total
            return self.free_at

    def write(self, out, body):
        if not self.per_conn and not self.total:
            return out.write(body)
        view, conn_ready = memoryview(body), time.monotonic()
        for i in range(0, len(view), self.CHUNK):
            piece = view[i:i + self.CHUNK]
            wait = conn_ready - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            conn_ready = now + (len(piece) / self.per_conn if self.per_conn else 0)
            if self.total:
                wait = self.book(len(piece)) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            out.write(piece)


LIMITER = Limiter(0, 0)
GATED = set()
MOVE_MAIN = {}  # repo -> number of file bodies after which `main` moves to its `moved` commit
MOVED = {}  # repo -> sha `main` points to since it moved
BODIES = {}
MOVE_LOCK = threading.Lock()


def count_body(repo_id: str) -> None:
    """One more file body of `repo_id` started; moves `main` when its turn has come."""
    with MOVE_LOCK:
        BODIES[repo_id] = BODIES.get(repo_id, 0) + 1
        if MOVE_MAIN.get(repo_id) == BODIES[repo_id] and repo_id not in MOVED:
            MOVED[repo_id] = CATALOGUE[repo_id]["labels"]["moved"]
            sys.stderr.write(f"mock-hub: {repo_id}: main moved to {MOVED[repo_id]}\n")
            sys.stderr.flush()


CATALOGUE = {}
STATE_DIR = None


def branches(repo_id: str) -> dict:
    """Where each branch of a repo points now: the first commit, unless STATE_DIR/branches.json
    ({repo: {branch: label}}) moved it -- the test moves `main` while the Hub is running."""
    repo = CATALOGUE[repo_id]
    out = dict(repo["default"])
    if repo_id in MOVED:
        out["main"] = MOVED[repo_id]
    if STATE_DIR:
        try:
            with open(os.path.join(STATE_DIR, "branches.json")) as f:
                moved = json.load(f).get(repo_id, {})
        except FileNotFoundError:
            moved = {}
        for b, label in moved.items():
            out[b] = repo["labels"][label]
    return out


class Stats:
    def __init__(self, state_dir):
        self.lock = threading.Lock()
        self.path = os.path.join(state_dir, "stats.json") if state_dir else None
        self.data = {"started": [], "api": {}, "files": {}, "unknown": []}
        if self.path and os.path.exists(self.path):
            with open(self.path) as f:
                self.data = json.load(f)
        self.data["started"].append(time.time())
        self._save()

    def _save(self):
        if not self.path:
            return
        # The test reads the catalogue (commits, where branches point now) beside the counts.
        self.data["catalogue"] = catalogue_summary()
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def api(self, key):
        with self.lock:
            self.data["api"][key] = self.data["api"].get(key, 0) + 1
            self._save()

    def file(self, repo_id, sha, path, field, n=1):
        """Counts per file of one commit, keyed `org/name@sha/path`."""
        with self.lock:
            f = self.data["files"].setdefault(f"{repo_id}@{sha}/{path}", {})
            f[field] = f.get(field, 0) + n
            self._save()

    def auth(self, kind, header):
        """Count requests per kind (api/resolve/cdn) by the Authorization they carried."""
        with self.lock:
            a = self.data.setdefault("auth", {}).setdefault(kind, {})
            key = "none" if not header else ("expected" if header == EXPECTED_AUTH else "other")
            a[key] = a.get(key, 0) + 1
            self._save()

    def unknown(self, what):
        with self.lock:
            self.data["unknown"].append(what)
            self._save()

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.data))


def catalogue_summary():
    """What the test needs to know: per repo its commits (label, and per file its role --
    needed/decoy/extra -- size and etag) and where its branches point now."""
    return {
        repo_id: {
            "labels": r["labels"],
            "branches": branches(repo_id),
            "commits": {
                sha: {"label": c["label"],
                      "files": {p: {"role": e["role"], "size": e["size"], "lfs": e["lfs"], "etag": e["etag"]}
                                for p, e in c["files"].items()}}
                for sha, c in r["commits"].items()
            },
        }
        for repo_id, r in CATALOGUE.items()
    }


STATS = None
CDN_HOST = "mock-cdn"
EXPECTED_AUTH = None  # "Bearer <token>" the test passes as HF_TOKEN


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-hub/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("mock-hub: %s %s\n" % (self.address_string(), fmt % args))

    # ---- helpers -------------------------------------------------------
    def send(self, code, body=b"", headers=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            LIMITER.write(self.wfile, body)
        return len(body) if self.command != "HEAD" else 0

    def error(self, code, error_code, msg, extra=None):
        headers = {"X-Error-Code": error_code, "X-Error-Message": msg}
        headers.update(extra or {})
        return self.send(code, {"error": msg}, headers)

    def host_base(self, host=None):
        h = self.headers.get("Host", f"mock-hub:{self.server.server_port}")
        if host:
            port = h.rsplit(":", 1)[1] if ":" in h else str(self.server.server_port)
            h = f"{host}:{port}"
        return f"http://{h}"

    def repo_and_sha(self, org, name, rev):
        repo_id = f"{org}/{name}"
        repo = CATALOGUE.get(repo_id)
        if repo is None:
            self.error(401, "RepoNotFound", f"Repository Not Found for url: {self.path}.")
            return None, None, None
        rev = urllib.parse.unquote(rev) if rev is not None else "main"
        if repo_id in GATED and self.headers.get("Authorization") != EXPECTED_AUTH:
            # As the Hub: 401 without a token, 403 with one that has not accepted the licence.
            code = 403 if self.headers.get("Authorization") else 401
            self.error(code, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it.")
            return None, None, None
        sha = branches(repo_id).get(rev) or (rev if rev in repo["commits"] else None)
        if sha is None:
            self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None, None, None
        return repo_id, repo["commits"][sha], sha

    # ---- routing -------------------------------------------------------
    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        try:
            if url.path == "/_health":
                return self.send(200, "ok", ctype="text/plain")
            if url.path == "/_stats":
                snap = STATS.snapshot()
                snap["catalogue"] = catalogue_summary()
                return self.send(200, snap)
            kind = "api" if parts[:1] == ["api"] else "cdn" if parts[:1] == ["_cdn"] else "resolve"
            STATS.auth(kind, self.headers.get("Authorization"))
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                return self.api_models(parts[2], parts[3], parts[4:], q)
            if parts[:1] == ["_cdn"] and len(parts) >= 4:
                return self.cdn(parts[1], parts[2], parts[3])
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve(parts[0], parts[1], parts[3], "/".join(parts[4:]))
        except (BrokenPipeError, ConnectionResetError):
            return
        STATS.unknown(f"{self.command} {self.path}")
        return self.error(404, "NotFound", f"mock-hub: no route for {self.path}")

    def api_models(self, org, name, rest, q):
        if not rest or rest[0] == "revision":
            rev = rest[1] if len(rest) > 1 else None
            repo_id, commit, sha = self.repo_and_sha(org, name, rev)
            if commit is None:
                return
            STATS.api("model_info")
            blobs = q.get("blobs", ["false"])[0].lower() in ("1", "true")
            siblings = []
            for p, e in commit["files"].items():
                s = {"rfilename": p}
                if blobs:
                    s.update(size=e["size"], blobId=e["oid"])
                    if e["lfs"]:
                        s["lfs"] = {"sha256": e["sha256"], "size": e["size"], "pointerSize": e["pointer_size"]}
                siblings.append(s)
            return self.send(200, {
                "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24],
                "id": repo_id, "modelId": repo_id, "author": org, "sha": sha,
                "lastModified": "2025-01-01T00:00:00.000Z", "createdAt": "2025-01-01T00:00:00.000Z",
                "private": False, "gated": "manual" if repo_id in GATED else False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": ["safetensors", "llama"],
                "pipeline_tag": "text-generation", "library_name": "transformers",
                "config": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
                "siblings": siblings, "spaces": [],
                "usedStorage": sum(e["size"] for e in commit["files"].values()),
            })
        if rest[0] == "tree" and len(rest) >= 2:
            repo_id, commit, sha = self.repo_and_sha(org, name, rest[1])
            if commit is None:
                return
            STATS.api("tree_page")
            prefix = urllib.parse.unquote("/".join(rest[2:])).strip("/")
            recursive = q.get("recursive", ["false"])[0].lower() in ("1", "true")
            entries, dirs = [], set()
            for p, e in commit["files"].items():
                if prefix and not p.startswith(prefix + "/"):
                    continue
                rel = p[len(prefix) + 1:] if prefix else p
                if "/" in rel:
                    d = (prefix + "/" if prefix else "") + rel.split("/")[0]
                    if d not in dirs:
                        dirs.add(d)
                        entries.append({"type": "directory", "path": d, "size": 0,
                                        "oid": hashlib.sha1(f"tree:{repo_id}:{d}".encode()).hexdigest()})
                    if not recursive:
                        continue
                item = {"type": "file", "path": p, "size": e["size"] if not e["lfs"] else e["size"],
                        "oid": e["oid"]}
                if e["lfs"]:
                    item["lfs"] = {"oid": e["sha256"], "size": e["size"], "pointerSize": e["pointer_size"]}
                entries.append(item)
            cursor = int(q.get("cursor", ["0"])[0])
            page = entries[cursor:cursor + PAGE_SIZE]
            headers = {}
            if cursor + PAGE_SIZE < len(entries):
                nq = {k: v[0] for k, v in q.items()}
                nq["cursor"] = str(cursor + PAGE_SIZE)
                nxt = f"{self.host_base()}{urllib.parse.urlsplit(self.path).path}?{urllib.parse.urlencode(nq)}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            return self.send(200, page, headers)
        STATS.unknown(f"{self.command} {self.path}")
        return self.error(404, "NotFound", f"mock-hub: unsupported api path {self.path}")

    def resolve(self, org, name, rev, path):
        repo_id, commit, sha = self.repo_and_sha(org, name, rev)
        if commit is None:
            return
        path = urllib.parse.unquote(path)
        e = commit["files"].get(path)
        if e is None:
            STATS.file(repo_id, sha, path, "missing")
            return self.error(404, "EntryNotFound", f"{path} does not exist on {rev}",
                              {"X-Repo-Commit": sha})
        common = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if e["lfs"]:
            STATS.file(repo_id, sha, path, "head" if self.command == "HEAD" else "redirect")
            loc = f"{self.host_base(CDN_HOST)}/_cdn/{urllib.parse.quote(repo_id, safe='')}/{sha}/{e['sha256']}"
            loc += "?" + urllib.parse.urlencode({"file": path})
            headers = dict(common)
            headers.update({
                "Location": loc,
                "ETag": f'"{e["oid"]}"',
                "X-Linked-Etag": f'"{e["sha256"]}"',
                "X-Linked-Size": str(e["size"]),
            })
            return self.send(302, b"", headers, ctype="text/plain")
        headers = dict(common)
        headers["ETag"] = f'"{e["etag"]}"'
        return self.body(repo_id, sha, path, e, headers)

    def cdn(self, repo_q, sha, sha256):
        repo_id = urllib.parse.unquote(repo_q)
        commit = (CATALOGUE.get(repo_id) or {}).get("commits", {}).get(sha)
        match = None
        if commit is not None:
            for p, e in commit["files"].items():
                if e["lfs"] and e["sha256"] == sha256:
                    match = (p, e)
        if match is None:
            STATS.unknown(f"{self.command} {self.path}")
            return self.send(404, "NoSuchKey", ctype="text/plain")
        path, e = match
        return self.body(repo_id, sha, path, e, {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes"})

    def body(self, repo_id, sha, path, e, headers):
        data = e["data"]
        rng = self.headers.get("Range")
        code, start = 200, 0
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a or 0)
            end = int(b) if b else len(data) - 1
            code = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start:end + 1]
        if self.command == "HEAD":
            STATS.file(repo_id, sha, path, "head")
            # a HEAD reports the full length without sending it
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            return 0
        count_body(repo_id)
        began = time.time()
        sent = self.send(code, data, headers, ctype="application/octet-stream")
        if LIMITER.per_conn or LIMITER.total:
            # When each body went out (wall clock): the delivery test reads the link's use.
            sys.stderr.write(f"mock-hub: body {repo_id}@{sha}/{path} {sent} {began:.3f} {time.time():.3f}\n")
            sys.stderr.flush()
        STATS.file(repo_id, sha, path, "get")
        STATS.file(repo_id, sha, path, "bytes", sent)
        if code == 206:
            STATS.file(repo_id, sha, path, "range_get")
        return sent


def main():
    # PID 1 in a container ignores SIGTERM unless it installs a handler: stop promptly on `down`.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--state", default=None, help="folder keeping stats.json across restarts, and branches.json")
    ap.add_argument("--models", default=None, help="folder written by make_models.py")
    ap.add_argument("--cdn-host", default="mock-cdn", help="host name the LFS redirects point to")
    ap.add_argument("--expect-token", default=os.environ.get("MOCK_HUB_EXPECT_TOKEN"),
                    help="token the clients should send (counted as `expected` in /_stats auth)")
    ap.add_argument("--dump-catalogue", action="store_true", help="print the catalogue (no server)")
    ap.add_argument("--rate-per-conn", type=float, default=0, help="MB/s per connection (0: no cap)")
    ap.add_argument("--rate-total", type=float, default=0, help="MB/s for all connections together (0: no cap)")
    ap.add_argument("--synthetic", action="append", default=[], metavar="ORG/NAME=SHARDSxMB",
                    help="add a generated repo of SHARDS safetensors shards of MB megabytes")
    ap.add_argument("--gated", action="append", default=[], metavar="ORG/NAME",
                    help="answer 401/403 GatedRepo for this repo unless the request carries --expect-token")
    ap.add_argument("--move-main-after", action="append", default=[], metavar="ORG/NAME=N",
                    help="move main to the repo's `moved` commit once N file bodies of it have started")
    args = ap.parse_args()
    if not args.models and not args.synthetic:
        ap.error("nothing to serve: give --models and/or --synthetic")
    global STATS, CDN_HOST, EXPECTED_AUTH, CATALOGUE, STATE_DIR, LIMITER
    CATALOGUE = build_catalogue(args.models)
    for spec in args.move_main_after:
        repo_id, _, n = spec.partition("=")
        MOVE_MAIN[repo_id] = int(n)
    for spec in args.synthetic:
        repo_id, _, shape = spec.partition("=")
        shards, _, mb = shape.partition("x")
        add_synthetic(CATALOGUE, repo_id, int(shards), float(mb), repo_id in MOVE_MAIN)
    unknown = [r for r in [*args.gated, *MOVE_MAIN] if r not in CATALOGUE]
    if unknown:
        ap.error(f"--gated / --move-main-after name repos it does not serve: {', '.join(unknown)}")
    if [r for r in MOVE_MAIN if "moved" not in CATALOGUE[r]["labels"]]:
        ap.error("--move-main-after works on --synthetic repos only")
    GATED.update(args.gated)
    LIMITER = Limiter(args.rate_per_conn * 1e6, args.rate_total * 1e6)
    STATE_DIR = args.state
    CDN_HOST = args.cdn_host
    EXPECTED_AUTH = f"Bearer {args.expect_token}" if args.expect_token else None
    if args.dump_catalogue:
        json.dump(catalogue_summary(), sys.stdout, indent=1)
        return
    STATS = Stats(args.state)
    srv = ThreadingHTTPServer((args.bind, args.port), Handler)
    srv.daemon_threads = True
    print(f"mock-hub: serving {', '.join(CATALOGUE)} on {args.bind}:{args.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
