"""Run configs: YAML, validated by pydantic (unknown keys forbidden), with dotted CLI overrides.

A component reference is a mapping with ``name`` and the component's params beside it::

    optimizer: {name: adamp, lr: 1.0e-3, scheduler: {name: cosine, T_max: 100}}
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, did_you_mean


class ComponentRef(BaseModel):
    """``name`` of a registered component (or ``plugin:name``) and its params."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class OptimizerRef(ComponentRef):
    scheduler: ComponentRef | None = None


class Patch(BaseModel):
    """Replace (or wrap) every module whose class is ``type`` or whose dotted name matches the
    glob ``name`` by the layer in ``with``, built from the module it replaces."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: str | None = None
    name: str | None = None
    with_: ComponentRef = Field(alias="with")
    freeze_rest: bool = False


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: str = "runs"
    name: str | None = None


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    data: ComponentRef
    model: ComponentRef
    patches: list[Patch] = []
    optimizer: OptimizerRef | None = None
    trainer: ComponentRef = ComponentRef(name="supervised")
    evaluators: list[ComponentRef] = []
    output: Output = Output()


SECTIONS = tuple(RunConfig.model_fields)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such config file", file=str(path))
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(path)) from None
    if not isinstance(raw, dict):
        raise ConfigError("a config is a mapping of sections: " + ", ".join(SECTIONS), file=str(path))
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["optimizer.lr=3e-4", "evaluators.0.name=loss"]`` applied to a copy of ``raw``; values are
    parsed as YAML (so ``3e-4`` is a number, ``[0.9, 0.99]`` a list) and typed later by the schema."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form dotted.path=value")
        value = yaml.safe_load(text) if text else ""
        node: Any = out
        parts = key.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(
                        f"no list item {part!r} (the list has {len(node)})", ".".join(parts[: i + 1])
                    )
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif last:
                node[part] = value
            else:
                if not isinstance(node.get(part), (dict, list)):
                    node[part] = {}
                node = node[part]
    return out


def parse(raw: dict[str, Any], file: str | None = None) -> RunConfig:
    """The pydantic model of a raw config; the first problem as a ConfigError naming its path."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"] if p != "with_"]
        path = ".".join("with" if p == "with_" else p for p in loc)
        if err["type"] == "extra_forbidden":
            parent = RunConfig if len(loc) == 1 else {"output": Output}.get(loc[0], Patch)
            accepted = [f.alias or n for n, f in parent.model_fields.items()]
            raise ConfigError(
                f"unknown key {loc[-1]!r}.{did_you_mean(loc[-1], accepted)} Accepted: {', '.join(accepted)}",
                path,
                file,
            ) from None
        if err["type"] == "missing":
            raise ConfigError("missing required key", path, file) from None
        raise ConfigError(f"{err['msg']} (got {err.get('input')!r})", path, file) from None
