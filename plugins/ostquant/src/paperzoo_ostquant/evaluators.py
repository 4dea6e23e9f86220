"""The ``qsur`` evaluator: QSUR of the inputs of every block Linear of a tinylm decoder on validation
data (``q/k/v_proj`` share one input, as do ``gate/up_proj``: each distinct input counted once)."""

from __future__ import annotations

import math

import torch
from paperzoo.checks import check_int
from paperzoo.data import DataBundle, fetch
from paperzoo_compress.calib import block_inputs, linear_inputs

from paperzoo_ostquant.qsur import sample_log_qsur


def linear_input_log_qsur(model: torch.nn.Module, ids: torch.Tensor) -> dict[str, float]:
    """``log QSUR`` of each distinct block-Linear input (keyed by the first Linear reading it)."""
    out: dict[str, float] = {}
    for i, (block, points) in enumerate(zip(model.blocks, block_inputs(model, ids))):
        seen: set[int] = set()
        for name, x in linear_inputs(block, points).items():
            if id(x) not in seen:
                seen.add(id(x))
                out[f"blocks.{i}.{name}"] = sample_log_qsur(x)
    return out


class QSUR:
    """Mean over the distinct block-Linear inputs of ``QSUR^{1/d}`` (``qsur``) and of ``log QSUR``
    (``log_qsur``), on the first ``max_tokens // seq_len`` validation sequences (at least 2)."""

    keys = ("qsur", "log_qsur")

    def __init__(self, max_tokens: int = 4096) -> None:
        check_int("max_tokens", max_tokens, low=2)
        self.max_tokens = max_tokens

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        was_training = model.training
        model.eval()
        seq_len = len(fetch(data.val, torch.arange(1))[0][0])
        n = max(2, min(len(data.val), self.max_tokens // seq_len))
        device = next(model.parameters()).device
        ids = fetch(data.val, torch.arange(n))[0].to(device)
        logs = linear_input_log_qsur(model, ids)
        model.train(was_training)
        widths = {name: _width(model, name) for name in logs}
        per_dim = [math.exp(v / widths[k]) for k, v in logs.items()]
        return {"qsur": sum(per_dim) / len(per_dim), "log_qsur": sum(logs.values()) / len(logs)}


def _width(model: torch.nn.Module, name: str) -> int:
    return model.get_submodule(name).in_features
