#!/usr/bin/env python3
"""Parse many server command lines with one engine release's own parser (one process).

    <venv>/bin/python scripts/engine_truth_worker.py ENGINE JOBS.json RESULTS.json

Run by scripts/engine_truth.py with the Python of the venv that has the release installed
(recipes/tools/engine_venv.sh). JOBS.json is a list of {"id", "argv", "env"}: the full argv
a container runs (ENTRYPOINT + command) and the names of its environment variables.
RESULTS.json gets one {"id", "ok", "entry", "errors"} per job: `errors` are the engine's own
messages (argparse's, or its post-parse validation's), plus one per variable with the
engine's prefix that this release does not read.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "recipes", "tools"))

import engine_parsers  # noqa: E402

PREFIXES = {"vllm": ("VLLM_",), "sglang": ("SGLANG_", "SGL_")}


def vllm_env_names() -> set[str]:
    import vllm.envs as envs

    return set(envs.environment_variables)


def sglang_env_names() -> set[str]:
    import sglang
    from gen_engine_catalogues import sglang_env

    return {e["name"] for e in sglang_env(os.path.dirname(sglang.__file__))}


def main() -> int:
    engine, jobs_path, out_path = sys.argv[1:4]
    # The engines must not reach the Hub (or anything else) while parsing.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    jobs = json.load(open(jobs_path, encoding="utf-8"))
    if engine == "vllm":
        parsers = engine_parsers.vllm_parsers()
        known = vllm_env_names()

        def parse(argv):
            return engine_parsers.parse_vllm(parsers, argv)
    else:
        sys.argv = ["launch_server.py"]  # argparse's prog, as `python3 -m sglang.launch_server` has it
        engine_parsers.stub_sglang_devices()
        known = sglang_env_names()
        parse = engine_parsers.parse_sglang
    results = []
    for job in jobs:
        errors, entry = [], None
        try:
            entry = parse(job["argv"])
        except engine_parsers.Rejected as e:
            errors.append(str(e))
        for name in job.get("env", []):
            if name.startswith(PREFIXES[engine]) and name not in known:
                errors.append(f"environment variable {name} is not read by this release")
        results.append({"id": job["id"], "ok": not errors, "entry": entry, "errors": errors})
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(results, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
