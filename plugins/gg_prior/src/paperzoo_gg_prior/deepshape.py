"""DeepShape as a regulariser: short fine-tuning with a generalised Gaussian prior on the weights.

Each weight tensor ``W_l`` (every parameter of 2 or more dimensions) gets a GG prior ``GG(beta_l, alpha_l)``
fitted once, before fine-tuning, and made narrower and more peaked, as the authors' remap does: with the
moment fit ``(beta_hat, std)`` of the tensor, ``beta_l = shape_scale * beta_hat`` and
``alpha_l = alpha_scale * std * sqrt(Gamma(1/beta_hat) / Gamma(3/beta_hat))`` (their defaults 0.8 and 0.6).
The training loss adds the prior's negative log-likelihood up to constants, per weight::

    loss = task_loss + strength * sum_l sum_i |W_l,i / alpha_l|^beta_l / N        (N: number of weights)

which pulls small weights to zero (``beta_l < 1``: a sparsity-inducing prior), so that magnitude pruning
or entropy coding afterwards loses less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from paperzoo.checks import check_float
from paperzoo.trainer import Run, Supervised
from torch import nn

from paperzoo_gg_prior.gg import fit_gg


@dataclass(frozen=True)
class Prior:
    """A GG prior ``GG(beta, alpha)`` on one weight tensor."""

    beta: float
    alpha: float


def shaped_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weight tensors DeepShape shapes: every trainable parameter of 2 or more dimensions."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def fit_priors(
    weights: list[torch.Tensor],
    beta: float | None = None,
    shape_scale: float = 0.8,
    alpha_scale: float = 0.6,
    max_beta: float = 2.0,
) -> list[Prior]:
    """One prior per tensor: the moment fit, shape times ``shape_scale`` capped at ``max_beta`` (or
    ``beta`` when given), scale times ``alpha_scale``. The cap matters for tensors that are not bell-shaped
    (e.g. PyTorch's default uniform init fits ``beta`` ~ 7): a prior steeper than a Gaussian explodes on
    the largest weights."""
    priors = []
    for w in weights:
        beta_hat, alpha_hat = fit_gg(w, method="moments")
        target = min(shape_scale * beta_hat, max_beta) if beta is None else beta
        priors.append(Prior(beta=target, alpha=alpha_scale * alpha_hat))
    return priors


def deepshape_penalty(weights: list[torch.Tensor], priors: list[Prior], eps: float = 1e-8) -> torch.Tensor:
    """``sum_l sum_i |W_l,i / alpha_l|^beta_l / N``: the mean GG negative log-likelihood up to constants.

    ``|w|`` is clamped at ``eps`` so that the gradient stays finite at 0 when ``beta < 1``."""
    total = sum(w.numel() for w in weights)
    terms = [
        (w.abs().clamp_min(eps) / p.alpha).pow(p.beta).sum() for w, p in zip(weights, priors, strict=True)
    ]
    return torch.stack(terms).sum() / total


def near_zero_fraction(weights: list[torch.Tensor], thresholds: list[float]) -> float:
    """Fraction of the weights of magnitude below their tensor's threshold (DeepShape: 0.1 ``alpha_l``)."""
    small = sum(int((w.abs() < t).sum()) for w, t in zip(weights, thresholds, strict=True))
    return small / sum(w.numel() for w in weights)


class DeepShapeRegularizer(Supervised):
    """Fine-tune with the DeepShape GG prior added to the task loss (the ``supervised`` loop otherwise).

    :param strength: weight ``lambda`` of the prior term (per mean weight; scan it per model).
    :param beta: the prior's shape for every tensor; null: ``shape_scale`` times each tensor's fitted shape.
    :param shape_scale: factor on the fitted shape (authors' remap: 0.8).
    :param alpha_scale: factor on the fitted scale (authors' remap: 0.6).
    :param max_beta: cap on the fitted prior shape (2: never steeper than a Gaussian).
    :param eps: magnitude floor inside ``|w|^beta`` (finite gradients at 0).
    :param loop: the ``supervised`` loop's params (``epochs`` or ``max_steps``, ``batch_size``, ...).
    """

    def __init__(
        self,
        strength: float = 1.0,
        beta: float | None = None,
        shape_scale: float = 0.8,
        alpha_scale: float = 0.6,
        max_beta: float = 2.0,
        eps: float = 1e-8,
        **loop: Any,
    ):
        super().__init__(**loop)
        check_float("strength", strength, 0.0)
        if beta is not None:
            check_float("beta", beta, 0.0, open_low=True)
        check_float("shape_scale", shape_scale, 0.0, open_low=True)
        check_float("alpha_scale", alpha_scale, 0.0, open_low=True)
        check_float("max_beta", max_beta, 0.0, open_low=True)
        check_float("eps", eps, 0.0, open_low=True)
        self.strength, self.beta, self.eps = strength, beta, eps
        self.shape_scale, self.alpha_scale, self.max_beta = shape_scale, alpha_scale, max_beta
        self.priors: list[Prior] = []
        self.thresholds: list[float] = []

    def setup(self, run: Run) -> None:
        self.priors, self.thresholds, self.near_zero_before = [], [], 0.0
        super().setup(run)  # a resumed run restores the priors fitted at its start (load_extra_state)
        if not self.priors:
            weights = shaped_weights(run.model)
            self.priors = fit_priors(weights, self.beta, self.shape_scale, self.alpha_scale, self.max_beta)
            self.thresholds = [0.1 * p.alpha for p in self.priors]
            self.near_zero_before = near_zero_fraction(weights, self.thresholds)

    def extra_state(self) -> dict[str, Any]:
        return {
            "prior_betas": [p.beta for p in self.priors],
            "prior_alphas": [p.alpha for p in self.priors],
            "near_zero_before": self.near_zero_before,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        betas, alphas = state.get("prior_betas", []), state.get("prior_alphas", [])
        self.priors = [Prior(beta=float(b), alpha=float(a)) for b, a in zip(betas, alphas, strict=True)]
        self.thresholds = [0.1 * p.alpha for p in self.priors]
        self.near_zero_before = float(state.get("near_zero_before", 0.0))

    def compute_loss(self, model: nn.Module, batch: tuple, task: str) -> torch.Tensor:
        loss = super().compute_loss(model, batch, task)
        if self.strength == 0:
            return loss
        return loss + self.strength * deepshape_penalty(shaped_weights(model), self.priors, self.eps)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        weights = [w.detach() for w in shaped_weights(run.model)]
        flat = torch.cat([w.reshape(-1) for w in weights])
        beta_after, _ = fit_gg(flat, method="moments")
        return {
            **super().summarize(run, metrics),
            "prior_betas": [round(p.beta, 4) for p in self.priors],
            "near_zero_before": round(self.near_zero_before, 6),
            "near_zero_after": round(near_zero_fraction(weights, self.thresholds), 6),
            "gg_beta_after": round(beta_after, 4),
        }
