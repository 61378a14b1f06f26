#!/usr/bin/env python3
"""Check the built-in recipe library and engine catalogues (recipes/).

    python3 recipes/tools/check_recipes.py [-v] [RECIPES_DIR]

Needs only PyYAML. Checks what aimgen's loader checks (shape, flag names and value
types against the engine catalogues, owned flags, denied variables) plus what a data
author can get wrong: ids, precision flags, context ≤ the model's, weights fit, and
that built-in recipes only use flags the older engine releases in compat/ accept too.
Exits 1 and lists every problem; prints a summary line otherwise.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter, defaultdict

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_recipes.py needs PyYAML (pip install pyyaml)")

HEADER = "# yaml-language-server: $schema=../schemas/recipe.schema.json"

# Per-GPU memory, GB (domain notes §2).
GPU_MEMORY = {"MI300X": 192, "MI325X": 256, "MI355X": 288, "MI350X": 288, "MI300A": 128,
              "MI250X": 128, "MI250": 128, "MI210": 64, "H100": 80, "H200": 141, "H20": 96,
              "B200": 180, "A100": 80, "A10G": 24, "A10": 24, "L40S": 48, "L40": 48, "L4": 24}
GPU_VENDOR = {g: ("amd" if g.startswith("MI") else "nvidia") for g in GPU_MEMORY}
WEIGHTS_SHARE = 0.8
DEFAULT_FRACTION = 0.9
BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}

FILE_KEYS = {"models", "recipes"}
MODEL_KEYS = {"id", "params_b", "context_length", "description"}
MODEL_REQUIRED = {"id", "params_b"}
RECIPE_KEYS = {"id", "description", "models", "engine", "gpu", "gpu_count", "precision",
               "metric", "type", "manual_only", "args", "env"}
RECIPE_REQUIRED = {"id", "engine", "gpu", "precision", "metric", "type"}
CATALOG_KEYS = {"engine", "source", "flags", "env", "deny_env"}
FLAG_KEYS = {"name", "type", "choices", "negatable", "owned", "aliases", "help"}
FLAG_TYPES = {"int", "float", "bool", "string", "choice", "json"}

# Flags aimgen sets itself: a catalogue must mark them owned (brief + domain notes §3).
MUST_OWN = {
    "vllm": {"model", "revision", "tokenizer-revision", "port", "host", "tensor-parallel-size",
             "served-model-name", "download-dir"},
    "sglang": {"model-path", "revision", "port", "host", "tp-size", "served-model-name",
               "download-dir"},
}
# domain.md §1 and §3: never emit these.
MUST_DENY = {"VLLM_CACHE_DIR", "TRANSFORMERS_CACHE", "HF_HUB_ENABLE_HF_TRANSFER",
             "TRANSFORMERS_CACHE_SIZE", "VLLM_USE_FP8", "VLLM_USE_TRITON_FLASH_ATTN",
             "VLLM_ATTENTION_BACKEND", "VLLM_USE_V1"}
OWNED_PREFIXES = {"vllm": ("VLLM_",), "sglang": ("SGLANG_", "SGL_")}

# How each engine spells the recipe's precision and context.
PRECISION_FLAGS = {
    "vllm": {"bf16": {"dtype": "bfloat16"}, "fp16": {"dtype": "float16"},
             "fp8": {"quantization": "fp8"}},
    "sglang": {"bf16": {"dtype": "bfloat16"}, "fp16": {"dtype": "float16"},
               "fp8": {"quantization": "fp8"}},
}
CONTEXT_FLAG = {"vllm": "max-model-len", "sglang": "context-length"}
FRACTION_FLAG = {"vllm": "gpu-memory-utilization", "sglang": "mem-fraction-static"}

# Older releases a built-in recipe must also run on (flag lists in tools/compat/).
COMPAT = {"vllm": ["vllm-0.11.1-flags.txt"], "sglang": ["sglang-0.5.5-flags.txt"]}
COMPAT_ENV = {"vllm": ["vllm-0.11.1-env.txt"], "sglang": []}


class Checker:
    def __init__(self, root: str):
        self.root = root
        self.problems: list[str] = []
        self.catalogs: dict[str, dict] = {}
        self.flag_index: dict[str, dict[str, dict]] = {}
        self.env_index: dict[str, set[str]] = {}
        self.deny: dict[str, dict] = {}
        self.compat: dict[str, list[set[str]]] = {}
        self.compat_env: dict[str, list[set[str]]] = {}

    def err(self, where: str, msg: str) -> None:
        self.problems.append(f"{where}: {msg}")

    # ---------------------------------------------------------------- catalogues
    def load_catalogs(self) -> None:
        edir = os.path.join(self.root, "engines")
        for name in sorted(os.listdir(edir)):
            if not name.endswith(".yaml"):
                continue
            path = os.path.join(edir, name)
            where = os.path.relpath(path, os.path.dirname(self.root))
            try:
                data = yaml.safe_load(open(path, encoding="utf-8"))
            except yaml.YAMLError as e:
                self.err(where, f"does not parse: {e}")
                continue
            if not isinstance(data, dict):
                self.err(where, "not a mapping")
                continue
            for k in set(data) - CATALOG_KEYS:
                self.err(where, f"unknown key `{k}`")
            engine = data.get("engine")
            if engine not in ("vllm", "sglang"):
                self.err(where, f"engine must be vllm or sglang, not {engine!r}")
                continue
            if not data.get("source"):
                self.err(where, "no `source:` (what the catalogue was derived from)")
            flags, names = {}, Counter()
            for i, f in enumerate(data.get("flags") or []):
                fw = f"{where} flags[{i}]"
                for k in set(f) - FLAG_KEYS:
                    self.err(fw, f"unknown key `{k}`")
                if f.get("type") not in FLAG_TYPES:
                    self.err(fw, f"type {f.get('type')!r} is not one of {sorted(FLAG_TYPES)}")
                if f.get("type") == "choice" and not f.get("choices"):
                    self.err(fw, f"`{f.get('name')}` is a choice without choices")
                for c in f.get("choices") or []:
                    if not isinstance(c, str):
                        self.err(fw, f"choice {c!r} of `{f.get('name')}` must be a string")
                if f.get("negatable") and f.get("type") != "bool":
                    self.err(fw, f"`{f.get('name')}` is negatable but not a bool")
                name = f.get("name", "")
                if name.startswith("-"):
                    self.err(fw, f"flag `{name}` written with dashes")
                names[name] += 1
                flags[name] = f
                for a in f.get("aliases") or []:
                    names[a] += 1
            for n, c in names.items():
                if c > 1:
                    self.err(where, f"flag name or alias `{n}` appears {c} times")
            index = dict(flags)
            for f in flags.values():
                for a in f.get("aliases") or []:
                    index.setdefault(a, f)
            owned = {n for n, f in flags.items() if f.get("owned")}
            for n in sorted(MUST_OWN[engine] - owned):
                self.err(where, f"`{n}` must be marked owned")
            env = [e.get("name") for e in data.get("env") or []]
            for n, c in Counter(env).items():
                if c > 1:
                    self.err(where, f"variable `{n}` listed {c} times")
            deny = {d.get("name"): d for d in data.get("deny_env") or []}
            for n in sorted(MUST_DENY - set(deny)):
                self.err(where, f"deny_env lacks `{n}` (domain notes §1)")
            for n in sorted(set(deny) & set(env)):
                self.err(where, f"`{n}` is both allowed and denied")
            self.catalogs[engine] = data
            self.flag_index[engine] = index
            self.env_index[engine] = set(env)
            for n, d in deny.items():
                self.deny.setdefault(n, d)
        for engine in ("vllm", "sglang"):
            if engine not in self.catalogs:
                self.err("recipes/engines", f"no catalogue for {engine}")
            self.compat[engine] = [self._names(f) for f in COMPAT[engine]]
            self.compat_env[engine] = [self._names(f) for f in COMPAT_ENV[engine]]

    def _names(self, fname: str) -> set[str]:
        path = os.path.join(self.root, "tools", "compat", fname)
        with open(path, encoding="utf-8") as fh:
            return {l.strip() for l in fh if l.strip() and not l.startswith("#")}

    # ---------------------------------------------------------------- values
    @staticmethod
    def value_problem(flag: dict, value) -> str | None:
        t = flag["type"]
        if t == "bool":
            if value is None or value is True:
                return None
            if value is False:
                return None if flag.get("negatable") else "is a switch that cannot be turned off"
            return "is a switch: write null or true"
        if isinstance(value, bool) or value is None:
            return f"expected a {t} value, found {value!r}"
        if t == "int":
            if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
                return None
            return f"expected a whole number, found {value!r}"
        if t == "float":
            try:
                float(value)
                return None
            except (TypeError, ValueError):
                return f"expected a number, found {value!r}"
        if t == "choice":
            return None if str(value) in flag["choices"] else \
                f"{value!r} is not one of {', '.join(flag['choices'])}"
        if t == "string":
            return None if isinstance(value, (str, int, float)) else f"expected text, found {value!r}"
        if t == "json":
            return None if isinstance(value, (dict, list, str, int, float)) else \
                f"expected JSON, found {value!r}"
        return None

    # ---------------------------------------------------------------- recipes
    def check_recipes(self) -> tuple[int, dict]:
        files = sorted(f for f in os.listdir(self.root) if f.endswith(".yaml"))
        models: dict[str, dict] = {}
        recipes: list[tuple[str, dict]] = []
        for name in files:
            path = os.path.join(self.root, name)
            where = f"recipes/{name}"
            text = open(path, encoding="utf-8").read()
            if not text.startswith(HEADER + "\n"):
                self.err(where, f"first line must be `{HEADER}`")
            if "\r" in text:
                self.err(where, "CR line endings")
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                self.err(where, f"does not parse: {e}")
                continue
            if not isinstance(data, dict):
                self.err(where, "not a mapping")
                continue
            for k in set(data) - FILE_KEYS:
                self.err(where, f"unknown key `{k}`")
            for i, m in enumerate(data.get("models") or []):
                mw = f"{where} models[{i}]"
                for k in set(m) - MODEL_KEYS:
                    self.err(mw, f"unknown key `{k}`")
                for k in MODEL_REQUIRED - set(m):
                    self.err(mw, f"missing `{k}`")
                if m.get("id") in models:
                    self.err(mw, f"model `{m.get('id')}` described twice")
                p = m.get("params_b")
                if not isinstance(p, (int, float)) or isinstance(p, bool) or p <= 0:
                    self.err(mw, "params_b must be a positive number")
                c = m.get("context_length")
                if c is not None and (not isinstance(c, int) or c <= 0):
                    self.err(mw, "context_length must be a positive whole number")
                models[m.get("id")] = m
            for i, r in enumerate(data.get("recipes") or []):
                recipes.append((f"{where} {r.get('id', f'recipes[{i}]')}", r, name))
        ids = Counter(r.get("id") for _, r, _ in recipes)
        for i, c in ids.items():
            if c > 1:
                self.err("recipes", f"recipe id `{i}` defined {c} times")
        stats = defaultdict(int)
        for where, r, fname in recipes:
            self.check_recipe(where, r, fname, models)
            gpus = "/".join((r.get("gpu") or {}).get("models") or [(r.get("gpu") or {}).get("vendor", "?")])
            key = ((r.get("models") or ["(general)"])[0], r.get("engine"), gpus)
            stats[key] += 1
        return len(recipes), stats

    def check_recipe(self, where: str, r: dict, fname: str, models: dict) -> None:
        if not isinstance(r, dict):
            self.err(where, "not a mapping")
            return
        for k in set(r) - RECIPE_KEYS:
            self.err(where, f"unknown key `{k}`")
        for k in RECIPE_REQUIRED - set(r):
            self.err(where, f"missing `{k}`")
        rid = str(r.get("id", ""))
        if not (re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", rid) and ".." not in rid and len(rid) <= 128):
            self.err(where, "id must be lowercase letters, digits, `.`, `_`, `-`, `/`")
        engine = r.get("engine")
        if engine not in ("vllm", "sglang"):
            self.err(where, f"engine {engine!r} is not vllm or sglang")
            return
        prec = r.get("precision")
        if prec not in BYTES:
            self.err(where, f"precision {prec!r} is not bf16, fp16 or fp8")
            return
        if r.get("metric") not in ("latency", "throughput"):
            self.err(where, f"metric {r.get('metric')!r} is not latency or throughput")
        if r.get("type") not in ("optimized", "general"):
            self.err(where, f"type {r.get('type')!r} is not optimized or general")
        if "manual_only" in r and not isinstance(r["manual_only"], bool):
            self.err(where, "manual_only must be true or false")
        gpu = r.get("gpu") or {}
        if set(gpu) - {"vendor", "models"}:
            self.err(where, f"gpu has unknown keys {sorted(set(gpu) - {'vendor', 'models'})}")
        vendor = gpu.get("vendor")
        if vendor not in ("amd", "nvidia"):
            self.err(where, f"gpu.vendor {vendor!r} is not amd or nvidia")
        for g in gpu.get("models") or []:
            if g not in GPU_MEMORY:
                self.err(where, f"unknown GPU model `{g}`")
            elif GPU_VENDOR[g] != vendor:
                self.err(where, f"`{g}` is not a {vendor} GPU")
        count = r.get("gpu_count")
        if count is not None and (not isinstance(count, int) or count < 1):
            self.err(where, "gpu_count must be a whole number ≥ 1")
        general = not r.get("models")
        slug = fname[: -len(".yaml")]
        if general:
            if r.get("type") != "general":
                self.err(where, "a recipe without models must have type: general")
            if count is not None:
                self.err(where, "a general recipe has no gpu_count")
            if not rid.startswith("general/"):
                self.err(where, "general recipe ids start with `general/`")
        else:
            if not rid.startswith(slug + "/"):
                self.err(where, f"id should start with the file's slug `{slug}/`")
            tok = rid.split("/", 1)[1] if "/" in rid else ""
            m = re.fullmatch(r"(vllm|sglang)-([a-z0-9]+)-(bf16|fp16|fp8)-tp(\d+)-(latency|throughput)", tok)
            if not m:
                self.err(where, "id should be <model-slug>/<engine>-<gpu>-<precision>-tp<N>-<metric>")
            else:
                e, g, p, n, met = m.groups()
                if e != engine or p != prec or int(n) != count or met != r.get("metric"):
                    self.err(where, "id disagrees with engine/precision/gpu_count/metric")
                if g.upper() not in (gpu.get("models") or []):
                    self.err(where, f"id names `{g}` but gpu.models is {gpu.get('models')}")
            if count is None:
                self.err(where, "a model-specific recipe needs gpu_count")
            for mid in r["models"]:
                if mid not in models:
                    self.err(where, f"no model facts for `{mid}` (add them under models:)")
        args = r.get("args") or {}
        env = r.get("env") or {}
        if not isinstance(args, dict) or not isinstance(env, dict):
            self.err(where, "args and env must be mappings")
            return
        self.check_args(where, engine, args)
        self.check_env(where, engine, env)
        # Precision is expressed by the engine's own flags.
        for flag, want in PRECISION_FLAGS[engine][prec].items():
            if args.get(flag) != want:
                self.err(where, f"precision {prec} needs `{flag}: {want}` (found {args.get(flag)!r})")
        if prec != "fp8" and "quantization" in args:
            self.err(where, f"precision {prec} but quantization {args['quantization']!r}")
        # Context and memory.
        ctx = args.get(CONTEXT_FLAG[engine])
        other = CONTEXT_FLAG["sglang" if engine == "vllm" else "vllm"]
        if other in args:
            self.err(where, f"`{other}` is not a {engine} flag (use `{CONTEXT_FLAG[engine]}`)")
        frac = args.get(FRACTION_FLAG[engine], DEFAULT_FRACTION)
        if not isinstance(frac, (int, float)) or not 0 < frac <= 1:
            self.err(where, f"`{FRACTION_FLAG[engine]}` must be in (0, 1]")
            frac = DEFAULT_FRACTION
        for mid in r.get("models") or []:
            facts = models.get(mid)
            if not facts:
                continue
            mctx = facts.get("context_length")
            if isinstance(ctx, int) and mctx and ctx > mctx:
                self.err(where, f"{CONTEXT_FLAG[engine]} {ctx} > {mid}'s context_length {mctx}")
            if count and gpu.get("models"):
                mem = min(GPU_MEMORY.get(g, 0) for g in gpu["models"])
                weights = facts["params_b"] * BYTES[prec]
                room = WEIGHTS_SHARE * count * mem * frac
                if weights > room:
                    self.err(where, f"{weights:.0f} GB of weights do not fit: "
                                    f"0.8 × {count} × {mem} GB × {frac} = {room:.0f} GB")

    def check_args(self, where: str, engine: str, args: dict) -> None:
        index = self.flag_index.get(engine, {})
        other = self.flag_index.get("sglang" if engine == "vllm" else "vllm", {})
        for name, value in args.items():
            if not isinstance(name, str) or name.startswith("-"):
                self.err(where, f"write flags without dashes: `{name}`")
                continue
            flag = index.get(name)
            negated = False
            if flag is None and name.startswith("no-"):
                base = index.get(name[3:])
                if base is not None and base.get("negatable"):
                    flag, negated = base, True
            if flag is None:
                hint = " (it is a flag of the other engine)" if name in other else ""
                self.err(where, f"`--{name}` is not a {engine} flag{hint}")
                continue
            if flag.get("owned"):
                self.err(where, f"`--{name}` is set by aimgen itself")
                continue
            problem = self.value_problem(flag, None if negated else value)
            if problem:
                self.err(where, f"`--{name}` {problem}")
            # Built-in recipes must also run on the older releases in compat/.
            spelled = flag["name"] if not negated else "no-" + flag["name"]
            if value is False:
                spelled = "no-" + flag["name"]
            for i, names in enumerate(self.compat.get(engine, [])):
                if spelled not in names:
                    self.err(where, f"`--{spelled}` is not accepted by {COMPAT[engine][i][:-10]}")

    def check_env(self, where: str, engine: str, env: dict) -> None:
        known = self.env_index.get(engine, set())
        for name, value in env.items():
            if name in self.deny:
                d = self.deny[name]
                self.err(where, f"`{name}` must not be used"
                                + (f"; use {d['instead']}" if d.get("instead") else ""))
                continue
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
                self.err(where, f"`{name}` is not a valid variable name")
            if not isinstance(value, str):
                self.err(where, f"`{name}`: write values as strings (\"{value}\")")
            if name.startswith(OWNED_PREFIXES[engine]) and name not in known:
                self.err(where, f"`{name}` is not a {engine} variable")
            for i, names in enumerate(self.compat_env.get(engine, [])):
                if name.startswith(OWNED_PREFIXES[engine]) and name not in names:
                    self.err(where, f"`{name}` is not known to {COMPAT_ENV[engine][i][:-8]}")


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    positional = [a for a in sys.argv[1:] if not a.startswith("-")]
    root = positional[0] if positional else os.path.dirname(here)
    c = Checker(root)
    c.load_catalogs()
    n, stats = c.check_recipes()
    if c.problems:
        for p in c.problems:
            print(p)
        print(f"{len(c.problems)} problem(s) in {n} recipes")
        return 1
    if "-v" in sys.argv or "--verbose" in sys.argv:
        for (model, engine, gpus), k in sorted(stats.items()):
            print(f"{k:3d}  {model:45s} {engine:7s} {gpus}")
    nflags = {e: len(c.catalogs[e]["flags"]) for e in c.catalogs}
    print(f"ok: {n} recipes, catalogues vllm {nflags.get('vllm')} flags / sglang {nflags.get('sglang')} flags")
    return 0


if __name__ == "__main__":
    sys.exit(main())
