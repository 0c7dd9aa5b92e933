"""Atomic file writes: a temp file in the same directory, then rename, so a reader never sees half a file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write via a temp file + rename; the file gets the mode a plain open() would (0666 & ~umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_outputs(outputs: list[tuple[str, str]], inputs: list[str]) -> None:
    """Before any work: every output path is writable, named once, and is not one of the inputs.

    `outputs` are (what, path) pairs such as ("json report", "r.json"); raises InputError."""
    from rai_policy.errors import InputError

    seen: dict[Path, str] = {}
    protected = {Path(p).resolve() for p in inputs if p}
    for what, raw in outputs:
        path = Path(raw).resolve()
        if path in protected:
            raise InputError(f"{what} {raw} is also an input of this check; refusing to overwrite it")
        if path in seen:
            raise InputError(f"{what} {raw} is also the {seen[path]}: give each output its own path")
        seen[path] = what
        if path.is_dir():
            raise InputError(f"{what} {raw} is a directory; give a file path")
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{what} {raw}: cannot create files under {parent or path.parent}")
        if path.exists() and not os.access(path, os.W_OK):
            raise InputError(f"{what} {raw} is not writable")
