#!/usr/bin/env python3
"""Write the Compose override that lets a generated fleet run on the CPU-only test host.

Input is the generated project as normalised by `docker compose config --format json`
(so env files, anchors and interpolation are already resolved; stdlib json suffices).

vLLM servers run the generated deployment AS IT IS: the generated image (`build:` from the
generated Dockerfile.optimized, whose base is the local vLLM CPU image), entrypoint,
command, environment, env files, volumes, healthcheck and ports. The override ONLY:
  * removes what needs GPUs: `deploy` (NVIDIA device reservations), `devices` and
    `group_add` (AMD's /dev/kfd, /dev/dri and their groups),
  * adds the CPU build's sizing variable VLLM_CPU_KVCACHE_SPACE (GiB of KV cache; its
    default would reserve far more memory than this host has for several servers),
  * adds the `mock-hub` service (network alias `mock-cdn` for its LFS redirects).
The prefetch service is left exactly as generated.

SGLang servers have no CPU build to run here (see README.md): for them only, the command
is replaced with tests/e2e/stub_server.py (bind-mounted), passing the model id,
--revision and --port read from the generated argv; the run says they are stubs.

Also writes a plan (JSON) for run.sh: which service is the prefetch, and per server the
engine, whether it runs for real, model, served model name, revisions, port, published
ports and whether it has a healthcheck.

usage: make_override.py CONFIG_JSON HUB_IMAGE E2E_DIR HUB_STATE_DIR MODELS_DIR OUT_OVERRIDE OUT_PLAN

For the delivery test (tests/e2e/delivery.py), two environment variables, off by default:
MAKE_OVERRIDE_STUB_ALL=1 runs the stub for every server (vLLM too: the test is about when
each server can start, not about the engine), and MAKE_OVERRIDE_HUB_ARGS (a JSON list)
gives the mock Hub these arguments instead of `--models /models` (MODELS_DIR is then `-`).
"""

import os

import json
import shlex
import sys

# Keys that only make sense with GPUs; a CPU host cannot start a container that has them.
GPU_KEYS = ["deploy", "devices", "group_add"]
KVCACHE_GIB = "1"


def q(s):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(s))


def flat_args(svc):
    """The full argv: entrypoint + command; a `sh -c "..."` string is split like a shell would."""
    out = []
    for part in (svc.get("entrypoint"), svc.get("command")):
        if isinstance(part, str):
            out += shlex.split(part)
            continue
        for a in part or []:
            if " " in a and ("vllm" in a or "sglang" in a):
                out += shlex.split(a)
            else:
                out.append(a)
    return out


def opt(argv, *names):
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def parse_server(name, svc):
    argv = flat_args(svc)
    joined = " ".join(argv)
    if "sglang" in joined:
        engine, default_port = "sglang", 30000
        model = opt(argv, "--model-path", "--model")
    elif "vllm" in joined:
        engine, default_port = "vllm", 8000
        model = opt(argv, "--model")
        if model is None and "serve" in argv:
            i = argv.index("serve")
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                model = argv[i + 1]
    else:
        raise SystemExit(f"make_override: {name}: cannot tell the engine from its argv {argv}")
    if model is None:
        raise SystemExit(f"make_override: {name}: no model id in argv {argv}")
    port = opt(argv, "--port")
    return {
        "engine": engine,
        "real": engine == "vllm" and os.environ.get("MAKE_OVERRIDE_STUB_ALL") != "1",
        "model": model,
        "served_model_name": opt(argv, "--served-model-name") or model,
        "revision": opt(argv, "--revision"),
        "tokenizer_revision": opt(argv, "--tokenizer-revision"),
        "port": int(port) if port else default_port,
        "port_from_command": port is not None,
        "argv": argv,
        "entrypoint": svc.get("entrypoint"),
    }


def compose_ulimit(v):
    """(soft, hard) of one limit as Compose's `config --format json` writes it: a number, or
    an object with `single` or `soft`/`hard` (a zero one is left out: it is 0)."""
    if isinstance(v, int):
        return [v, v]
    if "single" in v:
        return [v["single"], v["single"]]
    return [v.get("soft", 0), v.get("hard", 0)]


def prefetch_repo(svc):
    """The model a prefetch job delivers: its program's last argument is a JSON object
    naming the repository (what Compose itself read back, not aimgen's own plan)."""
    command = svc.get("command") or []
    try:
        return json.loads(command[-1])["repo"]
    except (IndexError, TypeError, KeyError, ValueError):
        return None


