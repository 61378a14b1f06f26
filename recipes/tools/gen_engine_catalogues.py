#!/usr/bin/env python3
"""Regenerate recipes/engines/<engine>/<version>.yaml from an installed engine release.

The catalogues are derived, not hand-typed: this script builds the engine's own
argument parser and reads its environment-variable registry, then adds the few
facts aimgen needs on top (which flags aimgen owns, aliases, deny-list).

Run it with the Python of a venv that has the engine release installed (no GPU needed;
recipes/tools/engine_venv.sh makes one under .tools/engines/<engine>-<version>/):

    bash recipes/tools/engine_venv.sh vllm 0.33.0
    .tools/engines/vllm-0.33.0/bin/python recipes/tools/gen_engine_catalogues.py vllm recipes/engines

writes recipes/engines/vllm/0.33.0.yaml (the version is the installed distribution's).
`--base recipes/engines/vllm/0.33.0.yaml` writes a delta against that catalogue instead
(Contract A: `base`, `remove_flags`, `remove_env`, and the added or changed entries).

Nothing here imports the engine at aimgen build or test time; the YAML files are the
artefact, and recipes/tools/check_recipes.py checks recipes against them.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import inspect
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_parsers  # noqa: E402  (beside this file)

# --------------------------------------------------------------------------------------
# Facts aimgen adds on top of the engines' own data.

# Flags aimgen sets itself (model, revision, port, host, TP size, served name, cache dir).
OWNED = {
    "vllm": {"model", "model-tag", "revision", "tokenizer-revision", "port", "host",
             "tensor-parallel-size", "served-model-name", "download-dir"},
    "sglang": {"model-path", "revision", "port", "host", "tp-size", "served-model-name",
               "download-dir"},
}

# Extra aliases aimgen accepts (the engines accept them too: vLLM registers `-tp`,
# SGLang's argparse accepts the unambiguous prefix `--tp` for `--tp-size`).
EXTRA_ALIASES = {
    "vllm": {"model": ["model-path"]},
    "sglang": {"tp-size": ["tp"]},
}

# Flags whose value set is open (plugins or registries add names at run time): keep them
# `string` even when the parser lists choices, and name the built-in values in the help.
OPEN_VALUES = {
    "vllm": set(),
    "sglang": set(),
}

# Variables that must never be emitted, for both engines (domain notes §1, §3).
DENY_ENV = [
    ("VLLM_CACHE_DIR", "VLLM_CACHE_ROOT",
     "not a vLLM variable (vLLM warns about unknown VLLM_* names); the torch.compile "
     "cache root is VLLM_CACHE_ROOT and must stay writable"),
    ("TRANSFORMERS_CACHE", "HF_HOME",
     "deprecated and removed in transformers v5; the hub cache is $HF_HOME/hub "
     "(or set HF_HUB_CACHE)"),
    ("HF_HUB_ENABLE_HF_TRANSFER", "HF_XET_HIGH_PERFORMANCE",
     "not compression, and removed in huggingface_hub 1.0; HF_XET_HIGH_PERFORMANCE=1 "
     "speeds up downloads (prefetch job only)"),
    ("TRANSFORMERS_CACHE_SIZE", None,
     "no such variable; report the cache size with `hf cache ls` instead"),
    ("VLLM_USE_FP8", "--quantization fp8",
     "not a vLLM option; FP8 is `--quantization fp8` and/or `--kv-cache-dtype fp8`"),
    ("VLLM_USE_TRITON_FLASH_ATTN", "--attention-backend",
     "stale: not in vllm/envs.py (0.11.1 or 0.33.0); choose a backend with --attention-backend "
     "(on ROCm VLLM_ROCM_USE_AITER=1 lets vLLM pick the AITER backend)"),
    ("VLLM_ATTENTION_BACKEND", "--attention-backend",
     "stale: still in vLLM 0.11.1, gone from vllm/envs.py by 0.33.0 (unknown-variable warning); use the --attention-backend flag"),
    ("VLLM_USE_V1", None,
     "stale: V1 is the only engine; not in vllm/envs.py (0.11.1 or 0.33.0)"),
    ("VLLM_USE_AITER_TRITON_ROPE", "VLLM_ROCM_USE_AITER_TRITON_ROPE",
     "not a vLLM variable (seen in AIM profiles); the real switch is "
     "VLLM_ROCM_USE_AITER_TRITON_ROPE"),
]

# Variables outside the engine's own registry that AMD's and the engines' docs use with
# these images; listed so the catalogue documents them (aimgen only rejects unknown
# names with the engine's own prefix).
EXTRA_ENV = [
    ("HIP_VISIBLE_DEVICES", "ROCm: GPUs visible to HIP. Set one visibility variable per service, not both HIP_ and CUDA_."),
    ("ROCR_VISIBLE_DEVICES", "ROCm runtime: GPUs visible to the whole ROCm stack (applies below HIP)."),
    ("HSA_NO_SCRATCH_RECLAIM", "ROCm runtime: keep scratch memory allocated between kernels (AMD AIM profiles set 1)."),
    ("HIP_FORCE_DEV_KERNARG", "HIP: pass kernel arguments in device memory; faster launches (ROCm vLLM guide; default in ROCm vLLM images)."),
    ("TORCH_BLAS_PREFER_HIPBLASLT", "PyTorch on ROCm: prefer hipBLASLt over hipBLAS for GEMMs (ROCm vLLM guide, AIM general profiles)."),
    ("NCCL_MIN_NCHANNELS", "RCCL/NCCL: minimum channels; AMD recommends 112 on MI300X/MI325X for multi-GPU (TP/PP) only."),
    ("NCCL_DEBUG", "RCCL/NCCL: log level (WARN, INFO, TRACE)."),
    ("GPU_ARCHS", "AITER JIT: target GPU architecture for kernels built at run time (gfx942 = MI300X/MI325X, gfx950 = MI350X/MI355X)."),
    ("SAFETENSORS_FAST_GPU", "Load safetensors straight to GPU memory (ROCm vLLM guide; set in ROCm vLLM images)."),
    ("PYTORCH_TUNABLEOP_ENABLED", "PyTorch TunableOp: use tuned GEMM solutions (AIM custom profiles)."),
    ("PYTORCH_TUNABLEOP_TUNING", "PyTorch TunableOp: 1 = tune new GEMM shapes at run time, 0 = only use existing results."),
    ("PYTORCH_TUNABLEOP_VERBOSE", "PyTorch TunableOp: log what it does."),
    ("HF_HOME", "Hugging Face: root of hub cache ($HF_HOME/hub), token and modules cache."),
    ("HF_HUB_CACHE", "Hugging Face: hub cache folder (overrides $HF_HOME/hub)."),
    ("HF_HUB_OFFLINE", "Hugging Face: 1 = never contact the Hub; serve from the cache (needs a pinned sha revision)."),
    ("HF_MODULES_CACHE", "transformers: where remote-code modules are written (must be writable)."),
    ("HF_ENDPOINT", "Hugging Face: Hub endpoint (e.g. your own mirror)."),
    ("HF_TOKEN", "Hugging Face: access token for gated models (reference it as ${HF_TOKEN}, never write it)."),
    ("HF_XET_HIGH_PERFORMANCE", "huggingface_hub/hf-xet: faster downloads (prefetch job)."),
]


# --------------------------------------------------------------------------------------
# Text helpers.

def first_sentence(text: str | None, limit: int = 220) -> str | None:
    if not text:
        return None
    text = text.replace("%%", "%")
    # Drop JSON tips and docs links the engines append to every config flag.
    paras = [p for p in re.split(r"\n\s*\n", text.strip())
             if not re.match(r"\s*(API docs:|Should either be a valid JSON|Parse human-readable)", p)]
    if not paras:
        return None
    text = paras[0]
    text = re.sub(r"\s+", " ", text).strip()
    m = re.search(r"(?<=[a-z0-9)`'\"])\.(\s|$)", text)
    if m:
        text = text[: m.start() + 1]
    if len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0]
        text = cut.rstrip(",;:") + " …"
    return text or None


def yaml_str(s: str) -> str:
    """Double-quoted YAML scalar (always safe)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_value(v) -> str | None:
    """A JSON-compatible value as one line of YAML flow (None when it cannot be written)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return None
        text = repr(v)
        # `1e-05` is a float in YAML 1.2 but a string to YAML 1.1 readers: keep a dot.
        if "e" in text and "." not in text.split("e")[0]:
            text = text.replace("e", ".0e", 1)
        return text
    if isinstance(v, str):
        return yaml_str(v)
    if isinstance(v, (list, tuple)):
        items = [yaml_value(x) for x in v]
        return None if any(i is None for i in items) else "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        items = [(str(k), yaml_value(x)) for k, x in v.items()]
        if any(i is None for _, i in items):
            return None
        return "{" + ", ".join(f"{yaml_str(k)}: {i}" for k, i in items) + "}"
    return None


def number(v) -> str:
    return yaml_value(float(v) if isinstance(v, float) else int(v))


def flag_lines(f: dict) -> list[str]:
    out = [f"  - name: {f['name']}", f"    type: {f['type']}"]
    if f.get("choices"):
        out.append("    choices: [" + ", ".join(yaml_str(c) for c in f["choices"]) + "]")
    if f.get("negatable"):
        out.append("    negatable: true")
    if f.get("owned"):
        out.append("    owned: true")
    if f.get("aliases"):
        out.append("    aliases: [" + ", ".join(f["aliases"]) + "]")
    if f.get("nargs") is not None:
        out.append(f"    nargs: {yaml_str(str(f['nargs']))}")
    if "default" in f:
        out.append(f"    default: {f['default']}")
    for k in ("min", "max"):
        if f.get(k) is not None:
            out.append(f"    {k}: {number(f[k])}")
    for k in ("exclusive_min", "exclusive_max", "secret"):
        if f.get(k):
            out.append(f"    {k}: true")
    if f.get("help"):
        out.append(f"    help: {yaml_str(f['help'])}")
    return out


def env_lines(e: dict) -> list[str]:
    out = [f"  - name: {e['name']}"]
    if e.get("secret"):
        out.append("    secret: true")
    if e.get("help"):
        out.append(f"    help: {yaml_str(e['help'])}")
    return out


def deny_lines(d: dict) -> list[str]:
    out = [f"  - name: {d['name']}"]
    if d.get("instead"):
        out.append(f"    instead: {yaml_str(d['instead'])}")
    if d.get("why"):
        out.append(f"    why: {yaml_str(d['why'])}")
    return out


def emit(engine: str, version: str, source: str, flags: list[dict], env: list[dict],
         deny: list[dict], base: tuple[str, str] | None = None) -> str:
    """The catalogue file; with `base` = (version, text of a whole catalogue) a delta on it."""
    out = [
        f"# Generated by recipes/tools/gen_engine_catalogues.py from the installed {engine} "
        f"{version}",
        "# (its own argparse parser and variable registry); regenerate, do not edit by hand.",
        f"engine: {engine}",
        f"version: {yaml_str(version)}",
    ]
    sections = {
        "flags": [(f["name"], flag_lines(f)) for f in flags],
        "env": [(e["name"], env_lines(e)) for e in env],
        "deny_env": [(d["name"], deny_lines(d)) for d in deny],
    }
    removed: dict[str, list[str]] = {}
    if base is not None:
        base_version, base_text = base
        out.append(f"base: {yaml_str(base_version)}")
        old = split_sections(base_text)
        for key in ("flags", "env"):
            mine = {n for n, _ in sections[key]}
            removed[key] = sorted(n for n in old.get(key, {}) if n not in mine)
        for key in sections:
            sections[key] = [(n, ls) for n, ls in sections[key]
                             if old.get(key, {}).get(n) != "\n".join(ls)]
    out.append(f"source: {yaml_str(source)}")
    if removed.get("flags"):
        out.append("remove_flags: [" + ", ".join(removed["flags"]) + "]")
    if removed.get("env"):
        out.append("remove_env: [" + ", ".join(removed["env"]) + "]")
    for key, entries in sections.items():
        if not entries:
            out.append(f"{key}: []")
            continue
        out.append(f"{key}:")
        for _, lines in entries:
            out += lines
    return "\n".join(out) + "\n"


def split_sections(text: str) -> dict[str, dict[str, str]]:
    """The entries of a whole catalogue written by `emit`, as text, by section and name."""
    out: dict[str, dict[str, str]] = {}
    section = None
    current: list[str] = []

    def close():
        if section and current:
            out.setdefault(section, {})[current[0].split(": ", 1)[1]] = "\n".join(current)

    for line in text.splitlines():
        if not line.startswith(" ") and line.endswith(":") and line[:-1] in ("flags", "env", "deny_env"):
            close()
            section, current = line[:-1], []
        elif line.startswith("  - name: "):
            close()
            current = [line]
        elif line.startswith("    ") and current:
            current.append(line)
        elif not line.startswith(" "):
            close()
            section, current = None, []
    close()
    return out


# --------------------------------------------------------------------------------------
# Mapping argparse actions to catalogue entries.

JSON_TYPES = {"parse_dataclass", "loads", "json_list_type", "union_dict_and_str",
              "parse_cuda_graph_config_arg"}
INT_TYPES = {"int", "human_readable_int", "human_readable_int_or_auto"}


def type_name(t, depth: int = 0) -> str | None:
    """Innermost parser type name, unwrapping vLLM's optional_type/parse_type closures."""
    if t is None:
        return None
    name = getattr(t, "__name__", type(t).__name__)
    if name in ("_optional_type", "_parse_type") and t.__closure__ and depth < 5:
        for cell in t.__closure__:
            if callable(cell.cell_contents):
                return type_name(cell.cell_contents, depth + 1)
    return name


