"""The compensated layer ``y = W' x + B (A x)``: a compressed linear layer (a ``FakeQuantLinear``, a pruned
``nn.Linear``, anything mapping ``[..., in]`` to ``[..., out]``) plus a rank-``r`` residual path.

The residual path costs ``r (in + out)`` multiply-adds per token (against ``in * out`` of the layer) and is
kept apart from ``W'`` so that ``W'`` stays in its compressed format (quantised or sparse).
"""

from __future__ import annotations

import torch
from torch import nn

from paperzoo_eora.eigen import eora_factors, svd_factors


class EoRALinear(nn.Module):
    """``base(x) + (x A^T) B^T``, ``A`` ``[rank, in]``, ``B`` ``[out, rank]`` (both zero until
    :meth:`compensate_`: the layer first computes exactly what ``base`` computes).

    :param base: the compressed layer (``in_features`` / ``out_features`` attributes, or a ``weight``).
    :param rank: rank of the compensation.
    ``A`` and ``B`` are parameters (EoRA is training-free, but they can seed a LoRA fine-tuning).
    """

    def __init__(self, base: nn.Module, rank: int = 8) -> None:
        super().__init__()
        in_f, out_f = _features(base)
        if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= min(in_f, out_f):
            raise ValueError(f"rank {rank!r}; accepted: an integer in [1, {min(in_f, out_f)}]")
        weight = next(iter(base.parameters()), None)
        if weight is None:
            weight = next(iter(base.buffers()))
        factory = {"device": weight.device, "dtype": weight.dtype}
        self.base, self.rank = base, rank
        self.in_features, self.out_features = in_f, out_f
        self.lora_A = nn.Parameter(torch.zeros(rank, in_f, **factory))
        self.lora_B = nn.Parameter(torch.zeros(out_f, rank, **factory))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        low = x @ self.lora_A.T
        if torch.is_grad_enabled() or y.data_ptr() == x.data_ptr():
            return y + low @ self.lora_B.T
        # inference: accumulate B (A x) into the base output in place (no second [tokens, out] buffer)
        y2 = y.reshape(-1, self.out_features)
        y2.addmm_(low.reshape(-1, self.rank), self.lora_B.T)
        return y2.reshape(y.shape)

    @torch.no_grad()
    def compensate_(
        self, delta: torch.Tensor, h: torch.Tensor | None = None, floor: float = 1e-12
    ) -> EoRALinear:
        """Set ``B, A`` to EoRA's compensation of the compression error ``delta = W - W'`` for inputs of
        gram matrix ``h`` (:func:`~paperzoo_eora.eigen.gram`); plain SVD of ``delta`` when ``h`` is None."""
        b, a = svd_factors(delta, self.rank) if h is None else eora_factors(delta, h, self.rank, floor)
        self.lora_B.copy_(b)
        self.lora_A.copy_(a)
        return self

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


def _features(base: nn.Module) -> tuple[int, int]:
    if hasattr(base, "in_features") and hasattr(base, "out_features"):
        return int(base.in_features), int(base.out_features)
    weight = getattr(base, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.dim() == 2:
        return int(weight.shape[1]), int(weight.shape[0])
    raise TypeError(
        f"wraps a linear layer (in_features/out_features or a 2-D weight), got {type(base).__name__}"
    )
