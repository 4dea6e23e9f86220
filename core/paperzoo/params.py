"""Check a component's params against its signature and type hints before anything is built."""

from __future__ import annotations

import inspect
import math
import typing
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, did_you_mean, short


class NonFinite:
    """Marks a param that accepts ``inf`` and ``nan``: ``Annotated[float, NonFinite()]``. Without
    it (or a non-finite default, such as ``max_norm: float = math.inf``) a non-finite float, alone
    or inside a list, tuple or dict, is refused when params are validated."""


@dataclass(frozen=True)
class Param:
    """One configurable parameter of a component."""

    name: str
    annotation: Any
    default: Any
    required: bool
    description: str = ""
    nonfinite: bool = False  # accepts inf and nan (see NonFinite)

    @property
    def type_name(self) -> str:
        return type_name(self.annotation)


def type_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return "any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _callable_for_signature(target: Any) -> Any:
    return target.__init__ if inspect.isclass(target) else target


def _hints(target: Any) -> dict[str, Any]:
    fn = _callable_for_signature(target)
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return getattr(fn, "__annotations__", {}) or {}


def _nonfinite_names(target: Any) -> set[str]:
    """Params annotated ``Annotated[..., NonFinite()]``."""
    try:
        hints = typing.get_type_hints(_callable_for_signature(target), include_extras=True)
    except Exception:
        return set()
    return {
        name
        for name, hint in hints.items()
        if any(isinstance(m, NonFinite) or m is NonFinite for m in getattr(hint, "__metadata__", ()))
    }


def _docs(target: Any) -> dict[str, str]:
    """``:param name: text`` and Google-style ``name: text`` lines of the docstrings."""
    docs: dict[str, str] = {}
    for obj in (target, _callable_for_signature(target)):
        for line in (inspect.getdoc(obj) or "").splitlines():
            line = line.strip()
            if line.startswith(":param "):
                name, _, text = line[7:].partition(":")
                docs.setdefault(name.strip().split()[-1], text.strip())
    return docs


def signature_params(target: Any, runtime_args: int = 0) -> list[Param]:
    """The params a config can set: everything but the first ``runtime_args`` positional ones
    (the model, the parameters or the optimizer that the caller supplies) and ``*args``.

    A class whose ``__init__`` takes ``**kwargs`` forwards them to its parent: the parent's params
    are listed too, so a paper trainer that subclasses ``Supervised`` with ``**loop`` accepts (and
    validates) the loop's params without repeating them."""
    sig = inspect.signature(target)
    hints, docs, nonfinite = _hints(target), _docs(target), _nonfinite_names(target)
    out, skipped = [], 0
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if skipped < runtime_args and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            skipped += 1
            continue
        out.append(
            Param(
                name=p.name,
                annotation=hints.get(p.name, p.annotation),
                default=None if p.default is p.empty else p.default,
                required=p.default is p.empty,
                description=docs.get(p.name, ""),
                nonfinite=p.name in nonfinite or (p.default is not p.empty and _has_nonfinite(p.default)),
            )
        )
    parent = _kwargs_parent(target)
    if parent is not None:
        names = {p.name for p in out}
        out += [p for p in signature_params(parent) if p.name not in names]
    return out


def _kwargs_parent(target: Any) -> Any:
    """The parent class that receives a class's ``**kwargs``, if it forwards them to one."""
    if not inspect.isclass(target) or not _has_var_kwargs(target):
        return None
    for base in target.__mro__[1:]:
        if base is not object and "__init__" in vars(base):
            return base
    return None


def _has_var_kwargs(target: Any) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(target).parameters.values())


def accepts_var_kwargs(target: Any) -> bool:
    """Whether ``target`` takes arbitrary keyword params (not ones it forwards to a known parent)."""
    while _kwargs_parent(target) is not None:
        target = _kwargs_parent(target)
    return _has_var_kwargs(target)


def accepted(params: list[Param]) -> str:
    return ", ".join(f"{p.name}: {p.type_name}" for p in params) or "(none)"


def validate(target: Any, params: dict[str, Any], runtime_args: int = 0, path: str = "") -> dict[str, Any]:
    """Validated (and coerced, e.g. ``"1e-3"`` to ``0.001``) params, or a ConfigError naming the path.

    :param runtime_args: how many leading positional args the caller supplies itself.
    :param path: dotted path of the component in its config, used in messages.
    """
    known = {p.name: p for p in signature_params(target, runtime_args)}
    out: dict[str, Any] = {}
    for key, value in params.items():
        where = f"{path}.{key}" if path else key
        if key not in known:
            if accepts_var_kwargs(target):
                out[key] = value
                continue
            raise ConfigError(
                f"unknown param {short(key)}.{did_you_mean(key, known)} Accepted: {accepted(list(known.values()))}",
                where,
            )
        out[key] = _coerce(value, known[key], where)
        if not known[key].nonfinite and _has_nonfinite(out[key]):
            raise ConfigError(
                f"expected a finite number, got {short(value)}; accepted: finite values "
                f"({known[key].type_name})",
                where,
            )
    missing = [p for p in known.values() if p.required and p.name not in out]
    if missing:
        p = missing[0]
        raise ConfigError(
            f"missing required param {p.name!r} ({p.type_name})", f"{path}.{p.name}" if path else p.name
        )
    return out


def _coerce(value: Any, param: Param, where: str) -> Any:
    annotation = param.annotation
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    from pydantic import TypeAdapter, ValidationError
    from pydantic.errors import PydanticSchemaGenerationError

    try:
        adapter = TypeAdapter(_without_unschemable(annotation))
    except (PydanticSchemaGenerationError, TypeError, NameError):
        if isinstance(annotation, type) and not isinstance(value, annotation):
            raise ConfigError(f"expected {param.type_name}, got {short(value)}", where) from None
        return value
    try:
        coerced = adapter.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise ConfigError(f"expected {param.type_name}, got {short(value)} ({reason})", where) from None
    return coerced


def _has_nonfinite(value: Any) -> bool:
    """Whether ``value`` is, or (in lists, tuples, sets and dict values) holds, an inf or nan float."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_nonfinite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    return False


def _without_unschemable(annotation: Any) -> Any:
    """Drop members a config cannot express (e.g. ``Tensor`` in ``float | Tensor``) from unions
    and tuples, so the rest is still checked."""
    from pydantic import TypeAdapter

    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if not args:
        return annotation
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        kept = []
        for arg in args:
            arg = _without_unschemable(arg)
            try:
                TypeAdapter(arg)
                kept.append(arg)
            except Exception:
                continue
        return typing.Union[tuple(kept)] if kept else annotation
    if origin is tuple:
        return tuple[tuple(_without_unschemable(a) if a is not Ellipsis else a for a in args)]
    return annotation
