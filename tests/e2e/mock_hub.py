#!/usr/bin/env python3
"""A mock Hugging Face Hub for aimgen's end-to-end test (Python stdlib only).

It serves two tiny model repos in the shape the real `huggingface_hub` client
expects (checked against huggingface_hub 2.4.0's hf_api.py / file_download.py):

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

Test hooks:
  GET /_health  -> 200 "ok"
  GET /_stats   -> JSON: per repo/file counts of HEAD, GET-with-body, redirects,
                   bytes sent; API call counts; per kind of request (api, resolve,
                   cdn) whether it carried the expected token, another one or none;
                   the catalogue (which files are
                   `needed`, `decoy` or `extra`, with sizes).  Counts are kept in
                   STATE_DIR/stats.json when --state is given, so they survive
                   `docker compose down` / `up` of this service.

Every model file's bytes are deterministic (derived from repo id and path), so
two runs serve identical content and identical etags.

Delivery options (tests/e2e/delivery.py): --rate-per-conn / --rate-total cap the
bytes/s of file bodies per connection and in all; --synthetic adds large generated
repos; --gated makes a repo answer 401 GatedRepo without the expected token;
--move-main-after moves a repo's `main` to a new commit once N file bodies of it
have started (older commits stay downloadable, as on the Hub).
"""

import argparse
import hashlib
import json
import os
import random
import signal
import struct
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


