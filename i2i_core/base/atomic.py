"""Atomic file writes, directory fsyncs and the fault-injection points that test them.

A file written here appears under its final name complete or not at all: the bytes go
to a temporary file in the same folder, which is fsynced and then renamed over the
target, and the folder itself is fsynced so that the rename survives a power cut.
Temporary names start with ``.`` and end with ``.tmp`` so that a crashed run's leftovers
are recognisable (:func:`remove_stale_temporaries`).

Fault injection: ``I2I_FAULT=PHASE:ACTION[@N]`` (e.g. ``checkpoint.state:kill@2``) makes
the N-th (default: first) pass through :func:`fault_point` ``PHASE`` SIGKILL the process
(``kill``) or raise ``ENOSPC`` (``enospc``). The crash-safety tests use it to stop a writer
between its steps; it costs one environment lookup when unset.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Callable

_UMASK = os.umask(0)
os.umask(_UMASK)
TMP_SUFFIX = ".tmp"


_FAULT_PASSES: dict[str, int] = {}


def fault_point(phase: str) -> None:
    """Stop here when ``I2I_FAULT`` names ``phase`` (testing aid; see the module docstring)."""
    spec = os.environ.get("I2I_FAULT")
    if not spec:
        return
    passes = _FAULT_PASSES[phase] = _FAULT_PASSES.get(phase, 0) + 1
    for item in spec.split(","):
        name, _, action = item.partition(":")
        action, _, nth = action.partition("@")
        if name != phase or passes != int(nth or 1):
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), phase)


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and Windows) do not fsync folders
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], object]) -> Path:
    """Write a file through ``write(fh)`` into a temp file, fsync, then rename over ``path``.

    On any error (a full disk included) the temp file is removed and ``path`` keeps its
    previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any other file
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def remove_stale_temporaries(folder: str | Path, depth: int = 2) -> list[Path]:
    """Delete ``.*.tmp`` files and ``.tmp-*`` folders a killed writer left under ``folder``.

    Only safe while holding the run's lock (no other writer can be mid-write).
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if entry.name.startswith(".tmp-") and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        elif entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
        elif depth > 1 and entry.is_dir() and not entry.is_symlink() and not entry.name.startswith("."):
            removed += remove_stale_temporaries(entry, depth - 1)
    return removed


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN/inf float replaced by None (JSON has no NaN; a reader must not choke)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj


def atomic_write_json(path: str | Path, obj: object, indent: int | None = 2) -> Path:
    """Write ``obj`` as strictly valid JSON (non-finite numbers become null), atomically."""
    import json

    return atomic_write_text(path, json.dumps(finite_json(obj), indent=indent, allow_nan=False) + "\n")
