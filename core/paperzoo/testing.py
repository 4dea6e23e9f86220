"""The testing kit: one call runs the contract checks on every component a plugin registers.

In a plugin's ``tests/test_contract.py``::

    from paperzoo.testing import parametrize_with_checks

    @parametrize_with_checks("adamp")
    def test_contract(check):
        check()

Each case is named ``<component>-<check>``, so a failure names the check. What is checked:

* every spec: complete (summary, paper with title/year/link, example params); builds from its
  example params through ``paperzoo.create``;
* layers: forward on ``example_input`` is finite; backward reaches every trainable parameter;
  a state-dict round trip through safetensors reproduces the outputs;
* optimizers: reduce a convex loss; skip parameters without gradients; honour param groups;
  save/load of the state dict gives a bitwise identical next step. Schedules (tag ``schedule``):
  finite positive rates and a state-dict round trip;
* trainers: a tiny config runs end to end, and resuming the finished run reproduces its weights;
* evaluators: finite values under exactly the declared ``keys``, identical on a second call;
* datasets: non-empty splits of ``(input, target)``, identical when built twice.
"""

from __future__ import annotations

import copy
import functools
import io
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .registry import registry
from .spec import ComponentSpec

DEFAULT_CONFIG: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "synthetic_classification", "n_samples": 96, "n_features": 8, "num_classes": 3},
    "model": {"name": "mlp", "in_features": 8, "num_classes": 3, "hidden": [16]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "trainer": {"name": "supervised", "epochs": 1, "batch_size": 16, "progress": False},
}


def parametrize_with_checks(plugin: str, require_paper: bool = True):
    """A ``pytest.mark.parametrize`` over (component, check) for every component of ``plugin``."""
    import pytest

    params = [pytest.param(functools.partial(check_plugin_loaded, plugin), id=f"{plugin}-loaded")]
    for spec in registry().list(plugin=plugin):
        for check in checks_for(spec, require_paper):
            params.append(pytest.param(functools.partial(check, spec), id=f"{spec.name}-{check.__name__}"))
    return pytest.mark.parametrize("check", params)


def checks_for(spec: ComponentSpec, require_paper: bool = True) -> list[Callable[[ComponentSpec], None]]:
    common = [check_spec_complete if require_paper else check_spec_fields, check_builds_from_example]
    per_kind = {
        "layer": [check_layer_forward_backward, check_layer_state_dict_round_trip],
        "optimizer": (
            [check_schedule]
            if "schedule" in spec.tags
            else [
                check_optimizer_reduces_convex_loss,
                check_optimizer_skips_params_without_grad,
                check_optimizer_param_groups,
                check_optimizer_state_dict_round_trip,
            ]
        ),
        "trainer": [check_trainer_runs_and_resumes],
        "evaluator": [check_evaluator_values],
        "dataset": [check_dataset_splits],
    }
    return common + per_kind[spec.kind]


# -- all kinds -----------------------------------------------------------------------------------
def check_plugin_loaded(plugin: str) -> None:
    info = registry().plugins.get(plugin)
    assert info is not None, f"plugin {plugin!r} is not installed (no entry point in group 'paperzoo')"
    assert info.status == "ok", f"plugin {plugin!r} {info.status}: {info.error}"
    assert info.components > 0, f"plugin {plugin!r} registers no component"


def check_spec_fields(spec: ComponentSpec) -> None:
    from .spec import problems

    assert not problems(spec), problems(spec)
    assert spec.summary.strip() and len(spec.summary.splitlines()) == 1, "summary must be one line"


def check_spec_complete(spec: ComponentSpec) -> None:
    check_spec_fields(spec)
    assert spec.paper is not None, "spec has no paper (title, year, arXiv id or url)"
    if spec.kind == "layer":
        assert spec.example_input is not None, "a layer spec needs example_input"


def _build(spec: ComponentSpec) -> Any:
    from . import create

    return create(spec.qualified_name, *_runtime_args(spec), **copy.deepcopy(spec.example))


def _runtime_args(spec: ComponentSpec) -> tuple:
    import torch

    if spec.kind == "layer" and spec.example_base:
        base = getattr(torch.nn, spec.example_base["type"])(*spec.example_base.get("args", []))
        return (base,)
    if spec.kind == "optimizer":
        if "schedule" in spec.tags:
            return (torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1),)
        return ([torch.nn.Parameter(torch.zeros(2))],)
    return ()


