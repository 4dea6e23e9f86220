"""Parity with the official GBLM-Pruner code (RocktimJyotiDas/GBLM-Pruner): golden l2 gradients, the
activation statistics its sequential pass sees, and the final masks of its ``prune_gblm``, ``prune_wanda``
and ``prune_magnitude``, run on a tiny Llama converted from the same seeded tinylm decoder (see
``data/gblm_golden.json`` for the commit, the command and the adaptations)."""

import json
import math
from pathlib import Path

import torch
from paperzoo_compress.prune_scores import magnitude_prune_, prune_sequential_, wanda_prune_
from paperzoo_tinylm.model import TinyLMDecoder
from safetensors.torch import load_file

from paperzoo_gblm_pruner.gblm import gblm_prune_, gblm_scores, gradient_l2

DATA = Path(__file__).parent / "data"
META = json.loads((DATA / "gblm_golden.json").read_text())
GOLD = load_file(str(DATA / "gblm_golden.safetensors"))
IDS = GOLD["calib_ids"]


def _model() -> TinyLMDecoder:
    torch.manual_seed(0)
    return TinyLMDecoder(**META["model"]["tinylm_decoder"]).eval()


def _mismatches(method: str, masks: dict[str, torch.Tensor]) -> int:
    theirs = {k.split(".keep.")[1]: v.bool() for k, v in GOLD.items() if k.startswith(f"{method}.keep.")}
    assert masks.keys() == theirs.keys()
    return sum(int((masks[k] != theirs[k]).sum()) for k in masks)


def test_gradient_l2_matches_official(record_property):
    ours = gradient_l2(_model(), IDS)
    errs = []
    for name, g in ours.items():
        want = GOLD[f"gblm.grad_l2_scaled.{name}"] / 100  # the official stores sqrt(sum (scale * g)^2)
        errs.append(((g - want).abs().max() / want.abs().max()).item())
    record_property("grad_l2_max_rel_diff_float32", max(errs))
    assert max(errs) < 1e-5  # float32 backward passes through two different implementations of the model


def test_sequential_input_norms_match_official():
    seen = {}
    model = _model()
    grads = gradient_l2(model, IDS)

    def score(name, weight, norms):
        seen[name] = norms
        return gblm_scores(weight, norms, grads[name], 100.0, len(IDS))

    prune_sequential_(model, IDS, score, 0.5)  # block 1 sees the inputs of the GBLM-pruned block 0
    for name, norms in seen.items():
        want = GOLD[f"gblm.sqrt_scaler_row.{name}"]  # its sqrt(sum_tokens x^2 / N)
        assert torch.allclose(norms / math.sqrt(len(IDS)), want, rtol=1e-5, atol=1e-7), name


def test_gblm_masks_match_official(record_property):
    masks = gblm_prune_(_model(), IDS, sparsity=0.5, alpha=100.0)
    bad = _mismatches("gblm", masks)
    record_property("gblm_mask_mismatches", bad)
    assert bad == 0
    # the gradient term matters on this model: the official GBLM and Wanda masks differ
    assert _mismatches("wanda", masks) > 100


def test_wanda_masks_match_official():
    assert _mismatches("wanda", wanda_prune_(_model(), IDS, 0.5)) == 0


def test_magnitude_masks_match_official_up_to_its_threshold_entry():
    """The official magnitude pruning removes ``|w| <= sorted[int(n s)]``: one entry more per layer than an
    exact ``int(n s)``; every entry we prune it prunes too."""
    masks = magnitude_prune_(_model(), 0.5)
    for name, keep in masks.items():
        theirs = GOLD[f"magnitude.keep.{name}"].bool()
        assert not (theirs & ~keep).any(), name
        assert int((keep & ~theirs).sum()) == 1, name
