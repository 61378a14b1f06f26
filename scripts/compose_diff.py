#!/usr/bin/env python3
"""Differential property test: aimgen's output read back by Compose v2 itself.

Generates fleets whose free-text fields (env values, engine argument values, served model
names, pip entries, model paths, the cache's host folder and mount, user recipe env and
argument values, user recipe file names, spec file names) are filled from a seeded generator
biased toward YAML, Compose, env-file and Dockerfile metacharacters and every Unicode
line-break and control class, and whose resource limits (`serving.ulimits`, a service's
`ulimits`) are drawn from Docker's names and edge values (-1, 0, 2^63-1, soft below hard),
with some invalid ones aimgen must refuse. For each fleet:

  1. `aimgen render SPEC` (standard output) and `aimgen render SPEC -o DIR`;
  2. `docker-compose-v2 config --format json` on both;
  3. the services, volumes and top-level keys must be exactly what the spec implies (no key
     added, none lost), and every value must read back byte for byte: environment (inline,
     and through the env files), command arguments, served names, mounts, resource limits
     (soft and hard, or none at all), and the pip words of the Dockerfile (split as a
     Dockerfile line and a POSIX shell would).

A field aimgen refuses must be one the sink cannot hold (`may_refuse` says which): the
refused fields are dropped and the fleet rendered again. One case is one generated service
with all its fields. Prints the seed of every failing fleet with the command that replays
it, and a summary with the time taken.

    scripts/compose_diff.py [--cases N] [--per-fleet K] [--seed S] [--jobs J] [--keep]

Environment: AIMGEN (binary; default target/release/aimgen), COMPOSE (default
.tools/bin/docker-compose-v2, installed by scripts/conformance.sh).
"""
import argparse
import concurrent.futures
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = ["Qwen/Qwen3-32B", "meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mistral-7B-Instruct-v0.2"]
# vLLM flags that take free text (recipes/engines/vllm: type string, no choices).
TEXT_FLAGS = ["chat-template", "allowed-local-media-path"]

BIDI = {0x061C, 0x200E, 0x200F} | set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))

# Pieces the generator strings together: YAML indicators and look-alikes, Compose
# interpolation, env-file quoting and comments, Dockerfile instructions and continuations,
# shell quoting, and every class of line break and control character.
META = [
    ": ", "- ", "#", " #", "&a", "*a", "!tag", "!!str", "{", "}", "[", "]", ",", "?", "|", ">",
    "'", '"', "\\", "\\n", "$", "$$", "${HF_TOKEN}", "${X:-y}", "$X", "%", "@", "`", "=", "~",
    "yes", "no", "null", "0x1F", "1e3", ".inf", "---", "...", "<<", "*", "\t", " ", "  ",
    "\n", "\r", "\r\n", "\n\n", "\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\x85", "\x9b",
    "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\u202e", "\u200e", "\u2066", "\xa0",
    "RUN rm -rf /", "ENV X=1", "FROM scratch", "\\\n", "privileged: true", "\nprivileged: true",
    "\u2028privileged: true", "\u2028  x: 1", "é", "ß", "\U0001F600", "日本", "'\"'", "\\'",
    "#!/bin/sh", "$(id)", ";", "&&", "|", "*", "?", "\\$", "EOF", "PY",
]
PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:"

# Docker's resource limit names (go-units `ulimitNameMapping`), and look-alikes it lacks.
ULIMIT_NAMES = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
                "rss", "rtprio", "rttime", "sigpending", "stack"]
ULIMIT_WRONG_NAMES = ["as", "nofle", "Stack", "NOFILE", "memlock ", "rlimit_nofile", "open-files"]
ULIMIT_VALUES = [-1, 0, 1, 8, 1024, 65536, 67108864, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1]


def unsafe(c):
    o = ord(c)
    return unicodedata.category(c) == "Cc" or o in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF) or o in BIDI


def one_line(s):
    return not any(unsafe(c) for c in s)


def text(rng, max_parts=6):
    parts = []
    for _ in range(rng.randint(0, max_parts)):
        if rng.random() < 0.55:
            parts.append(rng.choice(META))
        else:
            parts.append("".join(rng.choice(PLAIN) for _ in range(rng.randint(1, 6))))
    return "".join(parts)