def check_builds_from_example(spec: ComponentSpec) -> None:
    assert _build(spec) is not None


# -- layers --------------------------------------------------------------------------------------
def _example_input(spec: ComponentSpec, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    desc = spec.example_input
    if isinstance(desc, dict):
        shape, dtype = desc["shape"], desc.get("dtype", "float")
        if dtype == "long":
            return torch.randint(desc.get("high", 10), shape, generator=g)
        return torch.randn(shape, generator=g)
    return torch.randn(list(desc), generator=g)


def _output_tensor(out: Any):
    from .losses import logits_of

    return logits_of(out)


def check_layer_forward_backward(spec: ComponentSpec) -> None:
    import torch

    torch.manual_seed(0)
    layer = _build(spec)
    layer.train()
    x = _example_input(spec)
    if x.is_floating_point():  # a layer without parameters must still pass gradients to its input
        x.requires_grad_(True)
    out = _output_tensor(layer(x))
    assert torch.isfinite(out).all(), "forward output is not finite"
    (out.float() ** 2).mean().backward()
    missing = [n for n, p in layer.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"backward reaches no gradient for {missing}"
    if x.requires_grad:
        assert x.grad is not None and torch.isfinite(x.grad).all(), (
            "backward reaches no gradient for the input"
        )


def check_layer_state_dict_round_trip(spec: ComponentSpec) -> None:
    import torch
    from safetensors.torch import load_model, save_model

    torch.manual_seed(0)
    first = _build(spec).eval()
    x = _example_input(spec)
    with torch.no_grad():
        for p in first.parameters():  # move away from any zero initialisation, so weights matter
            p.add_(0.01 * torch.randn_like(p))
        expected = _output_tensor(first(x))
    torch.manual_seed(1)
    second = _build(spec).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "layer.safetensors")
        save_model(first, path)
        load_model(second, path)
    with torch.no_grad():
        got = _output_tensor(second(x))
    assert torch.equal(expected, got), "outputs differ after a safetensors state-dict round trip"


# -- optimizers ----------------------------------------------------------------------------------
def _convex_problem(seed: int = 0):
    """``f(w, b) = ||A w + b - y||^2 / n``: convex, minimum reachable."""
    import torch

    g = torch.Generator().manual_seed(seed)
    a, y = torch.randn(32, 5, generator=g), torch.randn(32, generator=g)
    w = torch.nn.Parameter(torch.randn(5, generator=g))
    b = torch.nn.Parameter(torch.zeros(1))
    return a, y, w, b


def _optimizer(spec: ComponentSpec, params: Any) -> Any:
    from . import create

    return create(spec.qualified_name, params, **copy.deepcopy(spec.example))


def _loss(a, y, w, b):
    return ((a @ w + b - y) ** 2).mean()


def check_optimizer_reduces_convex_loss(spec: ComponentSpec) -> None:
    a, y, w, b = _convex_problem()
    opt = _optimizer(spec, [w, b])
    start = float(_loss(a, y, w, b).detach())
    for _ in range(100):
        opt.zero_grad()
        _loss(a, y, w, b).backward()
        opt.step()
    end = float(_loss(a, y, w, b).detach())
    assert math.isfinite(end) and end < 0.7 * start, f"convex loss went from {start:.4f} to {end:.4f}"


def check_optimizer_skips_params_without_grad(spec: ComponentSpec) -> None:
    import torch

    a, y, w, b = _convex_problem()
    frozen = torch.nn.Parameter(torch.ones(3))
    opt = _optimizer(spec, [w, b, frozen])
    for _ in range(3):
        opt.zero_grad()
        _loss(a, y, w, b).backward()
        opt.step()
    assert torch.equal(frozen.detach(), torch.ones(3)), "a parameter without gradient was changed"


def check_optimizer_param_groups(spec: ComponentSpec) -> None:
    import torch

    a, y, w, b = _convex_problem()
    w0 = w.detach().clone()
    opt = _optimizer(spec, [{"params": [w], "lr": 0.0, "weight_decay": 0.0}, {"params": [b]}])
    assert len(opt.param_groups) == 2
    for _ in range(3):
        opt.zero_grad()
        _loss(a, y, w, b).backward()
        opt.step()
    assert torch.equal(w.detach(), w0), "a param group with lr=0 was changed"
    assert not torch.equal(b.detach(), torch.zeros(1)), "the other param group was not updated"


def check_optimizer_state_dict_round_trip(spec: ComponentSpec) -> None:
    import torch

    a, y, w, b = _convex_problem()
    opt = _optimizer(spec, [w, b])
    for _ in range(3):
        opt.zero_grad()
        _loss(a, y, w, b).backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    w2, b2 = torch.nn.Parameter(w.detach().clone()), torch.nn.Parameter(b.detach().clone())
    opt2 = _optimizer(spec, [w2, b2])
    opt2.load_state_dict(torch.load(buffer, weights_only=True))
    for params, o in (((w, b), opt), ((w2, b2), opt2)):
        o.zero_grad()
        _loss(a, y, *params).backward()
        o.step()
    assert torch.equal(w, w2) and torch.equal(b, b2), "next step differs after a state-dict save and load"


def check_schedule(spec: ComponentSpec) -> None:
    import torch

    from . import create

    def make():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        return opt, create(spec.qualified_name, opt, **copy.deepcopy(spec.example))

    opt, sched = make()
    for _ in range(5):
        opt.step()
        sched.step()
    lrs = [g["lr"] for g in opt.param_groups]
    assert all(math.isfinite(lr) and lr >= 0 for lr in lrs), f"learning rates {lrs}"
    opt2, sched2 = make()
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    opt.step(), sched.step(), opt2.step(), sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr(), "schedule differs after a state-dict round trip"


# -- trainers, evaluators, datasets ---------------------------------------------------------------
def tiny_config(spec: ComponentSpec) -> dict[str, Any]:
    """The kit's default tiny run, with the sections of ``spec.example_config`` substituted."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config.update(copy.deepcopy(spec.example_config or {}))
    return config


def check_trainer_runs_and_resumes(spec: ComponentSpec) -> None:
    from safetensors.torch import load_file

    from . import engine

    config = tiny_config(spec)
    config["trainer"] = {"name": spec.qualified_name, **copy.deepcopy(spec.example)}
    with tempfile.TemporaryDirectory() as tmp:
        config["output"] = {"dir": tmp, "name": "run"}
        summary = engine.execute(config)
        run_dir = Path(summary["run_dir"])
        assert (run_dir / "config.yaml").exists(), "the resolved config was not saved"
        ckpt = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
        first = load_file(str(ckpt / "model.safetensors"))
        engine.execute(config, resume_dir=run_dir)
        ckpt = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
        again = load_file(str(ckpt / "model.safetensors"))
    assert first.keys() == again.keys()
    assert all((first[k] == again[k]).all() for k in first), "resuming a finished run changed its weights"


def check_evaluator_values(spec: ComponentSpec) -> None:
    from . import engine

    config = tiny_config(spec)
    p = engine.plan(config)
    engine.seed_everything(0)
    data = engine._build(p.data)
    model = engine.build_model(p)
    evaluator = _build(spec)
    declared = tuple(getattr(evaluator, "keys", ()))
    assert declared, "an evaluator declares its output keys in a `keys` attribute"
    first, second = evaluator(model, data), evaluator(model, data)
    assert tuple(sorted(first)) == tuple(sorted(declared)), f"returned {sorted(first)}, declared {declared}"
    assert all(math.isfinite(float(v)) for v in first.values()), f"non-finite values {first}"
    assert first == second, "two calls gave different values"


def check_dataset_splits(spec: ComponentSpec) -> None:
    import torch

    from .data import TASKS, fetch

    first, second = _build(spec), _build(spec)
    assert first.task in TASKS
    for split in ("train", "val"):
        ds1, ds2 = getattr(first, split), getattr(second, split)
        assert len(ds1) > 0, f"{split} split is empty"
        idx = torch.arange(min(4, len(ds1)))
        b1, b2 = fetch(ds1, idx), fetch(ds2, idx)
        assert len(b1) == 2, "items are (input, target) pairs"
        assert all(torch.equal(u, v) for u, v in zip(b1, b2)), f"{split} split differs between two builds"
