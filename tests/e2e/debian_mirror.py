#!/usr/bin/env python3
"""Print the Debian archive URI this machine's apt is configured with (for debootstrap).

The scripts never hard-code a mirror host: they read it from apt's own sources, deb822
(/etc/apt/sources.list.d/*.sources) or one-line (/etc/apt/sources.list*), and take the
first entry that serves the `main` component of a plain (non-security) suite.
"""

import glob
import sys


def deb822(path):
    with open(path) as f:
        for stanza in f.read().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and "main" in fields.get("components", []):
                for suite in fields.get("suites", []):
                    if "security" not in suite:
                        yield from fields.get("uris", [])


def one_line(path):
    with open(path) as f:
        for line in f:
            w = line.split("#", 1)[0].split()
            if w[:1] != ["deb"]:
                continue
            w = [x for x in w[1:] if not x.startswith("[")]
            if len(w) >= 3 and "main" in w[2:] and "security" not in w[1]:
                yield w[0]


def main():
    for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for uri in deb822(p):
            print(uri.rstrip("/"))
            return 0
    for p in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            for uri in one_line(p):
                print(uri.rstrip("/"))
                return 0
        except FileNotFoundError:
            continue
    return 1


if __name__ == "__main__":
    sys.exit(main())