def ulimits(rng):
    """A `ulimits` mapping: mostly valid entries, some aimgen must refuse."""
    out = {}
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(ULIMIT_WRONG_NAMES) if rng.random() < 0.08 else rng.choice(ULIMIT_NAMES)

        def value():
            return rng.choice([-2, -3, -(2**63)]) if rng.random() < 0.05 else rng.choice(ULIMIT_VALUES)

        if rng.random() < 0.5:
            out[name] = value()
        else:
            soft, hard = value(), value()
            if rng.random() < 0.85 and hard != -1 and (soft == -1 or soft > hard):
                soft, hard = hard, soft  # mostly soft <= hard; the rest must be refused
            out[name] = {"soft": soft, "hard": hard}
    return out


def ulimit_pair(v):
    """(soft, hard) of a limit as the spec or Compose writes it. Compose's JSON leaves a zero
    `soft` or `hard` out (`core: 0` reads back as `{}`), and its own conversion takes the
    missing field as 0, so a missing one is 0 here too."""
    if isinstance(v, int):
        return (v, v)
    if not isinstance(v, dict) or set(v) - {"soft", "hard"}:
        raise TypeError(f"not a limit: {v!r}")
    return (v.get("soft", 0), v.get("hard", 0))


def path_text(rng):
    """An absolute path with hostile segments (no `/` inside a segment)."""
    segs = []
    for _ in range(rng.randint(1, 3)):
        s = text(rng, 3).replace("/", "_") or "x"
        segs.append(s)
    return "/" + "/".join(segs)


