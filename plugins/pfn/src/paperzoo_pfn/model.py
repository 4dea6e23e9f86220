"""The prior-data fitted network: the (x, y)-token transformer with the PFN attention mask and a
bar-distribution head whose borders are quantiles of ``y`` values drawn from the prior it is fitted to."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo_synthtasks.bars import BarDistributionHead, borders_from_samples
from paperzoo_synthtasks.priors import sample_gp1d, sample_linreg
from paperzoo_synthtasks.xy_transformer import XYTransformer

PRIORS = {"gp1d": sample_gp1d, "linreg": sample_linreg}


def prior_borders(
    prior: str, num_bars: int, samples: int, seed: int, prior_params: dict[str, Any]
) -> torch.Tensor:
    """Bar borders from ``samples`` values of ``y`` drawn from the prior (tasks of 50 points)."""
    if prior not in PRIORS:
        raise ParamError("prior", f"got {prior!r}; accepted: one of {', '.join(sorted(PRIORS))}")
    n_tasks = max(1, samples // 50)
    try:
        _, y = PRIORS[prior](n_tasks, 50, generator=torch.Generator().manual_seed(seed), **prior_params)
    except TypeError as e:
        raise ParamError(
            "prior_params", f"{e}; accepted: the keyword arguments of the {prior} sampler"
        ) from e
    return borders_from_samples(y, num_bars)


class PFNTransformer(XYTransformer):
    """A PFN for regression: :class:`XYTransformer` with a :class:`BarDistributionHead`; the forward
    pass returns bar logits ``(batch, seq_len - n_train, num_bars)`` for the query points, and
    ``self.head.dist`` turns them into log-densities, means and variances.

    :param n_features: features of ``x``.
    :param n_train: observed points at the front of each sequence (may be overridden per call).
    :param d_model: width; :param n_layers: encoder layers; :param n_heads: heads; :param d_ff: FFN width.
    :param dropout: dropout in the encoder.
    :param num_bars: buckets of the output distribution.
    :param borders: explicit bucket borders (``num_bars + 1`` sorted values); otherwise they are
        quantiles of ``border_samples`` prior draws of ``y`` (the paper's choice).
    :param prior: the prior whose ``y`` quantiles set the borders: ``gp1d`` or ``linreg``.
    :param prior_params: keyword arguments of that prior's sampler (e.g. ``{lengthscale: 0.2}``).
    :param border_samples: prior ``y`` draws used for the borders.
    :param border_seed: seed of those draws.
    :param full_support: half-normal tails on the outer buckets (the paper's full-support variant).
    """

    def __init__(
        self,
        n_features: int = 1,
        n_train: int | None = None,
        d_model: int = 64,
        n_layers: int = 4,
        n_heads: int = 4,
        d_ff: int | None = None,
        dropout: float = 0.0,
        num_bars: int = 100,
        borders: list[float] | None = None,
        prior: str = "gp1d",
        prior_params: dict[str, Any] | None = None,
        border_samples: int = 100_000,
        border_seed: int = 0,
        full_support: bool = True,
    ):
        if borders is None:
            params = dict(prior_params or {})
            if prior == "linreg":
                params.setdefault("n_features", n_features)
            borders = prior_borders(prior, num_bars, border_samples, border_seed, params)
        head = BarDistributionHead(d_model, borders=borders, full_support=full_support)
        super().__init__(n_features, n_train, d_model, n_layers, n_heads, d_ff, dropout, head=head)

    @property
    def dist(self):
        """The bar distribution of the head."""
        return self.head.dist

    def nll(self, inputs: torch.Tensor, y: torch.Tensor, n_train: int | None = None) -> torch.Tensor:
        """Per-query negative log-likelihood of the query targets ``y`` ``(batch, seq_len)``."""
        n_train = self.n_train if n_train is None else n_train
        return self.dist.nll(self(inputs, n_train=n_train), y[..., n_train:])


def bar_model(model: torch.nn.Module, user: str) -> torch.nn.Module:
    """``model`` (unwrapped from a ``DataParallel``-style ``.module``) checked to have a bar-distribution
    head; ``user`` names the component that needs one, for the error."""
    inner = getattr(model, "module", model)
    if not hasattr(inner, "dist"):
        raise ValueError(f"{user} needs a model with a bar-distribution head (pfn_transformer)")
    return inner
