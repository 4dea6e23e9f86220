"""Model surgery from config: replace or wrap matching modules with a registered layer.

A patch matches modules by class name (``type: LayerNorm``) and/or by a glob on their dotted
name (``name: "*.q_proj"``). The replacing layer is built as ``Layer(old_module, **params)``: the
layer decides how shapes, and weights where that makes sense, carry over from the module it
replaces (a normalisation copies ``weight``/``bias``; an adapter keeps the module and wraps it).
"""

from __future__ import annotations

import fnmatch
from typing import Any

import torch

from .errors import ConfigError


def matches(patch: Any, name: str, module: torch.nn.Module) -> bool:
    if patch.type is not None and type(module).__name__ != patch.type:
        return False
    return patch.name is None or fnmatch.fnmatchcase(name, patch.name)


def apply_patches(model: torch.nn.Module, patches: list[Any], build: Any) -> dict[str, int]:
    """Apply each patch in order; ``build(patch, module)`` returns the replacement.

    :returns: how many modules each patch replaced, keyed ``patches.<i>``.
    :raises ConfigError: a patch that matches nothing (a typo would otherwise pass silently), or a
        replacement whose constructor rejects the module it replaces.
    """
    counts: dict[str, int] = {}
    patched: list[torch.nn.Module] = []
    for i, patch in enumerate(patches):
        if patch.type is None and patch.name is None:
            raise ConfigError("a patch needs 'type' or 'name' to match modules", f"patches.{i}")
        targets = [(n, m) for n, m in model.named_modules() if n and matches(patch, n, m)]
        if not targets:
            types = sorted({type(m).__name__ for m in model.modules()})
            raise ConfigError(
                f"matches no module of the model (its module types: {', '.join(types)})", f"patches.{i}"
            )
        for name, module in targets:
            try:
                new = build(patch, module)
            except ConfigError as exc:  # the layer cannot take this module (a ValueError or TypeError)
                raise ConfigError(
                    f"cannot replace module {name!r} ({type(module).__name__}): {exc.message}",
                    exc.path or f"patches.{i}.with",
                ) from None
            parent_name, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)
            patched.append(new)
        counts[f"patches.{i}"] = len(targets)
    if any(p.freeze_rest for p in patches):
        keep = {id(p) for module in patched for p in module.parameters() if p.requires_grad}
        for p in model.parameters():
            if id(p) not in keep:
                p.requires_grad_(False)
    return counts
