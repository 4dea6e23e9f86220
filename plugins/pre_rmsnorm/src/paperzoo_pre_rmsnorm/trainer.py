"""``pre_rmsnorm_converter``: train the run's Pre-LN tinylm decoder with the ordinary loop, then replace
the run's model by its equivalent Pre-RMSNorm (or Pre-CRMSNorm) conversion and evaluate that one.

A trainer, not a layer: the conversion rewrites the whole model (every writer to the residual stream
and every reader of a norm), which no per-module patch can do; the model section keeps describing the
Pre-LN model that is trained.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_pre_rmsnorm.convert import TARGETS, check_convertible, convert


class PreRMSNormConverter(Supervised):
    """The supervised loop, then :func:`~paperzoo_pre_rmsnorm.convert.convert` of the trained model.

    :param target: ``rms_norm`` (Pre-RMSNorm) or ``crms_norm`` (Pre-CRMSNorm).
    :param check_batches: validation batches on which the logits of both models are compared.
    Other params: those of the supervised loop.
    """

    def __init__(self, target: str = "rms_norm", check_batches: int = 1, **loop: Any) -> None:
        if target not in TARGETS:
            raise ParamError("target", f"{target!r} is not a target; accepted: {', '.join(TARGETS)}")
        if not isinstance(check_batches, int) or check_batches < 1:
            raise ParamError("check_batches", f"{check_batches!r}; accepted: an integer >= 1")
        super().__init__(**loop)
        self.target, self.check_batches = target, check_batches

    def check_model(self, model: torch.nn.Module) -> None:
        """Refuse, before anything is written, a model the conversion does not cover (the engine reports
        the ``ValueError`` at ``model``)."""
        check_convertible(model)

    def fit(self, run: Run) -> dict[str, Any]:
        self.check_model(run.model)
        self.setup(run)
        self.train(run)
        self.pre_ln_metrics = self.evaluate(run)
        original = run.model.eval()
        converted = convert(original, self.target).to(self.device)
        self.max_abs_logit_diff = self._compare(original, converted, run)
        run.model = self.model = converted
        return self.finish(run)

    @torch.no_grad()
    def _compare(self, a: torch.nn.Module, b: torch.nn.Module, run: Run) -> float:
        worst = 0.0
        n = min(len(run.data.val), self.check_batches * self.batch_size)
        for start in range(0, n, self.batch_size):
            x = torch.stack([run.data.val[i][0] for i in range(start, min(n, start + self.batch_size))])
            x = x.to(self.device)
            worst = max(worst, float((a(x).logits - b(x).logits).abs().max()))
        return worst

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "target": self.target,
            "max_abs_logit_diff": self.max_abs_logit_diff,
            "pre_ln": self.pre_ln_metrics,
        }