# A flag or variable whose value is a credential. Name rules (words split on - or _):
# a password/passphrase/secret word anywhere, or a last word `key`/`token` right after a word
# that makes it a credential (api-key, hf-token, SECRET_ACCESS_KEY). `speculative-token-map`,
# `*-token-threshold`, `time-to-first-token`, `ssl-keyfile` (a path), `graph-key` are not.
SECRET_WORDS = {"password", "passwd", "passphrase", "secret", "credential", "credentials"}
KEY_OWNERS = {"api", "access", "secret", "private", "auth", "apikey"}
TOKEN_OWNERS = {"hf", "hub", "api", "access", "auth", "bearer", "github", "refresh", "user"}
SECRET_HELP = re.compile(r"\b(api[ -]?key|password|passphrase|secret key|access token|"
                         r"auth(?:entication)? token|bearer token)\b", re.I)


def name_is_secret(name: str) -> bool:
    words = [w for w in re.split(r"[-_]", name.lower()) if w]
    if not words:
        return False
    if any(w in SECRET_WORDS for w in words) and words[-1] not in ("file", "path", "dir"):
        return True
    if words[-1] in ("key", "apikey"):
        return len(words) == 1 or words[-2] in KEY_OWNERS or words[-1] == "apikey"
    if words[-1] == "token":
        return len(words) == 1 or words[-2] in TOKEN_OWNERS
    return False


