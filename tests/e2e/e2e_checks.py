#!/usr/bin/env python3
"""Assertions for tests/e2e/run.sh (stdlib only). Each prints lines `PASS<TAB>msg`,
`FAIL<TAB>msg` or `INFO<TAB>msg`; run.sh counts them.

  e2e_checks.py order   PLAN INSPECT_JSON        each server started after its model's prefetch exited 0
  e2e_checks.py limits  PLAN INSPECT_JSON        Docker applied the spec's ulimits to each server
  e2e_checks.py report  PLAN SERVICE REPORT_JSON a server's stub probes
  e2e_checks.py stats   PLAN STATS_JSON          first up: needed files served exactly once, no decoy
  e2e_checks.py delta   PLAN BEFORE_JSON AFTER_JSON   second up: nothing downloaded
  e2e_checks.py completion PLAN SERVICE ANSWER_JSON MAX_TOKENS   a real engine's completion
  e2e_checks.py onecopy PLAN STATS_JSON GROUP_JSON  servers sharing a model read one copy
  e2e_checks.py unchanged PLAN LABEL_A LISTING_A LABEL_B LISTING_B   the cache did not change
"""

import json
import sys
from datetime import datetime


def out(status, msg):
    print(f"{status}\t{msg}", flush=True)


def load(p):
    with open(p) as f:
        return json.load(f)


def ts(s):
    # Docker prints RFC 3339 with nanoseconds: trim to microseconds for fromisoformat.
    s = s.replace("Z", "+00:00")
    head, _, tz = s.partition("+")
    if "." in head:
        a, b = head.split(".")
        head = f"{a}.{b[:6].ljust(6, '0')}"
    return datetime.fromisoformat(f"{head}+{tz or '00:00'}")


def order(plan, inspect):
    by_service = {}
    for c in inspect:
        svc = c["Config"]["Labels"].get("com.docker.compose.service")
        by_service.setdefault(svc, []).append(c)
    for p in plan["prefetch"]:
        cs = by_service.get(p, [])
        if len(cs) != 1:
            out("FAIL", f"prefetch {p}: expected 1 container, found {len(cs)}")
            continue
        st = cs[0]["State"]
        if st["Running"]:
            out("FAIL", f"prefetch {p}: still running")
            continue
        out("PASS" if st["ExitCode"] == 0 else "FAIL", f"prefetch {p} completed with exit code {st['ExitCode']}")
        rw = {m["Name"] for m in cs[0]["Mounts"] if m["Type"] == "volume" and m["RW"]}
        out("PASS" if rw else "FAIL", f"prefetch {p} mounts the cache volume read-write: {sorted(rw)}")
        for s in plan["servers"]:
            for c in by_service.get(s, []):
                vols = [m for m in c["Mounts"] if m["Type"] == "volume"]
                shared = [m for m in vols if m["Name"] in rw]
                writable = [m["Name"] for m in shared if m["RW"]]
                out("PASS" if shared and not writable else "FAIL",
                    f"{s} mounts the prefetch's cache volume read-only at "
                    f"{', '.join(m['Destination'] for m in shared) or '(not mounted)'}"
                    + (f"; but read-write: {writable}" if writable else ""))
                other = [f"{m['Name']}:{m['Destination']}" for m in vols if m["Name"] not in rw and m["RW"]]
                if other:
                    out("INFO", f"{s}: other writable volumes (not the model cache): {other}")
        # Each server waits only for the job of its own model (one job per model and
        # revision), so only the servers whose Compose `depends_on` names this job must have
        # started after it; the others may start before it ends, and that is the point.
        finished = ts(st["FinishedAt"])
        for s, srv in plan["servers"].items():
            scs = by_service.get(s, [])
            if len(scs) != 1:
                out("FAIL", f"server {s}: expected 1 container, found {len(scs)}")
                continue
            started = ts(scs[0]["State"]["StartedAt"])
            gap = (started - finished).total_seconds()
            if p in srv["depends_on"]:
                out("PASS" if gap >= 0 else "FAIL",
                    f"{s} started {gap:+.3f}s after {p} finished (it waits for it: must be >= 0)")
            else:
                out("INFO", f"{s} does not wait for {p} (another model's job): started {gap:+.3f}s after it finished")
    for s, srv in plan["servers"].items():
        waits = [p for p in plan["prefetch"] if p in srv["depends_on"]]
        repos = [plan["prefetch_repo"].get(p) for p in waits]
        out("PASS" if repos == [srv["model"]] else "FAIL",
            f"{s} ({srv['model']}) waits for exactly one prefetch job, its model's: "
            + (", ".join(f"{p} ({r})" for p, r in zip(waits, repos)) or "(none)"))


