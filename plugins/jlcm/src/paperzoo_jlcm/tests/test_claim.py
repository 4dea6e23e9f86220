"""The paper's headline claim at small scale: on the outlier fixture (the ``stdlib-small`` checkpoint with
planted outlier channels, :mod:`paperzoo_compress.fixture`), JLCM at 3 bits per weight (32 row groups per
Linear, k-means init, 50 joint-learning steps on 8 calibration texts) has a lower held-out perplexity than
a single per-tensor k-means codebook at the same 3 bits and than per-channel round-to-nearest at 3 bits
(whose scale and zero point per row take as many or more bits than JLCM's codebooks on every Linear),
for 3 seeds (outlier channels and calibration texts)."""

import copy

import pytest
import torch
from paperzoo_compress.fixture import outlier_tinylm, perplexity, text_blocks
from paperzoo_compress.ptq import rtn_quantize_

from paperzoo_jlcm.model import jlcm_quantize_

BITS, GROUPS, STEPS = 3, 32, 50


@pytest.mark.claim
def test_jlcm_beats_a_per_tensor_codebook_and_rtn(record_property):
    torch.manual_seed(0)
    val = text_blocks("val", 16, 128)
    rows = []
    for seed in range(3):
        model = outlier_tinylm(seed)
        calib = text_blocks("train", 8, 128, seed=seed)
        rtn, single, jlcm = copy.deepcopy(model), copy.deepcopy(model), copy.deepcopy(model)
        rtn_quantize_(rtn, BITS, -1)  # per output channel: 2 floats per row, at least JLCM's 32 x 8 codewords
        jlcm_quantize_(single, None, BITS, 1, steps=0)  # one k-means codebook per tensor
        jlcm_quantize_(jlcm, calib, BITS, GROUPS, steps=STEPS)
        row = [perplexity(m, val) for m in (model, rtn, single, jlcm)]
        rows.append(row)
        for name, value in zip(("float", "rtn", "codebook1", "jlcm"), row):
            record_property(f"ppl_{name}_seed{seed}", round(value, 4))
    print(rows)
    assert all(j < s and j < r for _, r, s, j in rows), rows
