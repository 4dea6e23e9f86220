"""Parity with the official SMDM code (ML-GSAI/SMDM): golden values of its training loss, sampler
(``diff_sample``, both remasking algorithms, with and without unsupervised CFG) and Monte Carlo likelihood,
computed on a tiny random model in float64 (``data/smdm_golden.json`` names the commit and command).
The same seeds drive our generator-based functions, so the random draws coincide."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_smdm.diffusion import forward_process, mdm_elbo, mdm_loss, mdm_sample

DATA = Path(__file__).parent / "data"
MASK_ID = 11
GOLD = load_file(DATA / "smdm_golden.safetensors")
META = json.loads((DATA / "smdm_golden.json").read_text())


class Tiny(torch.nn.Module):
    """The golden files' model: ``(E[x] + 4 mean_l E[x] + P[:L]) @ W``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = GOLD["E"][x]
        return (h + 4 * h.mean(1, keepdim=True) + GOLD["P"][: x.shape[1]]) @ GOLD["W"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_metadata_names_the_source():
    assert META["repository"] == "https://github.com/ML-GSAI/SMDM"
    assert len(META["commit"]) == 40 and META["command"]


def test_loss_matches_official(record_property):
    batch = GOLD["loss_batch"]
    noised = forward_process(batch, 1e-3, _gen(0), mask_id=MASK_ID)
    assert torch.equal(noised.noisy, GOLD["loss_noisy"])
    loss = mdm_loss(Tiny()(noised.noisy), batch, noised.mask, noised.p_mask)
    err = abs(float(loss) - float(GOLD["loss_value"][0]))
    record_property("loss_abs_diff_float64", err)
    # the same draws and the same float64 operations in the same order
    assert err == 0.0


@pytest.mark.parametrize("case", range(5))
def test_sampler_matches_official(case):
    c = META["cases"][f"sample_{case}"]
    prompt = GOLD["prompt"]
    x = torch.full((1, 12), MASK_ID, dtype=torch.long)
    x[:, : prompt.shape[1]] = prompt
    out = mdm_sample(
        Tiny(),
        x,
        c["steps"],
        cfg_scale=c["cfg_scale"] if c["cfg_scale"] > 0 else None,
        temperature=c["temperature"],
        remasking="confidence" if c["alg"] == "greddy" else "random",
        schedule="official",
        generator=_gen(c["seed"]),
        mask_id=MASK_ID,
    )
    assert torch.equal(out, GOLD[f"sample_{case}"])


@pytest.mark.parametrize("case", range(2))
def test_elbo_matches_official(case, record_property):
    c = META["cases"][f"elbo_{case}"]
    ids = torch.cat([GOLD["elbo_prefix"], GOLD["elbo_target"]])
    ours = mdm_elbo(
        Tiny(),
        ids,
        prompt_len=len(GOLD["elbo_prefix"]),
        mc_num=c["mc_num"],
        batch_size=c["batch_size"],
        generator=_gen(c["seed"]),
        cfg_scale=c["cfg"] if c["cfg"] > 0 else None,
        mask_id=MASK_ID,
    )
    ref = float(GOLD[f"elbo_{case}"][0])
    rel = abs(ours - ref) / ref
    record_property(f"elbo_rel_diff_cfg{c['cfg']}", rel)
    # float64 logits; the per-batch sums are accumulated in Python floats here, in tensors there
    assert rel < 1e-12
