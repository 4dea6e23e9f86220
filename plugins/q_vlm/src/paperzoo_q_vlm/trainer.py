"""``qvlm_ptq``: the compress kit's post-training-quantisation trainer with Q-VLM's entropy-partitioned
joint search (:mod:`paperzoo_q_vlm.qvlm`) instead of round-to-nearest, W``bits``A``a_bits``.

On a tinylm decoder (the registry's language models) the searched layers are the block Linears, in
execution order. The weights end on the grid in place (the checkpoint keeps the model's parameter
names); the per-token activation quantisation with the searched clip ratios stays attached as forward
pre-hooks and is not part of the checkpoint (re-attach it with :func:`paperzoo_q_vlm.qvlm.attach_act_quant`
from the reported ratios).
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.errors import ParamError
from paperzoo_compress.act import check_act_args
from paperzoo_compress.linear import block_linears
from paperzoo_compress.ptq import PTQTrainer

from paperzoo_q_vlm.qvlm import QVLMConfig, qvlm_quantize_


class QVLMPTQ(PTQTrainer):
    """Supervised training, then Q-VLM W``bits``A``a_bits`` post-training quantisation.

    :param a_bits: activation bit width (per token, asymmetric).
    :param threshold: entropy threshold of the block partition (``None``: the mean over the layers).
    :param max_block: most layers in one jointly searched block (1: the layer-wise search).
    :param sweeps: coordinate-descent passes per block (0: round-to-nearest).
    :param group_size: weight input channels per group (-1: per output channel, the default).
    Other params: those of ``compress_rtn_quantize`` and of the supervised loop.
    """

    def __init__(
        self,
        a_bits: int = 4,
        threshold: float | None = None,
        max_block: int = 3,
        sweeps: int = 2,
        group_size: int = -1,
        **kw: Any,
    ) -> None:
        check_act_args(a_bits, "token", 1.0)
        if threshold is not None:
            check_float("threshold", threshold, 0.0)  # entropies are >= 0
        check_int("max_block", max_block, 1)
        check_int("sweeps", sweeps, 0)
        if kw.get("symmetric"):
            raise ParamError("symmetric", "true; accepted: false (Q-VLM's weight grid is asymmetric)")
        super().__init__(group_size=group_size, **kw)
        self.qvlm = QVLMConfig(
            bits=self.bits,
            a_bits=a_bits,
            group_size=self.group_size,
            threshold=None if threshold is None else float(threshold),
            max_block=max_block,
            sweeps=sweeps,
        )

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        result = qvlm_quantize_(model, block_linears(model), lambda: model(calib_ids), self.qvlm)
        return {
            "a_bits": self.qvlm.a_bits,
            "blocks": [len(b) for b in result.blocks],
            "block_loss_rtn": [round(v, 8) for v in result.rtn_losses],
            "block_loss_qvlm": [round(v, 8) for v in result.losses],
        }