def is_secret(action) -> bool:
    if action.nargs == 0:
        return False  # a switch (allow-credentials) carries no value to hide
    names = [o.lstrip("-") for o in action.option_strings] + [action.dest or ""]
    if any(name_is_secret(n) for n in names):
        return True
    return bool(SECRET_HELP.search(action.help or "")) and "file" not in (action.dest or "")


def default_value(action, entry: dict) -> str | None:
    """The parser's default as YAML, when it is a plain value worth stating."""
    d = action.default
    if d is None or d is argparse.SUPPRESS or callable(d):
        return None
    if entry["type"] == "bool" and not entry.get("negatable"):
        return None  # a switch: off unless given
    if hasattr(d, "value") and not isinstance(d, (list, dict, str, int, float)):
        d = d.value  # an Enum member
    if is_secret(action):
        return None
    return yaml_value(d)


def classify(action, engine: str) -> dict | None:
    kind = type(action).__name__
    longs = [o for o in action.option_strings if o.startswith("--")]
    if not longs or kind in ("_HelpAction",):
        return None
    entry: dict = {}
    if kind in ("_StoreTrueAction", "DeprecatedStoreTrueAction", "_StoreConstAction",
                "DeprecatedStoreConstAction", "_StoreFalseAction"):
        entry["type"] = "bool"
    elif kind in ("BooleanOptionalAction", "EnableDisableAction"):
        entry["type"] = "bool"
        entry["negatable"] = True
    else:
        t = type_name(action.type)
        choices = [str(c) for c in (action.choices or []) if c is not None]
        if choices:
            entry["type"] = "choice"
            entry["choices"] = choices
        elif t in INT_TYPES:
            entry["type"] = "int"
        elif t == "float":
            entry["type"] = "float"
        elif t in JSON_TYPES:
            entry["type"] = "json"
        else:
            entry["type"] = "string"
        if action.nargs in ("+", "*") and entry["type"] != "choice":
            entry["multi"] = True
    if entry["type"] != "bool" and (action.nargs in ("?", "*", "+") or isinstance(action.nargs, int)):
        entry["nargs"] = str(action.nargs)
    shown = default_value(action, entry)
    if shown is not None:
        entry["default"] = shown
    if is_secret(action):
        entry["secret"] = True
    if "Deprecated" in kind or (action.help or "").lstrip().startswith("Deprecated"):
        entry["help"] = first_sentence((action.help or "").replace(". ", "; ", 1), 300)
    else:
        entry["help"] = first_sentence(action.help)
    if entry.get("multi"):
        entry["help"] = (entry["help"] + " (one or more values)") if entry["help"] else "One or more values."
    if "Deprecated" in kind and not (entry["help"] or "").startswith("Deprecated"):
        entry["help"] = "Deprecated: " + (entry["help"] or "")
    return entry


