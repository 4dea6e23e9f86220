"""The paper's headline claim at small scale: with the loss law ``L = E + A / N^alpha`` fitted jointly
on dense and sparsely pre-trained runs, the average non-zero parameter count over training (``Nbar``)
fits both families with a lower error than the final count.

Tiny tinylm decoders (``d_model`` 8, 16, 32; 2 layers) are trained on the standard library's source
for the same 150 steps (same data, batch and schedule: equal training tokens, so the ``B / D^beta``
term is a constant absorbed in ``E``), dense and with ``gradual_magnitude_pruning`` to 50% and 75%
final sparsity (cubic, 25% -> 75% of the steps). Each run's validation loss (64 held-out blocks) is
fitted with lawfit's ``fit_curve`` against ``Nbar`` and against the final count; 3 seeds. Nothing is
cached: every run trains from scratch.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from paperzoo.trainer import Run
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_sparse_pretraining_schedule.law import fit_scaling_law
from paperzoo_sparse_pretraining_schedule.trainer import GradualMagnitudePruning

STEPS, BATCH, SEQ, LR = 150, 16, 32, 3e-3
SIZES = (8, 16, 32)
SPARSITIES = (0.0, 0.5, 0.75)
SEEDS = (0, 1, 2)


def train_one(data, d_model: int, sparsity: float, seed: int) -> tuple[float, int, float]:
    """``(n_avg, n_final, validation loss)`` of one run."""
    torch.manual_seed(seed)
    model = TinyLMDecoder(vocab_size=256, max_seq_len=SEQ, d_model=d_model, n_layers=2, n_heads=4)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=STEPS, pct_start=0.1)
    trainer = GradualMagnitudePruning(
        final_sparsity=sparsity, max_steps=STEPS, batch_size=BATCH, progress=False, device="cpu"
    )
    summary = trainer.fit(Run(model=model, data=data, optimizer=opt, scheduler=sched, seed=seed))
    x, y = data.val.tensors
    model.eval()
    with torch.no_grad():
        loss = F.cross_entropy(model(x[:64]).logits.flatten(0, 1), y[:64].flatten()).item()
    return summary["n_avg"], summary["n_final"], loss


@pytest.mark.claim
def test_average_parameter_count_fits_dense_and_sparse_runs_better_than_final_count(record_property):
    data = stdlib_bytes(seq_len=SEQ, max_bytes=300_000)
    ratios = []
    for seed in SEEDS:
        runs = [train_one(data, d, s, seed) for d in SIZES for s in SPARSITIES]
        n_avg, n_final, loss = zip(*runs)
        with_avg, with_final = fit_scaling_law(n_avg, loss), fit_scaling_law(n_final, loss)
        record_property(f"rmse_log_avg_seed{seed}", round(with_avg.rmse_log, 5))
        record_property(f"rmse_log_final_seed{seed}", round(with_final.rmse_log, 5))
        ratios.append(with_avg.rmse_log / with_final.rmse_log)
        # sparsity hurts at equal size (the runs are not degenerate) and bigger models do better
        assert all(loss[3 * i] < loss[3 * i + 2] for i in range(len(SIZES)))
        assert loss[0] > loss[3] > loss[6]
    record_property("rmse_ratio_avg_over_final_mean", round(sum(ratios) / len(ratios), 4))
    assert all(r < 1.0 for r in ratios), ratios
