"""``awq_quantize``: the kit's post-training-quantisation trainer with AWQ's scale and clip searches
before round-to-nearest (see :mod:`paperzoo_awq.search`)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo_compress.ptq import PTQTrainer

from paperzoo_awq.search import awq_quantize_


class AWQQuantize(PTQTrainer):
    """Supervised training, then AWQ (asymmetric ``bits``-bit groups of ``group_size``).

    :param auto_scale: run the activation-aware scale search.
    :param auto_clip: run the clipping search.
    :param n_grid: grid points of both searches (the paper's 20).
    Other params: those of ``compress_rtn_quantize`` (``symmetric`` must stay false: AWQ's grid is
    asymmetric) and of the supervised loop.
    """

    def __init__(self, auto_scale: bool = True, auto_clip: bool = True, n_grid: int = 20, **kw: Any) -> None:
        if kw.get("symmetric"):
            raise ParamError("symmetric", "true; accepted: false (AWQ quantises with a zero point)")
        if not isinstance(n_grid, int) or isinstance(n_grid, bool) or n_grid < 2:
            raise ParamError("n_grid", f"{n_grid!r}; accepted: an integer >= 2")
        super().__init__(**kw)
        self.auto_scale, self.auto_clip, self.n_grid = bool(auto_scale), bool(auto_clip), n_grid

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        result = awq_quantize_(
            model,
            calib_ids,
            self.bits,
            self.group_size,
            auto_scale=self.auto_scale,
            auto_clip=self.auto_clip,
            n_grid=self.n_grid,
        )
        return {"alphas": result.alphas()}
