"""The paper's claim at small scale: removing every LayerNorm with the fine-tuning schedule costs only a
small loss increase, while removing them without fine-tuning costs much more (3 seeds).

Per seed a 4-layer GPT-2-style pre-LN decoder (d_model 64) is trained 200 steps on tinylm_stdlib; then,
from that model, for the same 40 steps at the same learning rate: ``ln_removal_finetune`` (every norm
removed, 2 steps apart from step 4) and the plain loop with the norms kept (the compute-matched
"vanilla" control, as the paper fine-tunes its baselines too). The no-fine-tuning removal freezes the
vanilla model's norms at once (sigma_avg from 4 training batches). Losses are on 128 validation
sequences.
"""

from __future__ import annotations

import pytest
import torch

from paperzoo_ln_removal.fake_ln import calibrate, install, remove_all
from paperzoo_ln_removal.tests.helpers import clone, data, decoder, fit, plain, removal, val_loss


@pytest.mark.claim
def test_finetuned_removal_costs_little_without_finetuning_much(tmp_path, record_property):
    bundle = data(seq_len=64, max_bytes=200_000)
    ft_gap, raw_gap = [], []
    for seed in range(3):
        base = decoder(seed, d_model=64, n_layers=4)
        fit(plain(200), base, bundle, tmp_path / f"base{seed}", 3e-3, seed)
        ours = clone(base)
        fit(removal(40, start=4, gap=2), ours, bundle, tmp_path / f"ours{seed}", 1e-3, seed)
        vanilla = clone(base)
        fit(plain(40), vanilla, bundle, tmp_path / f"vanilla{seed}", 1e-3, seed)
        raw = clone(vanilla)
        install(raw)
        calibrate(raw, torch.stack([bundle.train[i][0] for i in range(64)]).split(16))
        remove_all(raw)
        v = val_loss(vanilla, bundle)
        ft_gap.append(val_loss(ours, bundle) - v)
        raw_gap.append(val_loss(raw, bundle) - v)
    ft, rw = sum(ft_gap) / 3, sum(raw_gap) / 3
    record_property("loss_increase_finetuned_removal", round(ft, 4))
    record_property("loss_increase_removal_without_finetuning", round(rw, 4))
    assert all(f < r for f, r in zip(ft_gap, raw_gap)), (ft_gap, raw_gap)
    assert ft < 0.03, ft_gap
    assert rw > 3 * max(ft, 0.0) and rw > 0.03, raw_gap