def safetensors(seed: str, tensors: dict) -> bytes:
    """A real safetensors file: u64 header length, JSON header, raw data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        blobs.append(det_bytes(f"{seed}:{name}", n))
        offset += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return (
        "version https://git-lfs.github.com/spec/v1\n"
        f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
    ).encode()


def tiny_repo(repo_id: str, hidden: int, layers: int, arch: str) -> dict:
    """Files of one tiny repo: path -> (bytes, lfs?, role)."""
    tensors = {"model.embed_tokens.weight": (256, hidden)}
    for i in range(layers):
        tensors[f"model.layers.{i}.mlp.weight"] = (hidden, hidden)
    weights = safetensors(repo_id, tensors)
    config = {
        "architectures": [arch],
        "model_type": "llama",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "vocab_size": 256,
        "torch_dtype": "float32",
        "_name_or_path": repo_id,
    }
    j = lambda o: (json.dumps(o, indent=2) + "\n").encode()  # noqa: E731
    return {
        ".gitattributes": (b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                           b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
                           b"*.pth filter=lfs diff=lfs merge=lfs -text\n", False, "extra"),
        "README.md": (f"# {repo_id}\n\nA tiny fake model for aimgen's e2e test.\n".encode(), False, "extra"),
        "config.json": (j(config), False, "needed"),
        "generation_config.json": (j({"bos_token_id": 1, "eos_token_id": 2}), False, "needed"),
        "tokenizer.json": (j({"version": "1.0", "model": {"type": "BPE", "vocab": {"<s>": 1, "</s>": 2}}}), False, "needed"),
        "tokenizer_config.json": (j({"bos_token": "<s>", "eos_token": "</s>", "model_max_length": 128}), False, "needed"),
        "model.safetensors": (weights, True, "needed"),
        # Decoys: an engine loading safetensors never reads these.
        "pytorch_model.bin": (det_bytes(repo_id + ":bin", len(weights)), True, "decoy"),
        "original/params.json": (j({"dim": hidden, "n_layers": layers}), False, "decoy"),
        "original/consolidated.pth": (det_bytes(repo_id + ":pth", len(weights) // 2), True, "decoy"),
    }


def build_catalogue() -> dict:
    repos = {
        "tiny-org/tiny-model": tiny_repo("tiny-org/tiny-model", 128, 4, "LlamaForCausalLM"),
        "tiny-org/other-model": tiny_repo("tiny-org/other-model", 96, 2, "LlamaForCausalLM"),
    }
    cat = {}
    for repo_id, files in repos.items():
        sha = hashlib.sha1(f"{repo_id}@v1".encode()).hexdigest()
        entries = {}
        for path, (data, lfs, role) in sorted(files.items()):
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
        cat[repo_id] = {"sha": sha, "branches": {"main": sha}, "files": entries}
    return cat


CATALOGUE = build_catalogue()

# ---- delivery options (see the module docstring) --------------------------------------
RATE_PER_CONN = 0.0  # bytes/s, 0 = unlimited
GATED = set()
MOVE_MAIN = {}  # repo -> file bodies after which main moves (once)
BODIES = {}
MOVE_LOCK = threading.Lock()


class Link:
    """Total bandwidth: every chunk of every connection books the next free slot of one
    shared clock, so the sum of all connections never exceeds the rate."""

    def __init__(self, rate):
        self.rate, self.lock, self.free_at = rate, threading.Lock(), 0.0

    def book(self, n):
        with self.lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + n / self.rate
            return self.free_at


LINK = None


def write_throttled(out, body, chunk=64 * 1024):
    if not RATE_PER_CONN and LINK is None:
        return out.write(body)
    view, conn_free = memoryview(body), time.monotonic()
    for i in range(0, len(view), chunk):
        piece = view[i:i + chunk]
        conn_free = max(conn_free, time.monotonic()) + (len(piece) / RATE_PER_CONN if RATE_PER_CONN else 0)
        until = max(conn_free, LINK.book(len(piece)) if LINK else 0)
        delay = until - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.write(piece)


def files_at(repo, sha):
    return repo.get("commits", {}).get(sha, repo["files"])


def fast_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def synthetic_repo(repo_id, shards, mb):
    """A model with `shards` safetensors shards of `mb` MB (the last one 60 %, like real
    checkpoints), an index, config and tokenizer files."""
    j = lambda o: (json.dumps(o, indent=2) + "\n").encode()  # noqa: E731
    files = {
        "config.json": (j({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
                           "num_hidden_layers": shards, "vocab_size": 256, "_name_or_path": repo_id}), False, "needed"),
        "tokenizer.json": (j({"version": "1.0", "model": {"type": "BPE", "vocab": {"<s>": 1}}}), False, "needed"),
        "tokenizer_config.json": (j({"bos_token": "<s>", "eos_token": "</s>"}), False, "needed"),
        "README.md": (f"# {repo_id}\n".encode(), False, "extra"),
    }
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        n = int(mb * 1e6 * (0.6 if i == shards - 1 and shards > 1 else 1.0))
        header = json.dumps({f"layer.{i}": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
        header += b" " * (-len(header) % 8)
        files[name] = (struct.pack("<Q", len(header)) + header + fast_bytes(f"{repo_id}:{name}", n), True, "needed")
        weight_map[f"layer.{i}"] = name
    files["model.safetensors.index.json"] = (j({"metadata": {}, "weight_map": weight_map}), False, "needed")
    return files


def add_repo(repo_id, files, version="v1"):
    entries = {}
    for path, (data, lfs, role) in sorted(files.items()):
        e = {"data": data, "role": role, "size": len(data), "lfs": lfs}
        if lfs:
            ptr = lfs_pointer(data)
            e.update(sha256=hashlib.sha256(data).hexdigest(), oid=git_blob_sha1(ptr), pointer_size=len(ptr))
            e["etag"] = e["sha256"]
        else:
            e["oid"] = e["etag"] = git_blob_sha1(data)
        entries[path] = e
    sha = hashlib.sha1(f"{repo_id}@{version}".encode()).hexdigest()
    old = CATALOGUE.get(repo_id)
    commits = dict(old.get("commits", {}), **{old["sha"]: old["files"]}) if old else {}
    CATALOGUE[repo_id] = {"sha": sha, "branches": {"main": sha}, "files": entries, "commits": commits}


def maybe_move_main(repo_id):
    """After the configured number of file bodies of `repo_id` started, `main` moves once to a
    commit whose config and first shard differ."""
    with MOVE_LOCK:
        BODIES[repo_id] = BODIES.get(repo_id, 0) + 1
        if MOVE_MAIN.get(repo_id) != BODIES[repo_id]:
            return
        repo = CATALOGUE[repo_id]
        files = {p: (e["data"], e["lfs"], e["role"]) for p, e in repo["files"].items()}
        for p, (data, lfs, role) in list(files.items()):
            if p == "config.json" or p.startswith("model-00001-of-"):
                files[p] = (data[:-8] + b"moved!\n " if not lfs else data[:-6] + b"moved!", lfs, role)
        add_repo(repo_id, files, version="v2")
        sys.stderr.write(f"mock-hub: {repo_id}: main moved to {CATALOGUE[repo_id]['sha']}\n")


class Stats:
    def __init__(self, state_dir):
        self.lock = threading.Lock()
        self.path = os.path.join(state_dir, "stats.json") if state_dir else None
        self.data = {"started": [], "api": {}, "files": {}, "unknown": []}
        if self.path and os.path.exists(self.path):
            with open(self.path) as f:
                self.data = json.load(f)
        self.data["started"].append(time.time())
        self.data["catalogue"] = catalogue_summary()
        self._save()

    def _save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def api(self, key):
        with self.lock:
            self.data["api"][key] = self.data["api"].get(key, 0) + 1
            self._save()

    def file(self, repo_id, path, field, n=1):
        with self.lock:
            f = self.data["files"].setdefault(f"{repo_id}/{path}", {})
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
    """What the test needs to know about each file: its role (needed/decoy/extra) and size."""
    return {
        repo_id: {
            "sha": r["sha"],
            "files": {p: {"role": e["role"], "size": e["size"], "lfs": e["lfs"], "etag": e["etag"]}
                      for p, e in r["files"].items()},
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
            write_throttled(self.wfile, body)
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
        sha = repo["branches"].get(rev) or (rev if rev == repo["sha"] or rev in repo.get("commits", {}) else None)
        if sha is None:
            self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None, None, None
        if repo_id in GATED and self.headers.get("Authorization") != EXPECTED_AUTH:
            self.error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it.")
            return None, None, None
        return repo_id, dict(repo, files=files_at(repo, sha)), sha

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
                return self.send(200, STATS.snapshot())
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
            repo_id, repo, sha = self.repo_and_sha(org, name, rev)
            if repo is None:
                return
            STATS.api("model_info")
            blobs = q.get("blobs", ["false"])[0].lower() in ("1", "true")
            siblings = []
            for p, e in repo["files"].items():
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
                "private": False, "gated": False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": ["safetensors", "llama"],
                "pipeline_tag": "text-generation", "library_name": "transformers",
                "config": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
                "siblings": siblings, "spaces": [],
                "usedStorage": sum(e["size"] for e in repo["files"].values()),
            })
        if rest[0] == "tree" and len(rest) >= 2:
            repo_id, repo, sha = self.repo_and_sha(org, name, rest[1])
            if repo is None:
                return
            STATS.api("tree_page")
            prefix = urllib.parse.unquote("/".join(rest[2:])).strip("/")
            recursive = q.get("recursive", ["false"])[0].lower() in ("1", "true")
            entries, dirs = [], set()
            for p, e in repo["files"].items():
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
        repo_id, repo, sha = self.repo_and_sha(org, name, rev)
        if repo is None:
            return
        path = urllib.parse.unquote(path)
        e = repo["files"].get(path)
        if e is None:
            STATS.file(repo_id, path, "missing")
            return self.error(404, "EntryNotFound", f"{path} does not exist on {rev}",
                              {"X-Repo-Commit": sha})
        common = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if e["lfs"]:
            STATS.file(repo_id, path, "head" if self.command == "HEAD" else "redirect")
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
        return self.body(repo_id, path, e, headers)

    def cdn(self, repo_q, sha, sha256):
        repo_id = urllib.parse.unquote(repo_q)
        repo = CATALOGUE.get(repo_id)
        match = None
        if repo is not None:
            for p, e in [x for c in [repo["files"], *repo.get("commits", {}).values()] for x in c.items()]:
                if e["lfs"] and e["sha256"] == sha256:
                    match = (p, e)
        if match is None:
            STATS.unknown(f"{self.command} {self.path}")
            return self.send(404, "NoSuchKey", ctype="text/plain")
        path, e = match
        return self.body(repo_id, path, e, {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes"})

    def body(self, repo_id, path, e, headers):
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
            STATS.file(repo_id, path, "head")
            # a HEAD reports the full length without sending it
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            return 0
        maybe_move_main(repo_id)
        sent = self.send(code, data, headers, ctype="application/octet-stream")
        STATS.file(repo_id, path, "get")
        STATS.file(repo_id, path, "bytes", sent)
        if code == 206:
            STATS.file(repo_id, path, "range_get")
        return sent


def main():
    # PID 1 in a container ignores SIGTERM unless it installs a handler: stop promptly on `down`.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--state", default=None, help="folder keeping stats.json across restarts")
    ap.add_argument("--cdn-host", default="mock-cdn", help="host name the LFS redirects point to")
    ap.add_argument("--expect-token", default=os.environ.get("MOCK_HUB_EXPECT_TOKEN"),
                    help="token the clients should send (counted as `expected` in /_stats auth)")
    ap.add_argument("--dump-catalogue", action="store_true", help="print the catalogue (no server)")
    ap.add_argument("--rate-per-conn", type=float, default=0, help="MB/s per connection for file bodies (0: no cap)")
    ap.add_argument("--rate-total", type=float, default=0, help="MB/s for all file bodies together (0: no cap)")
    ap.add_argument("--synthetic", action="append", default=[], metavar="ORG/NAME=SHARDSxMB",
                    help="add a generated repo of SHARDS safetensors shards of MB megabytes")
    ap.add_argument("--gated", action="append", default=[], metavar="ORG/NAME",
                    help="answer 401 GatedRepo for this repo unless the request carries --expect-token")
    ap.add_argument("--move-main-after", action="append", default=[], metavar="ORG/NAME=N",
                    help="move main to a new commit once N file bodies of the repo have started")
    args = ap.parse_args()
    global STATS, CDN_HOST, EXPECTED_AUTH, RATE_PER_CONN, LINK
    RATE_PER_CONN = args.rate_per_conn * 1e6
    LINK = Link(args.rate_total * 1e6) if args.rate_total else None
    for spec in args.synthetic:
        repo_id, _, shape = spec.partition("=")
        shards, _, mb = shape.partition("x")
        add_repo(repo_id, synthetic_repo(repo_id, int(shards), float(mb)))
    GATED.update(args.gated)
    for spec in args.move_main_after:
        repo_id, _, n = spec.partition("=")
        MOVE_MAIN[repo_id] = int(n)
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
