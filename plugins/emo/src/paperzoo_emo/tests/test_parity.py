"""Parity with golden outputs of the official EMO loss (``emo_patch.py`` of DRSY/EMO, see
``data/emo_golden.json``): loss and gradient with respect to the logits, float64, three variants."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_emo.loss import emo_loss

DATA = resources.files("paperzoo_emo.tests") / "data"
# (variant, mode, which embeddings give the cost)
VARIANTS = [
    ("emo1_adaptive", 1, "lm_head_weight"),
    ("emo2_adaptive", 2, "lm_head_weight"),
    ("emo2_fixed", 2, "cost_embedding"),
]


def test_metadata_names_the_source() -> None:
    meta = json.loads((DATA / "emo_golden.json").read_text())
    assert meta["repository"] == "https://github.com/DRSY/EMO" and len(meta["commit"]) == 40


@pytest.mark.parametrize(("variant", "mode", "cost"), VARIANTS)
def test_matches_the_official_loss(variant: str, mode: int, cost: str, record_property) -> None:
    gold = load_file(str(DATA / "emo_golden.safetensors"))
    logits = gold["logits"].clone().requires_grad_(True)  # [B, T, V], the LM head's output
    loss = emo_loss(logits[:, :-1], gold["labels"][:, 1:], gold[cost], mode=mode)
    (grad,) = torch.autograd.grad(loss, logits)
    loss_err = float((loss.detach() - gold[f"{variant}_loss"][0]).abs())
    grad_err = float((grad - gold[f"{variant}_grad_logits"]).abs().max())
    record_property(f"{variant}_max_abs_diff_float64", max(loss_err, grad_err))
    # the official code smears 1e-15 over the one-hot before its L1 norm; ours gathers the target row
    assert loss_err < 1e-13 and grad_err < 1e-13  # measured 2.2e-15
