"""``cbq_ptq``: the kit's post-training-quantisation trainer with CBQ (coarse-to-fine preprocessing,
then sliding-window cross-block reconstruction with LoRA-Rounding; see :mod:`paperzoo_cbq.reconstruct`)
instead of round-to-nearest. Weight-only: the block Linears end holding weights on the grid."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.errors import ParamError
from paperzoo.trainer import Run
from paperzoo_compress.ptq import PTQTrainer

from paperzoo_cbq.reconstruct import CBQConfig, cbq_quantize_


class CBQQuantize(PTQTrainer):
    """Supervised training, then CBQ (asymmetric ``bits``-bit groups of ``group_size``).

    :param window: consecutive blocks reconstructed together (1: block-wise reconstruction).
    :param overlap: blocks shared by consecutive windows (``0 <= overlap < window``).
    :param recon_steps: Adam steps per window.
    :param recon_lr: Adam learning rate of the LoRA-Rounding matrices.
    :param rank: rank of the LoRA-Rounding product ``A B``.
    :param recon_batch: calibration sequences per step.
    :param reg_weight: weight of the rounding regulariser (mean over the window's weights).
    :param homologous: weight of the homologous term (float window on the quantised input).
    :param kl_weight: weight of the KL term between the output feature distributions.
    :param cfp: run coarse-to-fine preprocessing; ``cfp_weights``: also truncate weight outliers;
        ``cfp_alpha``: exponent of the activation outlier scales.
    Other params: those of ``compress_rtn_quantize`` (``symmetric`` must stay false) and of the
    supervised loop.
    """

    def __init__(
        self,
        window: int = 2,
        overlap: int = 1,
        recon_steps: int = 100,
        recon_lr: float = 3e-3,
        rank: int = 4,
        recon_batch: int = 4,
        reg_weight: float = 1e-2,
        homologous: float = 0.0,
        kl_weight: float = 0.0,
        cfp: bool = True,
        cfp_weights: bool = True,
        cfp_alpha: float = 0.5,
        **kw: Any,
    ) -> None:
        if kw.get("symmetric"):
            raise ParamError("symmetric", "true; accepted: false (LoRA-Rounding uses the asymmetric grid)")
        check_int("window", window, 1)
        check_int("overlap", overlap, 0)
        if overlap >= window:
            raise ParamError("overlap", f"{overlap!r}; accepted: an integer in [0, window - 1]")
        for name, value in (("recon_steps", recon_steps), ("rank", rank), ("recon_batch", recon_batch)):
            check_int(name, value, 0 if name == "recon_steps" else 1)
        check_float("recon_lr", recon_lr, 0.0, open_low=True)
        for name, value in (("reg_weight", reg_weight), ("homologous", homologous), ("kl_weight", kl_weight)):
            check_float(name, value, 0.0)
        check_float("cfp_alpha", cfp_alpha, 0.0, 1.0)
        super().__init__(**kw)
        self.cbq = dict(
            window=window,
            overlap=overlap,
            steps=recon_steps,
            lr=float(recon_lr),
            rank=rank,
            batch_size=recon_batch,
            reg_weight=float(reg_weight),
            homologous=float(homologous),
            kl_weight=float(kl_weight),
            cfp=bool(cfp),
            cfp_weights=bool(cfp_weights),
            cfp_alpha=float(cfp_alpha),
        )

    def fit(self, run: Run) -> dict[str, Any]:
        self._seed = int(run.seed)  # the run's seed draws the LoRA init and the minibatch order
        return super().fit(run)

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        n_blocks = len(model.blocks)
        if self.cbq["window"] > n_blocks:
            raise ParamError("window", f"{self.cbq['window']}; accepted: at most the {n_blocks} blocks")
        cfg = CBQConfig(
            bits=self.bits, group_size=self.group_size, seed=getattr(self, "_seed", 0), **self.cbq
        )
        with torch.enable_grad():
            result = cbq_quantize_(model, calib_ids, cfg)
        return {"window_losses": [round(loss, 6) for _, _, loss in result.windows]}
