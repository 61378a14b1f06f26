#!/usr/bin/env python3
"""The claim test: the Kubernetes target's "serve only after the download", run for real.

  k8s_claim.py AIMGEN_BINARY

Run by scripts/kubernetes.sh with the python of a venv holding the real huggingface_hub (and
PyYAML). It writes a fleet of four servers on three models (two servers share `claim/alpha`,
one serves `claim/beta`, one `claim/missing`, which the Hub does not have), renders it with
`aimgen render FLEET --target kubernetes -o DIR`, and reads the manifests: every Job's
container and every Deployment's initContainers are run on this host as processes, exactly as
rendered (command, args, env, the ConfigMap's scripts), the way the kubelet would start them:

  - `$(VAR)` in command, args and env values is expanded by the kubelet's rule (`$$` is `$`);
  - env comes from `value`, `secretKeyRef` (a fake Secret store: absent in one scenario, with
    a fake token in another; a missing non-optional key refuses to start, as the kubelet
    does), `configMapKeyRef` and `fieldRef`;
  - each volumeMount's mountPath, wherever it appears in command, args or env, becomes a
    host folder: the PersistentVolumeClaim one shared temporary folder (the claim), each
    ConfigMap its keys written as files with the volume's mode, each emptyDir a fresh folder;
  - PATH leads to the venv's python3 (the image's python), and proxies point nowhere so that
    nothing but the mock Hub on 127.0.0.1 can be reached.

The mock Hub is tests/e2e/mock_hub.py, as it is, serving small generated model folders. The
one change to a manifest value: the initContainer's timeout (its one all-digit argument) is
shortened so that a timeout happens within the test.

Checked, in three interleavings (waits before jobs, jobs in reverse order before waits, all at
once): a server's wait returns 0 only after its own model's Job completed, and at that moment
its model loads offline, complete, with the server container's own environment
(HF_HUB_OFFLINE and the cache paths it is given); a wait does not return on another model's
marker; the failing Job (repository not found) exits non-zero, writes no marker, and its
server's wait times out with a log line naming the Job; a Job run again on a complete claim
downloads nothing; HF_TOKEN reaches the Hub from the Job's Secret, and a missing optional
Secret does not stop the Job.

Prints one PASS/FAIL line per check and a closing `N passed, M failed`; exit 1 on a failure.
"""

import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
AIMGEN = os.path.abspath(sys.argv[1])
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
TOKEN = "hf_k8s_claim_fake_token"
SERVICES = {"alpha-1": "claim/alpha", "alpha-2": "claim/alpha", "beta": "claim/beta", "missing": "claim/missing"}
ON_HUB = ("claim/alpha", "claim/beta")
# How long a wait may take to notice a marker: its own polling period plus a loaded machine.
NOTICE = 60.0
# How long a Job is held mid-download: longer than the wait's polling period (5 s), shorter
# than huggingface_hub's read timeout (10 s), after which it would retry.
HELD = 8.0
# The wait timeout given to the server of the failing Job when it must outlast that Job.
MISSING_TIMEOUT = 45

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    print(("PASS  " if ok else "FAIL  ") + what, flush=True)
    if not ok and detail:
        print("      | " + str(detail).rstrip().replace("\n", "\n      | "), flush=True)
    if ok:
        passed += 1
    else:
        failed += 1
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_models(root):
    """One commit per repository: what `save_pretrained` writes, with stand-in bytes."""
    for repo in ON_HUB:
        folder = os.path.join(root, repo, "v1")
        os.makedirs(folder)
        with open(os.path.join(root, repo, "commits.json"), "w") as f:
            json.dump(["v1"], f)
        seed = hashlib.sha256(repo.encode()).digest()
        files = {
            "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
                                       "num_hidden_layers": 2}).encode(),
            "generation_config.json": b"{}",
            "tokenizer.json": json.dumps({"version": "1.0", "seed": seed.hex()}).encode(),
            "tokenizer_config.json": b"{}",
            "model.safetensors": seed * (1 << 16),  # 2 MiB: an LFS file, served through the CDN
        }
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)


