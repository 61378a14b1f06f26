#!/usr/bin/env python3
"""Regenerate recipes/engines/{vllm,sglang}.yaml from an installed engine.

The catalogues are derived, not hand-typed: this script builds the engine's own
argument parser and reads its environment-variable registry, then adds the few
facts aimgen needs on top (which flags aimgen owns, aliases, deny-list).

Run it with a Python that has the engine installed (no GPU needed):

    python -m venv /tmp/v && /tmp/v/bin/pip install vllm==X.Y.Z
    /tmp/v/bin/python recipes/tools/gen_engine_catalogues.py vllm recipes/engines/vllm.yaml

    # SGLang: install its wheel with --no-deps next to vLLM (they share torch etc.)
    /tmp/v/bin/pip install --no-deps sglang==X.Y.Z   # plus ipython if it asks
    /tmp/v/bin/python recipes/tools/gen_engine_catalogues.py sglang recipes/engines/sglang.yaml

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


def emit(engine: str, source: str, flags: list[dict], env: list[dict], deny: list[dict]) -> str:
    out = [
        f"# Generated by recipes/tools/gen_engine_catalogues.py from the installed {engine};",
        "# edit the generator (or regenerate), not this file.",
        f"engine: {engine}",
        f"source: {yaml_str(source)}",
        "flags:",
    ]
    for f in flags:
        out.append(f"  - name: {f['name']}")
        out.append(f"    type: {f['type']}")
        if f.get("choices"):
            out.append("    choices: [" + ", ".join(yaml_str(c) for c in f["choices"]) + "]")
        if f.get("negatable"):
            out.append("    negatable: true")
        if f.get("owned"):
            out.append("    owned: true")
        if f.get("aliases"):
            out.append("    aliases: [" + ", ".join(f["aliases"]) + "]")
        if f.get("help"):
            out.append(f"    help: {yaml_str(f['help'])}")
    out.append("env:")
    for e in env:
        out.append(f"  - name: {e['name']}")
        if e.get("help"):
            out.append(f"    help: {yaml_str(e['help'])}")
    out.append("deny_env:")
    for d in deny:
        out.append(f"  - name: {d['name']}")
        if d.get("instead"):
            out.append(f"    instead: {yaml_str(d['instead'])}")
        if d.get("why"):
            out.append(f"    why: {yaml_str(d['why'])}")
    return "\n".join(out) + "\n"


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
        entry = {"name": canonical, **base}
        entry.pop("multi", None)
        aliases += EXTRA_ALIASES[engine].get(canonical, [])
        if aliases:
            entry["aliases"] = sorted(set(aliases))
        if canonical in owned:
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


def build_vllm() -> str:
    # vLLM only attaches the config docstrings to the parser when it sees --help.
    sys.argv.append("--help")
    import vllm
    import vllm.envs as envs
    import vllm.platforms as platforms
    from vllm.platforms.interface import UnspecifiedPlatform

    class _Cuda(UnspecifiedPlatform):  # lets the parser build without a GPU
        device_type = "cuda"

    platforms._current_platform = _Cuda()
    from vllm.utils.argparse_utils import FlexibleArgumentParser
    from vllm.entrypoints.common.cli_args import make_arg_parser

    parser = make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))
    flags = flags_from_parser(parser, "vllm")
    vllm_choices_overrides(flags)
    helps = vllm_env_help(inspect.getsourcefile(envs))
    env = [{"name": n, "help": helps.get(n)} for n in sorted(envs.environment_variables)]
    known = {e["name"] for e in env}
    env += [{"name": n, "help": h} for n, h in EXTRA_ENV if n not in known]
    deny = [{"name": n, "instead": i, "why": w} for n, i, w in DENY_ENV]
    version = importlib.metadata.version("vllm")
    source = (f"vllm {version} (PyPI wheel): flags from the `vllm serve` parser "
              "(vllm/entrypoints/common/cli_args.py make_arg_parser + vllm/engine/arg_utils.py "
              "EngineArgs/AsyncEngineArgs.add_cli_args), value sets from vllm/config/*.py; "
              "variables from vllm/envs.py environment_variables (vLLM warns on any other "
              "VLLM_* name, vllm/platforms/interface.py validate_environ)")
    return emit("vllm", source, flags, env, deny)


# --------------------------------------------------------------------------------------
# SGLang.

SGLANG_ENV_HELP = {
    "SGLANG_USE_AITER": "ROCm: use AMD AITER kernels (SGLang's ROCm images set 1; "
                        "needed for --attention-backend aiter)",
    "SGLANG_CACHE_DIR": "Root of SGLang's JIT/compile caches (Triton, inductor, FlashInfer "
                        "are redirected under it); must be writable",
}


def sglang_env(pkg_dir: str) -> list[dict]:
    import sglang.srt.environ as E

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
    deprecated = set(getattr(E, "_DEPRECATED_ENVS", {}))
    # Variables read directly (os.environ / get_bool_env_var) outside the registry.
    pattern = re.compile(r"""["'](SGLANG_[A-Z0-9_]+)["']""")
    for root, _dirs, files in os.walk(pkg_dir):
        rel = os.path.relpath(root, pkg_dir)
        if "test" in rel.split(os.sep) or rel.startswith("test"):
            continue
        for f in files:
            if not f.endswith(".py") or f.startswith("test_"):
                continue
            path = os.path.join(root, f)
            for m in pattern.finditer(open(path, encoding="utf-8", errors="ignore").read()):
                n = m.group(1)
                if n not in names and n not in deprecated:
                    names[n] = f"read directly by sglang/{os.path.relpath(path, pkg_dir)}"
    env = [{"name": n, "help": h} for n, h in sorted(names.items()) if n not in deprecated]
    return env


def build_sglang() -> str:
    import sglang
    import sglang.srt.environ as E
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog="sglang serve")
    ServerArgs.add_cli_args(parser)
    flags = flags_from_parser(parser, "sglang")
    for f in flags:
        if f["name"] in ("reasoning-parser", "tool-call-parser"):
            # Parsers come from a registry that plugins extend.
            f["help"] = (f.get("help") or "").split(" Options include")[0]
    pkg_dir = os.path.dirname(sglang.__file__)
    env = sglang_env(pkg_dir)
    known = {e["name"] for e in env}
    env += [{"name": n, "help": h} for n, h in EXTRA_ENV if n not in known]
    env.sort(key=lambda e: e["name"])
    deny = [{"name": n, "instead": i, "why": w} for n, i, w in DENY_ENV]
    for n, dep in sorted(getattr(E, "_DEPRECATED_ENVS", {}).items()):
        why = "deprecated in SGLang (sglang/srt/environ.py _DEPRECATED_ENVS)"
        if dep.note:
            why += ": " + dep.note
        deny.append({"name": n, "instead": dep.replacement, "why": why})
    version = importlib.metadata.version("sglang")
    source = (f"sglang {version} (PyPI wheel): flags from ServerArgs.add_cli_args "
              "(python/sglang/srt/server_args.py + srt/arg_groups/), as used by "
              "`python3 -m sglang.launch_server`; variables from srt/environ.py (Envs) plus "
              "SGLANG_* names read directly elsewhere in the package (tests excluded)")
    return emit("sglang", source, flags, env, deny)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("engine", choices=["vllm", "sglang"])
    ap.add_argument("out")
    a = ap.parse_args()
    text = build_vllm() if a.engine == "vllm" else build_sglang()
    with open(a.out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
