"""``eora_compensation``: the compress kit's post-training trainer (train, then compress the block
Linears) with EoRA's training-free low-rank compensation of the compression error
(:mod:`paperzoo_eora.compensate`)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo_compress.ptq import PTQTrainer

from paperzoo_eora.compensate import COMPRESSIONS, METHODS, eora_compensate_


class EoRACompensation(PTQTrainer):
    """Supervised training, then compression (``bits``-bit round-to-nearest in groups of ``group_size``
    and/or 2:4 magnitude pruning) and a rank-``rank`` compensation of every block Linear.

    :param rank: rank ``r`` of each Linear's compensation ``B A`` (clamped to its ``min(in, out)``).
    :param compression: ``quant``, ``prune`` (2:4) or ``prune+quant``.
    :param method: ``eigen`` (EoRA), ``svd`` (plain SVD of the error, the ablation) or ``none``.
    :param eig_floor: eigenvalues of ``X X^T`` at most ``eig_floor * max`` take the smallest one above.
    Other params: those of ``compress_rtn_quantize`` and of the supervised loop. The compensated weight
    ``W' + B A`` is stored in each Linear (state-dict keys unchanged; a resumed finished run compensates
    nothing twice); :func:`~paperzoo_eora.compensate.eora_compensate_` with ``merge=False`` keeps the two
    paths apart.
    """

    def __init__(
        self,
        rank: int = 8,
        compression: str = "quant",
        method: str = "eigen",
        eig_floor: float = 1e-12,
        **kw: Any,
    ) -> None:
        check_int("rank", rank, 1)
        check_choice("compression", compression, COMPRESSIONS)
        check_choice("method", method, METHODS)
        check_float("eig_floor", eig_floor, 0.0, 1.0)
        super().__init__(**kw)
        self.eora_rank, self.compression, self.method, self.eig_floor = rank, compression, method, eig_floor

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        report = eora_compensate_(
            model,
            calib_ids,
            rank=self.eora_rank,
            bits=self.bits,
            group_size=self.group_size,
            symmetric=self.symmetric,
            compression=self.compression,
            method=self.method,
            floor=self.eig_floor,
            merge=True,
        )
        return {"weighted_error_ratio": report.relative_error()}

    def summarize(self, run: Any, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "rank": self.eora_rank,
            "compression": self.compression,
            "method": self.method,
        }
