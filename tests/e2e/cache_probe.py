#!/usr/bin/env python3
"""Look at a running server container from inside (stdlib only; run.sh pipes this file to
`docker exec -i CONTAINER python3 - ...`).

  cache_probe.py listing CACHE_DIR
      JSON {relative path: [kind, size, mtime_ns, link target]} of everything under the
      cache (lstat: symlinks are not followed).
  cache_probe.py elsewhere CACHE_DIR SCRATCH_DIR
      JSON {"weights": [...], "scratch": {top folder: [files, bytes]}}: every model weight
      file (*.safetensors, pytorch_model*.bin, consolidated*.pth) on the container's own
      file system or the scratch volume (there
      should be none: the engine reads the shared cache), and what the engine wrote to the
      scratch volume.
"""

import json
import os
import stat
import sys



def is_weights(name):
    """A model weight file's name (not any .bin/.pth: apt and site-packages have those)."""
    return name.endswith(".safetensors") or (name.startswith(("pytorch_model", "consolidated"))
                                             and name.endswith((".bin", ".pth", ".pt")))


def listing(cache):
    out = {}
    for root, dirs, files in os.walk(cache):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
            out[os.path.relpath(p, cache)] = [kind, st.st_size if kind == "file" else 0, st.st_mtime_ns,
                                              os.readlink(p) if kind == "link" else None]
    return out


def elsewhere(cache, scratch):
    weights = []
    root_dev = os.lstat("/").st_dev
    for root, dirs, files in os.walk("/"):
        # Stay on the container's own file system: not /proc, /sys, nor the cache mount.
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == root_dev
                   and os.path.join(root, d) not in ("/proc", "/sys", cache)]
        # Python packages ship data files of their own (compressed_tensors has a
        # hadamards.safetensors): not a model.
        if "/site-packages/" not in root + "/":
            weights += [os.path.join(root, f) for f in files if is_weights(f)]
    usage = {}
    for top in sorted(os.listdir(scratch)) if os.path.isdir(scratch) else []:
        n = size = 0
        for root, _, files in os.walk(os.path.join(scratch, top)):
            for f in files:
                p = os.path.join(root, f)
                if is_weights(f):
                    weights.append(p)
                n += 1
                size += os.lstat(p).st_size
        usage[top] = [n, size]
    return {"weights": sorted(weights), "scratch": usage}


def main():
    cmd = sys.argv[1]
    if cmd == "listing":
        json.dump(listing(sys.argv[2]), sys.stdout, sort_keys=True)
    elif cmd == "elsewhere":
        json.dump(elsewhere(sys.argv[2], sys.argv[3]), sys.stdout, sort_keys=True)
    else:
        raise SystemExit(f"cache_probe: unknown command {cmd}")


if __name__ == "__main__":
    main()
