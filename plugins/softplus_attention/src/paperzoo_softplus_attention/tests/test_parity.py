"""Parity with golden tensors of a public reimplementation of the paper (tests/data/golden.json names the
repository, commit and command), float64 on CPU."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask
from safetensors.torch import load_file

from paperzoo_softplus_attention.kernel import SoftplusAttention

DATA = files("paperzoo_softplus_attention.tests") / "data"


def golden() -> dict[str, torch.Tensor]:
    return load_file(str(DATA / "golden.safetensors"))


def test_metadata_names_the_source():
    meta = json.loads((DATA / "golden.json").read_text())
    assert len(meta["commit"]) == 40 and meta["repository"].startswith("https://github.com/")


@pytest.mark.parametrize(("name", "p"), [("lssa", None), ("lssar3", 3.0), ("lssar15", 15.0)])
def test_weights_and_outputs_match_the_reference(name, p, record_property):
    t = golden()
    kernel = SoftplusAttention(p=p)
    mask = AttentionMask(causal=True)
    w = kernel.weights(t["q"], t["k"], mask)
    z = kernel(t["q"], t["k"], t["v"], mask)
    err = max((w - t[f"{name}_w"]).abs().max().item(), (z - t[f"{name}_z"]).abs().max().item())
    record_property(f"max_abs_diff_{name}_float64", err)
    # float64 rounding: the reference takes r^p directly, this kernel (r / rowmax)^p with eps rescaled
    assert err < 1e-13
