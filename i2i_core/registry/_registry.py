"""A small generic name -> object registry with did-you-mean errors."""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, Iterable, Iterator, List, Mapping, TypeVar

from i2i_core.base.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


def close_matches(name: str, candidates: Iterable[str], n: int = 5, cutoff: float = 0.6) -> list[str]:
    """The candidates that look like a misspelling of ``name`` (the one place suggestions are computed)."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=cutoff)


def did_you_mean(name: str, candidates: Iterable[str], n: int = 5, cutoff: float = 0.6) -> str:
    """``" Did you mean: a, b?"`` for the candidates close to ``name``, or ``""``."""
    close = close_matches(name, candidates, n, cutoff)
    return f" Did you mean: {', '.join(close)}?" if close else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object and where it came from.

    The last fields belong to one registry each and keep their defaults elsewhere.
    """

    name: str
    obj: T
    description: str = ""
    aliases: tuple[str, ...] = ()
    plugin: str | None = None
    #: architectures: ``generator``, ``discriminator``, ``encoder`` or ``other``
    role: str | None = None
    #: presets: the recipe the preset belongs to and the preset's own name
    recipe: str | None = None
    preset: str | None = None
    #: datasets: ``False`` for readers of inputs only (no targets), which cannot feed a training run
    training: bool = True

    @property
    def meta(self) -> Mapping[str, Any]:
        """The registry-specific fields that are set, read-only (``entry.meta["role"]``)."""
        fields = {"role": self.role, "recipe": self.recipe, "preset": self.preset}
        shown: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if not self.training:
            shown["training"] = False
        return MappingProxyType(shown)


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class Registry(Generic[T]):
    """Names to objects for one kind of component (``kind`` is used in messages).

    Example:
        >>> r = Registry("architecture")
        >>> r.add("unet_256", dict)
        >>> r.get("unet_256") is dict
        True
    """

    def __init__(self, kind: str, doc: str = "") -> None:
        self.kind = kind
        self.__doc__ = doc or f"Registry of {kind}s."
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def add(
        self,
        name: str,
        obj: T,
        *,
        description: str = "",
        aliases: Iterable[str] = (),
        replace: bool = False,
        plugin: str | None = None,
        role: str | None = None,
        recipe: str | None = None,
        preset: str | None = None,
        training: bool = True,
    ) -> None:
        """Register ``obj`` under ``name`` (and ``aliases``); the last four are :class:`Entry` fields.

        Raises:
            DuplicateNameError: ``name`` exists and ``replace`` is false.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} name must be a non-empty string, got {name!r}")
        for key in (name, *aliases):
            if not replace and (key in self._entries or key in self._aliases):
                old = self._entries.get(self._aliases.get(key, key))
                raise DuplicateNameError(
                    f"{self.kind} {key!r} is registered twice: by plugin "
                    f"{old.plugin if old else '?'!s} and by plugin {plugin!s}"
                )
        self._entries[name] = Entry(name, obj, description, tuple(aliases), plugin, role, recipe, preset, training)
        for alias in aliases:
            self._aliases[alias] = name

    def entry(self, name: str) -> Entry[T]:
        """Return the :class:`Entry` for ``name`` or an alias of it."""
        key = self._aliases.get(name, name)
        try:
            return self._entries[key]
        except KeyError:
            raise UnknownNameError(self._unknown_message(name)) from None

    def get(self, name: str) -> T:
        """Return the object registered under ``name``."""
        return self.entry(name).obj

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the builder registered under ``name`` with the given arguments."""
        builder: Any = self.get(name)  # builders are callables; T is whatever the registry holds
        return builder(*args, **kwargs)

    def list(self, pattern: str = "*", exclude: Iterable[str] = ()) -> List[str]:
        """Names matching the fnmatch ``pattern``, naturally sorted."""
        names = [n for n in self._entries if fnmatch.fnmatchcase(n, pattern)]
        names = [n for n in names if not any(fnmatch.fnmatchcase(n, e) for e in exclude)]
        return sorted(names, key=_natural_key)

    def entries(self) -> List[Entry[T]]:  # List: inside the class `list` is the method above
        """All entries, naturally sorted by name."""
        return [self._entries[n] for n in self.list()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)

    def _unknown_message(self, name: str) -> str:
        known = self.list()
        msg = f"Unknown {self.kind} {name!r}." + did_you_mean(name, known + list(self._aliases))
        shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        msg += f" Installed: {shown or 'none'}"
        return msg
