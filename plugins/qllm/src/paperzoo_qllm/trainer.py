"""``channel_reassembly`` and ``qllm_lowrank_tuning``: the compress kit's post-training-quantisation
trainer with QLLM's adaptive channel reassembly before W-A round-to-nearest, and (the second) the
block-wise low-rank tuning after it.

The checkpoint holds the reassembled, weight-quantised model under its own parameter names (the
reassembled weights keep the Linears' shapes); the plans (sub-channel counts and merged pairs) are kept
in the trainer's state, and the input reassembly with the per-token activation quantiser is re-attached
as forward pre-hooks when a finished run is resumed.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo_compress.act import check_act_args
from paperzoo_compress.ptq import PTQTrainer

from paperzoo_qllm.lowrank import tune_blocks_
from paperzoo_qllm.method import apply_plans_, attach_input_hooks, find_plans, quantize_weights_
from paperzoo_qllm.reassembly import Plan


def _plans_state(plans: dict[str, Plan]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "counts": [int(c) for c in p.counts.tolist()],
            "src": [int(s) for s in p.src.tolist()],
            "dst": [int(d) for d in p.dst.tolist()],
            "theta": float(p.theta),
        }
        for name, p in plans.items()
    }


def _plans_from_state(state: dict[str, dict[str, Any]]) -> dict[str, Plan]:
    return {
        name: Plan(
            torch.tensor(s["counts"], dtype=torch.float32),
            torch.tensor(s["src"], dtype=torch.long),
            torch.tensor(s["dst"], dtype=torch.long),
            float(s["theta"]),
        )
        for name, s in state.items()
    }


class ChannelReassemblyPTQ(PTQTrainer):
    """Supervised training, then QLLM's adaptive channel reassembly and W``bits``A``a_bits``
    round-to-nearest (per-channel asymmetric weights, per-token asymmetric activations).

    :param a_bits: activation bit width.
    :param channel_ratio: at most ``int(C channel_ratio)`` channels added by disassembly per group
        (the official scripts use 0.2).
    :param adaptive: search the threshold minimising the quantised output error; ``False``: a fixed
        ``theta``.
    :param theta: the fixed threshold (used when ``adaptive`` is false).
    :param max_tokens: calibration tokens per group used by the search.
    Other params: those of ``compress_rtn_quantize`` (``bits``, ``group_size`` default -1: per channel;
    only per-channel weights are searched for) and of the supervised loop.
    """

    def __init__(
        self,
        a_bits: int = 4,
        channel_ratio: float = 0.2,
        adaptive: bool = True,
        theta: float = 1.0,
        max_tokens: int = 2048,
        group_size: int = -1,
        **kw: Any,
    ) -> None:
        check_act_args(a_bits, "token", 1.0)
        check_float("channel_ratio", channel_ratio, 0.0, 1.0)
        check_float("theta", theta, 0.0, open_low=True)
        check_int("max_tokens", max_tokens, low=2)
        super().__init__(group_size=group_size, **kw)
        self.a_bits, self.channel_ratio, self.adaptive = a_bits, float(channel_ratio), bool(adaptive)
        self.theta, self.max_tokens = float(theta), max_tokens
        self.plans: dict[str, Plan] = {}
        self._hooked = False
        self._seed = 0

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "plans": _plans_state(self.plans)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.plans = _plans_from_state(state.get("plans", {}))

    def _search(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Plan]:
        return find_plans(
            model,
            calib_ids,
            self.bits,
            self.a_bits,
            channel_ratio=self.channel_ratio,
            max_tokens=self.max_tokens,
            adaptive=self.adaptive,
            theta=self.theta,
        )

    def _report(self) -> dict[str, Any]:
        extra = [p.extra for p in self.plans.values()]
        return {
            "a_bits": self.a_bits,
            "reassembled_linears": sum(e > 0 for e in extra),
            "mean_extra_channels": sum(extra) / max(len(extra), 1),
        }

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        self.plans = self._search(model, calib_ids)
        apply_plans_(model, self.plans)
        quantize_weights_(model, self.bits, self.group_size)
        attach_input_hooks(model, self.plans, self.a_bits)
        self._hooked = True
        return self._report()

    def fit(self, run: Any) -> dict[str, Any]:
        self._seed = run.seed
        return super().fit(run)

    def finish(self, run: Any) -> dict[str, Any]:
        if self.quantized and not self._hooked:  # a resumed finished run: re-attach the input hooks
            attach_input_hooks(run.model, self.plans, self.a_bits)
            self._hooked = True
        return super().finish(run)


class LowRankTuningPTQ(ChannelReassemblyPTQ):
    """``channel_reassembly``, then QLLM's block-wise low-rank tuning: per block, LoRA on every Linear
    over the frozen quantised weights, trained to the float block's output, merged and re-quantised.

    :param lora_rank: LoRA rank (official default 4).
    :param lora_alpha: LoRA scaling numerator (``s = lora_alpha / lora_rank``; official default 1).
    :param tune_steps: AdamW steps per block.
    :param tune_batch: calibration sequences per step.
    :param tune_lr: learning rate (official 5e-4).
    :param requantize: quantise the merged weight again (the official inference model); ``False``
        keeps ``W_q + s B A`` in float.
    Other params: those of ``channel_reassembly``.
    """

    def __init__(
        self,
        lora_rank: int = 4,
        lora_alpha: float = 1.0,
        tune_steps: int = 20,
        tune_batch: int = 4,
        tune_lr: float = 5e-4,
        requantize: bool = True,
        **kw: Any,
    ) -> None:
        check_int("lora_rank", lora_rank, low=1)
        check_float("lora_alpha", lora_alpha, 0.0, open_low=True)
        check_int("tune_steps", tune_steps, low=0)
        check_int("tune_batch", tune_batch, low=1)
        check_float("tune_lr", tune_lr, 0.0, open_low=True)
        super().__init__(**kw)
        self.lora_rank, self.lora_alpha, self.tune_steps = lora_rank, float(lora_alpha), tune_steps
        self.tune_batch, self.tune_lr, self.requantize = tune_batch, float(tune_lr), bool(requantize)

    def calibrate_and_quantize(self, model: torch.nn.Module, calib_ids: torch.Tensor) -> dict[str, Any]:
        float_model = copy.deepcopy(model)
        self.plans = self._search(model, calib_ids)
        apply_plans_(model, self.plans)
        quantize_weights_(model, self.bits, self.group_size)
        with torch.enable_grad():
            losses = tune_blocks_(
                model,
                float_model,
                calib_ids,
                self.plans,
                self.bits,
                self.a_bits,
                rank=self.lora_rank,
                alpha=self.lora_alpha,
                steps=self.tune_steps,
                lr=self.tune_lr,
                batch_size=self.tune_batch,
                requantize=self.requantize,
                group_size=self.group_size,
                seed=self._seed,
            )
        attach_input_hooks(model, self.plans, self.a_bits)
        self._hooked = True
        return {**self._report(), "tune_final_loss": losses[-1] if losses else 0.0}
