"""User-facing errors.

Every error the CLI can show derives from :class:`I2IError`. The CLI prints
``str(error)`` on one line (plus ``hint`` when set) and exits non-zero without a
traceback, so messages must name the culprit (file, field, value) and what was
expected.
"""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message (its type name when it has none), at most ``limit`` characters.

    For wrapping a library's error in one of ours: some run to many lines (``torch.load``'s
    ``weights_only`` explanation is ten), and the CLI shows an error on one.
    """
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


class I2IError(Exception):
    """Base of every error meant for the user rather than the developer."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class ConfigError(I2IError, ValueError):
    """A configuration value, preset or override is invalid."""


class UnknownNameError(I2IError, KeyError):
    """A registry lookup failed; the message carries did-you-mean suggestions."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class DuplicateNameError(I2IError):
    """Two plugins registered the same name in one registry."""


class PluginLoadError(I2IError):
    """A plugin failed to import or to register (only raised in strict mode)."""


class CheckpointError(I2IError):
    """A checkpoint is missing, truncated or belongs to another architecture."""


class DataError(I2IError):
    """A data folder, image or label map is missing, unreadable or malformed."""


class RunPathError(I2IError):
    """A run or output folder cannot be created or written (a file in the way, no permission, disk full)."""


class RunLockedError(I2IError):
    """Another live process holds the run folder's lock."""


class DivergenceError(I2IError):
    """A loss became NaN or infinite and ``trainer.nan_policy`` is ``stop``."""


class RankMismatchError(I2IError):
    """Ranks of one distributed job would train apart (gradients not averaged the same everywhere)."""


class TrainingInterrupted(I2IError):
    """SIGINT/SIGTERM stopped training at a step boundary after saving a checkpoint.

    ``signum`` is the signal; the command line exits with ``128 + signum`` (130, 143).
    """

    def __init__(self, message: str, *, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
