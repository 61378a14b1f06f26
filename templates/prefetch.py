# aimgen prefetch: download each model revision once into the shared cache, only the files
# an engine loads. argv[1] is the JSON job list written by aimgen.
import json
import sys

from huggingface_hub import HfApi, hf_hub_download, snapshot_download, try_to_load_from_cache

LOADED = ("json", "safetensors", "model", "tiktoken", "txt", "py", "jinja")


def engine_files(files):
    """Configs, tokenizers, safetensors weights and remote code; never original/ checkpoints,
    *.pth, *.bin duplicates of safetensors weights, or Mistral's consolidated.safetensors
    beside the Hugging Face shards."""
    names = [f.rsplit("/", 1)[-1] for f in files]
    has_safetensors = any(n.endswith(".safetensors") for n in names)
    has_shards = any(n.endswith(".safetensors") and not n.startswith("consolidated") for n in names)
    keep = []
    for f, name in zip(files, names):
        if f.split("/", 1)[0] == "original":
            continue
        ext = name.rpartition(".")[2]
        if ext == "safetensors" and name.startswith("consolidated") and has_shards:
            continue
        if ext in LOADED or name.startswith("tokenizer") or (ext == "bin" and not has_safetensors):
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
