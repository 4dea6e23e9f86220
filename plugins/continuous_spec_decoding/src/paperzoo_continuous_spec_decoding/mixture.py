"""Diagonal Gaussian mixtures over continuous tokens, batched: the output head of the models here and
the analytic ``p`` and ``q`` of the tests (a :class:`paperzoo_tinylm.speculative.Density` when the batch
is one dimension)."""

from __future__ import annotations

import math

import torch


class GaussianMixture:
    """A batch of mixtures of ``K`` diagonal Gaussians in ``R^D``.

    :param logits: ``(..., K)`` unnormalised log mixture weights.
    :param means: ``(..., K, D)`` component means.
    :param log_std: ``(..., K, D)`` log standard deviations.
    """

    def __init__(self, logits: torch.Tensor, means: torch.Tensor, log_std: torch.Tensor):
        if means.shape != log_std.shape or means.shape[:-1] != logits.shape:
            raise ValueError(
                f"need (..., K) logits and (..., K, D) means/log_std, got {tuple(logits.shape)}, "
                f"{tuple(means.shape)}, {tuple(log_std.shape)}"
            )
        self.logits, self.means, self.log_std = logits, means, log_std

    @property
    def batch_shape(self) -> torch.Size:
        return self.logits.shape[:-1]

    def __getitem__(self, index) -> GaussianMixture:
        """The mixtures at ``index`` of the batch dimensions."""
        return GaussianMixture(self.logits[index], self.means[index], self.log_std[index])

    def expand(self, n: int) -> GaussianMixture:
        """``n`` copies of a single mixture (batch shape ``()``) as a batch of ``n`` rows."""
        if self.logits.dim() != 1:
            raise ValueError(f"expand needs a single mixture, got batch shape {tuple(self.batch_shape)}")
        return GaussianMixture(
            self.logits.expand(n, -1), self.means.expand(n, -1, -1), self.log_std.expand(n, -1, -1)
        )

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``(...)`` log densities of ``(..., D)`` points."""
        z = (x[..., None, :] - self.means) * torch.exp(-self.log_std)
        comp = -0.5 * z.pow(2).sum(-1) - self.log_std.sum(-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
        return torch.logsumexp(torch.log_softmax(self.logits, dim=-1) + comp, dim=-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One ``(..., D)`` draw per mixture of the batch."""
        probs = torch.softmax(self.logits, dim=-1).reshape(-1, self.logits.shape[-1])
        k = torch.multinomial(probs, 1, generator=generator).view(self.batch_shape)
        index = k[..., None, None].expand(*k.shape, 1, self.means.shape[-1])
        mean = self.means.gather(-2, index)
        log_std = self.log_std.gather(-2, index)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return (mean + noise * log_std.exp()).squeeze(-2)


@torch.no_grad()
def total_variation_grid(p: GaussianMixture, q: GaussianMixture, lo: float, hi: float, n: int) -> float:
    """``TV(p, q) = 0.5 * integral |p - q|`` of two single mixtures in 1-D or 2-D by the trapezoidal rule
    on an ``n``-point (per axis) grid over ``[lo, hi]^D``."""
    dim = p.means.shape[-1]
    axis = torch.linspace(lo, hi, n, dtype=torch.float64)
    if dim == 1:
        pts = axis[:, None]
        diff = (p.log_prob(pts).exp() - q.log_prob(pts).exp()).abs()
        return 0.5 * float(torch.trapezoid(diff, axis))
    if dim == 2:
        a, b = torch.meshgrid(axis, axis, indexing="ij")
        pts = torch.stack([a, b], dim=-1)
        diff = (p.log_prob(pts).exp() - q.log_prob(pts).exp()).abs()
        return 0.5 * float(torch.trapezoid(torch.trapezoid(diff, axis), axis))
    raise ValueError(f"total_variation_grid integrates 1-D or 2-D mixtures, got D={dim}")
