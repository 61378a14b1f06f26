#!/usr/bin/env python3
"""Stand-in for vLLM / SGLang in aimgen's end-to-end test.

It finds the model the way the real engines do -- through huggingface_hub and
the environment the generated env files give it (HF_HOME, HF_HUB_CACHE,
HF_HUB_OFFLINE) -- then serves GET /health (200 when every probe passed, 503
otherwise) and GET /_report (the probes as JSON) on the port the generated
command asked for.  It never downloads anything and never sets HF_* itself.

Probes (all must pass):
  env        HF_HUB_OFFLINE is on; the hub cache folder is on a read-only mount
  snapshot   snapshot_download(repo, revision=REV, local_files_only=True)
  engine     the weight lookup vLLM/SGLang make (weight_utils.download_weights_from_hf):
             allow ["*.safetensors", "*.bin", "*.pt"], ignore ["original/**/*"],
             local_files_only=HF_HUB_OFFLINE
  files      hf_hub_download of config.json, tokenizer.json, tokenizer_config.json,
             generation_config.json (what transformers' AutoConfig/AutoTokenizer do)
  weights    each *.safetensors in the snapshot parses (header + data length) and its
             bytes hash to its blob name (the sha256 of an LFS file)
  read_only  creating a file or folder anywhere in the cache fails (EROFS/EACCES)
"""

import argparse
import errno
import glob
import hashlib
import json
import os
import signal
import struct
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPORT = {"ok": False, "probes": {}}


def probe(name):
    def wrap(fn):
        def run(*a, **kw):
            t = time.time()
            try:
                detail = fn(*a, **kw)
                REPORT["probes"][name] = {"ok": True, "detail": detail}
            except Exception as e:  # record, keep serving so the test can read why
                REPORT["probes"][name] = {
                    "ok": False,
                    "error": f"{type(e).__name__}: {e}",
                    "trace": traceback.format_exc(limit=4)[-1500:],
                }
            REPORT["probes"][name]["seconds"] = round(time.time() - t, 3)
        return run
    return wrap