def main():
    config_path, hub_image, e2e_dir, state_dir, models_dir, out_override, out_plan = sys.argv[1:8]
    with open(config_path) as f:
        cfg = json.load(f)
    services = cfg.get("services") or {}

    # The prefetch: what the others wait for with service_completed_successfully.
    prefetch = set()
    for svc in services.values():
        for dep, cond in (svc.get("depends_on") or {}).items():
            if (cond or {}).get("condition") == "service_completed_successfully":
                prefetch.add(dep)
    if not prefetch:
        raise SystemExit("make_override: no service waits on another with service_completed_successfully: no prefetch?")
    if "mock-hub" in services:
        raise SystemExit("make_override: the generated project already has a service named mock-hub")

    plan = {"project": cfg.get("name"), "prefetch": sorted(prefetch), "servers": {}, "warnings": [],
            "images": sorted({svc.get("image") for svc in services.values() if svc.get("image")}),
            "prefetch_repo": {p: prefetch_repo(services[p]) for p in sorted(prefetch)}}
    lines = ["# Generated by tests/e2e/make_override.py: test-host override, see that file.", "services:"]
    networks = set()
    for name, svc in services.items():
        if name in prefetch:
            networks |= set((svc.get("networks") or {"default": None}).keys())
            if any(k in svc for k in GPU_KEYS):
                plan["warnings"].append(f"{name}: the prefetch has GPU keys {[k for k in GPU_KEYS if k in svc]}")
            continue
        s = parse_server(name, svc)
        s["ports"] = [
            {"target": p.get("target"), "published": p.get("published"), "host_ip": p.get("host_ip")}
            for p in svc.get("ports") or []
        ]
        s["healthcheck"] = bool(svc.get("healthcheck")) and not svc["healthcheck"].get("disable", False)
        s["depends_on"] = sorted((svc.get("depends_on") or {}).keys())
        s["volumes"] = svc.get("volumes") or []
        s["image"] = svc.get("image")
        s["ulimits"] = {k: compose_ulimit(v) for k, v in (svc.get("ulimits") or {}).items()}
        env = svc.get("environment") or {}
        s["api_key"] = bool(env.get("VLLM_API_KEY") or "--api-key" in s["argv"])
        s["dropped"] = [k for k in GPU_KEYS if k in svc]
        plan["servers"][name] = s
        lines.append(f"  {q(name)}:")
        for key in s["dropped"]:
            lines.append(f"    {key}: !reset null")
        if s["real"]:
            lines.append("    environment:")
            lines.append(f"      VLLM_CPU_KVCACHE_SPACE: {q(KVCACHE_GIB)}")
            continue
        # SGLang: the stub, in the generated image, on the generated port.
        if svc.get("entrypoint"):
            lines.append("    entrypoint: !reset null")
        stub = ["python3", "/e2e/stub_server.py", "--engine", s["engine"], "--model", s["model"], "--port", str(s["port"])]
        if s["revision"] is not None:
            stub += ["--revision", s["revision"]]
        lines.append("    command: !override [" + ", ".join(q(a) for a in stub) + "]")
        lines.append("    volumes:")
        lines.append("      - type: bind")
        lines.append(f"        source: {q(e2e_dir + '/stub_server.py')}")
        lines.append("        target: /e2e/stub_server.py")
        lines.append("        read_only: true")

    # The mock Hub, on every network the prefetch uses; `mock-cdn` is where LFS files redirect.
    hub_args = json.loads(os.environ.get("MAKE_OVERRIDE_HUB_ARGS") or '["--models", "/models"]')
    hub_argv = ["python3", "/e2e/mock_hub.py", "--port", "8080", "--state", "/state", *hub_args]
    lines += [
        "  mock-hub:",
        f"    image: {q(hub_image)}",
        "    entrypoint: [" + ", ".join(q(a) for a in hub_argv) + "]",
        "    environment:",
        "      MOCK_HUB_EXPECT_TOKEN: \"${HF_TOKEN:-}\"",
        "    volumes:",
        "      - type: bind",
        f"        source: {q(e2e_dir + '/mock_hub.py')}",
        "        target: /e2e/mock_hub.py",
        "        read_only: true",
    ]
    if models_dir != "-":
        lines += [
            "      - type: bind",
            f"        source: {q(models_dir)}",
            "        target: /models",
            "        read_only: true",
        ]
    lines += [
        "      - type: bind",
        f"        source: {q(state_dir)}",
        "        target: /state",
        "    healthcheck:",
        "      test: [\"CMD\", \"python3\", \"-c\", \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/_health')\"]",
        "      interval: 1s",
        "      timeout: 5s",
        "      retries: 30",
        "    networks:",
    ]
    for n in sorted(networks):
        lines += [f"      {q(n)}:", "        aliases: [\"mock-cdn\"]"]
    # The shared cache: the named volume(s) the prefetch mounts read-write.
    plan["cache_volumes"] = sorted({
        (cfg.get("volumes") or {}).get(v.get("source"), {}).get("name") or v.get("source")
        for p in prefetch for v in services[p].get("volumes") or []
        if v.get("type") == "volume" and not v.get("read_only")
    })
    with open(out_override, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(out_plan, "w") as f:
        json.dump(plan, f, indent=1)


if __name__ == "__main__":
    main()