def flags_from_parser(parser, engine: str) -> list[dict]:
    owned = OWNED[engine]
    flags: dict[str, dict] = {}
    for action in parser._actions:
        base = classify(action, engine)
        if base is None:
            continue
        negative = set(getattr(action, "negative_option_strings", ()))
        opts = [o for o in action.option_strings]
        positives = [o for o in opts if o not in negative and not o.startswith("--no-")]
        if not positives:
            continue
        canonical = next(o for o in positives if o.startswith("--"))[2:]
        aliases = [o.lstrip("-") for o in positives if o.lstrip("-") != canonical]
        entry = {"name": canonical, **base, "_dest": action.dest}
        entry.pop("multi", None)
        aliases += EXTRA_ALIASES[engine].get(canonical, [])
        if aliases:
            entry["aliases"] = sorted(set(aliases))
        # Owned by any of its spellings: SGLang 0.4 calls --tp-size --tensor-parallel-size.
        if canonical in owned or owned & set(aliases):
            entry["owned"] = True
        if canonical in OPEN_VALUES[engine] and entry["type"] == "choice":
            entry["help"] = (entry.get("help") or "") + " Built-in values: " + ", ".join(entry.pop("choices")) + "."
            entry["type"] = "string"
        flags[canonical] = entry
        # vLLM's EnableDisableAction also registers the inverse spelling
        # (--disable-x for --enable-x): give it its own entry so `disable-x: null` works.
        for inv in sorted(o for o in negative if o.startswith("--") and not o.startswith("--no-")):
            name = inv[2:]
            if name in flags:
                continue
            flags[name] = {"name": name, "type": "bool",
                           "help": f"Same as --no-{canonical}."}
    # The positional MODEL of `vllm serve` is owned as well.
    if engine == "vllm" and "model" not in flags:
        flags["model"] = {"name": "model", "type": "string", "owned": True,
                          "aliases": ["model-path"], "help": "Model to serve."}
    return sorted(flags.values(), key=lambda f: f["name"])


