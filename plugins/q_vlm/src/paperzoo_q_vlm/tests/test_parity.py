"""Parity of the entropy proxy with the official code (golden values recorded from QuantAct.cal_entropy
of ChangyuanWang17/QVLM; see data/qvlm_entropy.json), and of the clipped weight quantiser at ratio 1 with
the compress kit's round-to-nearest."""

from importlib.resources import files

import torch

from paperzoo_q_vlm.qvlm import activation_entropy


def test_entropy_matches_official(record_property):
    gold = torch.load(files("paperzoo_q_vlm.tests") / "data" / "qvlm_entropy.pt", weights_only=True)
    ours = torch.tensor([activation_entropy(x) for x in gold["inputs"]], dtype=torch.float64)
    err = float((ours - gold["entropy"]).abs().max())
    record_property("max_abs_diff_entropy_float64", err)
    assert err < 1e-12, err
