"""Errors that the CLI turns into one line and exit code 2 (usage and config mistakes)."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from typing import Any

#: longest repr of a value quoted in a message; longer ones are cut with ``...``
REPR_LIMIT = 80


class UsageError(Exception):
    """A mistake of the user's: a wrong name, param, type or config. Exit code 2, no traceback."""


class ConfigError(UsageError):
    """A wrong value at a dotted path of a config, optionally in a named file and set by a named
    command-line override (``optimizer.lr=abc``)."""

    def __init__(self, message: str, path: str = "", file: str | None = None, override: str | None = None):
        self.message, self.path, self.file, self.override = message, path, file, override
        super().__init__(str(self))

    def __str__(self) -> str:
        source = self.file or ""
        if self.override is not None:
            source = f"{source} (override {short(self.override, quote=False)})".strip()
        where = ": ".join(part for part in (source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def at(self, file: str | None = None, prefix: str = "", override: str | None = None) -> ConfigError:
        """The same error, located in ``file`` (and ``override``) and under ``prefix`` of the path."""
        path = ".".join(part for part in (prefix, self.path) if part)
        return ConfigError(self.message, path, file or self.file, override or self.override)


class ParamError(ValueError):
    """A component's constructor rejecting the value of one of its params.

    The engine reports it at that param's dotted path (``trainer.grad_accum``), where a plain
    ``ValueError`` can only point at the component. ``message`` says what is wrong and what would
    be accepted: ``ParamError("grad_accum", "3 does not divide batch_size 64; accepted: ...")``.
    """

    def __init__(self, param: str, message: str):
        self.param, self.message = param, message
        super().__init__(f"{param}: {message}")


class PluginError(Exception):
    """A plugin failed to load or declared a bad component (fatal only in strict mode)."""


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelled ``name``, or ``None`` when nothing is close."""
    found = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.5)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    guess = nearest(name, candidates)
    return f" Did you mean {guess!r}?" if guess else ""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, REPR_LIMIT, REPR_LIMIT
for _attr in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
    setattr(_REPR, _attr, 8)


def short(value: Any, quote: bool = True, limit: int = REPR_LIMIT) -> str:
    """``repr(value)`` (or ``str``, control characters escaped, when not ``quote``) of at most ``limit``
    characters, cut with ``...``; it never walks more of a large nested value than it shows."""
    text = _REPR.repr(value) if quote else str(value)
    if not quote and not text.isprintable():  # control characters (a NUL byte) shown escaped
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."
