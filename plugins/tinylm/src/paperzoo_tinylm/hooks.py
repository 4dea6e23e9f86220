"""Named capture points: ``capture(model, names)`` records tensors, ``patch(model, name, fn)`` replaces them.

A capture point is a :class:`HookPoint` module placed where a tensor flows through the model; its hook
name is its module path (``blocks.0.attn.pattern``). The names are frozen (README, "Hook names").
Observers (capture) only record; patchers (patch) replace the tensor with ``fn(tensor)``. A point with no
patcher returns its input object itself, so observing never changes a result.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class HookPoint(nn.Module):
    """Identity unless observed or patched."""

    def __init__(self) -> None:
        super().__init__()
        self.observers: list[Callable[[torch.Tensor], None]] = []
        self.patchers: list[Callable[[torch.Tensor], torch.Tensor]] = []

    @property
    def active(self) -> bool:
        return bool(self.observers or self.patchers)

    @property
    def patching(self) -> bool:
        return bool(self.patchers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fn in self.patchers:
            x = fn(x)
        for fn in self.observers:
            fn(x)
        return x


def hook_points(model: nn.Module) -> dict[str, HookPoint]:
    """Every capture point of ``model`` by hook name, in forward order of definition."""
    return {name: m for name, m in model.named_modules() if isinstance(m, HookPoint)}


def hook_names(model: nn.Module) -> list[str]:
    """The hook names of ``model``."""
    return list(hook_points(model))


def _resolve(model: nn.Module, names: str | Iterable[str]) -> dict[str, HookPoint]:
    points = hook_points(model)
    patterns = [names] if isinstance(names, str) else list(names)
    chosen: dict[str, HookPoint] = {}
    for pattern in patterns:
        hits = [n for n in points if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            shown = ", ".join(list(points)[:12])
            raise KeyError(f"no hook name matches {pattern!r}; hook names are e.g. {shown} (see hook_names)")
        chosen.update({n: points[n] for n in hits})
    return chosen


class Captured(dict):
    """Hook name -> the tensor of the latest forward; ``history[name]`` holds every forward's tensor
    (e.g. one per decoding step)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[torch.Tensor]] = {}


@contextmanager
def capture(model: nn.Module, names: str | Iterable[str], detach: bool = True) -> Iterator[Captured]:
    """Record the tensors at ``names`` (hook names or glob patterns such as ``blocks.*.resid_post``)
    during forward passes inside the ``with`` block."""
    out = Captured()
    added: list[tuple[HookPoint, Callable]] = []

    def recorder(name: str) -> Callable[[torch.Tensor], None]:
        def record(x: torch.Tensor) -> None:
            value = x.detach() if detach else x
            out[name] = value
            out.history.setdefault(name, []).append(value)

        return record

    try:
        for name, point in _resolve(model, names).items():
            fn = recorder(name)
            point.observers.append(fn)
            added.append((point, fn))
        yield out
    finally:
        for point, fn in added:
            point.observers.remove(fn)


@contextmanager
def patch(model: nn.Module, name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[list[str]]:
    """Replace the tensor at ``name`` (a hook name or glob pattern) by ``fn(tensor)`` during forward
    passes inside the ``with`` block; yields the hook names patched."""
    points = _resolve(model, name)
    try:
        for point in points.values():
            point.patchers.append(fn)
        yield list(points)
    finally:
        for point in points.values():
            point.patchers.remove(fn)