def limits(plan, inspect):
    """Docker applied to each server exactly the ulimits Compose read from the generated file,
    and those are the fleet's `serving.ulimits` (stack only: see fleet.yaml)."""
    by_service = {c["Config"]["Labels"].get("com.docker.compose.service"): c for c in inspect}
    for s, srv in plan["servers"].items():
        c = by_service.get(s)
        if c is None:
            out("FAIL", f"{s}: no container to read its ulimits from")
            continue
        applied = {u["Name"]: [u["Soft"], u["Hard"]] for u in c["HostConfig"].get("Ulimits") or []}
        want = {"stack": [67108864, 67108864]}
        out("PASS" if applied == srv["ulimits"] == want else "FAIL",
            f"{s}: ulimits as the spec says, read back by Compose {srv['ulimits']} and applied by Docker {applied}")


def report(plan, svc, rep):
    s = plan["servers"][svc]
    probes = rep.get("probes", {})
    names = ["env", "snapshot", "engine", "files", "weights", "read_only"]
    for n in names:
        p = probes.get(n)
        if p is None:
            out("FAIL", f"{svc}: probe {n} did not run ({probes.get('import', {}).get('error', '')})")
        elif p["ok"]:
            d = p.get("detail")
            if n == "snapshot":
                msg = f"{svc}: snapshot_download({s['model']!r}, revision={s['revision']!r}, local_files_only=True) -> {d['path']}"
            elif n == "engine":
                msg = f"{svc}: {s['engine']}-style weight lookup (offline, allow *.safetensors/*.bin/*.pt, ignore original/**) found {d['weights']}"
            elif n == "env":
                msg = f"{svc}: HF_HUB_OFFLINE on, hub cache {d['hub_cache']} on read-only mount {d['mount']}"
            elif n == "files":
                msg = f"{svc}: config/tokenizer/generation_config found through hf_hub_download (offline)"
            elif n == "weights":
                msg = f"{svc}: safetensors parse and match their sha256 blob names ({', '.join(d)})"
            else:
                msg = f"{svc}: cannot write into the shared cache ({', '.join(sorted(set(d.values())))} on {len(d)} attempts)"
            out("PASS", msg)
        else:
            out("FAIL", f"{svc}: probe {n}: {p['error']}")
            for line in p.get("trace", "").strip().splitlines()[-3:]:
                out("INFO", f"    {line.strip()}")
    if rep.get("token_in_env"):
        out("INFO", f"{svc}: has {rep['token_in_env']} in its environment although it only reads the cache offline")


def used_commits(plan, cat):
    """(repo, sha) each server loads: its --revision, a commit sha or a branch (where the
    branch points now). The e2e fleet is locked, so these are shas."""
    out = {}
    for name, s in plan["servers"].items():
        repo = cat.get(s["model"])
        if repo is None:
            out.setdefault((s["model"], None), []).append(name)
            continue
        rev = s["revision"] or "main"
        sha = rev if rev in repo["commits"] else repo["branches"].get(rev)
        out.setdefault((s["model"], sha), []).append(name)
    return out


