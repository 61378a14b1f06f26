"""The engines' own command-line parsers, built without a GPU.

Shared by recipes/tools/gen_engine_catalogues.py (which reads the parsers into catalogues)
and scripts/engine_truth.py (which parses every generated server command with them). Run
with the Python of a venv that has the engine release installed
(recipes/tools/engine_venv.sh).

Only device probes are stubbed (vLLM's current platform, SGLang's GPU memory and device
queries); the parsers, their types and choices, and the post-parse validation are the
engine's own code, imported from the installed release.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys


def first_attr(candidates: list[tuple[str, str]]):
    """The first `module.attr` of `candidates` that imports: the engines move things between
    releases (vllm.utils → vllm.utils.argparse_utils, openai.cli_args → common.cli_args)."""
    errors = []
    for module, attr in candidates:
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            errors.append(f"{module}.{attr}: {e}")
    raise ImportError("none of these imports: " + "; ".join(errors))


# --------------------------------------------------------------------------------------
# vLLM

_VLLM_READY = False


def stub_vllm_platform() -> None:
    """vLLM picks a platform by probing devices (NVML, ROCm SMI, …) and, since 0.11.1, builds
    config defaults from it while adding CLI arguments. Here there is no GPU: make the
    current platform a CUDA-typed UnspecifiedPlatform. Nothing in the parser is replaced."""
    global _VLLM_READY
    if _VLLM_READY:
        return
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("VLLM_DO_NOT_TRACK", "1")
    import vllm.platforms as platforms
    from vllm.platforms.interface import UnspecifiedPlatform

    class _Cuda(UnspecifiedPlatform):  # device type only; no device is touched
        device_type = "cuda"
        device_name = "cuda"

    platforms._current_platform = _Cuda()
    _VLLM_READY = True


def vllm_parsers() -> dict:
    """`vllm` (its `serve` subcommand, as vllm/entrypoints/cli/main.py builds it),
    `python3 -m vllm.entrypoints.openai.api_server` (make_arg_parser on a bare parser, as
    that module's __main__ does), and validate_parsed_serve_args, which both run after
    parsing."""
    stub_vllm_platform()
    flexible = first_attr([("vllm.utils.argparse_utils", "FlexibleArgumentParser"),
                           ("vllm.utils", "FlexibleArgumentParser")])
    # The functions `vllm serve` itself uses, wherever this release keeps them
    # (openai.cli_args ≤ 0.11, launchers.cli_args, common.cli_args).
    import vllm.entrypoints.cli.serve as serve_module
    from vllm.entrypoints.cli.serve import ServeSubcommand

    homes = ["vllm.entrypoints.cli.serve", "vllm.entrypoints.common.cli_args",
             "vllm.entrypoints.launchers.cli_args", "vllm.entrypoints.openai.cli_args"]
    make = first_attr([(m, "make_arg_parser") for m in homes])
    validate = first_attr([(m, "validate_parsed_serve_args") for m in homes])
    del serve_module

    top = flexible(prog="vllm", description="vLLM CLI")
    subparsers = top.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand()
    serve_parser = serve.subparser_init(subparsers)
    serve_parser.set_defaults(dispatch_function=serve.cmd)
    api_server = make(flexible(prog="api_server.py",
                               description="vLLM OpenAI-Compatible RESTful API server."))
    return {"vllm": top, "serve": serve_parser, "api_server": api_server,
            "validate": validate, "serve_validate": serve.validate}


# --------------------------------------------------------------------------------------
# SGLang

_SGLANG_READY = False


def stub_sglang_devices() -> None:
    """SGLang's ServerArgs.__post_init__ sizes defaults from the GPU (memory capacity, device
    name, compute capability). Answer those probes as one 80 GB CUDA device would; the
    parser and the argument checks stay SGLang's own."""
    global _SGLANG_READY
    if _SGLANG_READY:
        return
    import sglang.srt.server_args as sa

    gib80 = 80 * 1024  # MiB, the unit get_device_memory_capacity returns
    stubs = {
        "get_device_memory_capacity": lambda *a, **k: gib80,
        "get_nvgpu_memory_capacity": lambda *a, **k: gib80,
        "get_amdgpu_memory_capacity": lambda *a, **k: gib80,
        "get_hpu_memory_capacity": lambda *a, **k: gib80,
        "is_cuda": lambda *a, **k: True,
        "is_cuda_alike": lambda *a, **k: True,
        "is_hip": lambda *a, **k: False,
        "is_npu": lambda *a, **k: False,
        "is_xpu": lambda *a, **k: False,
        "is_cpu": lambda *a, **k: False,
        "is_hpu": lambda *a, **k: False,
        "is_mps": lambda *a, **k: False,
        "is_musa": lambda *a, **k: False,
        "is_flashinfer_available": lambda *a, **k: True,
        "is_sm100_supported": lambda *a, **k: False,
        "is_sm90_supported": lambda *a, **k: True,
        "get_device_sm": lambda *a, **k: 90,
        "get_device_name": lambda *a, **k: "NVIDIA H100 80GB HBM3",
        "get_device_capability": lambda *a, **k: (9, 0),
        "get_device": lambda *a, **k: "cuda",
    }
    modules = [sa]
    for name in ("sglang.srt.utils", "sglang.srt.utils.common", "sglang.srt.arg_groups",
                 "sglang.srt.platforms"):
        with contextlib.suppress(Exception):
            modules.append(importlib.import_module(name))
    for name in list(sys.modules):
        if name.startswith("sglang.srt.arg_groups.") and sys.modules[name] is not None:
            modules.append(sys.modules[name])
    for m in modules:
        for attr, fn in stubs.items():
            if hasattr(m, attr):
                setattr(m, attr, fn)
    _SGLANG_READY = True


