"""The run engine: validate a config completely, then build data, model, patches, optimizer and
schedule, trainer and evaluators, in that order, and hand them to the trainer."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import __version__
from .config import ComponentRef, RunConfig, parse
from .errors import ConfigError, UsageError
from .registry import registry
from .spec import ComponentSpec

# How many leading positional args the engine supplies for each section (see params.validate).
RUNTIME_ARGS = {
    "data": 0,
    "model": 0,
    "optimizer": 1,
    "scheduler": 1,
    "trainer": 0,
    "evaluator": 0,
    "patch": 1,
}


@dataclass
class Checked:
    """A validated component reference: its spec and coerced params."""

    spec: ComponentSpec | None
    name: str
    params: dict[str, Any]
    path: str = ""


def _check(ref: ComponentRef, kind: str, path: str, runtime_args: int) -> Checked:
    from .api import import_target
    from .params import validate

    try:
        spec = registry().get(ref.name, kind)
    except UsageError as exc:
        raise ConfigError(str(exc), f"{path}.name") from None
    target = import_target(spec)
    try:
        params = validate(target, ref.params, runtime_args=runtime_args)
    except ConfigError as exc:
        raise exc.at(prefix=path) from None
    return Checked(spec, ref.name, params, path)


@dataclass
class Plan:
    """A fully validated config, ready to build."""

    config: RunConfig
    raw: dict[str, Any]
    data: Checked
    model: Checked
    patches: list[Checked]
    optimizer: Checked | None
    scheduler: Checked | None
    trainer: Checked
    evaluators: list[Checked]


def plan(raw: dict[str, Any], file: str | None = None) -> Plan:
    """Validate everything a run needs without building anything heavy. ConfigErrors name ``file``."""
    try:
        cfg = parse(raw)
        model = _check_model(cfg.model)
        optimizer = scheduler = None
        if cfg.optimizer is not None:
            optimizer = _check(cfg.optimizer, "optimizer", "optimizer", 1)
            if cfg.optimizer.scheduler is not None:
                scheduler = _check(cfg.optimizer.scheduler, "optimizer", "optimizer.scheduler", 1)
        return Plan(
            config=cfg,
            raw=raw,
            data=_check(cfg.data, "dataset", "data", 0),
            model=model,
            patches=[_check(p.with_, "layer", f"patches.{i}.with", 1) for i, p in enumerate(cfg.patches)],
            optimizer=optimizer,
            scheduler=scheduler,
            trainer=_check(cfg.trainer, "trainer", "trainer", 0),
            evaluators=[_check(e, "evaluator", f"evaluators.{i}", 0) for i, e in enumerate(cfg.evaluators)],
        )
    except ConfigError as exc:
        raise exc.at(file=file) from None


def _check_model(ref: ComponentRef) -> Checked:
    if ref.name.startswith(("timm:", "hf:")):
        from .models import check_model

        try:
            check_model(ref.name, ref.params)
        except ConfigError as exc:
            raise exc.at(prefix="model") from None
        return Checked(None, ref.name, ref.params)
    return _check(ref, "layer", "model", 0)


def evaluator_keys(evaluators: list[Checked]) -> list[str]:
    """The name each evaluator's metrics are reported under: its component name, or ``name.i`` (``i``
    its position in ``evaluators``) when the same component is listed more than once."""
    names = [c.spec.name for c in evaluators]
    return [name if names.count(name) == 1 else f"{name}.{i}" for i, name in enumerate(names)]


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _build(checked: Checked, *args: Any) -> Any:
    """Construct a checked component; a ``ValueError`` its constructor raises on the given params
    (``alpha must lie in [0, 1]``) is a config mistake at the component's path."""
    from .api import import_target

    target = import_target(checked.spec)
    try:
        return target(*args, **checked.params)
    except ValueError as exc:
        raise ConfigError(str(exc), checked.path) from None


