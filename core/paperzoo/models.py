"""Models named in a config: a registered layer, ``timm:<model>`` or ``hf:<ArchitectureClass>``.

timm models are built without weights; transformers models from a config dict, never from a hub.
No weights are ever loaded: ``pretrained: true`` and timm's ``checkpoint_path`` are refused.
Both need the ``models`` extra (``pip install 'paperzoo[models]'``); without it a config naming one
is a config mistake at ``model.name``.
"""

from __future__ import annotations

import inspect
from typing import Any

from .errors import ConfigError, did_you_mean, short

EXTRA = "pip install 'paperzoo[models]'"
#: timm params that load weights (models are built from the config only)
WEIGHT_PARAMS = ("pretrained", "checkpoint_path")


def _import(what: str) -> Any:
    """timm or transformers; a missing package is a ConfigError at ``name`` naming the extra."""
    from . import compat

    try:
        return compat.import_timm() if what == "timm" else compat.import_transformers()
    except ImportError as exc:
        missing = getattr(exc, "name", None) or what
        raise ConfigError(
            f"{what} models need the 'models' extra ({missing} is not importable: {exc}); install it: {EXTRA}",
            "name",
        ) from None


def check_model(name: str, params: dict[str, Any]) -> None:
    """Raise a ConfigError (path relative to ``model``) if the model or its params are wrong."""
    if name.startswith("timm:"):
        timm = _import("timm")
        arch = name[5:]
        if not timm.is_model(arch):
            raise ConfigError(
                f"unknown timm model {short(arch)}.{did_you_mean(arch, timm.list_models())}", "name"
            )
        if params.get("pretrained"):
            raise ConfigError(
                "pretrained weights would need a download; models are built from config only "
                "(accepted: false)",
                "pretrained",
            )
        if params.get("checkpoint_path") is not None:
            raise ConfigError(
                "weights are never loaded into a model: models are built from the config only; "
                "accepted: no checkpoint_path",
                "checkpoint_path",
            )
    elif name.startswith("hf:"):
        _hf_config(name[3:], params)
    else:
        raise ValueError("registered models are checked by the registry")


def build_model(name: str, params: dict[str, Any]) -> Any:
    """The model, without weights. A ``TypeError`` or ``ValueError`` of its constructor (a param it
    does not take, a value out of range) is a ConfigError at ``model``."""
    if name.startswith("timm:"):
        check_model(name, params)
        rest = {k: v for k, v in params.items() if k not in WEIGHT_PARAMS}
        try:
            return _import("timm").create_model(name[5:], pretrained=False, **rest)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{type(exc).__name__}: {short(str(exc), quote=False, limit=300)}") from None
    arch_cls, config = _hf_config(name[3:], params)
    try:
        return arch_cls(config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{type(exc).__name__}: {short(str(exc), quote=False, limit=300)}", "config"
        ) from None


def _hf_config(arch: str, params: dict[str, Any]) -> tuple[Any, Any]:
    transformers = _import("transformers")

    unknown = set(params) - {"config"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown key {short(key)}: an hf model takes only 'config', a dict of its config", key
        )
    arch_cls = getattr(transformers, arch, None)
    if not inspect.isclass(arch_cls) or not hasattr(arch_cls, "config_class"):
        names = [n for n in dir(transformers) if n.endswith(("Model", "LM", "Classification"))]
        raise ConfigError(
            f"unknown transformers architecture {short(arch)}.{did_you_mean(arch, names)}", "name"
        )
    config_cls = arch_cls.config_class
    values = params.get("config", {}) or {}
    if not isinstance(values, dict):
        raise ConfigError("expected a mapping of config values", "config")
    accepted = set(inspect.signature(config_cls.__init__).parameters) - {"self", "kwargs"}
    defaults = config_cls()
    for key in values:
        if key not in accepted and not hasattr(defaults, key):
            raise ConfigError(
                f"unknown {config_cls.__name__} key {short(key)}.{did_you_mean(key, accepted)}",
                f"config.{key}",
            )
    try:
        return arch_cls, config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), "config") from None
