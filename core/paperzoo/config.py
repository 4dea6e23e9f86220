"""Run configs: YAML, validated by pydantic (unknown keys forbidden), with dotted CLI overrides.

A component reference is a mapping with ``name`` and the component's params beside it::

    optimizer: {name: adamp, lr: 1.0e-3, scheduler: {name: cosine, T_max: 100}}

YAML is read by a safe loader that refuses duplicate keys (at any level) and configs that expand,
with YAML aliases repeated, to more than ``MAX_NODES`` values or nest deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, did_you_mean, short

#: most values (mappings, lists and scalars, counted with every YAML alias expanded) in a config
MAX_NODES = 100_000
#: deepest nesting of mappings and lists in a config
MAX_DEPTH = 64


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
    """``dir`` holds the run directories; ``name`` is one directory created inside it."""

    model_config = ConfigDict(extra="forbid")
    dir: str = "runs"
    name: str | None = None

    @field_validator("dir")
    @classmethod
    def _plain_dir(cls, value: str) -> str:
        if not value or "\0" in value:
            raise ValueError(f"{short(value)} is not a directory path; accepted: a path without NUL bytes")
        return value

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        bad = value is not None and (
            not value
            or value in (".", "..")
            or any(c in value for c in "/\\\0")
            or Path(value).is_absolute()
            or len(value) > 200
        )
        if bad:
            raise ValueError(
                f"{short(value)} is not a plain directory name; accepted: one name (at most 200 characters, "
                "no '/', '\\', '..' or NUL byte), created inside output.dir"
            )
        return value


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = Field(0, ge=-(2**63), lt=2**64)  # what torch.manual_seed accepts
    data: ComponentRef
    model: ComponentRef
    patches: list[Patch] = []
    optimizer: OptimizerRef | None = None
    trainer: ComponentRef = ComponentRef(name="supervised")
    evaluators: list[ComponentRef] = []
    output: Output = Output()


SECTIONS = tuple(RunConfig.model_fields)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, checking the composed document (``_check_nodes``) before building it."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return self.construct_document(node)


def _check_nodes(root: yaml.Node) -> None:
    """Refuse duplicate keys, aliases that contain themselves, nesting beyond ``MAX_DEPTH`` and more
    than ``MAX_NODES`` values once aliases are expanded (a few lines of aliases can name 10^9 values).
    Each node is visited once: aliases share nodes, so the expanded size is a sum over a small graph."""
    sizes: dict[int, int] = {}
    walking: set[int] = set()

    def size(node: yaml.Node, path: tuple[str, ...]) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        where, line = ".".join(path), node.start_mark.line + 1
        if id(node) in walking:
            raise ConfigError(f"a YAML alias names a value that contains it (line {line})", where)
        if len(path) > MAX_DEPTH:
            raise ConfigError(
                f"nested more than {MAX_DEPTH} levels deep (line {line})", short(where, quote=False)
            )
        walking.add(id(node))
        total = 1
        children: list[tuple[yaml.Node, tuple[str, ...]]] = []
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    children.append((value, path))
                    continue
                label = short(key.value, quote=False) if isinstance(key, yaml.ScalarNode) else "?"
                if isinstance(key, yaml.ScalarNode):
                    ident, key_line = (key.tag, key.value), key.start_mark.line + 1
                    if ident in seen:
                        raise ConfigError(
                            f"given twice (lines {seen[ident]} and {key_line}); the second would "
                            "silently replace the first: keep one",
                            ".".join((*path, label)),
                        )
                    seen[ident] = key_line
                children += [(key, (*path, label)), (value, (*path, label))]
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, (*path, str(i))) for i, item in enumerate(node.value)]
        for child, child_path in children:
            total += size(child, child_path)
            if total > MAX_NODES:
                raise ConfigError(
                    f"expands to more than {MAX_NODES} values (YAML aliases repeat what they name; line "
                    f"{line}); accepted: a config of at most {MAX_NODES} values",
                    where,
                )
        walking.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, ())


def parse_yaml(text: str) -> Any:
    """``text`` read by the checking safe loader (ConfigErrors for what ``_check_nodes`` refuses)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise ConfigError(f"nested more than {MAX_DEPTH} levels deep") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
    return f"not valid YAML{where}: {short(problem, quote=False, limit=200)}"


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such config file", file=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", file=str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
            file=str(path),
        ) from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc), file=str(path)) from None
    except ConfigError as exc:
        raise exc.at(file=str(path)) from None
    if not isinstance(raw, dict):
        raise ConfigError("a config is a mapping of sections: " + ", ".join(SECTIONS), file=str(path))
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["optimizer.lr=3e-4", "evaluators.0.name=loss"]`` applied to a copy of ``raw``; values are
    parsed as YAML (so ``3e-4`` is a number, ``[0.9, 0.99]`` a list) and typed later by the schema.
    A mistake in an override is a ConfigError naming it (``override``)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        try:
            _apply(out, item)
        except ConfigError as exc:
            raise exc.at(override=item) from None
    return out


def _apply(out: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError("an override has the form dotted.path=value")
    parts = key.split(".")
    if not all(parts):
        raise ConfigError("an empty key in the dotted path; accepted: keys joined by single dots", key)
    try:
        value = parse_yaml(text) if text else ""
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc), key) from None
    except ConfigError as exc:
        raise exc.at(prefix=key) from None
    node: Any = out
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"no list item {short(part)} (the list has {len(node)}); accepted: an index from 0",
                    ".".join(parts[: i + 1]),
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


def attribute(exc: ConfigError, overrides: list[str]) -> ConfigError:
    """``exc`` naming the override that set its path (or a key below or above it), if one did."""
    if exc.override is not None or not exc.path:
        return exc
    for item in reversed(overrides):
        key = item.partition("=")[0]
        if exc.path == key or exc.path.startswith(key + ".") or key.startswith(exc.path + "."):
            return exc.at(override=item)
    return exc


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
                f"unknown key {short(loc[-1])}.{did_you_mean(loc[-1], accepted)} Accepted: {', '.join(accepted)}",
                path,
                file,
            ) from None
        if err["type"] == "missing":
            raise ConfigError("missing required key", path, file) from None
        if err["type"] == "value_error":  # the schema's own validators say what is wrong and accepted
            raise ConfigError(str(err["ctx"]["error"]), path, file) from None
        raise ConfigError(f"{err['msg']} (got {short(err.get('input'))})", path, file) from None