class Hub:
    def __init__(self, work):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        models = os.path.join(work, "models")
        make_models(models)
        self.log = open(os.path.join(work, "hub.log"), "a")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "mock_hub.py"), "--bind", "127.0.0.1", "--port", str(self.port),
             "--models", models, "--cdn-host", "localhost", "--expect-token", TOKEN],
            stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/_health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("mock hub did not start")
        # The fleet's hf_endpoint: the gate in front of the Hub.
        self.gate = Gate(self)
        self.endpoint = self.gate.url

    def stats(self):
        return json.loads(urllib.request.urlopen(self.url + "/_stats", timeout=5).read())

    def bytes_sent(self):
        return sum(f.get("bytes", 0) for f in self.stats()["files"].values())

    def stop(self):
        self.gate.stop()
        self.proc.terminate()
        self.proc.wait()


class Gate:
    """A reverse proxy in front of the mock Hub (the fleet's hf_endpoint is this one): it can
    hold a repository's LFS downloads (the CDN requests) until released, so that a Job stays
    mid-download as long as the test wants."""

    HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}

    def __init__(self, hub):
        self.hub, self.port = hub, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.held, self.reached = {}, {}
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.forward()

            def do_GET(self):
                self.forward()

            def forward(self):
                repo = urllib.parse.unquote(self.path.split("/")[2]) if self.path.startswith("/_cdn/") else None
                if repo in gate.held:
                    gate.reached[repo].set()
                    gate.held[repo].wait()
                conn = http.client.HTTPConnection("127.0.0.1", gate.hub.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in Gate.HOP}
                conn.request(self.command, self.path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in Gate.HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", r.getheader("Content-Length") if self.command == "HEAD"
                                 and r.getheader("Content-Length") else str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                conn.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self, repo):
        self.held[repo], self.reached[repo] = threading.Event(), threading.Event()

    def release(self, repo):
        self.held.pop(repo).set()

    def stop(self):
        for e in self.held.values():
            e.set()
        self.server.shutdown()


# --- reading the manifests ----------------------------------------------------------------

