#!/usr/bin/env python3
"""Check, on Compose v2's own reading of a rendered project, how aimgen's images are used.

Reads the output of `docker compose config --format json` on stdin and the project's
Dockerfile.optimized (argument 1), and fails with one line per problem when:
  * a service has no `entrypoint` (a base image's ENTRYPOINT would then run first), or a
    server's entrypoint is not its engine's (`vllm serve` / `python3 -m sglang.launch_server`);
  * a service's `pull_policy` is not `never` (the images are built here, never pulled);
  * an image is built by no service or by more than one (Compose would build it once per
    service), or its build target is not a stage of the Dockerfile;
  * the servers of one engine use different images, or one image serves two engines;
  * a server lacks the labels `aimgen.engine` / `aimgen.engine-version`.
Prints a one-line summary on success.

usage: docker compose config --format json | check_compose_images.py Dockerfile.optimized
"""

import json
import re
import sys

ENTRYPOINTS = {"vllm": ["vllm", "serve"], "sglang": ["python3", "-m", "sglang.launch_server"]}


def main():
    cfg = json.load(sys.stdin)
    with open(sys.argv[1]) as f:
        stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", f.read(), re.MULTILINE | re.IGNORECASE))
    problems = []
    builders = {}
    engines_of_image = {}
    images_of_engine = {}
    for name, svc in (cfg.get("services") or {}).items():
        image = svc.get("image")
        entrypoint = svc.get("entrypoint") or []
        if not entrypoint:
            problems.append(f"{name}: no entrypoint")
        if svc.get("pull_policy") != "never":
            problems.append(f"{name}: pull_policy is {svc.get('pull_policy')!r}, not 'never'")
        build = svc.get("build")
        if build is not None:
            builders.setdefault(image, []).append(name)
            if build.get("target") not in stages:
                problems.append(f"{name}: build target {build.get('target')!r} is not a stage of {sorted(stages)}")
        labels = svc.get("labels") or {}
        engine = labels.get("aimgen.engine")
        if engine is None:
            continue  # the prefetch job: no engine runs in it
        if engine not in ENTRYPOINTS:
            problems.append(f"{name}: label aimgen.engine is {engine!r}")
            continue
        if not labels.get("aimgen.engine-version"):
            problems.append(f"{name}: no aimgen.engine-version label")
        if entrypoint != ENTRYPOINTS[engine]:
            problems.append(f"{name}: entrypoint {entrypoint} is not {engine}'s {ENTRYPOINTS[engine]}")
        engines_of_image.setdefault(image, set()).add(engine)
        images_of_engine.setdefault(engine, set()).add(image)
    used = {svc.get("image") for svc in (cfg.get("services") or {}).values()}
    for image in sorted(used):
        n = len(builders.get(image, []))
        if n != 1:
            problems.append(f"{image}: built by {n} services {builders.get(image, [])}, not exactly one")
    for image, engines in sorted(engines_of_image.items()):
        if len(engines) > 1:
            problems.append(f"{image}: serves {sorted(engines)}")
    for engine, images in sorted(images_of_engine.items()):
        if len(images) > 1:
            problems.append(f"{engine}: servers use {sorted(images)}")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{len(used)} image(s) for {sorted(images_of_engine)}, each built once; every service has an entrypoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
