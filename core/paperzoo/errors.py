"""Errors that the CLI turns into one line and exit code 2 (usage and config mistakes)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(Exception):
    """A mistake of the user's: a wrong name, param, type or config. Exit code 2, no traceback."""


class ConfigError(UsageError):
    """A wrong value at a dotted path of a config, optionally in a named file."""

    def __init__(self, message: str, path: str = "", file: str | None = None):
        self.message, self.path, self.file = message, path, file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def at(self, file: str | None = None, prefix: str = "") -> ConfigError:
        """The same error, located in ``file`` and under ``prefix`` of the dotted path."""
        path = ".".join(part for part in (prefix, self.path) if part)
        return ConfigError(self.message, path, file or self.file)


class PluginError(Exception):
    """A plugin failed to load or declared a bad component (fatal only in strict mode)."""


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelled ``name``, or ``None`` when nothing is close."""
    found = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.5)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    guess = nearest(name, candidates)
    return f" Did you mean {guess!r}?" if guess else ""