def render(work, hub):
    spec = os.path.join(work, "fleet.yaml")
    services = "".join(f"  {name}:\n    model: {repo}\n    gpus: 1\n" for name, repo in SERVICES.items())
    with open(spec, "w") as f:
        f.write("version: 1\nname: k8s-claim\nhost:\n  gpu: {vendor: amd, model: MI300X, count: 8}\n"
                f"image:\n  base: rocm/vllm:test\ncache:\n  hf_endpoint: \"{hub.endpoint}\"\n"
                f"services:\n{services}")
    out = os.path.join(work, "rendered")
    r = subprocess.run([AIMGEN, "render", spec, "--target", "kubernetes", "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"aimgen render --target kubernetes failed (exit {r.returncode}):\n{r.stderr}")
    with open(os.path.join(out, "kustomization.yaml")) as f:
        resources = yaml.safe_load(f)["resources"]  # scripts/kubernetes.sh checks it lists every manifest
    objects = []
    for name in resources:
        with open(os.path.join(out, name)) as f:
            objects += [d for d in yaml.safe_load_all(f) if d]
    return objects


def expand(text, env):
    """The kubelet's $(VAR) expansion: `$$` is a literal `$`, `$(NAME)` the value of NAME when
    it is defined (else left as written), any other `$` stays."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "$" and i + 1 < len(text):
            n = text[i + 1]
            if n == "$":
                out.append("$")
                i += 2
                continue
            if n == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(c)
        i += 1
    return "".join(out)


class Cluster:
    """The rendered objects, and the host folders their volumes become."""

    def __init__(self, objects, root, secrets):
        self.objects, self.root, self.secrets = objects, root, secrets
        self.config_maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
        self.jobs = [o for o in objects if o["kind"] == "Job"]
        self.deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
        self.claims = {}
        os.makedirs(root, exist_ok=True)

    def claim(self, name):
        if name not in self.claims:
            self.claims[name] = tempfile.mkdtemp(prefix=f"claim-{name}-", dir=self.root)
        return self.claims[name]

    def volume_dir(self, volume, pod_dir):
        if "persistentVolumeClaim" in volume:
            return self.claim(volume["persistentVolumeClaim"]["claimName"])
        if "emptyDir" in volume:
            return tempfile.mkdtemp(prefix="emptydir-", dir=pod_dir)
        if "configMap" in volume:
            ref = volume["configMap"]
            data = self.config_maps[ref["name"]].get("data") or {}
            items = ref.get("items") or [{"key": k, "path": k} for k in data]
            d = tempfile.mkdtemp(prefix=f"configmap-{ref['name']}-", dir=pod_dir)
            for item in items:
                path = os.path.join(d, item["path"])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(data[item["key"]])
                os.chmod(path, item.get("mode", ref.get("defaultMode", 0o644)))
            return d
        raise SystemExit(f"the claim test has no host stand-in for volume {volume}")

    def env_of(self, container, pod_name):
        env = {}
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                env.update((self.config_maps[source["configMapRef"]["name"]].get("data") or {}))
            else:
                raise SystemExit(f"the claim test cannot resolve envFrom {source}")
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = expand(str(e["value"]), env)
                continue
            ref = e.get("valueFrom") or {}
            if "secretKeyRef" in ref:
                s = ref["secretKeyRef"]
                value = self.secrets.get(s["name"], {}).get(s["key"])
                if value is None:
                    if s.get("optional"):
                        continue
                    raise PodRefused(f"secret {s['name']}/{s['key']} not found and not optional")
                env[e["name"]] = value
            elif "configMapKeyRef" in ref:
                s = ref["configMapKeyRef"]
                env[e["name"]] = self.config_maps[s["name"]]["data"][s["key"]]
            elif "fieldRef" in ref:
                field = ref["fieldRef"]["fieldPath"]
                env[e["name"]] = {"metadata.name": pod_name, "metadata.namespace": "default"}[field]
            else:
                raise SystemExit(f"the claim test cannot resolve env {e}")
        return env

    def process(self, pod, container, pod_name, override=None):
        """argv and environment of one container, its mount paths mapped to host folders."""
        spec = pod["spec"]
        pod_dir = tempfile.mkdtemp(prefix=f"pod-{pod_name}-", dir=self.root)
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = []
        for m in container.get("volumeMounts") or []:
            host = self.volume_dir(volumes[m["name"]], pod_dir)
            if m.get("subPath"):
                host = os.path.join(host, m["subPath"])
            mounts.append((m["mountPath"].rstrip("/") or "/", host))
        mounts.sort(key=lambda m: -len(m[0]))
        if "command" not in container:
            raise SystemExit(f"{pod_name}/{container['name']}: no command (the image's ENTRYPOINT is unknown here)")
        env = self.env_of(container, pod_name)
        argv = [expand(str(a), env) for a in container["command"] + (container.get("args") or [])]
        if override:
            argv = override(argv)

        # One pass over all mount paths at once, longest first: a host folder put in for one
        # mount (say under /tmp) must not be rewritten again for another (a /tmp emptyDir).
        by_path = dict(mounts)
        pattern = re.compile("|".join(re.escape(p) for p, _ in mounts) + r"(?=/|$|[\s\"'])") if mounts else None

        def on_host(text):
            return pattern.sub(lambda m: by_path[m.group(0)], text) if pattern else text

        argv = [on_host(a) for a in argv]
        env = {k: on_host(v) for k, v in env.items()}
        env.setdefault("HOME", pod_dir)
        env.update({
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        })
        return argv, env, pod_dir


class PodRefused(Exception):
    """What the kubelet refuses before starting a container (CreateContainerConfigError)."""


# --- the fleet's pieces -------------------------------------------------------------------

def job_arg(argv):
    """The prefetch program's JSON argument in a Job's argv: the one object with a `repo`."""
    found = []
    for a in argv:
        try:
            v = json.loads(a)
        except ValueError:
            continue
        if isinstance(v, dict) and "repo" in v:
            found.append(v)
    if len(found) != 1:
        raise SystemExit(f"expected one prefetch job argument in {argv}, found {len(found)}")
    return found[0]


class JobRun:
    def __init__(self, cluster, job, hub):
        self.name = job["metadata"]["name"]
        pod = job["spec"]["template"]
        containers = pod["spec"]["containers"]
        if len(containers) != 1:
            raise SystemExit(f"job {self.name}: {len(containers)} containers, expected 1")
        self.argv, self.env, self.dir = cluster.process(pod, containers[0], self.name)
        self.job = job_arg(self.argv)
        if self.env.get("HF_ENDPOINT") != hub.endpoint:
            # Without it the program would go to the real Hub (the proxies stop it, but say why).
            raise SystemExit(f"job {self.name}: HF_ENDPOINT is {self.env.get('HF_ENDPOINT')!r}, not the fleet's {hub.endpoint}")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.dir, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        return self

    def wait(self):
        out = self.proc.communicate(timeout=300)[0]
        return self.proc.returncode, out


class PodRun:
    """A server's pod up to its main container: the initContainers, one after the other."""

    def __init__(self, cluster, deployment, timeout, snapshot_check):
        self.name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]
        self.inits = []
        for c in pod["spec"].get("initContainers") or []:
            self.inits.append(cluster.process(pod, c, self.name, override=lambda a: shorten(a, timeout)))
        server = pod["spec"]["containers"][0]
        _, self.server_env, _ = cluster.process(pod, server, self.name)
        self.snapshot_check = snapshot_check
        self.rc = self.output = self.complete_at_exit = self.started = self.ended = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        self.started = time.monotonic()
        try:
            self.run_inits()
        except Exception as e:  # noqa: BLE001 - reported as this pod's failure
            self.output, self.rc = f"{self.output or ''}\nthe test failed to run the pod: {e!r}", -1
        self.ended = time.monotonic()

    def run_inits(self):
        out = []
        for argv, env, d in self.inits:
            p = subprocess.run(argv, env=env, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out.append(p.stdout)
            if p.returncode != 0:
                self.output, self.rc = "".join(out), p.returncode
                return
        # The main container would start now: its model must be there, complete, offline.
        self.complete_at_exit = self.snapshot_check(self.server_env)
        self.output, self.rc = "".join(out), 0

    def start(self):
        self.thread.start()
        return self

    def running(self):
        return self.thread.is_alive()

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def shorten(argv, timeout):
    digits = [i for i, a in enumerate(argv) if re.fullmatch(r"[0-9]+", a)]
    if len(digits) != 1:
        raise SystemExit(f"cannot tell the wait's timeout in {argv}: expected one all-digit argument")
    return argv[:digits[0]] + [str(timeout)] + argv[digits[0] + 1:]


OFFLINE_LOAD = r"""
import json, os, sys
from huggingface_hub import snapshot_download
repo, revision, needed = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
path = snapshot_download(repo, revision=revision, local_files_only=True)
have = {os.path.relpath(os.path.join(d, n), path): os.path.getsize(os.path.join(d, n))
        for d, _, names in os.walk(path) for n in names}
short = {p: (have.get(p), s) for p, s in needed.items() if have.get(p) != s}
if short:
    sys.exit(f"incomplete snapshot {path}: {short}")
print(path)
"""


# --- scenarios ----------------------------------------------------------------------------

class Scenario:
    def __init__(self, title, objects, work, hub, secrets):
        print(f"== {title}", flush=True)
        self.hub = hub
        self.cluster = Cluster(objects, tempfile.mkdtemp(prefix="scenario-", dir=work), secrets)
        self.jobs = {}
        for job in self.cluster.jobs:
            j = JobRun(self.cluster, job, hub)
            self.jobs[j.job["repo"]] = j
        self.catalogue = hub.stats()["catalogue"]

    def needed(self, repo):
        if repo not in self.catalogue:
            return {}
        r = self.catalogue[repo]
        files = r["commits"][r["branches"]["main"]]["files"]
        return {p: f["size"] for p, f in files.items() if f["role"] == "needed"}

    def pod(self, service, timeout):
        repo = SERVICES[service]
        job = self.jobs[repo].job

        def snapshot_check(env):
            p = subprocess.run([sys.executable, "-c", OFFLINE_LOAD, repo, job.get("sha") or job["revision"],
                                json.dumps(self.needed(repo))], env=env, capture_output=True, text=True)
            return p.returncode == 0, (p.stdout + p.stderr).strip()[-600:]

        return PodRun(self.cluster, self.cluster.deployments[service], timeout, snapshot_check).start()

    def run_job(self, repo):
        return self.jobs[repo].start().wait()

    def expect_served(self, pods, after):
        for name, p in pods.items():
            done = p.join(NOTICE)
            ok = done and p.rc == 0 and p.complete_at_exit and p.complete_at_exit[0]
            check(ok, f"{name}: its wait returned 0 {after}, and the model then loaded offline, complete, "
                      "with the server's environment",
                  f"finished={done} rc={p.rc} offline={p.complete_at_exit}\n{p.output}")

    def expect_waiting(self, pods, after):
        for name, p in pods.items():
            check(p.running(), f"{name}: still waiting {after}", f"rc={p.rc}\n{p.output}")

    def expect_timeout(self, name, p, timeout):
        done = p.join(timeout + NOTICE)
        job = self.jobs[SERVICES[name]].name
        lines = (p.output or "").splitlines()
        line = next((x for x in lines if job in x and re.search(rf"\b{timeout}\b", x)), None)
        waited = p.ended - p.started if p.ended else None
        check(done and p.rc not in (0, None) and line is not None and waited >= timeout,
              f"{name}: its wait gave up (exit {p.rc}) after {waited or 0:.0f} s (timeout {timeout} s) with a log "
              f"line naming {job} and the timeout: {line!r}",
              f"finished={done}\n{p.output}")

    def expect_job_failed(self, repo, rc, out):
        name = self.jobs[repo].name
        leftovers = [os.path.join(d, n) for claim in self.cluster.claims.values()
                     for d, dirs, files in os.walk(claim) for n in dirs + files if name in n]
        check(rc != 0 and "repository not found" in out and not leftovers,
              f"job for {repo} (not on the Hub) failed (exit {rc}), said why, and left nothing named after it in the claim",
              f"{out}\nin the claim: {leftovers}")


def job_ok(repo, rc, out):
    return check(rc == 0, f"job for {repo} exited 0", out)


def waits_first(objects, work, hub):
    s = Scenario("waits first, then the jobs one by one (beta, alpha held mid-download, missing); "
                 "no HF_TOKEN Secret",
                 objects, work, hub, secrets={})
    sent = hub.bytes_sent()
    pods = {n: s.pod(n, timeout=300) for n in ("alpha-1", "alpha-2", "beta")}
    time.sleep(2)
    s.expect_waiting(pods, "before any job ran")
    job_ok("claim/beta", *s.run_job("claim/beta"))
    s.expect_served({"beta": pods["beta"]}, "after beta's job")
    s.expect_waiting({"alpha-1": pods["alpha-1"], "alpha-2": pods["alpha-2"]},
                     "after beta's job (another model's marker)")
    # alpha's job held mid-download for longer than the waits' polling period.
    hub.gate.hold("claim/alpha")
    alpha = s.jobs["claim/alpha"].start()
    reached = hub.gate.reached["claim/alpha"].wait(NOTICE)
    time.sleep(HELD if reached else 0)
    check(reached and alpha.proc.poll() is None, f"alpha's job is held mid-download (its weights) for {HELD:.0f} s")
    s.expect_waiting({"alpha-1": pods["alpha-1"], "alpha-2": pods["alpha-2"]}, "while alpha's job downloads")
    hub.gate.release("claim/alpha")
    job_ok("claim/alpha", *alpha.wait())
    s.expect_served({"alpha-1": pods["alpha-1"], "alpha-2": pods["alpha-2"]}, "after alpha's job")
    # Its timeout outlasts the failing job even on a loaded machine, then runs out.
    missing = s.pod("missing", timeout=MISSING_TIMEOUT)
    s.expect_job_failed("claim/missing", *s.run_job("claim/missing"))
    s.expect_waiting({"missing": missing}, "after its job failed")
    s.expect_timeout("missing", missing, MISSING_TIMEOUT)
    check(hub.bytes_sent() > sent, "the jobs downloaded from the mock Hub")
    auth = hub.stats().get("auth", {})
    check(not any(v.get("expected") for v in auth.values() if isinstance(v, dict)),
          "without the Secret no token was sent (the optional secretKeyRef is left out)", auth)
    rc, out = s.run_job("claim/alpha")
    sent = hub.bytes_sent()
    rc2, out2 = s.run_job("claim/alpha")
    check(rc == 0 and rc2 == 0 and hub.bytes_sent() == sent,
          "alpha's job run again on the complete claim exits 0 and downloads nothing", out + out2)


def jobs_first(objects, work, hub):
    s = Scenario("jobs first, in reverse order (missing, beta, alpha), then the waits", objects, work, hub, secrets={})
    s.expect_job_failed("claim/missing", *s.run_job("claim/missing"))
    job_ok("claim/beta", *s.run_job("claim/beta"))
    job_ok("claim/alpha", *s.run_job("claim/alpha"))
    pods = {n: s.pod(n, timeout=300) for n in ("beta", "alpha-2", "alpha-1")}
    missing = s.pod("missing", timeout=6)
    s.expect_served(pods, "(its job had completed before it started)")
    s.expect_timeout("missing", missing, 6)


def all_at_once(objects, work, hub, secrets):
    s = Scenario("all at once, interleaved (alpha-1's wait, alpha's job, beta's wait, missing's job, beta's job, "
                 "the rest); an HF_TOKEN Secret present", objects, work, hub, secrets)
    pods, jobs = {}, {}
    pods["alpha-1"] = s.pod("alpha-1", timeout=300)
    jobs["claim/alpha"] = s.jobs["claim/alpha"].start()
    pods["beta"] = s.pod("beta", timeout=300)
    jobs["claim/missing"] = s.jobs["claim/missing"].start()
    jobs["claim/beta"] = s.jobs["claim/beta"].start()
    pods["alpha-2"] = s.pod("alpha-2", timeout=300)
    missing = s.pod("missing", timeout=20)
    for repo in ("claim/alpha", "claim/beta"):
        job_ok(repo, *jobs[repo].wait())
    s.expect_job_failed("claim/missing", *jobs["claim/missing"].wait())
    s.expect_served(pods, "once its job completed")
    s.expect_timeout("missing", missing, 20)
    auth = hub.stats().get("auth", {})
    check(any(v.get("expected") for v in auth.values() if isinstance(v, dict)),
          "the token from the Job's Secret reached the Hub", auth)


def main():
    work = tempfile.mkdtemp(prefix="aimgen-k8s-claim-")
    hub = None
    ok = False
    try:
        hub = Hub(work)
        objects = render(work, hub)
        secrets_with_token = {}
        for o in objects:
            if o["kind"] == "Job":
                for c in o["spec"]["template"]["spec"]["containers"]:
                    for e in c.get("env") or []:
                        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                        if ref and e["name"] == "HF_TOKEN":
                            secrets_with_token.setdefault(ref["name"], {})[ref["key"]] = TOKEN
        check(bool(secrets_with_token), "every Job reads HF_TOKEN from a Secret (secretKeyRef)")
        t0 = time.monotonic()
        for scenario, args in ((waits_first, ()), (jobs_first, ()), (all_at_once, (secrets_with_token,))):
            try:
                scenario(objects, work, hub, *args)
            except PodRefused as e:
                check(False, f"{scenario.__name__}: the kubelet would not start a container: {e}")
        print(f"METRIC claim_test_seconds {time.monotonic() - t0:.1f}", flush=True)
        ok = failed == 0
    finally:
        if hub:
            hub.stop()
        if ok and os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
