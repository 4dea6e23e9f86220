"""``compress_rtn_quantize``: train with the supervised loop, then quantise the weights of every block
Linear after training (post-training, weight-only); round-to-nearest here, a search-based method in a
subclass (override :meth:`PTQTrainer.calibrate_and_quantize`).

The weights are replaced in place by their fake-quantised values (the model keeps its ``nn.Linear``
modules and state-dict keys), so the final checkpoint holds the quantised model and a resumed finished
run quantises nothing twice.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_compress.calib import check_supported
from paperzoo_compress.fixture import perplexity
from paperzoo_compress.linear import block_linears
from paperzoo_compress.quant import check_quant_args, fake_quantize


@torch.no_grad()
def rtn_quantize_(model: torch.nn.Module, bits: int, group_size: int, symmetric: bool = False) -> None:
    """In place: every block Linear's weight replaced by its round-to-nearest fake quantisation."""
    for linear in block_linears(model).values():
        linear.weight.copy_(fake_quantize(linear.weight, bits, group_size, symmetric))


class PTQTrainer(Supervised):
    """Supervised training, then post-training weight quantisation of the block Linears.

    :param bits: weight bit width.
    :param group_size: input channels per quantisation group (-1: per output channel, 0: per tensor).
    :param symmetric: symmetric grid (default: asymmetric with a zero point).
    :param calib_batches: training batches (of ``batch_size``) used as calibration data.
    :param eval_batches: validation batches on which the summary reports perplexity before and after.
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        bits: int = 4,
        group_size: int = 128,
        symmetric: bool = False,
        calib_batches: int = 4,
        eval_batches: int = 4,
        **loop: Any,
    ) -> None:
        check_quant_args(bits, group_size)
        for name, value in (("calib_batches", calib_batches), ("eval_batches", eval_batches)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParamError(name, f"{value!r}; accepted: an integer >= 1")
        super().__init__(**loop)
        self.bits, self.group_size, self.symmetric = bits, group_size, bool(symmetric)
        self.calib_batches, self.eval_batches = calib_batches, eval_batches
        self.quantized = False
        self.report: dict[str, Any] = {}

    def extra_state(self) -> dict[str, Any]:
        return {"quantized": self.quantized, "report": self.report}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.quantized = bool(state.get("quantized", False))
        self.report = dict(state.get("report", {}))

    def _ids(self, run: Run, split: str, batches: int) -> torch.Tensor:
        data = run.data.train if split == "train" else run.data.val
        n = min(len(data), batches * self.batch_size)
        return fetch(data, torch.arange(n))[0].to(self.device)

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        """Quantise ``model`` in place using ``calib_ids`` ``[N, T]``; return what to report."""
        rtn_quantize_(model, self.bits, self.group_size, self.symmetric)
        return {}

    def fit(self, run: Run) -> dict[str, Any]:
        check_supported(run.model)
        self.setup(run)
        if not self.quantized:
            self.train(run)
            model = run.model.eval()
            val = self._ids(run, "val", self.eval_batches)
            ppl_float = perplexity(model, val)
            extra = self.calibrate_and_quantize(model, self._ids(run, "train", self.calib_batches))
            self.quantized = True
            self.report = {"ppl_float": ppl_float, "ppl_quantized": perplexity(model, val), **extra}
            self.save_checkpoint(run)
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "bits": self.bits,
            "group_size": self.group_size,
            **self.report,
        }
