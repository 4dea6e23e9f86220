"""The paper's headline claim in direction, at small scale: W4A4 (per-channel weights, per-token
activations, round-to-nearest) perplexity on held-out text of the outlier fixture after QLLM's adaptive
channel reassembly, against plain RTN W4A4 (the kit's ``quantize_model_wa``) and against SmoothQuant-style
migration scaling (alpha 0.5) before the same quantiser; 3 seeds (the fixture's planting and the
calibration sample), the same calibration data for both methods, no training in either. The reassembled
model after QLLM's block-wise low-rank tuning (20 steps per block, merged and re-quantised) is recorded
beside it (``qllm_tuned``; it trains, so it is not compute-matched with the baselines)."""

import copy

import pytest
import torch
from paperzoo_compress.act import quantize_model_wa
from paperzoo_compress.fixture import outlier_tinylm, perplexity, text_blocks

from paperzoo_qllm.lowrank import tune_blocks_
from paperzoo_qllm.method import apply_plans_, attach_input_hooks, find_plans, quantize_weights_, smoothquant_

CALIB, SEQ, TOKENS, RATIO, TUNE_STEPS = 16, 128, 2048, 0.2, 20
_CACHE: dict[int, dict[str, float]] = {}


def _ppl(seed: int) -> dict[str, float]:
    if seed not in _CACHE:
        model = outlier_tinylm(seed)
        val = text_blocks("val", 24, 128, seed=100 + seed)
        calib = text_blocks("train", CALIB, SEQ, seed=seed)
        smoothed = copy.deepcopy(model)
        smoothquant_(smoothed, calib)
        plans = find_plans(model, calib, 4, 4, channel_ratio=RATIO, max_tokens=TOKENS)
        qllm = copy.deepcopy(model)
        apply_plans_(qllm, plans)
        quantize_weights_(qllm, 4)
        tuned = copy.deepcopy(qllm)
        attach_input_hooks(qllm, plans, 4)
        with torch.enable_grad():
            tune_blocks_(tuned, model, calib, plans, 4, 4, steps=TUNE_STEPS, lr=5e-4, batch_size=4, seed=seed)
        attach_input_hooks(tuned, plans, 4)
        _CACHE[seed] = {
            "float": perplexity(model, val),
            "rtn": perplexity(quantize_model_wa(model, 4, 4, inplace=False), val),
            "smoothquant": perplexity(quantize_model_wa(smoothed, 4, 4), val),
            "qllm": perplexity(qllm, val),
            "qllm_tuned": perplexity(tuned, val),
        }
    return _CACHE[seed]


@pytest.mark.claim
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reassembly_beats_rtn_at_w4a4(seed, record_property):
    ppl = _ppl(seed)
    for name, value in ppl.items():
        record_property(f"ppl_{name}_seed{seed}", round(value, 3))
    assert ppl["qllm"] < ppl["rtn"], ppl
    assert ppl["qllm_tuned"] < ppl["rtn"], ppl


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: SmoothQuant-style scaling beats the reassembly on the outlier fixture (perplexity "
    "6.67-7.43 against 8.24-9.37, float 6.54-7.30, seeds 0-2): the fixture's outliers are exact per-channel gain scalings "
    "of up to 30x, which a per-channel migration scale undoes, while a 20% channel budget splits each "
    "outlier into a few sub-channels only and the assembly adds its own merge error",
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reassembly_beats_smoothquant_at_w4a4(seed):
    ppl = _ppl(seed)
    assert ppl["qllm"] < ppl["smoothquant"], ppl
