"""The paper's Table 1 direction at small scale (3 seeds, CPU): sorting 5-10 numbers, read-process-write
(an order-invariant encoder) against the Ptr-Net fed the unsorted sequence (an LSTM encoder), same
training steps, batches and optimizer (``fit_lengths``: Adam 5e-3, batch 128, clipping at 2), about equal
parameters (hidden 32 with 5 process steps: 28,384; the Ptr-Net at hidden 40: 29,600).

1. The paper's models (no masking: a position may be pointed at twice): not reproduced at this budget.
2. The constrained variant (positions already pointed at are masked): read-process-write wins, but
   for a reason that is not the paper's: with a per-element read and the mask, sorting reduces to a
   pointer score that is monotone in the value, which even an untrained model can have (recorded).
"""

import pytest
import torch
from paperzoo_pointer_networks.model import PointerNet
from paperzoo_pointer_networks.tasks import make_examples
from paperzoo_pointer_networks.training import fit_lengths

from paperzoo_order_matters.model import ReadProcessWrite

SEEDS = (0, 1, 2)


def _exact(model: torch.nn.Module, n: int) -> float:
    x, y = make_examples("sorting", 1000, n, seed=10**6 + n)
    return (model.eval().decode(x) == y).all(1).float().mean().item()


def _compare(mask_chosen: bool, steps: int, lengths: tuple[int, ...]) -> dict[str, list[list[float]]]:
    """Exact-sort accuracy per model, per seed, per test length."""
    out: dict[str, list[list[float]]] = {"read_process_write": [], "ptr_net": [], "untrained_rpw": []}
    for seed in SEEDS:
        torch.manual_seed(seed)
        rpw = ReadProcessWrite(input_dim=1, hidden=32, processing_steps=5, mask_chosen=mask_chosen)
        out["untrained_rpw"].append([_exact(rpw, n) for n in lengths])
        torch.manual_seed(seed)
        ptr = PointerNet(input_dim=1, hidden=40, mask_chosen=mask_chosen)
        ratio = sum(p.numel() for p in rpw.parameters()) / sum(p.numel() for p in ptr.parameters())
        assert 0.9 < ratio < 1.1, ratio
        for name, model in (("read_process_write", rpw), ("ptr_net", ptr)):
            fit_lengths(model, "sorting", (5, 10), steps=steps, seed=seed)
            out[name].append([_exact(model, n) for n in lengths])
    return out


def _mean(rows: list[list[float]], j: int) -> float:
    return sum(r[j] for r in rows) / len(rows)


def _record(record_property, tag: str, out: dict, lengths: tuple[int, ...]) -> None:
    for name, rows in out.items():
        for j, n in enumerate(lengths):
            record_property(f"{tag}_n{n}_exact_{name}_mean", round(_mean(rows, j), 3))
            record_property(f"{tag}_n{n}_exact_{name}_per_seed", str([round(r[j], 3) for r in rows]))


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="unmasked (the paper's models), 300 steps: read-process-write sorts worse than the Ptr-Net. "
    "Measured exact sort (mean of 3 seeds) at n=5: 0.41 against 0.66; at n=10: 0.00 against 0.03 "
    "(one seed at 600 steps: n=10 0.01 against 0.26). The paper trained far longer (1M examples)",
)
def test_read_process_write_sorts_better_unmasked(record_property):
    lengths = (5, 10)
    out = _compare(mask_chosen=False, steps=300, lengths=lengths)
    _record(record_property, "unmasked", out, lengths)
    for j in range(len(lengths)):
        assert _mean(out["read_process_write"], j) > _mean(out["ptr_net"], j) + 0.02, out


@pytest.mark.claim
def test_read_process_write_sorts_better_masked(record_property):
    lengths = (10,)
    out = _compare(mask_chosen=True, steps=200, lengths=lengths)
    _record(record_property, "masked", out, lengths)
    rpw, ptr = out["read_process_write"], out["ptr_net"]
    assert all(r[0] > p[0] for r, p in zip(rpw, ptr)), out
    assert _mean(rpw, 0) > _mean(ptr, 0) + 0.05, out