def sglang_parser() -> argparse.ArgumentParser:
    """The parser `python3 -m sglang.launch_server` builds (ServerArgs.add_cli_args)."""
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog="launch_server.py")
    ServerArgs.add_cli_args(parser)
    return parser


# --------------------------------------------------------------------------------------
# Parsing one argv the way the process would


class Rejected(Exception):
    """The engine refused the command line; the message is the engine's own text."""


def _run(fn, *args):
    """Call `fn`, turning argparse's exit(2) and any exception into Rejected with the text
    the engine printed or raised."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return fn(*args)
    except SystemExit as e:
        raise Rejected(argparse_message(err.getvalue(), e.code)) from None
    except Rejected:
        raise
    except Exception as e:  # the engine's own validation (ValueError, AssertionError, …)
        raise Rejected(f"{type(e).__name__}: {e}") from None


def argparse_message(stderr: str, code) -> str:
    """argparse's `prog: error: …` (which may span lines when an argument does), on one
    line and at most 400 characters; the usage text before it is dropped."""
    lines = stderr.strip().splitlines()
    start = max((i for i, l in enumerate(lines) if ": error: " in l), default=None)
    if start is None:
        return lines[-1] if lines else f"exit {code}"
    msg = " ".join(l.strip() for l in lines[start:])
    return msg if len(msg) <= 400 else msg[:397] + "…"


def parse_vllm(parsers: dict, argv: list[str]) -> str:
    """Parse a vLLM server argv: `vllm serve …` or `python3 -m vllm.entrypoints.openai.api_server …`.
    Returns a one-word description of the entry point used; raises Rejected."""
    prog, rest = split_program(argv)
    if prog == "vllm":
        args = _run(parsers["vllm"].parse_args, rest)
        if getattr(args, "subparser", None) != "serve":
            raise Rejected(f"`vllm {rest[0] if rest else ''}` is not `vllm serve`")
        _run(parsers["serve_validate"], args)
        return "vllm serve"
    if prog == "module:vllm.entrypoints.openai.api_server":
        args = _run(parsers["api_server"].parse_args, rest)
        _run(parsers["validate"], args)
        return "api_server"
    raise Rejected(f"not a vLLM server command: {' '.join(argv[:3])} …")


def parse_sglang(argv: list[str]) -> str:
    """Parse `python3 -m sglang.launch_server …` with SGLang's own prepare_server_args
    (ServerArgs.add_cli_args, from_cli_args, __post_init__ and its checks)."""
    prog, rest = split_program(argv)
    if prog != "module:sglang.launch_server":
        raise Rejected(f"not an SGLang server command: {' '.join(argv[:3])} …")
    from sglang.srt.server_args import prepare_server_args

    stub_sglang_devices()
    _run(prepare_server_args, rest)
    return "sglang.launch_server"


PYTHONS = {"python", "python3"}


def split_program(argv: list[str]) -> tuple[str, list[str]]:
    """('vllm', rest) for `vllm …`, ('module:M', rest) for `python3 -m M …`,
    ('python:-c', rest) for `python3 -c …`, else (argv[0], rest)."""
    if not argv:
        return "", []
    exe = os.path.basename(argv[0])
    if exe in PYTHONS or (exe.startswith("python3.") and exe[8:].isdigit()):
        if len(argv) >= 3 and argv[1] == "-m":
            return "module:" + argv[2], argv[3:]
        if len(argv) >= 2 and argv[1] == "-c":
            return "python:-c", argv[2:]
        return "python", argv[1:]
    return exe, argv[1:]