def yaml_str(s):
    """A YAML double-quoted scalar that libyaml (aimgen's parser) reads back exactly."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif unsafe(c) or c == "\t":
            out.append("\\u%04X" % o)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def y(v, ind=0):
    """YAML for nested dicts/lists/str/int/bool/None (block mappings, flow-free)."""
    pad = "  " * ind
    if isinstance(v, dict):
        if not v:
            return " {}\n"
        out = "\n"
        for k, x in v.items():
            out += f"{pad}{yaml_str(k)}:{y(x, ind + 1)}"
        return out
    if isinstance(v, list):
        if not v:
            return " []\n"
        out = "\n"
        for x in v:
            out += f"{pad}-{y(x, ind + 1)}"
        return out
    if v is None:
        return " null\n"
    if isinstance(v, bool):
        return " true\n" if v else " false\n"
    if isinstance(v, int):
        return f" {v}\n"
    return f" {yaml_str(v)}\n"


# --- what aimgen may refuse (the sinks that cannot hold a value) ----------------------------


def may_refuse(kind, value):
    if kind == "env":
        # Compose's env-file parser reads `\'` as an escaped quote even in single quotes.
        return not one_line(value) or "'" in value or value.endswith("\\")
    if kind == "served":
        return value == "" or not one_line(value)
    if kind == "pip":
        return value.strip() == "" or not one_line(value) or value.startswith("-")
    if kind == "arg":
        return "\x00" in value
    if kind == "ulimit":
        name, v = value
        soft, hard = ulimit_pair(v)
        return (name not in ULIMIT_NAMES or soft < -1 or hard < -1
                or (hard != -1 and (soft == -1 or soft > hard)))
    if kind == "path":
        return (not value.startswith("/") or not one_line(value) or any(c in value for c in ":$'\\")
                or ".." in value.split("/") or clean_path(value) == "/")
    return False


SCRATCH = "/var/cache/aimgen"


def clean_path(p):
    """A mount path as Compose reads it (Go's path.Clean: `.` and empty segments dropped; `..`
    never reaches here, aimgen refuses it). aimgen writes paths in this form, so Compose's
    read-back must equal it byte for byte."""
    if not p.startswith("/"):
        return p
    return "/" + "/".join(x for x in p.split("/") if x not in ("", "."))


def overlaps_a_mount(f, key, value):
    """Two mounts at one container path (or one inside the other) are refused by design:
    Compose would keep only one of them. Only a model path or the cache mount can collide."""
    def inside(a, b):
        return a == b or a.startswith(b + "/")

    def overlap(a, b):
        a, b = a.rstrip("/"), b.rstrip("/")
        return bool(a) and bool(b) and (inside(a, b) or inside(b, a))

    if not isinstance(value, str):
        return False
    value = clean_path(value)
    if key == "/cache/mount":
        return overlap(value, SCRATCH)
    if key.endswith("/model_path"):
        return overlap(value, SCRATCH) or overlap(value, clean_path(f.cache.get("mount", "/workspace/model-cache")))
    return False


class Fleet:
    def __init__(self, seed, n):
        rng = random.Random(seed)
        self.seed = seed
        self.name = f"f{seed % 100000}"
        self.services = {}
        self.fields = {}  # pointer -> (kind, value)
        used = set()
        # Service names in the allowed set, including every name a generated file has.
        specials = ["common", "services", "env", "aimgen", "docker-compose.cache.yml", "dockerfile.optimized",
                    "common.env", "prefetch", "aimgen.lock"]
        self.recipe_env = {}
        self.recipe_args = {}
        for i in range(n):
            name = specials[i] if i < len(specials) and rng.random() < 0.7 else f"s{i}-{rng.randint(0, 99)}"
            if name.replace("_", "-").replace(".", "-") in used:
                name = f"s{i}"
            used.add(name.replace("_", "-").replace(".", "-"))
            svc = {"model": rng.choice(MODELS), "gpus": 1}
            at = f"/services/{name}"
            env = {}
            for j in range(rng.randint(0, 3)):
                k = f"AIMGEN_T{j}_{rng.randint(0, 999)}"
                v = text(rng)
                env[k] = v
                self.fields[f"{at}/env/{k}"] = ("env", v)
            if env:
                svc["env"] = env
            args = {}
            for flag in rng.sample(TEXT_FLAGS, rng.randint(0, 2)):
                v = text(rng)
                args[flag] = v
                self.fields[f"{at}/args/{flag}"] = ("arg", v)
            if args:
                svc["args"] = args
            if rng.random() < 0.6:
                v = text(rng, 4)
                svc["served_model_name"] = v
                self.fields[f"{at}/served_model_name"] = ("served", v)
            if rng.random() < 0.2:
                v = path_text(rng)
                svc["model_path"] = v
                self.fields[f"{at}/model_path"] = ("path", v)
            if rng.random() < 0.3:
                lim = ulimits(rng)
                svc["ulimits"] = lim
                for k, v in lim.items():
                    self.fields[f"{at}/ulimits/{k}"] = ("ulimit", (k, v))
            if rng.random() < 0.3:
                svc["recipe"] = "user/r-%d" % i
                self.recipe_env[i] = {f"AIMGEN_R{j}": text(rng) for j in range(rng.randint(0, 2))}
                self.recipe_args[i] = {"chat-template": text(rng)} if rng.random() < 0.5 else {}
                svc["_recipe_index"] = i
            self.services[name] = svc
        self.pip = [text(rng, 3) for _ in range(rng.randint(0, 3))]
        for i, p in enumerate(self.pip):
            self.fields[f"/image/pip/{i}"] = ("pip", p)
        self.serving = {}
        if rng.random() < 0.4:
            self.serving["ulimits"] = ulimits(rng)
            for k, v in self.serving["ulimits"].items():
                self.fields[f"/serving/ulimits/{k}"] = ("ulimit", (k, v))
        self.cache = {}
        if rng.random() < 0.4:
            self.cache["host_path"] = path_text(rng)
            self.fields["/cache/host_path"] = ("path", self.cache["host_path"])
        if rng.random() < 0.4:
            self.cache["mount"] = path_text(rng)
            self.fields["/cache/mount"] = ("path", self.cache["mount"])
        # File names: anything a file system takes (no `/`, no NUL).
        self.spec_file = (text(rng, 3).replace("/", "_").replace("\x00", "") or "fleet") + ".yaml"
        self.recipe_file = (text(rng, 3).replace("/", "_").replace("\x00", "") or "r") + ".yaml"
        if self.spec_file in (".yaml",) or len(self.spec_file.encode()) > 200:
            self.spec_file = "fleet.yaml"
        if len(self.recipe_file.encode()) > 200:
            self.recipe_file = "r.yaml"

    def drop(self, pointer):
        """Removes a refused field from the spec (or the recipe)."""
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        self.fields.pop(pointer, None)
        if parts[:2] == ["image", "pip"]:
            self.pip[int(parts[2])] = None
        elif parts[0] == "cache":
            self.cache.pop(parts[1], None)
        elif parts[:2] == ["serving", "ulimits"]:
            self.serving["ulimits"].pop(parts[2], None)
        elif parts[0] == "services" and len(parts) >= 3:
            svc = self.services[parts[1]]
            if len(parts) == 3:
                svc.pop(parts[2], None)
            else:
                svc.get(parts[2], {}).pop(parts[3], None)
        elif parts[0] == "recipes" and len(parts) >= 4:
            i = int(parts[1])
            (self.recipe_env if parts[2] == "env" else self.recipe_args)[i].pop(parts[3], None)
        else:
            return False
        return True

    def spec_text(self):
        services = {}
        for name, svc in self.services.items():
            services[name] = {k: v for k, v in svc.items() if not k.startswith("_")}
        spec = {
            "version": 1,
            "name": self.name,
            "host": {"gpu": {"vendor": "amd", "model": "MI300X", "count": max(1, len(self.services))}},
            "recipes": ["./recipes"],
            "services": services,
        }
        pip = [p for p in self.pip if p is not None]
        if pip:
            spec["image"] = {"pip": pip}
        if self.cache:
            spec["cache"] = dict(self.cache)
        if self.serving:
            spec["serving"] = dict(self.serving)
        return y(spec)[1:]

    def recipe_text(self):
        recipes = []
        for name, svc in self.services.items():
            i = svc.get("_recipe_index")
            if i is None:
                continue
            r = {
                "id": f"user/r-{i}",
                "models": [svc["model"]],
                "engine": "vllm",
                "gpu": {"vendor": "amd", "models": ["MI300X"]},
                "gpu_count": 1,
                "precision": "bf16",
                "metric": "latency",
                "type": "optimized",
            }
            if self.recipe_args[i]:
                r["args"] = dict(self.recipe_args[i])
            if self.recipe_env[i]:
                r["env"] = dict(self.recipe_env[i])
            recipes.append(r)
        return y({"recipes": recipes})[1:] if recipes else "recipes: []\n"


def run(cmd, cwd=None, env=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout, p.stderr


def compose_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("COMPOSE_") and k not in ("HF_TOKEN", "DOCKER_HOST")}
    return env


def dockerfile_pip(text):
    """The pip words of `RUN pip install --no-cache-dir …`, as a Dockerfile line (with `\\`
    continuations) and then a POSIX shell split it."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("RUN pip install"):
            joined = ""
            j = i
            while True:
                cur = lines[j]
                if cur.endswith("\\"):
                    joined += cur[:-1]
                    j += 1
                else:
                    joined += cur
                    break
            words = shlex.split(joined[len("RUN "):], posix=True)
            assert words[:3] == ["pip", "install", "--no-cache-dir"], words
            return words[3:]
    return []


