"""The provenance manifest: sha256 of every input, tool versions, command line, time."""
from __future__ import annotations

import hashlib
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

TOOLS = ("rai-policy", "tensorflow", "tensorflow-model-analysis", "tensorflow-data-validation",
         "tensorflow-privacy", "model-card-toolkit", "dp-accounting", "apache-beam", "pandas", "numpy")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(path: Path) -> str:
    """A stable hash over a directory: sorted relative paths and their contents' hashes."""
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(p.relative_to(path).as_posix().encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()


def sha256_path(path: str | Path) -> str | None:
    p = Path(path)
    if p.is_dir():
        return sha256_tree(p)
    if p.is_file():
        return sha256_file(p)
    return None


def versions() -> dict[str, str | None]:
    out = {}
    for name in TOOLS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    out["python"] = sys.version.split()[0]
    return out


def manifest(files: dict[str, list[str]], argv: list[str] | None, started: str, duration: float) -> dict:
    """`files` maps a role (policy, data, model, …) to paths; each gets its sha256."""
    inputs = []
    for role, paths in files.items():
        for p in paths:
            inputs.append({"role": role, "path": str(p), "sha256": sha256_path(p)})
    return {"inputs": inputs, "versions": versions(), "command": list(argv or []),
            "started": started, "duration_seconds": round(duration, 3)}
