"""Parity with the official masking function (golden outputs of ``mask_target_tokens``).

The official rule draws CPython's ``random.random()`` once per response position (rows in order,
positions from the question's end to the sequence's end) and masks where the draw is below ``p``. The
fixture holds its outputs for fixed seeds; here the same draws are made with ``random.Random(seed)``
(the same Mersenne Twister stream as ``random.seed(seed)``) and passed to :func:`mask_reasoning` as its
uniforms, so the comparison is exact (integer ids, bitwise).
"""

import json
import random
from importlib import resources

import torch
from safetensors.torch import load_file

from paperzoo_masked_thought.masking import mask_reasoning

DATA = resources.files("paperzoo_masked_thought.tests") / "data"


def _python_uniforms(seed: int, source_lens: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    rng = random.Random(seed)
    u = torch.ones(shape, dtype=torch.float64)
    for row, start in enumerate(source_lens.tolist()):
        for i in range(start, shape[1]):
            u[row, i] = rng.random()
    return u


def test_matches_official_mask_target_tokens(record_property):
    meta = json.loads((DATA / "masked_thought_official.json").read_text())
    tensors = load_file(str(DATA / "masked_thought_official.safetensors"))
    mismatches, total, masked = 0, 0, 0
    for case in meta["cases"]:
        k = case["case"]
        ids, lens = tensors[f"case{k}.input_ids"], tensors[f"case{k}.source_lens"]
        want = tensors[f"case{k}.masked_input_ids"]
        response = torch.arange(ids.shape[1])[None, :] >= lens[:, None]
        u = _python_uniforms(case["random_seed"], lens, tuple(ids.shape))
        got = mask_reasoning(ids, response, case["mask_probability"], meta["mask_index"], uniforms=u)
        mismatches += int((got != want).sum())
        total += want.numel()
        masked += int((want != ids).sum())
    assert masked > 100  # the fixture does mask (157 ids)
    record_property("official_mismatched_ids", mismatches)
    assert mismatches == 0, f"{mismatches} of {total} ids differ from the official masking"
