"""``LearnableNMMaskLinear``: a frozen Linear whose N:M sparsity mask is learned (MaskLLM).

For every group of ``m`` consecutive input channels of a weight row, the ``C(m, n)`` candidate masks
with exactly ``n`` ones (:func:`candidate_masks`) are scored by learnable logits ``gate`` ``[groups, C]``.
In training mode the layer samples a soft mask with Gumbel-softmax,

    p = gumbel_softmax(gate * kappa, tau),   mask = p @ candidates,

with the temperature ``tau`` and the logit scale ``kappa`` annealed linearly from their first to their
last value as :meth:`LearnableNMMaskLinear.set_progress` moves from 0 to 1 (the official code: the
iteration over the training iterations); in eval mode it computes with the hard mask of the argmax
candidate. The weight is frozen: only ``gate`` learns. :meth:`init_from_prior` adds the official prior
``(overlap - 1) * std(gate) * strength`` to the logits, where ``overlap`` counts the ones a candidate
shares with a prior mask (magnitude or SparseGPT).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from paperzoo.checks import check_choice, check_float
from paperzoo.errors import ParamError
from paperzoo_compress.sparsity import check_nm, nm_mask
from torch import nn


def candidate_masks(n: int, m: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """All ``C(m, n)`` masks of ``m`` entries with exactly ``n`` ones, ``[C(m, n), m]``, in
    lexicographic order of the kept positions (for 2:4 the official order: 1100, 1010, 1001, 0110,
    0101, 0011)."""
    rows = [[1.0 if j in keep else 0.0 for j in range(m)] for keep in itertools.combinations(range(m), n)]
    return torch.tensor(rows, dtype=dtype)


def _pair(name: str, value: Sequence[float]) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ParamError(name, f"{value!r}; accepted: [start, end], two positive numbers")
    for v in value:
        check_float(name, v, 0.0, open_low=True)
    return float(value[0]), float(value[1])


class LearnableNMMaskLinear(nn.Module):
    """A Linear with a frozen weight and a learnable N:M mask (Gumbel-softmax over candidate masks).

    :param base: the ``nn.Linear`` it wraps (its weight and bias are shared and frozen).
    :param n: kept weights per group.
    :param m: group size along input channels; must divide ``in_features``.
    :param temperature: ``[start, end]`` of the Gumbel temperature (official default ``[4, 0.05]``).
    :param scale: ``[start, end]`` of the logit scale ``kappa`` (official scripts ``[1e2, 5e2]``).
    :param hard: straight-through one-hot samples instead of soft ones (official default: soft).
    :param init_std: standard deviation of the normal initial logits (official: 0.01).
    :param prior: ``magnitude`` (initialise the logits from the magnitude N:M mask of the weight) or
        ``none``.
    :param prior_strength: the prior's strength (official scripts: 3.0; 0: no prior).
    """

    def __init__(
        self,
        base: nn.Linear,
        n: int = 2,
        m: int = 4,
        temperature: Sequence[float] = (4.0, 0.05),
        scale: Sequence[float] = (1e2, 5e2),
        hard: bool = False,
        init_std: float = 0.01,
        prior: str = "magnitude",
        prior_strength: float = 3.0,
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"wraps an nn.Linear, got {type(base).__name__}")
        check_nm(n, m, base.in_features)
        check_choice("prior", prior, ("magnitude", "none"))
        if not isinstance(hard, bool):
            raise ParamError("hard", f"{hard!r}; accepted: true or false")
        check_float("init_std", init_std, 0.0, open_low=True)
        check_float("prior_strength", prior_strength, 0.0)
        self.temperature, self.scale = _pair("temperature", temperature), _pair("scale", scale)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.n, self.m, self.hard = n, m, bool(hard)
        self.register_buffer(
            "candidates", candidate_masks(n, m, self.weight.dtype).to(self.weight.device), persistent=False
        )
        groups = self.weight.numel() // m
        gate = torch.empty(groups, math.comb(m, n), dtype=self.weight.dtype, device=self.weight.device)
        self.gate = nn.Parameter(nn.init.normal_(gate, std=init_std))  # the official initialisation
        self.progress = 0.0
        if prior == "magnitude" and prior_strength > 0:
            self.init_from_prior(nm_mask(self.weight, n, m), prior_strength)

    @torch.no_grad()
    def init_from_prior(self, mask: torch.Tensor, strength: float) -> None:
        """Add ``(overlap - 1) * std(gate) * strength`` to the logits (the official prior), ``overlap``
        being the number of ones each candidate shares with ``mask`` (of the weight's shape) per group."""
        prior = (self.candidates * mask.to(self.candidates.dtype).reshape(-1, 1, self.m)).sum(-1)
        self.gate.add_((prior - 1) * self.gate.std() * strength)

    def set_progress(self, progress: float) -> None:
        """Training progress in ``[0, 1]`` (step / total steps): sets the annealed temperature and scale."""
        self.progress = min(max(float(progress), 0.0), 1.0)

    @property
    def current_temperature(self) -> float:
        start, end = self.temperature
        return start + (end - start) * self.progress

    @property
    def current_scale(self) -> float:
        start, end = self.scale
        return start + (end - start) * self.progress

    def candidate_probs(self, tau: float | None = None) -> torch.Tensor:
        """One Gumbel-softmax sample over the candidates ``[groups, C]`` at the current (or given) temperature."""
        tau = self.current_temperature if tau is None else tau
        return nn.functional.gumbel_softmax(self.gate * self.current_scale, tau=tau, hard=self.hard)

    def soft_mask(self, tau: float | None = None) -> torch.Tensor:
        """A sampled (differentiable) mask of the weight's shape: the candidate probabilities times the
        candidate masks."""
        return (self.candidate_probs(tau) @ self.candidates).reshape(self.weight.shape)

    def hard_mask(self) -> torch.Tensor:
        """The boolean mask of the argmax candidate of every group (the final, deployed mask)."""
        return self.candidates[self.gate.argmax(-1)].reshape(self.weight.shape).to(torch.bool)

    def mask(self) -> torch.Tensor:
        """The mask the layer computes with: a Gumbel sample in training mode, the hard mask in eval mode."""
        if self.training:
            return self.soft_mask()
        return self.hard_mask().to(self.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask()
        self.last_mask = mask.detach()
        # the official weight regulariser's term: ||W ⊙ mask||^2 with W detached (gradient to the mask only)
        self.sparse_weight_norm = (self.weight.detach() * mask).square().sum()
        return nn.functional.linear(x, self.weight * mask, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, n={self.n}, m={self.m}, "
            f"temperature={list(self.temperature)}, scale={list(self.scale)}, hard={self.hard}, "
            f"bias={self.bias is not None}"
        )