def stats(plan, st):
    cat = st["catalogue"]
    files = st["files"]
    used = used_commits(plan, cat)
    needed_bytes = served_bytes = 0
    for (m, sha), servers in sorted(used.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if m not in cat or sha is None:
            out("FAIL", f"{m}: not a model/revision the mock Hub serves ({', '.join(cat)}); used by {servers}")
            continue
        commit = cat[m]["commits"][sha]
        label = f"{m}@{sha[:12]} ({commit['label']})"
        bad = []
        for path, meta in commit["files"].items():
            f = files.get(f"{m}@{sha}/{path}", {})
            if meta["role"] == "needed":
                needed_bytes += meta["size"]
                if f.get("get", 0) != 1 or f.get("bytes", 0) != meta["size"]:
                    bad.append(f"{path}: {f.get('get', 0)} GETs, {f.get('bytes', 0)}/{meta['size']} bytes")
        n = sum(1 for meta in commit["files"].values() if meta["role"] == "needed")
        out("FAIL" if bad else "PASS",
            f"{label}: each of its {n} needed files served exactly once across {len(servers)} server(s) "
            f"{', '.join(servers)}" + (f": {bad}" if bad else ""))
        decoys = {p: files[f"{m}@{sha}/{p}"] for p, meta in commit["files"].items()
                  if meta["role"] == "decoy" and f"{m}@{sha}/{p}" in files}
        out("FAIL" if decoys else "PASS",
            f"{label}: no decoy requested (original/*, pytorch_model.bin)" + (f": {decoys}" if decoys else ""))
        extras = {p: files[f"{m}@{sha}/{p}"] for p, meta in commit["files"].items()
                  if meta["role"] == "extra" and f"{m}@{sha}/{p}" in files}
        if extras:
            out("INFO", f"{label}: extra files fetched (allowed, not needed): {extras}")
        moved = {b: s for b, s in cat[m]["branches"].items() if s != sha}
        if moved:
            out("INFO", f"{m}: {', '.join(f'{b} now at {s[:12]}' for b, s in moved.items())}; "
                        f"the fleet loads the locked {sha[:12]}")
    for key, f in files.items():
        served_bytes += f.get("bytes", 0)
        repo, _, rest = key.partition("@")
        sha = rest.split("/", 1)[0]
        if (repo, sha) not in used and (f.get("get") or f.get("redirect")):
            out("FAIL", f"{key}: served although no server loads that commit (a moved branch followed?): {f}")
    unknown = st.get("unknown", [])
    out("FAIL" if unknown else "PASS",
        "mock Hub saw no request it does not implement" + (f": {unknown}" if unknown else ""))
    auth = st.get("auth", {})
    for kind in ("api", "resolve"):
        a = auth.get(kind, {})
        n = sum(a.values())
        if kind == "api" and not n:
            out("INFO", "no Hub API call during the fleet's run (the lock lists every file, so none is needed)")
            continue
        out("PASS" if n and a.get("expected", 0) == n else "FAIL",
            f"HF_TOKEN reached the prefetch: {a.get('expected', 0)}/{n} {kind} requests carried it"
            + (f" (others: {a})" if a.get("expected", 0) != n else ""))
    c = auth.get("cdn", {})
    out("PASS" if not c.get("expected") and not c.get("other") else "FAIL",
        f"no token sent to the CDN host ({sum(c.values())} CDN requests: {c})")
    heads = sum(f.get("head", 0) for f in files.values())
    repo_bytes = sum(meta["size"] for (m, sha) in used if m in cat and sha
                     for meta in cat[m]["commits"][sha]["files"].values())
    out("INFO", f"bytes served vs bytes needed: {served_bytes} vs {needed_bytes}; the used commits hold {repo_bytes} "
                f"({len(used)} model commits, {len(plan['servers'])} servers; "
                f"{heads} HEADs, API calls {st.get('api', {})})")
    again = {k: f.get("get", 0) for k, f in files.items() if f.get("get", 0) > 1}
    out("FAIL" if again else "PASS",
        "no file body was served more than once" + (f": {again}" if again else ""))


def completion(plan, svc, resp_path, max_tokens):
    """A /v1/completions answer from a real engine: HTTP 200, the served model name, and
    exactly max_tokens generated tokens (the request sets ignore_eos)."""
    s = plan["servers"][svc]
    try:
        r = load(resp_path)
    except (OSError, ValueError) as e:
        out("FAIL", f"{svc}: no JSON completion answer ({e})")
        return
    choices = r.get("choices") or [{}]
    text = choices[0].get("text")
    usage = r.get("usage") or {}
    ok = (r.get("object") == "text_completion" and r.get("model") == s["served_model_name"]
          and isinstance(text, str) and usage.get("completion_tokens") == int(max_tokens))
    out("PASS" if ok else "FAIL",
        f"{svc}: /v1/completions with model {s['served_model_name']!r} -> model {r.get('model')!r}, "
        f"{usage.get('completion_tokens')} tokens, text {text!r}" + ("" if ok else f" (answer: {json.dumps(r)[:300]})"))


def onecopy(plan, cat_path, group_json):
    """Servers sharing a model read one copy: they mount the same cache volume at the same
    place, and that volume holds each needed blob of the commit once; no server has a
    safetensors file anywhere else (container file system, scratch volume)."""
    cat = load(cat_path)["catalogue"]
    g = load(group_json)
    for (m, sha), servers in used_commits(plan, cat).items():
        if len(servers) < 2 or sha is None:
            continue
        mounts = {s: g["mounts"].get(s) for s in servers}
        same = len({json.dumps(v, sort_keys=True) for v in mounts.values()}) == 1 and all(mounts.values())
        out("PASS" if same else "FAIL",
            f"{m}: servers {', '.join(servers)} mount the same cache volume read-only: {mounts}")
        blobs = g["blobs"].get(m, [])
        want = sorted({meta["etag"] for meta in cat[m]["commits"][sha]["files"].values() if meta["role"] == "needed"})
        out("PASS" if sorted(blobs) == want else "FAIL",
            f"{m}: the cache holds one copy: {len(blobs)} blobs for the {len(want)} needed files of {sha[:12]}"
            + ("" if sorted(blobs) == want else f" (extra {sorted(set(blobs) - set(want))}, missing {sorted(set(want) - set(blobs))})"))
        for s in servers:
            elsewhere = g["elsewhere"].get(s, [])
            out("FAIL" if elsewhere else "PASS",
                f"{s}: no model weights outside the shared cache (container file system and scratch volume)"
                + (f": {elsewhere}" if elsewhere else ""))


def unchanged(label_a, a_path, label_b, b_path):
    a, b = load(a_path), load(b_path)
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    out("FAIL" if changed else "PASS",
        f"the shared cache is byte-for-byte as {label_a} left it after {label_b} ({len(b)} entries; "
        f"sizes, mtimes, link targets)" + (f": changed {changed[:10]}" if changed else ""))


def delta(plan, before, after):
    got = {}
    for key, f in after["files"].items():
        b = before["files"].get(key, {})
        d = {k: v - b.get(k, 0) for k, v in f.items() if v - b.get(k, 0)}
        if d:
            got[key] = d
    body = {k: d for k, d in got.items() if d.get("get") or d.get("bytes")}
    nbytes = sum(d.get("bytes", 0) for d in got.values())
    out("FAIL" if body else "PASS",
        f"second up downloaded nothing: {nbytes} bytes, {sum(d.get('get', 0) for d in got.values())} file GETs"
        + (f": {body}" if body else ""))
    api = {k: v - before.get("api", {}).get(k, 0) for k, v in after.get("api", {}).items()}
    heads = sum(d.get("head", 0) for d in got.values())
    out("INFO", f"second up: metadata only: {heads} HEADs, API calls {api}")
    unknown = after.get("unknown", [])[len(before.get("unknown", [])):]
    if unknown:
        out("FAIL", f"mock Hub saw requests it does not implement: {unknown}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    plan = load(args[0])
    if cmd == "order":
        order(plan, load(args[1]))
    elif cmd == "limits":
        limits(plan, load(args[1]))
    elif cmd == "report":
        report(plan, args[1], load(args[2]))
    elif cmd == "stats":
        stats(plan, load(args[1]))
    elif cmd == "delta":
        delta(plan, load(args[1]), load(args[2]))
    elif cmd == "completion":
        completion(plan, args[1], args[2], args[3])
    elif cmd == "onecopy":
        onecopy(plan, args[1], args[2])
    elif cmd == "unchanged":
        unchanged(args[1], args[2], args[3], args[4])
    else:
        raise SystemExit(f"unknown check {cmd}")


if __name__ == "__main__":
    main()
