"""One process per run folder: an exclusive ``flock`` on ``RUN/.lock`` for the whole run.

The kernel releases the lock when the holder dies (even by SIGKILL), so a crashed run
never leaves a folder locked; the PID written inside only serves the error message of
the process that was turned away.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import TracebackType

from i2i_core.base.errors import RunLockedError, RunPathError

try:  # POSIX only; elsewhere runs are not protected against a second process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


def ensure_folder(path: str | Path, what: str = "--out") -> Path:
    """Create ``path`` (and parents) or fail with one line saying why (a file in the way, no permission)."""
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            raise RunPathError(f"{what} {path}: {parent} is a file, not a folder")
        if parent.exists():
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunPathError(f"{what} {path}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunPathError(f"{what} {path}: the folder is not writable")
    return path


class RunLock:
    """Context manager holding ``RUN/.lock`` exclusively.

    A folder the lock created goes again on release when nothing but the lock file was written into it: a
    run or import refused before writing anything leaves no trace.

    Args:
        run_dir: the run folder (created if missing).
        what: how the folder was named on the command line, for messages.

    Raises:
        RunLockedError: another live process holds the lock (its PID is in the message).
    """

    def __init__(self, run_dir: str | Path, what: str = "--out") -> None:
        self.run_dir = Path(run_dir)
        self.what = what
        self._fd: int | None = None
        self._created = False

    def acquire(self) -> RunLock:
        self._created = not self.run_dir.exists()
        ensure_folder(self.run_dir, self.what)
        path = self.run_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunPathError(f"{self.what} {self.run_dir}: cannot create {path} ({exc.strerror or exc})") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_pid(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    who = f"process {holder}" if holder else "another process"
                    raise RunLockedError(
                        f"{self.run_dir} is in use by {who} (lock {path}); wait for it to finish or pick another "
                        f"{self.what}") from None
                raise RunPathError(f"{self.what} {self.run_dir}: cannot lock {path} ({exc.strerror or exc})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        # the lock file goes while still held: a concurrent start then fails on it, or makes a new one and keeps
        # the folder alive (rmdir below fails)
        unused = self._created and _unlink_if_only_lock(self.run_dir)
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        if unused:
            try:
                self.run_dir.rmdir()
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _unlink_if_only_lock(run_dir: Path) -> bool:
    """Remove ``run_dir``'s lock file when it is the folder's only entry; whether it did."""
    try:
        if [p.name for p in run_dir.iterdir()] != [LOCK_NAME]:
            return False
        (run_dir / LOCK_NAME).unlink()
    except OSError:
        return False
    return True


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
