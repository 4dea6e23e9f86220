"""``jlcm_quantize``: the kit's post-training-quantisation trainer with JLCM (grouped k-means codebooks,
then joint learning of codebooks and mappings) instead of round-to-nearest."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.errors import ParamError
from paperzoo_compress.ptq import PTQTrainer

from paperzoo_jlcm.model import jlcm_quantize_


class JLCMQuantize(PTQTrainer):
    """Supervised training, then JLCM of every block Linear.

    :param bits: index bits per weight (a codebook of ``2^bits`` values per group).
    :param n_groups: row groups (codebooks) per Linear (capped at its number of rows).
    :param steps: joint-learning steps per Linear (0: the k-means codebooks alone).
    :param lr: Adam learning rate of the joint learning, in units of each group's weight std.
    Other params: ``calib_batches``, ``eval_batches`` and those of the supervised loop.
    """

    def __init__(
        self, bits: int = 3, n_groups: int = 32, steps: int = 50, lr: float = 1e-2, **kw: Any
    ) -> None:
        for name in ("group_size", "symmetric"):
            if name in kw:
                raise ParamError(name, f"{kw[name]!r}; accepted: nothing (JLCM quantises with codebooks)")
        check_int("n_groups", n_groups, 1)
        check_int("steps", steps, 0)
        check_float("lr", lr, 0.0, open_low=True)
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
            raise ParamError("bits", f"{bits!r}; accepted: an integer in [1, 8]")
        super().__init__(bits=max(bits, 2), group_size=0, **kw)
        self.bits, self.n_groups, self.steps, self.lr = bits, n_groups, steps, float(lr)

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        books = jlcm_quantize_(model, calib_ids, self.bits, self.n_groups, self.steps, self.lr)
        return {"n_groups": self.n_groups, "codebooks": len(books)}

    def summarize(self, run: Any, metrics: dict[str, float]) -> dict[str, Any]:
        summary = super().summarize(run, metrics)
        summary.pop("group_size", None)  # the kit's round-to-nearest parameter: JLCM has codebooks instead
        return summary
