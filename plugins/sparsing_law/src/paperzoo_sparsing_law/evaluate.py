"""The plugin's evaluators: PPL-p% sparsity of a tinylm decoder, and the activation-ratio law fit."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from paperzoo.data import DataBundle, batches
from torch import nn

from paperzoo_sparsing_law.laws import FITTERS
from paperzoo_sparsing_law.pplp import ppl_p_sparsity


class PPLpSparsity:
    """Evaluator: PPL-``p``% sparsity on the first ``n_sequences`` sequences of a split.

    :param p: allowed perplexity increase in percent (the paper's headline: 1).
    :param n_sequences: sequences scored together (one dense pass, one sparse pass per search step).
    :param split: ``val`` or ``train``.
    :param tol: width at which the CETT bisection stops (the reference: 1e-6).
    :param num_thresholds: threshold candidates per layer (the reference: 65536).
    """

    keys = ("sparsity", "activation_ratio", "ppl_ratio", "cett", "ppl_dense")

    def __init__(
        self, p: float = 1.0, n_sequences: int = 8, split: str = "val", tol: float = 1e-6,
        num_thresholds: int = 65536,
    ) -> None:  # fmt: skip
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if p < 0 or n_sequences < 1 or not 0 < tol < 1 or num_thresholds < 2:
            raise ValueError("accepted: p >= 0, n_sequences >= 1, 0 < tol < 1, num_thresholds >= 2")
        self.p, self.n_sequences, self.split = p, n_sequences, split
        self.tol, self.num_thresholds = tol, num_thresholds

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        x, y = next(iter(batches(getattr(data, self.split), self.n_sequences)))
        r = ppl_p_sparsity(model, x.to(device), y.to(device), self.p, tol=self.tol,
                           num_thresholds=self.num_thresholds)  # fmt: skip
        return {
            "sparsity": r.sparsity,
            "activation_ratio": r.activation_ratio,
            "ppl_ratio": r.ppl_ratio,
            "cett": r.cett,
            "ppl_dense": float(torch.tensor(r.loss_dense).exp()),
        }


class ActivationRatioLawFit:
    """Evaluator: fit one of the paper's activation-ratio laws to the config's points (a fit step: the
    model is not read). ``law``: ``silu`` (``x``: training tokens), ``relu`` (``x``: training tokens) or
    ``width_depth`` (``x``: width-depth ratios); ``y``: activation ratios. Reports the fitted parameters,
    ``r2`` (of ``log A``) and, for the token laws, the limit ``a0``."""

    def __init__(
        self, x: Sequence[float], y: Sequence[float], law: str = "silu", loss: str = "linear"
    ) -> None:
        if law not in FITTERS:
            raise ValueError(f"law: got {law!r}; accepted: one of {', '.join(FITTERS)}")
        self.result = FITTERS[law](x, y, loss=loss)
        self.keys = (*self.result.params, "r2")

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        return {**self.result.params, "r2": self.result.r2}