# --------------------------------------------------------------------------------------
# vLLM.

def vllm_choices_overrides(flags: list[dict]) -> None:
    """Value sets vLLM checks after parsing (config validation), not in argparse."""
    from vllm.config.cache import CacheDType  # Literal
    from vllm.config.model import TokenizerMode
    from vllm.config.parallel import DistributedExecutorBackend
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS
    from typing import get_args
    fixed = {
        "kv-cache-dtype": list(get_args(CacheDType)),
        "quantization": list(QUANTIZATION_METHODS),
        "tokenizer-mode": list(get_args(TokenizerMode)),
        "distributed-executor-backend": list(get_args(DistributedExecutorBackend)),
    }
    open_sets = {}
    try:
        from vllm.reasoning import ReasoningParserManager
        open_sets["reasoning-parser"] = sorted(ReasoningParserManager.list_registered())
    except Exception:
        pass
    try:
        from vllm.tool_parsers import ToolParserManager
        open_sets["tool-call-parser"] = sorted(ToolParserManager.list_registered())
    except Exception:
        pass
    try:
        from vllm.model_executor.model_loader import _LOAD_FORMAT_TO_MODEL_LOADER
        open_sets["load-format"] = sorted(_LOAD_FORMAT_TO_MODEL_LOADER)
    except Exception:
        pass
    for f in flags:
        if f["name"] in fixed and f["type"] == "string":
            f["type"] = "choice"
            f["choices"] = fixed[f["name"]]
        elif f["name"] in open_sets:
            f["help"] = (f.get("help") or "").rstrip() + \
                " Built-in values: " + ", ".join(open_sets[f["name"]]) + \
                " (plugins may register more)."


def record_config_classes() -> list:
    """Wrap vllm.engine.arg_utils.get_kwargs so that building the parser records which config
    classes its flags come from (called before the parser is built)."""
    import vllm.engine.arg_utils as au

    seen: list = []
    real = au.get_kwargs

    def get_kwargs(cls, *a, **k):
        if cls not in seen:
            seen.append(cls)
        return real(cls, *a, **k)

    au.get_kwargs = get_kwargs
    return seen


def field_bounds(cls, name: str) -> dict | None:
    """min/max of a pydantic dataclass field (Field(gt=…, le=…)), which vLLM enforces when it
    builds the config from the parsed arguments."""
    field = (getattr(cls, "__pydantic_fields__", None) or {}).get(name)
    if field is None:
        return None
    out: dict = {}
    for m in field.metadata or []:
        for attr, key, excl in (("gt", "min", True), ("ge", "min", False),
                                ("lt", "max", True), ("le", "max", False)):
            v = getattr(m, attr, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[key] = v
                out["exclusive_" + key] = excl
    return out


def vllm_ranges(classes: list, flags: list[dict]) -> None:
    """Ranges from the pydantic constraints of the config field behind each numeric flag.
    A field name found in several of the parser's config classes with different
    constraints is left without a range rather than guessed."""
    for f in flags:
        if f["type"] not in ("int", "float"):
            continue
        found = []
        for cls in classes:
            b = field_bounds(cls, f.get("_dest", ""))
            if b is not None:
                found.append((cls.__name__, b))
        bounded = {repr(sorted(b.items())): (c, b) for c, b in found if b}
        if len(bounded) != 1 or len({repr(sorted(b.items())) for _, b in found}) != 1:
            continue
        cls_name, b = next(iter(bounded.values()))
        f.update({k: v for k, v in b.items() if v is not False})
        f["help"] = (f.get("help") or "").rstrip() + f" Range {interval(b)}: enforced by " \
            f"{cls_name}.{f['_dest']} (pydantic Field)."


def interval(b: dict) -> str:
    lo = ("(" if b.get("exclusive_min") else "[") + (str(b["min"]) if "min" in b else "-inf")
    hi = (str(b["max"]) if "max" in b else "inf") + (")" if b.get("exclusive_max") else "]")
    return f"{lo}, {hi}"


# Ranges an engine checks in code (or documents) that its parser does not state. Each applies
# to a version only when its evidence is found in that version's installed package (a source
# pattern) or in the flag's own help, and the help then names the evidence.
CHECKED_RANGES = {
    "vllm": [
        ("gpu-memory-utilization", {"min": 0, "exclusive_min": True, "max": 1},
         "source", r"gpu_memory_utilization\s*>\s*1(\.0)?\b",
         "vllm/config CacheConfig rejects values > 1; the help documents a fraction of GPU memory"),
    ],
    "sglang": [
        ("base-gpu-id", {"min": 0}, "source", r"assert \w+\.base_gpu_id >= 0",
         "SGLang's server-argument checks assert base_gpu_id >= 0"),
        ("gpu-id-step", {"min": 1}, "source", r"assert \w+\.gpu_id_step >= 1",
         "SGLang's server-argument checks assert gpu_id_step >= 1"),
        ("mem-fraction-static", {"min": 0, "exclusive_min": True, "max": 1}, "help",
         r"\bfraction of the( free)? (GPU )?memory",
         "the help documents a fraction of GPU memory"),
    ],
}


def package_text(pkg_dir: str) -> str:
    chunks = []
    for root, _dirs, files in os.walk(pkg_dir):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(root, f), encoding="utf-8", errors="ignore") as fh:
                    chunks.append(fh.read())
    return "\n".join(chunks)


