"""Ctrl-C and SIGTERM at a step boundary.

The first SIGINT or SIGTERM only sets a flag: the loop finishes the iteration it is in,
saves a checkpoint and stops (exit code ``128 + signal``: 130, 143), so a resumed run
continues exactly. A second signal aborts at once, without saving.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

_NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class AbortTraining(KeyboardInterrupt):
    """A second signal: stop now, without saving."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"aborted by a second {_NAMES.get(signum, str(signum))}; nothing was saved")
        self.signum = signum


class StopRequest:
    """Context manager turning SIGINT/SIGTERM into :attr:`signum`, read by the training loop.

    Outside the main thread (where Python cannot install handlers) it does nothing and
    signals keep their default behaviour.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self._restore()
            raise AbortTraining(signum)
        self.signum = signum
        # os.write, not print: a handler may run in the middle of another print to the same stream
        os.write(2, f"\n{_NAMES.get(signum, str(signum))}: finishing this step and saving a checkpoint "
                    f"(press Ctrl-C again to abort without saving)\n".encode())

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._restore()


def ignore_sigint_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: Ctrl-C reaches the whole process group; only the main process acts on it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
