"""Models named in a config: a registered layer, ``timm:<model>`` or ``hf:<ArchitectureClass>``.

timm models are built without weights; transformers models from a config dict, never from a hub.
"""

from __future__ import annotations

import inspect
from typing import Any

from .errors import ConfigError, did_you_mean


def check_model(name: str, params: dict[str, Any]) -> None:
    """Raise a ConfigError (path relative to ``model``) if the model or its params are wrong."""
    if name.startswith("timm:"):
        from .compat import import_timm

        timm = import_timm()
        arch = name[5:]
        if not timm.is_model(arch):
            raise ConfigError(f"unknown timm model {arch!r}.{did_you_mean(arch, timm.list_models())}", "name")
        if params.get("pretrained"):
            raise ConfigError(
                "pretrained weights would need a download; models are built from config only", "pretrained"
            )
    elif name.startswith("hf:"):
        _hf_config(name[3:], params)
    else:
        raise ValueError("registered models are checked by the registry")


def build_model(name: str, params: dict[str, Any]) -> Any:
    if name.startswith("timm:"):
        from .compat import import_timm

        return import_timm().create_model(name[5:], pretrained=False, **params)
    arch_cls, config = _hf_config(name[3:], params)
    return arch_cls(config)


def _hf_config(arch: str, params: dict[str, Any]) -> tuple[Any, Any]:
    from .compat import import_transformers

    transformers = import_transformers()

    unknown = set(params) - {"config"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"unknown key {key!r}: an hf model takes only 'config', a dict of its config", key)
    arch_cls = getattr(transformers, arch, None)
    if not inspect.isclass(arch_cls) or not hasattr(arch_cls, "config_class"):
        names = [n for n in dir(transformers) if n.endswith(("Model", "LM", "Classification"))]
        raise ConfigError(f"unknown transformers architecture {arch!r}.{did_you_mean(arch, names)}", "name")
    config_cls = arch_cls.config_class
    values = params.get("config", {}) or {}
    if not isinstance(values, dict):
        raise ConfigError("expected a mapping of config values", "config")
    accepted = set(inspect.signature(config_cls.__init__).parameters) - {"self", "kwargs"}
    defaults = config_cls()
    for key in values:
        if key not in accepted and not hasattr(defaults, key):
            raise ConfigError(
                f"unknown {config_cls.__name__} key {key!r}.{did_you_mean(key, accepted)}", f"config.{key}"
            )
    try:
        return arch_cls, config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), "config") from None