def mount_of(path):
    """(mount point, options) of the mount holding path, from /proc/self/mountinfo."""
    path = os.path.realpath(path)
    best = ("/", "")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt, opts = fields[4], fields[5]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                best = (mnt, opts)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--revision", default=None)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--engine", default="vllm")
    args = ap.parse_args()

    REPORT.update(model=args.model, revision=args.revision, port=args.port, engine=args.engine,
                  env={k: v for k, v in os.environ.items() if k.startswith(("HF_", "HUGGINGFACE", "TRANSFORMERS"))
                       and "TOKEN" not in k},
                  token_in_env=sorted(k for k in os.environ if "TOKEN" in k and k.startswith(("HF_", "HUGGING")) and os.environ[k]))
    try:
        import huggingface_hub
        from huggingface_hub import constants, hf_hub_download, snapshot_download
    except Exception as e:
        REPORT["probes"]["import"] = {"ok": False, "error": repr(e)}
        return serve(args.port)
    REPORT["huggingface_hub"] = huggingface_hub.__version__
    cache = constants.HF_HUB_CACHE
    REPORT["hub_cache"] = cache
    state = {}

    @probe("env")
    def env():
        mnt, opts = mount_of(cache)
        assert constants.HF_HUB_OFFLINE, "HF_HUB_OFFLINE is not set: the engine would call the Hub"
        assert os.path.isdir(cache), f"hub cache {cache} does not exist"
        assert "ro" in opts.split(","), f"hub cache {cache} is on mount {mnt} with options {opts}: not read-only"
        return {"hub_cache": cache, "mount": mnt, "mount_options": opts, "offline": constants.HF_HUB_OFFLINE}

    @probe("snapshot")
    def snapshot():
        p = snapshot_download(args.model, revision=args.revision, local_files_only=True)
        state["snapshot"] = p
        assert os.path.realpath(p).startswith(os.path.realpath(cache) + "/"), f"{p} is not inside {cache}"
        return {"path": p, "files": sorted(os.listdir(p))}

    @probe("engine")
    def engine():
        # vLLM's DefaultModelLoader._prepare_weights (load_format auto) -> download_weights_from_hf;
        # SGLang's loader makes the same call.
        p = snapshot_download(args.model, revision=args.revision,
                              allow_patterns=["*.safetensors", "*.bin", "*.pt"],
                              ignore_patterns=["original/**/*"],
                              local_files_only=constants.HF_HUB_OFFLINE)
        found = []
        for pattern in ["*.safetensors", "*.bin", "*.pt"]:
            found = glob.glob(os.path.join(p, pattern))
            if found:
                break
        assert found, f"no weight files in {p}"
        assert all(f.endswith(".safetensors") for f in found), f"engine would load non-safetensors weights {found}"
        state["weights"] = found
        return {"path": p, "weights": sorted(os.path.basename(f) for f in found)}

    @probe("files")
    def files():
        out = {}
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
            p = hf_hub_download(args.model, name, revision=args.revision)
            with open(p) as f:
                json.load(f)
            out[name] = os.path.relpath(os.path.realpath(p), cache)
        with open(os.path.join(os.path.dirname(p), "config.json")) as f:
            cfg = json.load(f)
        assert cfg.get("architectures") == ["LlamaForCausalLM"], f"config.json: architectures {cfg.get('architectures')}"
        return out

    @probe("weights")
    def weights():
        out = {}
        folder = state.get("snapshot")
        assert state.get("weights") or folder, "not checked: neither lookup found the snapshot"
        for f in state.get("weights") or glob.glob(os.path.join(folder, "*.safetensors")):
            with open(f, "rb") as fh:
                data = fh.read()
            (n,) = struct.unpack("<Q", data[:8])
            header = json.loads(data[8:8 + n])
            end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
            assert 8 + n + end == len(data), f"{f}: header says {8 + n + end} bytes, file has {len(data)}"
            blob = os.path.basename(os.path.realpath(f))
            digest = hashlib.sha256(data).hexdigest()
            assert digest == blob, f"{f}: sha256 {digest} != blob name {blob}"
            out[os.path.basename(f)] = {"bytes": len(data), "tensors": len(header) - 1, "sha256": digest}
        assert out, "no safetensors weights"
        return out

    @probe("read_only")
    def read_only():
        repo_dir = os.path.join(cache, "models--" + args.model.replace("/", "--"))
        targets = [
            ("file", os.path.join(cache, ".e2e-write-probe")),
            # refs/ exists only when a branch was downloaded (a locked fleet fetches by sha).
            ("file", os.path.join(repo_dir, "refs" if os.path.isdir(os.path.join(repo_dir, "refs")) else "blobs",
                                  ".e2e-write-probe")),
            ("dir", os.path.join(cache, ".locks", ".e2e-write-probe")),
            ("dir", os.path.join(repo_dir, "snapshots", ".e2e-write-probe")),
            ("file", os.path.join(os.environ.get("HF_HOME", cache), ".e2e-write-probe")),
        ]
        out = {}
        for kind, t in targets:
            try:
                if kind == "file":
                    with open(t, "x") as fh:
                        fh.write("x")
                else:
                    os.mkdir(t)
            except OSError as e:
                out[t] = errno.errorcode.get(e.errno, str(e.errno))
                continue
            raise AssertionError(f"could write {t} in the shared cache")
        bad = {t: e for t, e in out.items() if e not in ("EROFS", "EACCES", "EPERM")}
        assert not bad, f"unexpected errors: {bad}"
        return out

    for p in (env, snapshot, engine, files, weights, read_only):
        p()
    REPORT["ok"] = all(v["ok"] for v in REPORT["probes"].values())
    print("stub-report: " + json.dumps(REPORT, sort_keys=True), flush=True)
    serve(args.port)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path == "/health":
            code, body = (200, b"ok\n") if REPORT["ok"] else (503, b"probes failed, see /_report\n")
        elif self.path == "/_report":
            code, body = 200, json.dumps(REPORT, indent=1, sort_keys=True).encode()
        elif self.path == "/v1/models":
            code, body = 200, json.dumps({"object": "list", "data": [{"id": REPORT.get("model"), "object": "model"}]}).encode()
        else:
            code, body = 404, b"not found\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(port):
    # PID 1 in a container ignores SIGTERM unless it installs a handler: stop promptly on `down`.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"stub-server: listening on :{port} (ok={REPORT['ok']})", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    sys.exit(main())