def apply_checked_ranges(engine: str, pkg_dir: str, flags: list[dict]) -> None:
    by_name = {f["name"]: f for f in flags}
    text = None
    for name, bounds, kind, pattern, why in CHECKED_RANGES[engine]:
        f = by_name.get(name)
        if f is None or f["type"] not in ("int", "float") or "min" in f or "max" in f:
            continue
        if kind == "source":
            text = text if text is not None else package_text(pkg_dir)
            ok = re.search(pattern, text)
        else:
            ok = re.search(pattern, f.get("help") or "", re.I)
        if ok:
            f.update(bounds)
            f["help"] = (f.get("help") or "").rstrip() + f" Range {interval(bounds)}: {why}."


# Hand-written help where envs.py has no comment above the entry.
VLLM_ENV_HELP = {
    "VLLM_ROCM_USE_AITER": "ROCm: master switch for AITER kernels (off by default); the "
                           "VLLM_ROCM_USE_AITER_* sub-switches only act when it is 1.",
    "VLLM_DO_NOT_TRACK": "1 = send no usage statistics (also honours DO_NOT_TRACK).",
    "VLLM_NO_USAGE_STATS": "1 = disable usage statistics collection.",
    "VLLM_CACHE_ROOT": "Root of vLLM's caches (torch.compile artefacts etc.); default "
                       "~/.cache/vllm or $XDG_CACHE_HOME/vllm. Must be writable.",
}


def vllm_env_defaults(lines: list[str]) -> dict[str, str]:
    """`NAME: type = default` annotations in envs.py's TYPE_CHECKING block."""
    out = {}
    for line in lines:
        m = re.match(r"^    ([A-Z][A-Z0-9_]+): (.+?) = (.+)$", line)
        if m and m.group(1) not in out:
            default = m.group(3).strip()
            if len(default) > 40:
                default = default[:37] + "…"
            out[m.group(1)] = f"{m.group(2)}, default {default}"
    return out


def vllm_env_help(envs_path: str) -> dict[str, str]:
    """Comment lines directly above each key of envs.environment_variables."""
    lines = open(envs_path, encoding="utf-8").read().splitlines()
    defaults = vllm_env_defaults(lines)
    helps: dict[str, str] = {}
    start = next(i for i, l in enumerate(lines) if l.startswith("environment_variables"))
    comment: list[str] = []
    for line in lines[start + 1:]:
        if line.startswith("}"):
            break
        s = line.strip()
        m = re.match(r'^    "([A-Z0-9_]+)":', line)
        if m:
            text = " ".join(c for c in comment if not set(c) <= set("=- ")).strip()
            text = re.sub(r"=+.*?=+", "", text).strip()
            if text:
                helps[m.group(1)] = first_sentence(text)
            comment = []
        elif s.startswith("#"):
            comment.append(s.lstrip("#").strip())
        elif line.startswith("    ") and not line.startswith("     ") and s and not s.startswith("#"):
            comment = []
    for name in set(helps) | set(defaults) | set(VLLM_ENV_HELP):
        text = VLLM_ENV_HELP.get(name) or helps.get(name) or ""
        if name in defaults:
            text = (text.rstrip(".") + f" ({defaults[name]})").strip()
        helps[name] = text
    return helps