def unescape(v):
    # Compose's `config` prints `$` as `$$` (its output is valid Compose input).
    return v.replace("$$", "$") if isinstance(v, str) else v


def check_doc(f, doc, env_of, label, problems, dockerfile):
    def fail(msg):
        problems.append(f"{label}: {msg}")

    # One prefetch job per distinct Hub model (its name carries a hash aimgen computes).
    got = set(doc.get("services", {}))
    jobs_got = {n for n in got - set(f.services) if n.startswith("aimgen-prefetch-")}
    want_jobs = {(s["model"], s.get("revision", "main")) for s in f.services.values() if "model_path" not in s}
    if (got - jobs_got) != set(f.services) or len(jobs_got) != len(want_jobs):
        fail(f"services {sorted(got ^ set(f.services))} differ from the spec ({len(want_jobs)} prefetch jobs expected)")
        return
    allowed_top = {"name", "services", "volumes", "networks", "secrets", "x-aimgen-build", "x-aimgen-prefetch-script"}
    if set(doc) - allowed_top:
        fail(f"unexpected top-level keys {sorted(set(doc) - allowed_top)}")
    if unescape(doc.get("name")) != f.name:
        fail(f"project name {doc.get('name')!r}")
    want_vols = {"engine-scratch"} | (set() if "host_path" in f.cache else {"model-cache"})
    if set(doc.get("volumes", {})) != want_vols:
        fail(f"volumes {sorted(doc.get('volumes', {}))} != {sorted(want_vols)}")
    forbidden = {"privileged", "pid", "network_mode", "volumes_from", "userns_mode", "cgroup_parent"}
    for name, s in doc["services"].items():
        if set(s) & forbidden:
            fail(f"{name}: has {sorted(set(s) & forbidden)}")
        if name in jobs_got and "ulimits" in s:
            fail(f"{name}: a prefetch job has ulimits {s['ulimits']!r}")
        if not set(s.get("cap_add") or []) <= {"SYS_PTRACE"}:
            fail(f"{name}: cap_add {s.get('cap_add')}")
    mount = clean_path(f.cache.get("mount", "/workspace/model-cache"))
    for name, svc in f.services.items():
        s = doc["services"][name]
        env = {k: unescape(v) for k, v in (s.get("environment") or {}).items()}
        want = dict(svc.get("env", {}))
        i = svc.get("_recipe_index")
        if i is not None:
            for k, v in f.recipe_env[i].items():
                want.setdefault(k, v)
        for k, v in want.items():
            if env.get(k) != v:
                fail(f"{name}: env {k} = {env.get(k)!r}, spec says {v!r}")
        cmd = [unescape(a) for a in (s.get("command") or [])]
        args = dict(svc.get("args", {}))
        if i is not None:
            for k, v in f.recipe_args[i].items():
                args.setdefault(k, v)
        for flag, v in args.items():
            try:
                at = cmd.index(f"--{flag}")
                if cmd[at + 1] != v:
                    fail(f"{name}: --{flag} {cmd[at + 1]!r}, spec says {v!r}")
            except (ValueError, IndexError):
                fail(f"{name}: --{flag} missing from {cmd!r}")
        if "served_model_name" in svc:
            try:
                at = cmd.index("--served-model-name")
                if cmd[at + 1] != svc["served_model_name"]:
                    fail(f"{name}: served name {cmd[at + 1]!r}, spec says {svc['served_model_name']!r}")
            except (ValueError, IndexError):
                fail(f"{name}: --served-model-name missing")
        vols = s.get("volumes") or []
        targets = {unescape(v.get("target")): v for v in vols}
        if mount not in targets:
            fail(f"{name}: no cache mount at {mount!r} in {sorted(targets)}")
        elif "host_path" in f.cache and unescape(targets[mount].get("source")) != clean_path(f.cache["host_path"]):
            fail(f"{name}: cache source {targets[mount].get('source')!r}")
        # The service's own limits, else the fleet's, else the AMD default: none (no key).
        want_lim = svc["ulimits"] if "ulimits" in svc else f.serving.get("ulimits", {})
        got_lim = s.get("ulimits")
        if not want_lim:
            if got_lim is not None:
                fail(f"{name}: ulimits {got_lim!r}, the spec wants none")
        else:
            try:
                got = {k: ulimit_pair(v) for k, v in (got_lim or {}).items()}
            except (TypeError, KeyError) as e:
                got = {"unreadable": repr(e)}
            want = {k: ulimit_pair(v) for k, v in want_lim.items()}
            if got != want:
                fail(f"{name}: ulimits read back as {got!r}, spec says {want!r}")
        if "model_path" in svc:
            m = targets.get(clean_path(svc["model_path"]))
            if not m or unescape(m.get("source")) != clean_path(svc["model_path"]):
                fail(f"{name}: model_path mount missing or wrong")
    if dockerfile is not None:
        want_pip = [p for p in f.pip if p is not None]
        got_pip = dockerfile_pip(dockerfile)
        if got_pip != want_pip:
            fail(f"pip words {got_pip!r} != {want_pip!r}")
    try:
        # Each job's list is its prefetch program's last argument.
        jobs = []
        for n in sorted(jobs_got):
            arg = json.loads(unescape(doc["services"][n]["command"][-1]))
            jobs.extend(arg if isinstance(arg, list) else [arg])
        if {j["repo"] for j in jobs} != {s["model"] for s in f.services.values() if "model_path" not in s}:
            fail("prefetch jobs name other models than the spec")
    except Exception as e:  # noqa: BLE001 - any failure to read it back is the finding
        fail(f"prefetch argument does not read back: {e}")


