"""The run engine: validate a config completely, then build data, model, patches, optimizer and
schedule, trainer and evaluators, in that order, and hand them to the trainer.

Nothing is written until every component is built and checked: only then is the run directory
created (atomically, see :mod:`paperzoo.rundir`) and locked for as long as the run writes it."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import __version__, rundir
from .config import ComponentRef, RunConfig, parse
from .errors import ConfigError, ParamError, UsageError, short
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
        return Checked(None, ref.name, ref.params, "model")
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
    """Construct a checked component. A ``ParamError`` its constructor raises is a config mistake at
    ``<path>.<param>``; any other ``ValueError`` (``alpha must lie in [0, 1]``) or a ``TypeError``
    (a patch layer that cannot take the module it replaces) one at the component's path."""
    from .api import import_target

    target = import_target(checked.spec)
    try:
        return target(*args, **checked.params)
    except ParamError as exc:
        raise ConfigError(exc.message, ".".join(p for p in (checked.path, exc.param) if p)) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(short(str(exc), quote=False, limit=300), checked.path) from None


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
    if optimizer is None and getattr(trainer, "requires_optimizer", False):
        raise ConfigError(
            f"the {p.trainer.name!r} trainer needs an optimizer; accepted: a registered optimizer, "
            "e.g. {name: sgd, lr: 0.1}",
            "optimizer",
        )
    _check_model_for_trainer(trainer, model, p.trainer.name)
    if data is not None:
        _check_splits(data, needs_val=bool(evaluators))
    return data, model, make_optimizer, optimizer, scheduler, trainer, evaluators


def _check_model_for_trainer(trainer: Any, model: Any, trainer_name: str) -> None:
    """A trainer that works only on some models (``check_model(model)`` raising ``ValueError``) refuses
    the others here, before the run directory exists: a config mistake at ``model``, exit 2, nothing
    written."""
    check = getattr(trainer, "check_model", None)
    if check is None:
        return
    try:
        check(model)
    except ValueError as exc:
        message = short(str(exc), quote=False, limit=300)
        raise ConfigError(f"the {trainer_name!r} trainer cannot use this model: {message}", "model") from None


def _check_splits(data: Any, needs_val: bool) -> None:
    """An empty training split (or validation split, when evaluators read it) is a mistake at ``data``."""
    for split, needed in (("train", True), ("val", needs_val)):
        try:
            empty = needed and len(getattr(data, split)) == 0
        except TypeError:  # a dataset without a length (streamed): nothing to check here
            continue
        if empty:
            raise ConfigError(
                f"the dataset's {split} split is empty; accepted: params that leave examples in both "
                "splits (e.g. more n_samples, or a val_fraction strictly between 0 and 1)",
                "data",
            )


def build_model(p: Plan) -> Any:
    if p.model.spec is None:
        from .models import build_model as build_external

        try:
            return build_external(p.model.name, p.model.params)
        except ConfigError as exc:
            raise exc.at(prefix="model") from None
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


def _new_run_dir(cfg: RunConfig, config_name: str) -> Path:
    name = cfg.output.name or f"{config_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return rundir.create(Path(cfg.output.dir), name)


def check_resume(run_dir: str | Path) -> Path:
    """The checkpoint ``--resume run_dir`` would continue from; a UsageError (one line) when the
    directory is missing, holds a symbolic link, or has no checkpoint to resume from."""
    from . import checkpoint

    path = Path(run_dir)
    rundir.check_resumable(path)
    found = checkpoint.latest(path / "checkpoints", quiet=True)  # the trainer warns when it resumes
    if found is None:
        raise rundir.RunDirError(checkpoint.missing_message(path))
    return found


def completed_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """The summary of a run that finished (its ``summary.json``), or ``None`` if it did not."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(rundir.read_text(path))
    except (OSError, ValueError):
        return None
    return {**summary, "run_dir": str(run_dir)} if isinstance(summary, dict) else None


def execute(
    raw: dict[str, Any],
    file: str | None = None,
    resume_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Validate, build and train. Returns the trainer's summary (with ``run_dir``).

    With ``resume_dir`` the run continues from its newest checkpoint; otherwise a new run directory
    is created (or ``run_dir``, which must not exist yet or be empty), after every component is built.
    The main process holds the run directory's lock while the run writes it."""
    import torch.distributed as dist

    from .trainer import Run

    p = plan(raw, file)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed and not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    is_main = not distributed or dist.get_rank() == 0

    with contextlib.ExitStack() as stack:
        if resume_dir is not None:
            check_resume(resume_dir)
            if is_main:
                stack.enter_context(rundir.locked(Path(resume_dir)))
        try:
            data, model, make_optimizer, optimizer, scheduler, trainer, evaluators = build_components(p)
        except ConfigError as exc:
            raise exc.at(file=file) from None

        path = Path(resume_dir) if resume_dir is not None else None
        if is_main and path is None:
            if run_dir is not None:
                path = Path(run_dir)
                path.mkdir(parents=True, exist_ok=True)
                if any(path.iterdir()):
                    raise rundir.RunDirError(f"{path}: the run directory is not empty")
            else:
                path = _new_run_dir(p.config, Path(file).stem if file else "run")
            stack.enter_context(rundir.locked(path))
            _write_resolved(path, p)
        if distributed:
            shared = [str(path)]
            dist.broadcast_object_list(shared, src=0)
            path = Path(shared[0])
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
    rundir.write_text(path / "config.yaml", "# resolved config; versions used:\n" + header + body)
    rundir.write_text(path / "versions.json", json.dumps(vers, indent=2) + "\n")
