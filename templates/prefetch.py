# aimgen prefetch: download each model revision once into the shared cache, only the files
# an engine loads. argv[1] is the JSON job list written by aimgen.
import json
import sys

from huggingface_hub import HfApi, hf_hub_download, snapshot_download, try_to_load_from_cache

LOADED = ("json", "safetensors", "model", "tiktoken", "txt", "py", "jinja")


def engine_files(files):
    """Configs, tokenizers, safetensors weights and remote code; never original/ checkpoints,
    *.pth, or *.bin duplicates of safetensors weights."""
    has_safetensors = any(f.endswith(".safetensors") for f in files)
    keep = []
    for f in files:
        if f.split("/", 1)[0] == "original":
            continue
        ext = f.rsplit("/", 1)[-1].rpartition(".")[2]
        if ext in LOADED or (ext == "bin" and not has_safetensors):
            keep.append(f)
    return sorted(keep)


def cached(repo, revision, files):
    return files is not None and all(isinstance(try_to_load_from_cache(repo, f, revision=revision), str) for f in files)


for job in json.loads(sys.argv[1]):
    repo, revision, files = job["repo"], job["revision"], job.get("files")
    if cached(repo, revision, files):
        print(f"aimgen-prefetch: {repo}@{revision}: all {len(files)} files already cached", flush=True)
        continue
    try:
        if files is None:
            info = HfApi().model_info(repo, revision=revision)
            files = engine_files([s.rfilename for s in info.siblings])
        print(f"aimgen-prefetch: {repo}@{revision}: {len(files)} files", flush=True)
        for f in files:
            hf_hub_download(repo, f, revision=revision)
    except Exception as error:
        # A restart while the Hub or mirror is down must not stop a fleet whose cache is full.
        try:
            snapshot_download(repo, revision=revision, local_files_only=True)
        except Exception:
            raise error
        print(f"aimgen-prefetch: {repo}@{revision}: Hub unreachable ({error}); using the cached copy", flush=True)
print("aimgen-prefetch: done", flush=True)