def one_fleet(seed, per_fleet, aimgen, compose, work, keep):
    f = Fleet(seed, per_fleet)
    d = os.path.join(work, f"fleet-{seed}")
    os.makedirs(os.path.join(d, "recipes"))
    problems = []
    refused = 0
    stats = {"renders": 0, "compose": 0}
    for attempt in range(6):
        with open(os.path.join(d, f.spec_file), "w", encoding="utf-8") as fh:
            fh.write(f.spec_text())
        rdir = os.path.join(d, "recipes")
        for old in os.listdir(rdir):
            os.remove(os.path.join(rdir, old))
        with open(os.path.join(rdir, f.recipe_file), "w", encoding="utf-8") as fh:
            fh.write(f.recipe_text())
        code, out, err = run([aimgen, "render", "./" + f.spec_file, "--format", "json"], cwd=d)
        stats["renders"] += 1
        if code == 0:
            break
        try:
            diags = json.loads(out.decode("utf-8", "replace"))["diagnostics"]
        except Exception:  # noqa: BLE001
            problems.append(f"render exit {code} without JSON diagnostics: {out[:300]!r} {err[:300]!r}")
            return f, problems, refused, stats
        errors = [x for x in diags if x["severity"] == "error"]
        progressed = False
        dropped_now = set()
        for x in errors:
            p = x.get("pointer") or ""
            in_recipe = os.path.basename(x.get("path") or "") == f.recipe_file
            key = p
            if in_recipe:
                parts = p.split("/")
                if len(parts) >= 5 and parts[1] == "recipes":
                    # /recipes/<n>/env/K: map the n-th written recipe back to its index.
                    written = [s.get("_recipe_index") for s in f.services.values() if s.get("_recipe_index") is not None]
                    i = written[int(parts[2])]
                    kind = "env" if parts[3] == "env" else "arg"
                    value = (f.recipe_env if kind == "env" else f.recipe_args)[i].get(parts[4])
                    if value is None or not may_refuse(kind, value):
                        problems.append(f"recipe value refused without cause: {x['message']} ({value!r})")
                        continue
                    key = f"/recipes/{i}/{parts[3]}/{parts[4]}"
                    refused += 1
                    progressed |= f.drop(key)
                    continue
            if "/ulimits/" in key and key.rsplit("/", 1)[-1] in ("soft", "hard"):
                key = key.rsplit("/", 1)[0]  # a limit's soft or hard value: the limit is the field
            field = f.fields.get(key)
            if field is None and key in dropped_now:
                continue  # a second reason to refuse a value already dropped this round
            if field is None:
                problems.append(f"refusal of something the generator did not vary: {x['message']} at {p!r}")
                continue
            kind, value = field
            if not (may_refuse(kind, value) or overlaps_a_mount(f, key, value)):
                problems.append(f"{p}: {value!r} refused although the sink holds it: {x['message']}")
                continue
            refused += 1
            dropped_now.add(key)
            progressed |= f.drop(key)
        if problems or not progressed:
            if not problems:
                problems.append(f"render keeps failing: {[x['message'] for x in errors][:5]}")
            return f, problems, refused, stats
    else:
        problems.append("render still refuses after 6 rounds")
        return f, problems, refused, stats
    # Human format: `--format json` puts the diagnostics report on standard output too.
    code, out, err = run([aimgen, "render", "./" + f.spec_file], cwd=d)
    stats["renders"] += 1
    if code != 0:
        problems.append(f"render failed although render --format json did not: {err[:400]!r}")
        return f, problems, refused, stats
    stdout_file = os.path.join(d, "stdout.yml")
    with open(stdout_file, "wb") as fh:
        fh.write(out)
    out_dir = os.path.join(d, "out")
    code, _, err = run([aimgen, "render", "./" + f.spec_file, "-o", "out"], cwd=d)
    stats["renders"] += 1
    if code != 0:
        problems.append(f"render -o failed although render did not: {err[:400]!r}")
        return f, problems, refused, stats
    for label, cwd, file in (("stdout", d, "stdout.yml"), ("-o", out_dir, "docker-compose.cache.yml")):
        code, cout, cerr = run([compose, "-f", file, "config", "--format", "json"], cwd=cwd, env=compose_env())
        stats["compose"] += 1
        if code != 0:
            problems.append(f"{label}: compose config failed: {cerr.decode('utf-8', 'replace')[:600]}")
            continue
        doc = json.loads(cout)
        if label == "stdout":
            # The one service that builds the image carries the Dockerfile inline.
            builds = [s.get("build") or {} for s in doc["services"].values()]
            inline = next((b["dockerfile_inline"] for b in builds if "dockerfile_inline" in b), None)
            dockerfile = unescape(inline) if inline is not None else None
            if dockerfile is None:
                problems.append("stdout: no dockerfile_inline")
        else:
            with open(os.path.join(out_dir, "Dockerfile.optimized"), encoding="utf-8") as fh:
                dockerfile = fh.read()
        check_doc(f, doc, None, label, problems, dockerfile)
    if not keep and not problems:
        shutil.rmtree(d, ignore_errors=True)
    return f, problems, refused, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=2000, help="generated services in all (default 2000)")
    ap.add_argument("--per-fleet", type=int, default=25, help="services per fleet (default 25)")
    ap.add_argument("--seed", type=int, default=None, help="first fleet's seed (default: random, printed)")
    ap.add_argument("--fleets", type=int, default=None, help="number of fleets (overrides --cases)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", action="store_true", help="keep every fleet's folder")
    a = ap.parse_args()
    aimgen = os.environ.get("AIMGEN") or os.path.join(ROOT, "target", "release", "aimgen")
    compose = os.environ.get("COMPOSE") or os.path.join(ROOT, ".tools", "bin", "docker-compose-v2")
    for tool in (aimgen, compose):
        if not os.access(tool, os.X_OK):
            sys.exit(f"compose_diff: {tool} is not an executable (build aimgen; run scripts/conformance.sh --install-only)")
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 2**31)
    fleets = a.fleets or -(-a.cases // a.per_fleet)
    work = tempfile.mkdtemp(prefix="aimgen-compose-diff.")
    print(f"[compose-diff] seed {seed}: {fleets} fleets x {a.per_fleet} services, {a.jobs} jobs, in {work}")
    t0 = time.time()
    failed, cases, refused, fields = [], 0, 0, 0
    totals = {"renders": 0, "compose": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = [pool.submit(one_fleet, seed + k, a.per_fleet, aimgen, compose, work, a.keep) for k in range(fleets)]
        for fut in concurrent.futures.as_completed(futs):
            f, problems, r, stats = fut.result()
            cases += len(f.services)
            fields += len(f.fields) + r
            refused += r
            for k in totals:
                totals[k] += stats[k]
            if problems:
                failed.append(f.seed)
                print(f"[compose-diff] FAIL seed {f.seed} (replay: scripts/compose_diff.py --seed {f.seed} --fleets 1 "
                      f"--per-fleet {a.per_fleet} --keep)")
                for p in problems[:10]:
                    print(f"    {p}")
    took = time.time() - t0
    print(f"[compose-diff] {cases} cases (services) in {fleets} fleets, {fields} hostile field values "
          f"({refused} refused at input, the rest read back by Compose), {totals['renders']} renders, "
          f"{totals['compose']} Compose runs, {took:.1f}s")
    if failed:
        print(f"[compose-diff] {len(failed)} failing fleets, seeds: {sorted(failed)[:20]}")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("[compose-diff] ok")


if __name__ == "__main__":
    main()
