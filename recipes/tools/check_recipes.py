#!/usr/bin/env python3
"""Check the built-in recipe library and the engine catalogues (recipes/).

    python3 recipes/tools/check_recipes.py [-v] [--versions FILE] [RECIPES_DIR]

Needs only PyYAML. Checks what aimgen's loader checks (shape, flag names, value types,
choices and ranges against the engine catalogues, owned flags, denied variables) plus what
a data author can get wrong: ids, precision flags, context ≤ the model's, weights fit.

Every recipe is checked against the catalogue of every engine version its `engines:`
constraint admits (`engines: {sglang: ">=0.4.7"}`; no constraint = every catalogued
version): a problem on any admitted version is a problem. `--versions FILE` writes, per
recipe, the exact set of catalogued versions that accept it and why each other version
does not: the evidence to set the constraints from.
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
RECIPE_KEYS = {"id", "description", "models", "engine", "engines", "gpu", "gpu_count",
               "precision", "metric", "type", "manual_only", "args", "env"}
RECIPE_REQUIRED = {"id", "engine", "gpu", "precision", "metric", "type"}
CATALOG_KEYS = {"engine", "version", "base", "source", "flags", "env", "deny_env",
                "remove_flags", "remove_env"}
FLAG_KEYS = {"name", "type", "choices", "negatable", "owned", "aliases", "help", "nargs",
             "default", "min", "max", "exclusive_min", "exclusive_max", "secret"}
ENV_KEYS = {"name", "help", "secret"}
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



# ------------------------------------------------------------------------------------------
# Engine versions ("0.11.0", "0.4.6.post1") and constraints (">=0.4.7", ">=0.5,<0.6", "0.11.2").

def parse_version(text: str) -> tuple | None:
    m = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:\.?post(\d+))?", str(text).strip())
    if not m:
        return None
    nums = [int(x) for x in m.group(1).split(".")]
    while len(nums) < 3:
        nums.append(0)
    return (*nums, int(m.group(2) or 0))


def version_req(text: str):
    """A predicate on parsed versions, or None when `text` does not parse."""
    tests = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(>=|<=|==|=|>|<)?\s*(\S+)\s*", part)
        if not m:
            return None
        op, v = m.group(1) or "==", parse_version(m.group(2))
        if v is None:
            return None
        tests.append((op, v))
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
           "<": lambda a, b: a < b, "==": lambda a, b: a == b, "=": lambda a, b: a == b}
    return lambda v: all(ops[op](v, want) for op, want in tests)


class Checker:
    def __init__(self, root: str):
        self.root = root
        self.problems: list[str] = []
        # engine -> version text -> resolved catalogue {"flags": {name: flag}, "index": {name or
        # alias: flag}, "env": set, "deny": {name: entry}, "source": str}
        self.catalogs: dict[str, dict[str, dict]] = {}
        self.deny: dict[str, dict] = {}
        # recipe id -> engine, {version: [problems]} (the per-version evidence).
        self.evidence: dict[str, tuple[str, dict[str, list[str]]]] = {}

    def err(self, where: str, msg: str) -> None:
        self.problems.append(f"{where}: {msg}")

    def versions(self, engine: str) -> list[str]:
        return sorted(self.catalogs.get(engine, {}), key=parse_version)

    # ---------------------------------------------------------------- catalogues
    def load_catalogs(self) -> None:
        edir = os.path.join(self.root, "engines")
        files: dict[tuple[str, str], tuple[str, dict]] = {}
        for engine_dir in sorted(os.listdir(edir)):
            sub = os.path.join(edir, engine_dir)
            if not os.path.isdir(sub):
                if engine_dir.endswith(".yaml"):
                    self.err(f"recipes/engines/{engine_dir}",
                             "catalogues live in recipes/engines/<engine>/<version>.yaml")
                continue
            for name in sorted(os.listdir(sub)):
                if not name.endswith(".yaml"):
                    continue
                where = f"recipes/engines/{engine_dir}/{name}"
                data = self.load_catalog_file(os.path.join(sub, name), where, engine_dir)
                if data is not None:
                    files[(data["engine"], str(data["version"]))] = (where, data)
        for (engine, version), (where, data) in sorted(files.items()):
            resolved = self.resolve(engine, version, files, [])
            if resolved is None:
                continue
            self.check_resolved(where, engine, resolved)
            self.catalogs.setdefault(engine, {})[version] = resolved
            for n, d in resolved["deny"].items():
                self.deny.setdefault(n, d)
        for engine in ("vllm", "sglang"):
            if not self.catalogs.get(engine):
                self.err("recipes/engines", f"no catalogue for {engine}")

    def load_catalog_file(self, path: str, where: str, engine_dir: str) -> dict | None:
        try:
            data = yaml.safe_load(open(path, encoding="utf-8"))
        except yaml.YAMLError as e:
            self.err(where, f"does not parse: {e}")
            return None
        if not isinstance(data, dict):
            self.err(where, "not a mapping")
            return None
        for k in set(data) - CATALOG_KEYS:
            self.err(where, f"unknown key `{k}`")
        engine = data.get("engine")
        if engine not in ("vllm", "sglang") or engine != engine_dir:
            self.err(where, f"engine {engine!r} must be vllm or sglang and match the folder")
            return None
        version = str(data.get("version", ""))
        if parse_version(version) is None:
            self.err(where, f"version {version!r} does not parse")
            return None
        if os.path.basename(path) != version + ".yaml":
            self.err(where, f"file name must be {version}.yaml")
        if not data.get("source"):
            self.err(where, "no `source:` (what the catalogue was derived from)")
        if data.get("base") is None and (data.get("remove_flags") or data.get("remove_env")):
            self.err(where, "remove_flags/remove_env only make sense in a delta (with `base:`)")
        for i, f in enumerate(data.get("flags") or []):
            self.check_flag_entry(f"{where} flags[{i}]", f)
        for i, e in enumerate(data.get("env") or []):
            for k in set(e) - ENV_KEYS:
                self.err(f"{where} env[{i}]", f"unknown key `{k}`")
        return data

    def check_flag_entry(self, fw: str, f: dict) -> None:
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
        if str(f.get("name", "")).startswith("-"):
            self.err(fw, f"flag `{f.get('name')}` written with dashes")
        nargs = f.get("nargs")
        if nargs is not None and not (nargs in ("?", "*", "+") or str(nargs).isdigit()):
            self.err(fw, f"nargs {nargs!r} is not ?, *, + or a count")
        for k in ("min", "max"):
            v = f.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                self.err(fw, f"{k} must be a number")
        for k in ("exclusive_min", "exclusive_max"):
            if f.get(k) and f.get(k.split("_")[1]) is None:
                self.err(fw, f"{k} without {k.split('_')[1]}")

    def resolve(self, engine: str, version: str, files: dict, chain: list) -> dict | None:
        where, data = files[(engine, version)]
        if version in chain:
            self.err(where, "cycle of `base:` versions: " + " -> ".join(chain + [version]))
            return None
        base_version = data.get("base")
        if base_version is not None:
            if (engine, str(base_version)) not in files:
                self.err(where, f"base {base_version} has no catalogue")
                return None
            base = self.resolve(engine, str(base_version), files, chain + [version])
            if base is None:
                return None
            flags = dict(base["flags"])
            env = dict(base["env_entries"])
            deny = dict(base["deny"])
            for n in data.get("remove_flags") or []:
                if flags.pop(n, None) is None:
                    self.err(where, f"remove_flags: `{n}` is not a flag of {base_version}")
            for n in data.get("remove_env") or []:
                if env.pop(n, None) is None:
                    self.err(where, f"remove_env: `{n}` is not a variable of {base_version}")
        else:
            flags, env, deny = {}, {}, {}
        seen = Counter()
        for f in data.get("flags") or []:
            seen[f.get("name")] += 1
            flags[f.get("name")] = f
        for e in data.get("env") or []:
            seen["$" + str(e.get("name"))] += 1
            env[e.get("name")] = e
        for n, c in seen.items():
            if c > 1:
                self.err(where, f"`{n.lstrip('$')}` listed {c} times")
        for d in data.get("deny_env") or []:
            deny[d.get("name")] = d
        index: dict[str, dict] = {}
        names = Counter()
        for f in flags.values():
            names[f["name"]] += 1
            index[f["name"]] = f
            for a in f.get("aliases") or []:
                names[a] += 1
                index.setdefault(a, f)
        return {"flags": flags, "index": index, "names": names, "env_entries": env,
                "env": set(env), "deny": deny, "source": data.get("source", ""),
                "where": where}

    def check_resolved(self, where: str, engine: str, c: dict) -> None:
        for n, k in c["names"].items():
            if k > 1:
                self.err(where, f"flag name or alias `{n}` appears {k} times")
        owned = {n for n, f in c["flags"].items() if f.get("owned")}
        owned |= {a for n in owned for a in c["flags"][n].get("aliases") or []}
        for n in sorted(MUST_OWN[engine] - owned):
            self.err(where, f"`{n}` must be marked owned")
        # A release that reads one of these (vLLM 0.11 reads VLLM_ATTENTION_BACKEND) lists it.
        for n in sorted(MUST_DENY - set(c["deny"]) - c["env"]):
            self.err(where, f"deny_env lacks `{n}` (domain notes §1)")
        for n in sorted(set(c["deny"]) & c["env"]):
            self.err(where, f"`{n}` is both allowed and denied")

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
        if isinstance(value, list) and flag.get("nargs") in ("*", "+"):
            problems = [Checker.value_problem({**flag, "nargs": None}, v) for v in value]
            return next((p for p in problems if p), None)
        if t == "int":
            if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
                return Checker.range_problem(flag, int(value))
            return f"expected a whole number, found {value!r}"
        if t == "float":
            try:
                return Checker.range_problem(flag, float(value))
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

    @staticmethod
    def range_problem(flag: dict, v: float) -> str | None:
        lo, hi = flag.get("min"), flag.get("max")
        if lo is not None and (v < lo or (flag.get("exclusive_min") and v == lo)):
            return f"{v} is below its range ({'>' if flag.get('exclusive_min') else '>='} {lo})"
        if hi is not None and (v > hi or (flag.get("exclusive_max") and v == hi)):
            return f"{v} is above its range ({'<' if flag.get('exclusive_max') else '<='} {hi})"
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
        admits = self.admitted(where, engine, r.get("engines"))
        per_version: dict[str, list[str]] = {}
        for version in self.versions(engine):
            cat = self.catalogs[engine][version]
            found = self.arg_problems(engine, cat, args) + self.env_problems(engine, cat, env)
            per_version[version] = found
            if admits(version):
                for p in found:
                    self.err(where, f"{engine} {version}: {p}")
        self.evidence[rid] = (engine, per_version, r.get("engines"))
        if not any(admits(v) for v in self.versions(engine)):
            self.err(where, f"its `engines:` constraint admits no catalogued {engine} version "
                            f"({', '.join(self.versions(engine))})")
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

    def admitted(self, where: str, engine: str, engines) -> callable:
        """Which catalogued versions the recipe's `engines:` constraint admits."""
        if engines is None:
            return lambda v: True
        if not isinstance(engines, dict) or set(engines) - {"vllm", "sglang"}:
            self.err(where, "engines must map vllm/sglang to a version constraint")
            return lambda v: True
        if engine not in engines:
            self.err(where, f"engines: has no constraint for its own engine {engine}")
            return lambda v: True
        req = version_req(engines[engine])
        if req is None:
            self.err(where, f"engines.{engine}: {engines[engine]!r} is not a version constraint")
            return lambda v: True
        return lambda v: req(parse_version(v))

    def arg_problems(self, engine: str, cat: dict, args: dict) -> list[str]:
        out = []
        index = cat["index"]
        for name, value in args.items():
            if not isinstance(name, str) or name.startswith("-"):
                out.append(f"write flags without dashes: `{name}`")
                continue
            flag = index.get(name)
            negated = False
            if flag is None and name.startswith("no-"):
                base = index.get(name[3:])
                if base is not None and base.get("negatable"):
                    flag, negated = base, True
            if flag is None:
                other = "sglang" if engine == "vllm" else "vllm"
                hint = " (it is a flag of the other engine)" if any(
                    name in c["index"] for c in self.catalogs.get(other, {}).values()) else ""
                out.append(f"`--{name}` is not a flag{hint}")
                continue
            if flag.get("owned"):
                out.append(f"`--{name}` is set by aimgen itself")
                continue
            problem = self.value_problem(flag, None if negated else value)
            if problem:
                out.append(f"`--{name}` {problem}")
        return out

    def env_problems(self, engine: str, cat: dict, env: dict) -> list[str]:
        out = []
        for name, value in env.items():
            if name in cat["deny"] or name in self.deny:
                d = cat["deny"].get(name) or self.deny[name]
                out.append(f"`{name}` must not be used"
                           + (f"; use {d['instead']}" if d.get("instead") else ""))
                continue
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
                out.append(f"`{name}` is not a valid variable name")
            if not isinstance(value, str):
                out.append(f"`{name}`: write values as strings (\"{value}\")")
            if name.startswith(OWNED_PREFIXES[engine]) and name not in cat["env"]:
                out.append(f"`{name}` is not read by this version")
        return out

    def write_evidence(self, path: str) -> None:
        """Per recipe: the catalogued versions whose catalogue accepts it, and why each
        other version does not."""
        lines = [
            "# Per recipe: which catalogued engine versions accept its args/env (their parser",
            "# catalogues under recipes/engines/), and why the others do not. Written by",
            "# recipes/tools/check_recipes.py --versions; regenerate after a catalogue changes.",
            "# accepted = versions whose catalogue accepts it; suggested = the constraint that",
            "# admits exactly those (when they are a contiguous range of the catalogued ones).",
            "",
        ]
        summary = Counter()
        for rid in sorted(self.evidence):
            engine, per_version, current = self.evidence[rid]
            versions = self.versions(engine)
            ok = [v for v in versions if not per_version[v]]
            summary[(engine, tuple(ok))] += 1
            lines.append(f"{rid}  [{engine}]  accepted: {', '.join(ok) or 'none'}"
                         f"  suggested: {suggest(versions, ok)}"
                         + (f"  current: {current}" if current else ""))
            for v in versions:
                for p in per_version[v]:
                    lines.append(f"    {v}: {p}")
        lines.append("")
        lines.append("# Summary: recipes per accepted set")
        for (engine, ok), k in sorted(summary.items()):
            lines.append(f"# {k:4d}  {engine}: {', '.join(ok) or 'none'}")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def suggest(versions: list[str], ok: list[str]) -> str:
    """The constraint admitting exactly `ok` among `versions`, or `-` when none does."""
    if not ok:
        return "-"
    if ok == versions:
        return "(none needed)"
    idx = [versions.index(v) for v in ok]
    if idx != list(range(idx[0], idx[-1] + 1)):
        return "- (not a contiguous range)"
    parts = []
    if idx[0] > 0:
        parts.append(f">={ok[0]}")
    if idx[-1] < len(versions) - 1:
        parts.append(f"<{versions[idx[-1] + 1]}")
    return ",".join(parts)


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    argv = sys.argv[1:]
    evidence = None
    if "--versions" in argv:
        i = argv.index("--versions")
        if i + 1 >= len(argv):
            sys.exit("--versions needs a file")
        evidence = argv[i + 1]
        del argv[i:i + 2]
    positional = [a for a in argv if not a.startswith("-")]
    root = positional[0] if positional else os.path.dirname(here)
    c = Checker(root)
    c.load_catalogs()
    n, stats = c.check_recipes()
    if evidence:
        c.write_evidence(evidence)
        print(f"wrote {evidence}")
    if c.problems:
        for p in c.problems:
            print(p)
        print(f"{len(c.problems)} problem(s) in {n} recipes")
        return 1
    if "-v" in argv or "--verbose" in argv:
        for (model, engine, gpus), k in sorted(stats.items()):
            print(f"{k:3d}  {model:45s} {engine:7s} {gpus}")
    cats = ", ".join(f"{e} {v} ({len(c.catalogs[e][v]['flags'])} flags, "
                     f"{len(c.catalogs[e][v]['env'])} variables)"
                     for e in sorted(c.catalogs) for v in c.versions(e))
    print(f"ok: {n} recipes, each on every catalogued version it admits; catalogues: {cats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
