#!/usr/bin/env python3
"""Fails when a package in `cargo metadata` (stdin) declares a rust-version newer than the
workspace's: cargo would then refuse to build it with the toolchain we claim to support.

Usage: cargo metadata --format-version 1 --locked | python3 .ci/msrv_deps.py
"""
import json
import sys

meta = json.load(sys.stdin)
members = set(meta["workspace_members"])


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


ours = {version(p["rust_version"]) for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"workspace members declare rust-version {sorted(ours)}: expected one value")
(msrv,) = ours
newer = sorted(
    (version(p["rust_version"]), p["name"], p["version"])
    for p in meta["packages"]
    if p.get("rust_version") and version(p["rust_version"]) > msrv
)
for v, name, ver in newer:
    print(f"{name} {ver} needs rust {'.'.join(map(str, v))}")
top = max((version(p["rust_version"]) for p in meta["packages"] if p.get("rust_version")))
print(f"rust-version {'.'.join(map(str, msrv))}; the highest any of {len(meta['packages'])} "
      f"packages declares is {'.'.join(map(str, top))}")
sys.exit(1 if newer else 0)
