"""Parity with golden outputs of the official ModelTC/QLLM reassembly routines (``data/qllm_golden.json``
names the commit and the command): the threshold search, the disassembly, the matching scores and
pairs, and the reassembled activations and weights."""

from importlib.resources import files

import torch
from paperzoo_compress.act import fake_quantize_activations
from paperzoo_compress.quant import fake_quantize
from safetensors.torch import load_file

from paperzoo_qllm import reassembly as R

GOLDEN = load_file(str(files("paperzoo_qllm.tests") / "data" / "qllm_golden.safetensors"))


def _loss(x, w):
    ref = x @ w.t()

    def loss(xp, wp):
        out = fake_quantize_activations(xp, 4, "token") @ fake_quantize(wp, 4, -1).t()
        return float(torch.nn.functional.mse_loss(out, ref))

    return loss


def test_threshold_search_matches_official(record_property):
    g = GOLDEN
    th, losses = R.search_threshold(g["x"], g["w"], g["x_max"], 0.5, _loss(g["x"], g["w"]))
    # the golden theta is the float32 of the official float64 threshold
    assert abs(th - float(g["theta"])) <= 1e-6 * float(g["theta"])
    assert len(losses) >= 2  # several channel counts were compared
    record_property("theta_rel_diff", abs(th - float(g["theta"])) / float(g["theta"]))


def test_disassembly_matches_official():
    g = GOLDEN
    counts = R.disassembly_counts(g["x_max"], float(g["theta"]))
    assert torch.equal(counts, g["counts"])
    assert torch.equal(R.disassemble_x(g["x"], counts), g["x_disassembled"])
    assert torch.equal(R.disassemble_weight(g["w"], counts), g["w_disassembled"])


def test_scores_and_pairs_match_official(record_property):
    g = GOLDEN
    scores = R.pair_scores(g["x_disassembled"], g["w_disassembled"])
    # float32 cdist and column sums in another order: relative 1e-6 of the largest score
    rel = float((scores - g["scores"]).abs().max() / g["scores"].abs().max())
    assert rel < 1e-6
    plan = R.plan_for_theta(g["x"], g["w"], g["x_max"], float(g["theta"]))
    assert plan.src.tolist() == g["src_idx"].tolist()
    assert plan.dst.tolist() == g["dst_idx"].tolist()
    assert len(set(plan.dst.tolist())) < plan.extra  # one channel receives two merges
    record_property("scores_max_rel_diff", rel)


def test_reassembled_tensors_match_official(record_property):
    g = GOLDEN
    plan = R.plan_for_theta(g["x"], g["w"], g["x_max"], float(g["theta"]))
    dx = float((plan.apply_x(g["x"]) - g["x_reassembled"]).abs().max())
    dw = float((plan.apply_weight(g["w"]) - g["w_reassembled"]).abs().max())
    assert plan.apply_x(g["x"]).shape == g["x"].shape
    assert dx <= 1e-6 and dw <= 1e-6
    record_property("x_reassembled_max_abs_diff", dx)
    record_property("w_reassembled_max_abs_diff", dw)
