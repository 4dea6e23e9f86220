"""The paper's headline claim at small scale: on the outlier fixture (the ``stdlib-small`` checkpoint with
planted outlier channels, :mod:`paperzoo_compress.fixture`), AWQ's W4 and W3 held-out perplexity is below
round-to-nearest's at the same bits and group size, for 3 seeds (outlier channels and calibration texts)."""

import copy

import pytest
import torch
from paperzoo_compress.fixture import outlier_tinylm, perplexity, text_blocks
from paperzoo_compress.ptq import rtn_quantize_

from paperzoo_awq.search import awq_quantize_

GROUP = 32


@pytest.mark.claim
@pytest.mark.parametrize("bits", [4, 3])
def test_awq_beats_rtn_on_outlier_fixture(bits, record_property):
    torch.manual_seed(0)
    val = text_blocks("val", 24, 128)
    rows = []
    for seed in range(3):
        model = outlier_tinylm(seed)
        calib = text_blocks("train", 16, 128, seed=seed)
        rtn, awq = copy.deepcopy(model), copy.deepcopy(model)
        rtn_quantize_(rtn, bits, GROUP)
        awq_quantize_(awq, calib, bits, GROUP)
        rows.append((perplexity(model, val), perplexity(rtn, val), perplexity(awq, val)))
    fp, rtn_ppl, awq_ppl = (sum(r[i] for r in rows) / 3 for i in range(3))
    record_property(f"ppl_float_w{bits}", round(fp, 4))
    record_property(f"ppl_rtn_w{bits}", round(rtn_ppl, 4))
    record_property(f"ppl_awq_w{bits}", round(awq_ppl, 4))
    print(bits, rows)
    assert all(a < r for _, r, a in rows), rows
