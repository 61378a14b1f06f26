#!/usr/bin/env python3
"""The real engines' parsers as the oracle for every server command aimgen generates.

    scripts/engine_truth.py AIMGEN COMPOSE WORK_DIR      (run by scripts/engine_truth.sh)

1. Renders, with the aimgen binary, every examples/*.yaml, every built-in recipe pinned in a
   one-service fleet (the ids from `aimgen recipes list --format json`), and a mixed
   vLLM + SGLang fleet on NVIDIA and on AMD (scripts/engine_truth_fleets/).
2. Reads each output with Compose v2's own `config --format json`: for every service the full
   argv its container runs — its `entrypoint:` (or, when it sets none, the ENTRYPOINT its base
   image publishes, scripts/engine_truth_images.json, unless Dockerfile.optimized sets one)
   followed by its `command:` — and its environment.
3. Takes the engine version from the service's labels `aimgen.engine`/`aimgen.engine-version`,
   or, without them, from its base image's tag (vllm/vllm-openai:vX.Y.Z,
   vllm/vllm-openai-rocm:vX.Y.Z, rocm/vllm:…_vllm_X.Y.Z_…, lmsysorg/sglang:vX.Y.Z[.postN][-…]).
4. Installs each version needed (recipes/tools/engine_venv.sh, cached under .tools/) and parses
   all of its argvs in one process with that release's own parser and post-parse validation
   (scripts/engine_truth_worker.py); every variable with the engine's prefix must be one the
   release reads. The prefetch job must not run through an engine's entry point.

Prints one line per failure (input, service, engine version, the engine's own message), then
`engine-truth: N passed, M failed`; exits 1 when anything failed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "recipes", "tools"))

from check_recipes import parse_version, version_req  # noqa: E402
from engine_parsers import split_program  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("engine_truth.py needs PyYAML")

COMPOSE_FILE = "docker-compose.cache.yml"
# When aimgen refuses a pinned recipe because the default image runs a release the recipe
# does not admit, the recipe is rendered again on the newest release's image of its engine.
NEWEST_IMAGE = {
    ("nvidia", "vllm"): "vllm/vllm-openai:v0.33.0",
    ("amd", "vllm"): "vllm/vllm-openai-rocm:v0.33.0",
    ("nvidia", "sglang"): "lmsysorg/sglang:v0.5.23",
    ("amd", "sglang"): "lmsysorg/sglang:v0.5.23-rocm720-mi30x",
}
SMALL_MODEL = "meta-llama/Llama-3.1-8B-Instruct"  # for general recipes (sized by the library)


def log(msg: str) -> None:
    print(f"[engine-truth] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Inputs


def recipe_fleet(rid: str, r: dict, image: str | None) -> str:
    gpu = r.get("gpu") or {}
    vendor = gpu.get("vendor", "nvidia")
    model_gpu = (gpu.get("models") or ["MI300X" if vendor == "amd" else "H100"])[0]
    count = r.get("gpu_count") or 1
    model = (r.get("models") or [SMALL_MODEL])[0]
    lines = ["version: 1", f"name: truth-{re.sub(r'[^a-z0-9]+', '-', rid)[:50].strip('-')}",
             "host:", "  gpu:", f"    vendor: {vendor}", f"    model: {model_gpu}",
             f"    count: {max(8, count)}"]
    if image:
        lines += ["image:", f"  base: {json.dumps(image)}"]
    lines += ["services:", "  server:", f"    model: {json.dumps(model)}",
              f"    backend: {r['engine']}", f"    precision: {r['precision']}",
              f"    recipe: {json.dumps(rid)}", f"    gpus: {count}"]
    return "\n".join(lines) + "\n"


def builtin_recipes(aimgen: str) -> list[tuple[str, dict]]:
    out = subprocess.run([aimgen, "recipes", "list", "--format", "json"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    entries = json.loads(out)
    files: dict[str, dict] = {}
    result = []
    for e in entries:
        origin = e.get("origin") or {}
        if origin.get("kind") != "builtin":
            continue
        path = os.path.join(ROOT, origin["path"])
        if path not in files:
            files[path] = {r["id"]: r for r in (yaml.safe_load(open(path)) or {}).get("recipes") or []}
        r = files[path].get(e["id"])
        if r is None:
            raise SystemExit(f"{e['id']}: not found in {origin['path']}")
        result.append((e["id"], r))
    return result


def render(aimgen: str, spec: str, out: str) -> tuple[bool, str]:
    p = subprocess.run([aimgen, "render", spec, "-o", out], capture_output=True, text=True, cwd=ROOT)
    errors = [l for l in p.stderr.splitlines() if l.startswith("error")]
    return p.returncode == 0 and os.path.isdir(out), "; ".join(errors) or p.stderr.strip()[-300:]


def compose_json(compose: str, out: str) -> tuple[dict | None, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("COMPOSE_") and k != "HF_TOKEN"}
    # Variables the file requires (`${KEY:?…}`, an API key given where you run `up`) get a
    # placeholder: the argv is what is checked, never a real credential.
    for _ in range(20):
        p = subprocess.run([compose, "-f", os.path.join(out, COMPOSE_FILE), "config", "--format", "json"],
                           capture_output=True, text=True, cwd=out, env=env)
        m = re.search(r"required variable (\w+) is missing a value", p.stderr)
        if p.returncode != 0 and m and m.group(1) not in env:
            env[m.group(1)] = "engine-truth-placeholder"
            continue
        break
    if p.returncode != 0:
        return None, p.stderr.strip()[-300:]
    return json.loads(p.stdout), ""


# --------------------------------------------------------------------------------------
# What a container runs


def dockerfile_stages(path: str) -> list[dict]:
    """FROM/AS, ENTRYPOINT and CMD of each stage (exec form or shell form)."""
    stages: list[dict] = []
    with open(path, encoding="utf-8") as fh:
        text = fh.read().replace("\\\n", " ")
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"(?i)FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", s)
        if m:
            stages.append({"from": m.group(1), "name": (m.group(2) or "").lower()})
            continue
        m = re.match(r"(?i)(ENTRYPOINT|CMD)\s+(.*)", s)
        if m and stages:
            body = m.group(2).strip()
            try:
                value = json.loads(body)
            except ValueError:
                value = ["/bin/sh", "-c", body]
            stages[-1][m.group(1).lower()] = value
    return stages


def base_of(service: dict, builds: dict | None = None) -> dict:
    """The base image reference a service runs, and any ENTRYPOINT/CMD its own build sets.
    `builds` maps an image tag to the build block of the service that builds it: a service
    that only names a tag another one builds (an image built once) runs that build."""
    build = service.get("build") or (builds or {}).get(service.get("image"))
    if not build:
        return {"ref": service.get("image", "")}
    dockerfile = os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile"))
    stages = dockerfile_stages(dockerfile)
    by_name = {s["name"]: s for s in stages if s["name"]}
    stage = by_name.get((build.get("target") or "").lower()) if build.get("target") else (stages[-1] if stages else None)
    own: dict = {}
    seen = 0
    while stage is not None and seen < 20:
        for k in ("entrypoint", "cmd"):
            if k in stage and k not in own:
                own[k] = stage[k]
        nxt = by_name.get(stage["from"].lower())
        if nxt is None:
            return {"ref": stage["from"], **own}
        stage, seen = nxt, seen + 1
    return {"ref": service.get("image", ""), **own}


TAG_RULES = [
    ("vllm", r"^(?:docker\.io/)?vllm/vllm-openai(?:-rocm)?:v(\d+\.\d+\.\d+(?:\.post\d+)?)$"),
    ("vllm", r"^(?:docker\.io/)?rocm/vllm:.*_vllm_?(\d+\.\d+\.\d+(?:\.post\d+)?)(?:_|$)"),
    ("sglang", r"^(?:docker\.io/)?lmsysorg/sglang:v(\d+\.\d+\.\d+(?:\.post\d+)?)(?:-.*)?$"),
]


def version_from_image(ref: str) -> tuple[str, str] | None:
    for engine, pattern in TAG_RULES:
        m = re.match(pattern, ref)
        if m:
            return engine, m.group(1)
    return None


def repository(ref: str) -> str:
    ref = ref.split("@", 1)[0]
    if ":" in ref.rsplit("/", 1)[-1]:
        ref = ref.rsplit(":", 1)[0]
    return ref[len("docker.io/"):] if ref.startswith("docker.io/") else ref


def image_record(images: list[dict], ref: str, version: str | None) -> dict | None:
    repo = repository(ref)
    for rec in images:
        if rec["repository"] != repo:
            continue
        if rec["versions"] == "*":
            return rec
        req = version_req(rec["versions"])
        if version and req and req(parse_version(version)):
            return rec
    return None


def container_argv(service: dict, base: dict, images: list[dict], version: str | None):
    """(argv, how) — or (None, reason) when what runs cannot be known."""
    entry = service.get("entrypoint")
    command = service.get("command")
    if entry is not None:
        # An explicit entrypoint resets the image's CMD too (Compose/Docker semantics).
        return list(entry) + list(command or []), "entrypoint: + command:"
    if "entrypoint" in base:
        image_entry, image_cmd, how = base["entrypoint"], base.get("cmd"), "Dockerfile.optimized ENTRYPOINT"
    else:
        rec = image_record(images, base["ref"], version)
        if rec is None:
            return None, (f"sets no entrypoint: and there is no ENTRYPOINT record for "
                          f"{base['ref']} (scripts/engine_truth_images.json)")
        image_entry, image_cmd = rec["entrypoint"], rec.get("cmd")
        how = f"image ENTRYPOINT {json.dumps(image_entry)} ({rec['source']})"
    if command is None:
        command = base.get("cmd", image_cmd) or []
    return list(image_entry or []) + list(command), how + " + command:"


def engine_of_argv(argv: list[str]) -> str | None:
    prog, _ = split_program(argv)
    if prog == "vllm" or prog.startswith("module:vllm."):
        return "vllm"
    if prog.startswith("module:sglang."):
        return "sglang"
    return None


# --------------------------------------------------------------------------------------


def main() -> int:
    aimgen, compose, work = sys.argv[1:4]
    t0 = time.time()
    images = json.load(open(os.path.join(ROOT, "scripts", "engine_truth_images.json")))["images"]
    inputs: list[tuple[str, str]] = []  # (label, spec path)
    os.makedirs(os.path.join(work, "specs"), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if name.endswith(".yaml"):
            inputs.append((f"example {name}", os.path.join(ROOT, "examples", name)))
    fleets = os.path.join(ROOT, "scripts", "engine_truth_fleets")
    for name in sorted(os.listdir(fleets)):
        if name.endswith(".yaml"):
            inputs.append((f"fleet {name}", os.path.join(fleets, name)))
    recipes = builtin_recipes(aimgen)
    recipe_specs = {}
    for i, (rid, r) in enumerate(recipes):
        spec = os.path.join(work, "specs", f"recipe-{i:04d}.yaml")
        with open(spec, "w") as fh:
            fh.write(recipe_fleet(rid, r, None))
        inputs.append((f"recipe {rid}", spec))
        recipe_specs[spec] = (rid, r)
    log(f"{len(inputs)} inputs ({len(recipes)} recipes); rendering")

    failures: list[str] = []
    passed = 0
    rendered: list[tuple[str, str]] = []

    def do_render(item):
        label, spec = item
        out = os.path.join(work, "out", os.path.basename(spec)[:-5] + "-" + str(abs(hash(label)) % 10**6))
        ok, why = render(aimgen, spec, out)
        if not ok and spec in recipe_specs and "image runs" in why:
            rid, r = recipe_specs[spec]
            key = ((r.get("gpu") or {}).get("vendor", "nvidia"), r["engine"])
            alt = spec[:-5] + "-newest.yaml"
            with open(alt, "w") as fh:
                fh.write(recipe_fleet(rid, r, NEWEST_IMAGE[key]))
            ok, why2 = render(aimgen, alt, out)
            label = f"{label} (on {NEWEST_IMAGE[key]}: the default image's release is refused: {why})"
            why = why2
        return label, out, ok, why

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for label, out, ok, why in pool.map(do_render, inputs):
            if ok:
                rendered.append((label, out))
            else:
                failures.append(f"FAIL {label}: aimgen render failed: {why}")

    log(f"{len(rendered)} rendered; reading them with Compose v2 config --format json")
    jobs: dict[tuple[str, str], list[dict]] = {}
    meta: dict[str, str] = {}
    counter = 0

    def do_config(item):
        label, out = item
        return label, out, compose_json(compose, out)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        configs = list(pool.map(do_config, rendered))
    for label, out, (doc, err) in configs:
        if doc is None:
            failures.append(f"FAIL {label}: docker compose config failed: {err}")
            continue
        services = doc.get("services") or {}
        builds = {svc.get("image"): svc["build"] for svc in services.values() if svc.get("build")}
        for sname, svc in sorted(services.items()):
            where = f"{label} service {sname}"
            base = base_of(svc, builds)
            labels = svc.get("labels") or {}
            engine, version, how_version = labels.get("aimgen.engine"), labels.get("aimgen.engine-version"), "labels"
            if not (engine and version):
                derived = version_from_image(base["ref"])
                if derived:
                    engine, version = derived
                    how_version = f"tag of {base['ref']}"
            argv, how = container_argv(svc, base, images, version)
            if argv is None:
                failures.append(f"FAIL {where}: {how}")
                continue
            runs = engine_of_argv(argv)
            is_prefetch = runs is None and not labels.get("aimgen.engine")
            if is_prefetch:
                prog, rest = split_program(argv)
                if prog == "python:-c" and rest:
                    try:
                        compile(rest[0], f"<{sname}>", "exec")
                        passed += 1
                    except SyntaxError as e:
                        failures.append(f"FAIL {where}: its python3 -c program does not compile: {e}")
                else:
                    failures.append(f"FAIL {where}: runs {shlex.join(argv[:4])} …, neither an engine "
                                    "server nor a python3 -c job")
                continue
            if runs is not None and engine and runs != engine:
                failures.append(f"FAIL {where}: runs {runs} but its image/labels say {engine}")
                continue
            engine = engine or runs
            if not version:
                failures.append(f"FAIL {where}: no engine version (no aimgen.engine-version label, "
                                f"and {base['ref']} follows no known tag convention)")
                continue
            counter += 1
            jid = f"j{counter}"
            meta[jid] = f"{where} [{engine} {version}, version from {how_version}; argv from {how}]"
            env_names = sorted((svc.get("environment") or {}).keys())
            jobs.setdefault((engine, version), []).append({"id": jid, "argv": argv, "env": env_names})

    total = sum(len(v) for v in jobs.values())
    log(f"{total} argvs to parse: " + ", ".join(f"{e} {v}: {len(j)}" for (e, v), j in sorted(jobs.items())))
    for (engine, version), batch in sorted(jobs.items()):
        t1 = time.time()
        p = subprocess.run(["bash", os.path.join(ROOT, "recipes", "tools", "engine_venv.sh"), engine, version],
                           capture_output=True, text=True)
        if p.returncode != 0:
            for j in batch:
                failures.append(f"FAIL {meta[j['id']]}: cannot install {engine} {version}: {p.stderr.strip()[-300:]}")
            continue
        python = p.stdout.strip().splitlines()[-1]
        jobs_path = os.path.join(work, f"jobs-{engine}-{version}.json")
        res_path = os.path.join(work, f"results-{engine}-{version}.json")
        json.dump(batch, open(jobs_path, "w"))
        w = subprocess.run([python, os.path.join(ROOT, "scripts", "engine_truth_worker.py"), engine,
                            jobs_path, res_path], capture_output=True, text=True)
        if w.returncode != 0 or not os.path.exists(res_path):
            for j in batch:
                failures.append(f"FAIL {meta[j['id']]}: the {engine} {version} parser did not run: "
                                f"{w.stderr.strip()[-500:]}")
            continue
        results = json.load(open(res_path))
        bad = 0
        for r in results:
            if r["ok"]:
                passed += 1
            else:
                bad += 1
                for e in r["errors"]:
                    failures.append(f"FAIL {meta[r['id']]}: {e}")
        log(f"{engine} {version}: {len(results) - bad} accepted, {bad} rejected ({time.time() - t1:.0f}s incl. install)")

    for f in failures:
        print(f)
    # One count per input or service that failed, however many messages it has.
    failed_items = len({f.split(" [", 1)[0] if " service " in f else f for f in failures})
    log(f"done in {time.time() - t0:.0f}s; {total} argvs parsed")
    print(f"engine-truth: {passed} passed, {failed_items} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
