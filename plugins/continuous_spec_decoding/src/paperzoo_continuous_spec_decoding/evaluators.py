"""The ``continuous_speculative_sampler`` evaluator: speculative against plain sampling of a
Gaussian-mixture autoregressive target."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from .decoding import SpecStats, autoregressive_sample, speculative_sample
from .model import MixtureAR


def ks_two_sample(a: torch.Tensor, b: torch.Tensor) -> float:
    """The two-sample Kolmogorov-Smirnov statistic ``sup |F_a - F_b|`` of two 1-D samples."""
    both = torch.cat([a, b]).sort().values
    fa = torch.searchsorted(a.sort().values, both, right=True).double() / a.numel()
    fb = torch.searchsorted(b.sort().values, both, right=True).double() / b.numel()
    return float((fa - fb).abs().max())


def perturbed_copy(model: MixtureAR, noise: float, seed: int) -> MixtureAR:
    """A copy of ``model`` with ``N(0, noise^2)`` added to every weight (a draft close to the target)."""
    draft = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in draft.parameters():
            p.add_(noise * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return draft


class ContinuousSpeculativeSampler:
    """Continuous speculative sampling on a seeded random :class:`~.model.MixtureAR` target with a draft
    whose weights are the target's plus noise (``draft_noise``: 0 gives ``q = p``).

    The run's model and data are not read: target and draft are built here (the run is the frame the
    evaluator is called in). Reports target calls per generated token (plain sampling: 1), draft calls
    per token, the acceptance rate of drafted tokens, and the two-sample KS statistic between the last
    token's first coordinate under speculative and under plain sampling of ``n_sequences`` sequences,
    with its 1% critical value (a statistic below it: the distributions agree at that level).
    """

    keys = (
        "target_calls_per_token",
        "draft_calls_per_token",
        "acceptance_rate",
        "ks_statistic",
        "ks_critical_1pct",
    )

    def __init__(
        self,
        gamma: int = 4,
        n_sequences: int = 64,
        n_tokens: int = 16,
        draft_noise: float = 0.05,
        dim: int = 2,
        n_components: int = 4,
        hidden: int = 32,
        window: int = 2,
        seed: int = 0,
    ):
        """:param gamma: draft tokens per target pass.
        :param n_sequences: sequences sampled by each method.
        :param n_tokens: tokens per sequence (after one zero start token).
        :param draft_noise: standard deviation of the noise added to the draft's weights.
        :param dim: token dimension.
        :param n_components: mixture components of the head.
        :param hidden: width of the target (and draft) MLP.
        :param window: tokens each next-token distribution depends on.
        :param seed: seeds the models and the sampling."""
        if gamma < 0 or n_sequences < 1 or n_tokens < 1 or draft_noise < 0:
            raise ValueError("need gamma >= 0, n_sequences >= 1, n_tokens >= 1 and draft_noise >= 0")
        self.gamma, self.n_sequences, self.n_tokens, self.draft_noise = (
            gamma,
            n_sequences,
            n_tokens,
            draft_noise,
        )
        self.arch: dict[str, Any] = dict(dim=dim, n_components=n_components, hidden=hidden, window=window)
        self.seed = seed

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        torch.manual_seed(self.seed)  # only the target's initialisation reads the global generator
        target = MixtureAR(**self.arch).double().eval()
        draft = perturbed_copy(target, self.draft_noise, self.seed + 1).eval()
        prompt = torch.zeros(1, self.arch["dim"], dtype=torch.float64)
        g = torch.Generator().manual_seed(self.seed)
        stats = SpecStats()
        spec = torch.stack(
            [
                speculative_sample(target, draft, prompt, self.n_tokens, self.gamma, g, stats)[-1]
                for _ in range(self.n_sequences)
            ]
        )
        plain = torch.stack(
            [autoregressive_sample(target, prompt, self.n_tokens, g)[-1] for _ in range(self.n_sequences)]
        )
        return {
            "target_calls_per_token": stats.target_calls_per_token,
            "draft_calls_per_token": stats.draft_calls / stats.generated,
            "acceptance_rate": stats.acceptance_rate,
            "ks_statistic": ks_two_sample(spec[:, 0], plain[:, 0]),
            "ks_critical_1pct": 1.628 * math.sqrt(2 / self.n_sequences),
        }
