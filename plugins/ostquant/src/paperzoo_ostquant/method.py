"""OSTQuant on a tinylm decoder: learn the equivalence transformations of :mod:`paperzoo_ostquant.transform`
through a W-A fake-quantised copy of the model with the KL-Top loss against the float model's logits, then
write them into the model (which the caller quantises, e.g. with the kit's ``quantize_model_wa``).

Training forward: every block Linear computes ``Q_w(W') Q_a(x)^T`` with ``W'`` the transformed weight,
``Q_a`` per-token asymmetric and ``Q_w`` per-output-channel asymmetric round-to-nearest, both with
straight-through rounding (gradients reach the transformations through the values and the ranges).
Rotations step by Cayley SGD (exactly orthogonal), log-scales by Adam; both with a cosine decay to 0.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from paperzoo_compress.act import fake_quantize_activations
from paperzoo_compress.linear import block_linears, set_module
from torch import nn

from paperzoo_ostquant.loss import kl_top
from paperzoo_ostquant.orth import CayleySGD
from paperzoo_ostquant.transform import OSTParams, apply_, fold_norms_, transform_names, transformed


class _STEQuantLinear(nn.Module):
    """Training-time ``F.linear(Q_a(x), Q_w(W))`` with straight-through rounding."""

    def __init__(self, linear: nn.Linear, w_bits: int, a_bits: int) -> None:
        super().__init__()
        self.linear, self.w_bits, self.a_bits = linear, w_bits, a_bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xq = fake_quantize_activations(x, self.a_bits, "token", ste=True)
        wq = fake_quantize_activations(self.linear.weight, self.w_bits, "token", ste=True)
        return nn.functional.linear(xq, wq, self.linear.bias)


@dataclass
class OSTResult:
    """What a run of :func:`ostquant_` reports: the KL-Top loss of each step."""

    losses: list[float] = field(default_factory=list)
    ost: OSTParams | None = None

    def summary(self) -> dict[str, float]:
        if not self.losses:
            return {}
        k = max(1, len(self.losses) // 10)
        return {"kl_top_first": sum(self.losses[:k]) / k, "kl_top_last": sum(self.losses[-k:]) / k}


def ostquant_(
    model: nn.Module,
    calib_ids: torch.Tensor,
    w_bits: int = 4,
    a_bits: int = 4,
    steps: int = 100,
    batch_size: int = 8,
    lr_rotation: float = 1.0,
    lr_scale: float = 1e-2,
    top_k: int = 64,
    init: str = "hadamard",
    learn_rotation: bool = True,
    learn_scale: bool = True,
    seed: int = 0,
) -> OSTResult:
    """In place: learn the transformations on ``calib_ids`` ``[N, T]`` and write them into ``model`` (a
    float tinylm decoder; its function is unchanged). ``steps=0`` (or nothing learnt) applies the initial
    transformations: with ``init="hadamard"`` QuaRot's fixed random Hadamard rotations."""
    top_k = min(top_k, model.lm_head.out_features)
    with torch.no_grad():
        teacher = torch.cat([model(chunk).logits for chunk in calib_ids.split(batch_size)])
    fold_norms_(model)
    ost = OSTParams(model, init, seed).to(model.lm_head.weight.device)
    params = [p for p, on in ((ost.r_res, learn_rotation), (ost.r_ov, learn_rotation)) if on]
    scales = ost.scales() if learn_scale else []
    result = OSTResult(ost=ost)
    if steps > 0 and (params or scales):
        _train(
            model,
            ost,
            calib_ids,
            teacher,
            params,
            scales,
            w_bits,
            a_bits,
            steps,
            batch_size,
            lr_rotation,
            lr_scale,
            top_k,
            seed,
            result,
        )
    with torch.no_grad():
        for name, value in transformed(model, _base(model), ost).items():
            model.get_parameter(name).copy_(value)
    return result


def _base(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: model.get_parameter(n).detach().clone() for n in transform_names(model)}


def _train(
    model,
    ost,
    ids,
    teacher,
    rotations,
    scales,
    w_bits,
    a_bits,
    steps,
    batch_size,
    lr_r,
    lr_s,
    top_k,
    seed,
    result,
) -> None:
    base = _base(model)
    qmodel = copy.deepcopy(model)
    for p in qmodel.parameters():
        p.requires_grad_(False)
    for name, linear in block_linears(qmodel).items():
        set_module(qmodel, name, _STEQuantLinear(linear, w_bits, a_bits))
    slots = {n: _plain_slot(qmodel, n) for n in transform_names(model)}
    opts = ([CayleySGD(rotations, lr=lr_r)] if rotations else []) + (
        [torch.optim.Adam(scales, lr=lr_s)] if scales else []
    )
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        factor = 0.5 * (1 + math.cos(math.pi * step / steps))
        for opt in opts:
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])
                group["lr"] = group["base_lr"] * factor
        idx = torch.randperm(len(ids), generator=g)[:batch_size]
        for name, value in transformed(model, base, ost).items():
            setattr(*slots[name], value)
        logits = qmodel(ids[idx]).logits
        loss = kl_top(logits, teacher[idx], top_k)
        for opt in opts:
            opt.zero_grad()
        loss.backward()
        for opt in opts:
            opt.step()
        result.losses.append(float(loss.detach()))


def _plain_slot(qmodel: nn.Module, name: str) -> tuple[nn.Module, str]:
    """``(module, attr)`` holding parameter ``name`` of the original model in ``qmodel`` (a block Linear's
    weight sits one level down, in the wrapper's ``linear``), turned into a plain attribute that each step
    sets to a differentiable tensor (what ``torch.func.functional_call`` does, without its imports)."""
    path, attr = name.rsplit(".", 1)
    module = qmodel.get_submodule(path)
    if isinstance(module, _STEQuantLinear):
        module = module.linear
    del module._parameters[attr]
    return module, attr


def hadamard_(model: nn.Module, seed: int = 0) -> nn.Module:
    """In place: QuaRot-style fixed random Hadamard rotations (OSTQuant's initialisation, nothing learnt)."""
    return apply_(model, OSTParams(model, "hadamard", seed))