def build_vllm(base) -> str:
    # vLLM only attaches the config docstrings to the parser when it sees --help.
    sys.argv.append("--help")
    import vllm.envs as envs

    engine_parsers.stub_vllm_platform()
    classes = record_config_classes()
    parser = engine_parsers.vllm_parsers()["serve"]
    flags = flags_from_parser(parser, "vllm")
    vllm_choices_overrides(flags)
    vllm_ranges(classes, flags)
    apply_checked_ranges("vllm", os.path.dirname(envs.__file__), flags)
    helps = vllm_env_help(inspect.getsourcefile(envs))
    env = [{"name": n, "help": helps.get(n)} for n in sorted(envs.environment_variables)]
    known = {e["name"] for e in env}
    env += [{"name": n, "help": h} for n, h in EXTRA_ENV if n not in known]
    for e in env:
        if name_is_secret(e["name"]):
            e["secret"] = True
    # A variable this release does read is not denied for it (VLLM_ATTENTION_BACKEND is
    # the only way to pick a backend in vLLM 0.11.0, which has no --attention-backend).
    read = {e["name"] for e in env}
    deny = [{"name": n, "instead": i, "why": w} for n, i, w in DENY_ENV if n not in read]
    version = importlib.metadata.version("vllm")
    source = (f"vllm {version} (PyPI wheel): flags from the `vllm serve` parser "
              "(vllm/entrypoints/common/cli_args.py make_arg_parser + vllm/engine/arg_utils.py "
              "EngineArgs/AsyncEngineArgs.add_cli_args), value sets from vllm/config/*.py; "
              "variables from vllm/envs.py environment_variables (vLLM warns on any other "
              "VLLM_* name, vllm/platforms/interface.py validate_environ); ranges from the "
              "pydantic constraints of the vllm/config/*.py fields behind each flag, plus the "
              "checks named in each flag's help; defaults as the parser gives them with the "
              "device probes stubbed (a CUDA-typed platform, no GPU)")
    return emit("vllm", version, source, strip(flags), env, deny, base)


# --------------------------------------------------------------------------------------
# SGLang.

SGLANG_ENV_HELP = {
    "SGLANG_USE_AITER": "ROCm: use AMD AITER kernels (SGLang's ROCm images set 1; "
                        "needed for --attention-backend aiter)",
    "SGLANG_CACHE_DIR": "Root of SGLang's JIT/compile caches (Triton, inductor, FlashInfer "
                        "are redirected under it); must be writable",
}


def sglang_env(pkg_dir: str) -> list[dict]:
    names: dict[str, str] = {}
    E = sglang_environ()
    if E is not None:
        names = sglang_registry(E, pkg_dir)
    deprecated = set(getattr(E, "_DEPRECATED_ENVS", {}))
    # Variables read directly (os.environ / get_bool_env_var / envs) outside the registry;
    # before srt/environ.py existed (0.4.x) this is the only source.
    pattern = re.compile(r"""["']((?:SGLANG|SGL)_[A-Z0-9_]*[A-Z0-9])["']""")
    for root, _dirs, files in os.walk(pkg_dir):
        rel = os.path.relpath(root, pkg_dir)
        if "test" in rel.split(os.sep) or rel.startswith("test"):
            continue
        for f in sorted(files):
            if not f.endswith(".py") or f.startswith("test_"):
                continue
            path = os.path.join(root, f)
            for m in pattern.finditer(open(path, encoding="utf-8", errors="ignore").read()):
                n = m.group(1)
                if n not in names and n not in deprecated:
                    names[n] = f"read directly by sglang/{os.path.relpath(path, pkg_dir)}"
    return [{"name": n, "help": h} for n, h in sorted(names.items()) if n not in deprecated]


def sglang_environ():
    """SGLang's variable registry (srt/environ.py, from 0.5), or None."""
    try:
        import sglang.srt.environ as E
        return E
    except ImportError:
        return None


