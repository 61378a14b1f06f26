#!/usr/bin/env python3
"""Writes the benchmark inputs that benches/pipeline.rs generates in process.

    scripts/gen_fleet.py fleet N FILE      a valid fleet of N one-GPU services (host of N MI300X)
    scripts/gen_fleet.py recipes N DIR     a user recipe folder of N recipes, ten per file
    scripts/gen_fleet.py unknown-keys N FILE    a one-service fleet plus N unknown top-level keys
    scripts/gen_fleet.py unknown-flags N FILE   a one-service fleet whose service has N unknown flags
    scripts/gen_fleet.py max-size 0 FILE   unknown top-level keys up to the 4 MiB input cap

Keep the shapes in step with `fleet()`, `recipe_dir()`, `unknown_keys()`, `unknown_flags()`
and `max_size()` in benches/pipeline.rs.
"""
import os
import sys

MODELS = ["Qwen/Qwen3-32B", "meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mistral-7B-Instruct-v0.2"]


def fleet(n):
    out = [
        "version: 1",
        f"name: bench-{n}",
        "host:",
        "  gpu:",
        "    vendor: amd",
        "    model: MI300X",
        f"    count: {n}",
        "image:",
        "  base: rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210",
        "cache:",
        "  volume: bench-cache",
        "services:",
    ]
    for i in range(n):
        out += [f"  svc-{i:04}:", f"    model: {MODELS[i % len(MODELS)]}", "    gpus: 1"]
        if i % 2 == 0:
            out += ["    args:", "      max-model-len: 8192"]
    return "\n".join(out) + "\n"


# aimgen reads at most this many bytes of a spec (load::MAX_INPUT_BYTES).
MAX_INPUT_BYTES = 4 << 20


def unknown_keys(n):
    return fleet(1) + "".join(f"unknown-key-{i}: 1\n" for i in range(n))


def unknown_flags(n):
    text = fleet(1).replace("    args:\n      max-model-len: 8192\n", "    args:\n")
    return text + "".join(f"      unknown-flag-{i}: 1\n" for i in range(n))


def max_size():
    out, size, i = [fleet(1)], len(fleet(1)), 0
    while True:
        line = f"unknown-key-{i}: 1\n"
        if size + len(line) > MAX_INPUT_BYTES:
            return "".join(out)
        out.append(line)
        size += len(line)
        i += 1


def recipes(count, d):
    os.makedirs(d, exist_ok=True)
    for f in range((count + 9) // 10):
        model = f"bench-org/model-{f:04}"
        text = f"models:\n  - id: {model}\n    params_b: {7 + f % 60}\n    context_length: 32768\nrecipes:\n"
        for r in range(min(10, count - f * 10)):
            gpu, vendor = ("MI300X", "amd") if r % 2 == 0 else ("H100", "nvidia")
            metric = "latency" if r % 3 == 0 else "throughput"
            text += (
                f"  - id: bench/model-{f:04}-{r}\n    models: [{model}]\n    engine: vllm\n"
                f"    gpu: {{vendor: {vendor}, models: [{gpu}]}}\n    gpu_count: {1 << (r % 4)}\n"
                f"    precision: bf16\n    metric: {metric}\n    type: optimized\n    args:\n"
                f"      max-model-len: 16384\n      gpu-memory-utilization: 0.9\n"
                f'    env:\n      VLLM_ROCM_USE_AITER: "1"\n'
            )
        with open(os.path.join(d, f"model-{f:04}.yaml"), "w") as fh:
            fh.write(text)


def main():
    kinds = {"fleet": fleet, "unknown-keys": unknown_keys, "unknown-flags": unknown_flags, "max-size": lambda _: max_size()}
    if len(sys.argv) != 4 or sys.argv[1] not in (*kinds, "recipes"):
        sys.exit(__doc__)
    kind, n, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if kind == "recipes":
        recipes(n, dest)
    else:
        with open(dest, "w") as fh:
            fh.write(kinds[kind](n))


if __name__ == "__main__":
    main()
