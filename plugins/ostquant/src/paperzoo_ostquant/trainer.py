"""``ostquant_ptq``: the kit's post-training-quantisation trainer with OSTQuant's learnt orthogonal and
scaling transformations before W-A round-to-nearest.

After training: learn and write the transformations (:func:`paperzoo_ostquant.method.ostquant_`), quantise
every block Linear's weight in place per output channel (``group_size`` -1 by default), and quantise the
Linears' inputs per token with forward pre-hooks. The checkpoint holds the transformed, weight-quantised
model under its own parameter names; activation quantisation is dynamic and not part of it (re-attach it
with :func:`add_act_quant_hooks`).
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.errors import ParamError
from paperzoo_compress.act import check_act_args, fake_quantize_activations
from paperzoo_compress.linear import block_linears
from paperzoo_compress.ptq import PTQTrainer, rtn_quantize_

from paperzoo_ostquant.method import ostquant_
from paperzoo_ostquant.transform import INITS


def add_act_quant_hooks(model: torch.nn.Module, a_bits: int) -> list:
    """Per-token asymmetric ``a_bits`` fake quantisation of every block Linear's input; returns the hook
    handles (``.remove()`` each to undo)."""

    def hook(_module, args):
        return (fake_quantize_activations(args[0], a_bits, "token"), *args[1:])

    return [linear.register_forward_pre_hook(hook) for linear in block_linears(model).values()]


class OSTQuantPTQ(PTQTrainer):
    """Supervised training, then OSTQuant and W``bits``A``a_bits`` round-to-nearest.

    :param a_bits: activation bit width (per token, asymmetric).
    :param ost_steps: optimisation steps of the transformations (0: QuaRot's fixed random Hadamards).
    :param ost_batch: calibration sequences per step.
    :param lr_rotation: Cayley SGD learning rate of the rotations.
    :param lr_scale: Adam learning rate of the log-scales.
    :param top_k: tokens of the KL-Top loss.
    :param init: ``hadamard`` (random Hadamard rotations) or ``identity``.
    Other params: those of ``compress_rtn_quantize`` (``bits``, ``group_size`` default -1: per channel) and
    of the supervised loop.
    """

    def __init__(
        self,
        a_bits: int = 4,
        ost_steps: int = 100,
        ost_batch: int = 8,
        lr_rotation: float = 1.0,
        lr_scale: float = 1e-2,
        top_k: int = 64,
        init: str = "hadamard",
        group_size: int = -1,
        **kw: Any,
    ) -> None:
        check_act_args(a_bits, "token", 1.0)
        check_int("ost_steps", ost_steps, low=0)
        check_int("ost_batch", ost_batch, low=1)
        check_int("top_k", top_k, low=1)
        check_float("lr_rotation", lr_rotation, 0.0, open_low=True)
        check_float("lr_scale", lr_scale, 0.0, open_low=True)
        if init not in INITS:
            raise ParamError("init", f"{init!r}; accepted: one of {', '.join(INITS)}")
        super().__init__(group_size=group_size, **kw)
        self.a_bits, self.ost_steps, self.ost_batch = a_bits, ost_steps, ost_batch
        self.lr_rotation, self.lr_scale, self.top_k, self.init = lr_rotation, lr_scale, top_k, init
        self._seed = 0

    def fit(self, run: Any) -> dict[str, Any]:
        self._seed = run.seed  # the Hadamard signs and calibration batches follow the run's seed
        return super().fit(run)

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        result = ostquant_(
            model,
            calib_ids,
            w_bits=self.bits,
            a_bits=self.a_bits,
            steps=self.ost_steps,
            batch_size=self.ost_batch,
            lr_rotation=self.lr_rotation,
            lr_scale=self.lr_scale,
            top_k=self.top_k,
            init=self.init,
            seed=self._seed,
        )
        rtn_quantize_(model, self.bits, self.group_size, self.symmetric)
        add_act_quant_hooks(model, self.a_bits)
        return {"a_bits": self.a_bits, **result.summary()}