def build_components(p: Plan, with_data: bool = True) -> tuple[Any, Any, Any, Any, Any, Any, dict[str, Any]]:
    """Data (``None`` unless ``with_data``), model (patched), optimizer factory, optimizer, schedule,
    trainer and evaluators (by the name their metrics take), built in that order from the run's seed."""
    from .patches import apply_patches

    seed_everything(p.config.seed)
    data = _build(p.data) if with_data else None
    model = build_model(p)
    checked_patches = dict(zip(map(id, p.config.patches), p.patches))
    apply_patches(model, p.config.patches, lambda patch, module: _build(checked_patches[id(patch)], module))
    make_optimizer = make_optimizer_factory(p) if p.optimizer is not None else None
    optimizer, scheduler = (
        make_optimizer([q for q in model.parameters() if q.requires_grad]) if make_optimizer else (None, None)
    )
    trainer = _build(p.trainer)
    evaluators = {key: _build(c) for key, c in zip(evaluator_keys(p.evaluators), p.evaluators)}
    return data, model, make_optimizer, optimizer, scheduler, trainer, evaluators


def build_model(p: Plan) -> Any:
    if p.model.spec is None:
        from .models import build_model as build_external

        return build_external(p.model.name, p.model.params)
    return _build(p.model)


def make_optimizer_factory(p: Plan):
    def make(params: Iterable[Any]) -> tuple[Any, Any]:
        optimizer = _build(p.optimizer, params)
        scheduler = _build(p.scheduler, optimizer) if p.scheduler is not None else None
        return optimizer, scheduler

    return make


def versions(p: Plan) -> dict[str, str]:
    """Versions of core, torch and the distribution of every plugin the run uses."""
    import torch

    reg = registry()
    used = {
        c.spec.plugin
        for c in [p.data, p.model, *p.patches, p.optimizer, p.scheduler, p.trainer, *p.evaluators]
        if c is not None and c.spec is not None
    }
    out = {"paperzoo": __version__, "torch": torch.__version__}
    for name in sorted(used - {"builtins"}):
        info = reg.plugins[name]
        out[info.distribution or name] = info.version
    for prefix, module in (("timm:", "timm"), ("hf:", "transformers")):
        if p.model.name.startswith(prefix):
            out[module] = __import__(module).__version__
    return out


def _run_dir(cfg: RunConfig, config_name: str) -> Path:
    base = Path(cfg.output.dir)
    name = cfg.output.name or f"{config_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base / name, 1
    while path.exists():
        path, n = base / f"{name}-{n}", n + 1
    return path


def execute(
    raw: dict[str, Any],
    file: str | None = None,
    resume_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Validate, build and train. Returns the trainer's summary (with ``run_dir``)."""
    import torch.distributed as dist

    from .trainer import Run

    p = plan(raw, file)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed and not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    is_main = not distributed or dist.get_rank() == 0

    try:
        data, model, make_optimizer, optimizer, scheduler, trainer, evaluators = build_components(p)
    except ConfigError as exc:
        raise exc.at(file=file) from None

    if resume_dir is not None:
        path = Path(resume_dir)
    elif run_dir is not None:
        path = Path(run_dir)
    else:
        path = _run_dir(p.config, Path(file).stem if file else "run")
    if distributed:
        shared = [str(path)]
        dist.broadcast_object_list(shared, src=0)
        path = Path(shared[0])
    if is_main:
        path.mkdir(parents=True, exist_ok=True)
        if resume_dir is None:
            _write_resolved(path, p)
    if distributed:
        dist.barrier()
    run = Run(
        model=model,
        data=data,
        optimizer=optimizer,
        scheduler=scheduler,
        evaluators=evaluators,
        run_dir=path,
        seed=p.config.seed,
        resume=resume_dir is not None,
        make_optimizer=make_optimizer,
        config=p.raw,
    )
    summary = trainer.fit(run)
    summary["run_dir"] = str(path)
    if distributed:
        dist.barrier()
    return summary


def _write_resolved(path: Path, p: Plan) -> None:
    """``config.yaml`` (runs again unchanged) headed by the versions used, and ``versions.json``."""
    vers = versions(p)
    header = "".join(f"# {name}=={version}\n" for name, version in vers.items())
    body = yaml.safe_dump(p.raw, sort_keys=False)
    (path / "config.yaml").write_text("# resolved config; versions used:\n" + header + body)
    (path / "versions.json").write_text(json.dumps(vers, indent=2) + "\n")
