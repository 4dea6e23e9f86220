"""Parity with the authors' released code (a MaxText fork, JAX): golden masks of its global gradual
magnitude pruning (``prune`` with the geometric per-update schedule of ``calculate_per_step_sparsity``),
recorded outside this package (tests/data/official_gmp.json names the commit and the command)."""

from __future__ import annotations

import json
from importlib.resources import files

import torch
from safetensors.torch import load_file
from torch import nn

from paperzoo_sparse_pretraining_schedule.pruner import GradualMagnitudePruner
from paperzoo_sparse_pretraining_schedule.schedule import SparsitySchedule

DATA = files("paperzoo_sparse_pretraining_schedule.tests") / "data"
NAMES = ("a", "b", "c")


def _mismatches(scope: str, kind: str) -> tuple[int, int, GradualMagnitudePruner]:
    """Replay the official run with our pruner; count mask entries that differ from the golden ones."""
    golden = load_file(str(DATA / "official_gmp.safetensors"))
    meta = json.loads((DATA / "official_gmp.json").read_text())
    setting = meta["setting"]
    assert len(meta["commit"]) == 40
    # MaxText's kernel is [in, out]; an nn.Linear holds [out, in]: the same entries, transposed
    model = nn.ModuleDict(
        {k: nn.Linear(*setting["shapes"][k], bias=False) for k in NAMES}  # Linear(in, out): weight [out, in]
    )
    # the official steps 4, 8, 12 of 16 are t0 = 0.25 T and t1 = 0.75 T with an update every 4 steps
    schedule = SparsitySchedule(setting["sparsity"], 16, 0.25, 0.75, every=4, kind=kind)
    assert schedule.update_steps() == [4, 8, 12]
    pruner = GradualMagnitudePruner(model, schedule, scope=scope)
    mismatches, compared = 0, 0
    for step in range(16):
        if not schedule.is_update(step):
            continue
        with torch.no_grad():
            for k in NAMES:
                layer = pruner.layers[k]
                layer.weight.copy_(
                    golden[f"kernel_step{step}_{k}"].T * layer.mask
                )  # pruned ones are zero here
        pruner.before_step(step)
        for k in NAMES:
            want = golden[f"mask_step{step}_{k}"].bool().T
            mismatches += int((pruner.layers[k].mask != want).sum())
            compared += want.numel()
    return mismatches, compared, pruner


def test_global_geometric_pruning_matches_the_released_code_mask_for_mask(record_property):
    mismatches, compared, pruner = _mismatches("global", "geometric")
    record_property("mask_mismatches", mismatches)
    record_property("mask_entries_compared", compared)
    assert mismatches == 0
    assert pruner.nonzero() == int(0.25 * pruner.total)  # s_f = 0.75 of 400 weights: 100 kept


def test_the_golden_masks_tell_scope_and_schedule_apart():
    # the fixture is discriminating: one threshold per layer, or the cubic schedule, gives other masks
    assert _mismatches("layerwise", "geometric")[0] > 0
    assert _mismatches("global", "cubic")[0] > 0
