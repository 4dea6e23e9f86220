"""``gblm_prune``: train with the supervised loop, then prune every block Linear of the tinylm decoder
one-shot with GBLM-Pruner (no weight update), calibrated on training batches.

The pruned weights are zeroed in place (the model keeps its ``nn.Linear`` modules and state-dict keys), so
the final checkpoint holds the pruned model and a resumed finished run prunes nothing twice.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_compress.calib import check_supported
from paperzoo_compress.fixture import perplexity
from paperzoo_compress.linear import block_linears
from paperzoo_compress.sparsity import density

from paperzoo_gblm_pruner.gblm import gblm_prune_


class GBLMPrune(Supervised):
    """Supervised training, then GBLM-Pruner at ``sparsity`` (per output row, unstructured).

    :param sparsity: fraction of each row's weights pruned, in ``[0, 1)`` (the paper's 0.5).
    :param alpha: weight of the gradient term (the official ``scale``, 100); 0 gives Wanda.
    :param calib_batches: training batches (of ``batch_size``) used as calibration sequences.
    :param eval_batches: validation batches on which the summary reports perplexity before and after.
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        sparsity: float = 0.5,
        alpha: float = 100.0,
        calib_batches: int = 4,
        eval_batches: int = 4,
        **loop: Any,
    ) -> None:
        check_float("sparsity", sparsity, 0.0)
        if sparsity >= 1:
            raise ParamError("sparsity", f"{sparsity!r}; accepted: a number >= 0 and < 1")
        check_float("alpha", alpha, 0.0)
        if not math.isfinite(alpha):
            raise ParamError("alpha", f"{alpha!r}; accepted: a finite number >= 0")
        check_int("calib_batches", calib_batches, 1)
        check_int("eval_batches", eval_batches, 1)
        super().__init__(**loop)
        self.sparsity, self.alpha = float(sparsity), float(alpha)
        self.calib_batches, self.eval_batches = calib_batches, eval_batches
        self.pruned = False
        self.report: dict[str, Any] = {}

    def extra_state(self) -> dict[str, Any]:
        return {"pruned": self.pruned, "report": self.report}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pruned = bool(state.get("pruned", False))
        self.report = dict(state.get("report", {}))

    def _ids(self, run: Run, split: str, batches: int) -> torch.Tensor:
        data = run.data.train if split == "train" else run.data.val
        n = min(len(data), batches * self.batch_size)
        return fetch(data, torch.arange(n))[0].to(self.device)

    def fit(self, run: Run) -> dict[str, Any]:
        check_supported(run.model)
        self.setup(run)
        if not self.pruned:
            self.train(run)
            model = run.model.eval()
            val = self._ids(run, "val", self.eval_batches)
            ppl_dense = perplexity(model, val)
            gblm_prune_(model, self._ids(run, "train", self.calib_batches), self.sparsity, self.alpha)
            weights = [m.weight for m in block_linears(model).values()]
            self.pruned = True
            self.report = {
                "ppl_dense": ppl_dense,
                "ppl_pruned": perplexity(model, val),
                "block_density": sum(density(w) * w.numel() for w in weights)
                / sum(w.numel() for w in weights),
            }
            self.save_checkpoint(run)
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "sparsity": self.sparsity,
            "alpha": self.alpha,
            **self.report,
        }
