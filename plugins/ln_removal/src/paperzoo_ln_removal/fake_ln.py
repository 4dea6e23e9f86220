"""The frozen LayerNorm of LN removal and the schedule that swaps it in, one norm at a time.

:class:`FakeLayerNorm` holds a LayerNorm's gain and bias. While *real* it is that LayerNorm and keeps an
exponential moving average of the per-token standard deviation of its input (over features, biased, with
the LayerNorm's epsilon under the root), averaged over batch and positions, as the reference does. Once
*removed* (``fake``) it is the fixed affine map ``x -> (x - mean(x)) / sigma_avg * gamma + beta`` with
``sigma_avg`` the average frozen at that moment: linear in ``x``. With ``bos_special`` the first position
keeps its own average until :meth:`FakeLayerNorm.drop_bos_special` sets it to the common one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: The removal order: every MLP (ffn) norm, then every attention norm, then the final norm.
STAGES = ("ffn_norm", "attn_norm", "final_norm")


class FakeLayerNorm(nn.Module):
    """A LayerNorm that can be frozen into ``(x - mean) / sigma_avg * weight + bias``.

    :param ln: the LayerNorm whose gain, bias and epsilon are taken over (the same parameters).
    :param momentum: EMA weight of the previous average (the reference's default is 0.9).
    :param bos_special: track and use a separate average for position 0.
    """

    def __init__(self, ln: nn.LayerNorm, momentum: float = 0.9, bos_special: bool = False) -> None:
        super().__init__()
        if not isinstance(ln, nn.LayerNorm) or ln.weight is None:
            raise ValueError(f"expected an affine nn.LayerNorm, got {type(ln).__name__}")
        self.weight, self.bias, self.eps = ln.weight, ln.bias, ln.eps
        self.momentum, self.bos_special = momentum, bos_special
        dev, dt = ln.weight.device, torch.promote_types(ln.weight.dtype, torch.float32)
        self.register_buffer("sigma", torch.tensor(float("nan"), device=dev, dtype=dt))
        self.register_buffer("sigma_bos", torch.tensor(float("nan"), device=dev, dtype=dt))
        self.register_buffer("fake", torch.tensor(False, device=dev))
        self.tracking = True

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """Fold the batch's average standard deviation into the moving averages."""
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        std = (x.var(-1, unbiased=False) + self.eps).sqrt()  # [..., T]
        std = std.reshape(-1, std.shape[-1])
        rest = std[:, 1:] if self.bos_special and std.shape[-1] > 1 else std
        for buf, value in ((self.sigma, rest.mean()), (self.sigma_bos, std[:, 0].mean())):
            new = value if torch.isnan(buf) else self.momentum * buf + (1 - self.momentum) * value
            buf.copy_(new)

    def remove(self) -> None:
        """Freeze the current averages: from now on the map is affine (linear up to ``bias``)."""
        if torch.isnan(self.sigma):
            raise RuntimeError("FakeLayerNorm.remove before any input was observed (calibrate first)")
        self.fake.fill_(True)

    def drop_bos_special(self) -> None:
        """Use the common average at position 0 too (the reference's last schedule event)."""
        self.bos_special = False
        self.sigma_bos.copy_(self.sigma)

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen ``sigma`` per position, broadcastable against ``x`` ``[..., T, d]``."""
        s = self.sigma.to(x.dtype).expand(x.shape[-2]).clone()
        if self.bos_special:
            s[0] = self.sigma_bos
        return s[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.fake):
            if self.tracking and self.training:
                self.observe(x)
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        y = (x - x.mean(-1, keepdim=True)) / self.scale(x) * self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        state = "removed" if bool(self.fake) else "real"
        return f"{tuple(self.weight.shape)}, {state}, sigma={float(self.sigma):.4g}"


def check_removable(model: nn.Module) -> None:
    """Raise ValueError unless ``model`` is a pre-norm tinylm decoder with LayerNorms."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not hasattr(model, "lm_head"):
        raise ValueError(f"LN removal needs a tinylm decoder; got {type(model).__name__}")
    for i, b in enumerate(blocks):
        if getattr(b, "placement", None) != "pre":
            raise ValueError(f"block {i} has norm placement {b.placement!r}; accepted: 'pre'")
        for name in ("attn_norm", "ffn_norm"):
            if not isinstance(getattr(b, name), (nn.LayerNorm, FakeLayerNorm)):
                raise ValueError(
                    f"block {i}'s {name} is {type(getattr(b, name)).__name__}; accepted: layer_norm"
                )
    if getattr(model.config, "embed_norm", False):
        raise ValueError("an embedding norm is not removed by this schedule; accepted: embed_norm false")


def install(model: nn.Module, momentum: float = 0.9, bos_special: bool = False) -> list[FakeLayerNorm]:
    """Replace every LayerNorm of a pre-norm tinylm decoder by a (still real) :class:`FakeLayerNorm`,
    in place; returns them in removal order (:func:`stages`). Outputs are unchanged bitwise."""
    check_removable(model)
    for b in model.blocks:
        for name in ("attn_norm", "ffn_norm"):
            ln = getattr(b, name)
            if not isinstance(ln, FakeLayerNorm):
                setattr(b, name, FakeLayerNorm(ln, momentum, bos_special))
    final = getattr(model, "final_norm", None)
    if isinstance(final, nn.LayerNorm):
        model.final_norm = FakeLayerNorm(final, momentum, bos_special)
    return [n for _, n in stages(model)]


def stages(model: nn.Module) -> list[tuple[str, FakeLayerNorm]]:
    """``(name, norm)`` in removal order: ``blocks.<i>.ffn_norm`` for every i, then
    ``blocks.<i>.attn_norm``, then ``final_norm`` (when the model has one)."""
    out = [(f"blocks.{i}.{s}", getattr(b, s)) for s in STAGES[:2] for i, b in enumerate(model.blocks)]
    if isinstance(getattr(model, "final_norm", None), FakeLayerNorm):
        out.append(("final_norm", model.final_norm))
    return out


@torch.no_grad()
def calibrate(model: nn.Module, batches) -> None:
    """Observe every real norm's input on ``batches`` (an iterable of ``[B, T]`` ids) without training."""
    norms = [n for _, n in stages(model)]
    was = model.training
    model.train()
    for ids in batches:
        model(ids)
    model.train(was)
    if norms and any(torch.isnan(n.sigma) for n in norms if not bool(n.fake)):
        raise ValueError("calibrate: no batch was given")


def remove_all(model: nn.Module) -> None:
    """Remove every norm at once (no fine-tuning) and drop the position-0 special case."""
    for _, n in stages(model):
        n.remove()
        n.drop_bos_special()


@dataclass(frozen=True)
class Event:
    """At optimizer step ``step`` (before it), remove ``name`` (or, for ``bos``, drop position 0's
    special average in every norm)."""

    step: int
    name: str


def schedule(n_layers: int, has_final: bool, start: int, gap: int, bos_special: bool) -> list[Event]:
    """The removal events: ffn norms ``gap`` steps apart from ``start``, then attention norms, then the
    final norm, then (with ``bos_special``) the position-0 event, each ``gap`` steps after the previous."""
    names = [f"blocks.{i}.{s}" for s in STAGES[:2] for i in range(n_layers)]
    names += ["final_norm"] if has_final else []
    names += ["bos"] if bos_special else []
    return [Event(start + k * gap, name) for k, name in enumerate(names)]


def apply(model: nn.Module, event: Event) -> None:
    """Carry out one :class:`Event` on a model prepared with :func:`install`."""
    found = dict(stages(model))
    if event.name == "bos":
        for n in found.values():
            n.drop_bos_special()
    else:
        found[event.name].remove()


def removed(model: nn.Module) -> bool:
    """Whether every norm of ``model`` is removed and none keeps a position-0 special case."""
    return all(bool(n.fake) and not n.bos_special for _, n in stages(model))