def sglang_registry(E, pkg_dir: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for klass in type(E.envs).__mro__:
        for k, v in vars(klass).items():
            if isinstance(v, E.EnvField) and k not in names:
                kind = type(v).__name__.replace("WithAlias", "").replace("Env", "").lower() or "value"
                default = v.default
                shown = "computed" if callable(default) else repr(default)
                if len(shown) > 40:
                    shown = shown[:37] + "…"
                names[k] = f"{kind}, default {shown} (sglang/srt/environ.py)"
    # Comments directly above a field in the Envs class body.
    src = open(os.path.join(pkg_dir, "srt", "environ.py"), encoding="utf-8").read().splitlines()
    comment: list[str] = []
    for line in src:
        s = line.strip()
        m = re.match(r"^    ([A-Z][A-Z0-9_]+) = Env", line)
        if m:
            if comment and m.group(1) in names:
                names[m.group(1)] = first_sentence(" ".join(comment)) + " (" + names[m.group(1)] + ")"
            comment = []
        elif s.startswith("#"):
            text = s.lstrip("#").strip()
            if text and set(text) <= set("=-*~ "):
                comment = []  # section banner: what came before is its title
            else:
                comment.append(text)
        else:
            comment = []
    for n, text in SGLANG_ENV_HELP.items():
        if n in names:
            names[n] = text + " (" + names[n].split(" (")[-1].rstrip(")") + ")" if "(" in names[n] else text
    return names


def build_sglang(base) -> str:
    import sglang

    E = sglang_environ()

    parser = engine_parsers.sglang_parser()
    flags = flags_from_parser(parser, "sglang")
    apply_checked_ranges("sglang", os.path.dirname(sglang.__file__), flags)
    for f in flags:
        if f["name"] in ("reasoning-parser", "tool-call-parser"):
            # Parsers come from a registry that plugins extend.
            f["help"] = (f.get("help") or "").split(" Options include")[0]
    pkg_dir = os.path.dirname(sglang.__file__)
    env = sglang_env(pkg_dir)
    known = {e["name"] for e in env}
    env += [{"name": n, "help": h} for n, h in EXTRA_ENV if n not in known]
    env.sort(key=lambda e: e["name"])
    for e in env:
        if name_is_secret(e["name"]):
            e["secret"] = True
    # A variable this release does read is not denied for it (VLLM_ATTENTION_BACKEND is
    # the only way to pick a backend in vLLM 0.11.0, which has no --attention-backend).
    read = {e["name"] for e in env}
    deny = [{"name": n, "instead": i, "why": w} for n, i, w in DENY_ENV if n not in read]
    for n, dep in sorted(getattr(E, "_DEPRECATED_ENVS", {}).items()):
        why = "deprecated in SGLang (sglang/srt/environ.py _DEPRECATED_ENVS)"
        if dep.note:
            why += ": " + dep.note
        deny.append({"name": n, "instead": dep.replacement, "why": why})
    version = importlib.metadata.version("sglang")
    source = (f"sglang {version} (PyPI wheel): flags from ServerArgs.add_cli_args "
              "(python/sglang/srt/server_args.py + srt/arg_groups/), as used by "
              "`python3 -m sglang.launch_server`; variables from srt/environ.py (Envs, when the "
              "release has it) plus "
              "SGLANG_*/SGL_* names read directly elsewhere in the package (tests excluded); "
              "ranges only where SGLang's own checks or help state one (named in the help)")
    return emit("sglang", version, source, strip(flags), env, deny, base)


def rebase(text: str, base_text: str) -> str | None:
    """A whole catalogue rewritten as a delta on another whole one (same engine), or None
    when a delta cannot say it: a delta can drop flags and variables of its base but not
    denied variables."""
    def header(t, key):
        m = re.search(rf'^{key}: (.+)$', t, re.M)
        return m.group(1) if m else None

    mine, old = split_sections(text), split_sections(base_text)
    if header(text, "engine") != header(base_text, "engine") or header(base_text, "base"):
        return None
    if set(old.get("deny_env", {})) - set(mine.get("deny_env", {})):
        return None
    out = [l for l in text.splitlines()[:2]]
    out += [f"engine: {header(text, 'engine')}", f"version: {header(text, 'version')}",
            f"base: {header(base_text, 'version')}", f"source: {header(text, 'source')}"]
    for key, removal in (("flags", "remove_flags"), ("env", "remove_env")):
        gone = sorted(n for n in old.get(key, {}) if n not in mine.get(key, {}))
        if gone:
            out.append(f"{removal}: [" + ", ".join(gone) + "]")
    for key in ("flags", "env", "deny_env"):
        changed = [v for n, v in mine.get(key, {}).items() if old.get(key, {}).get(n) != v]
        out.append(f"{key}:" if changed else f"{key}: []")
        out += changed
    return "\n".join(out) + "\n"


def strip(flags: list[dict]) -> list[dict]:
    return [{k: v for k, v in f.items() if not k.startswith("_")} for f in flags]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("engine", choices=["vllm", "sglang"])
    ap.add_argument("out", help="the catalogue folder (recipes/engines): writes <engine>/<version>.yaml")
    ap.add_argument("--base", help="write a delta against this whole catalogue file")
    ap.add_argument("--rebase", metavar="WHOLE", help="no engine needed: rewrite the whole "
                    "catalogue file WHOLE as a delta on --base, into OUT/<engine>/<version>.yaml")
    a = ap.parse_args()
    if a.rebase:
        if not a.base:
            sys.exit("--rebase needs --base")
        text = rebase(open(a.rebase, encoding="utf-8").read(), open(a.base, encoding="utf-8").read())
        if text is None:
            sys.exit(f"{a.rebase}: cannot be a delta on {a.base} (other engine, base is a delta, "
                     "or a denied variable of the base is not denied here)")
        version = re.search(r'^version: "([^"]+)"$', text, re.M).group(1)
        path = os.path.join(a.out, a.engine, version + ".yaml")
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        print(f"wrote {path}", file=sys.stderr)
        return
    base = None
    if a.base:
        text = open(a.base, encoding="utf-8").read()
        m = re.search(r'^version: "([^"]+)"$', text, re.M)
        if not m or re.search(r"^base:", text, re.M):
            sys.exit(f"{a.base}: not a whole catalogue written by this script")
        base = (m.group(1), text)
    sys.argv = sys.argv[:1]
    text = build_vllm(base) if a.engine == "vllm" else build_sglang(base)
    version = re.search(r'^version: "([^"]+)"$', text, re.M).group(1)
    path = os.path.join(a.out, a.engine, version + ".yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
