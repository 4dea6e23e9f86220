"""The public Python API: ``create``, ``get``, ``load`` and ``list`` (exported as ``paperzoo.*``)."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import PluginError
from .registry import registry
from .spec import ComponentSpec


def get(name: str, kind: str | None = None) -> ComponentSpec:
    """The spec of a component, by ``name`` or ``plugin:name``."""
    return registry().get(name, kind)


def load(name: str, kind: str | None = None) -> Any:
    """The component's class or function, imported now."""
    return import_target(get(name, kind))


def import_target(spec: ComponentSpec) -> Any:
    module_name, _, attr = spec.target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise PluginError(
            f"{spec.kind} {spec.name!r} of plugin {spec.plugin!r} could not be imported from "
            f"{spec.target!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return obj


def create(name: str, *args: Any, kind: str | None = None, **params: Any) -> Any:
    """Build a component: ``create("adamp", model.parameters(), lr=1e-3)``.

    Positional ``args`` are what the caller supplies at run time (parameters for an optimizer,
    the optimizer for a schedule, the module a layer replaces); keyword ``params`` are validated
    against the component's signature and type hints exactly as a config is.
    """
    from .params import validate

    spec = get(name, kind)
    target = import_target(spec)
    checked = validate(target, params, runtime_args=len(args), path=spec.name)
    return target(*args, **checked)


def list_specs(kind: str | None = None, pattern: str | None = None) -> list[ComponentSpec]:
    """Specs of every installed component, optionally of one kind and matching a pattern
    (a glob on the name such as ``"*norm*"``, or text searched in name, summary, tags and paper)."""
    return registry().list(kind=kind, pattern=pattern)
