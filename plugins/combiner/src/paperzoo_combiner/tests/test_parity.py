"""Parity with the official JAX code (google-research/google-research, folder ``combiner/``): golden
float64 outputs of its causal Combiner-Fixed (``_SelfAttSqrtn``) and Combiner-Axial row-major
(``_SelfAttAxialRowmajor``) attentions on random q/k/v, recorded outside this repository
(``data/combiner_official.json`` names the commits and the command), and the bidirectional variants
against the paper's equations written out densely here (one loop per query, independent of the kernel)."""

import json
from importlib.resources import files

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_combiner.attention import combiner_attention

DATA = files("paperzoo_combiner.tests") / "data"


def golden() -> dict[str, torch.Tensor]:
    return load_file(str(DATA / "combiner_official.safetensors"))


def test_metadata_names_the_source():
    meta = json.loads((DATA / "combiner_official.json").read_text())
    assert "google-research" in meta["repository"] and meta["command"]
    assert all(len(c.split()[0]) == 40 for c in meta["files"].values())


@pytest.mark.parametrize("partition", ["fixed", "axial"])
def test_official_causal(partition, record_property):
    g = golden()
    z, _ = combiner_attention(g["q"], g["k"], g["v"], causal=True, partition=partition, region_size=3)
    err = (z - g[f"{partition}_causal"]).abs().max().item()
    record_property(f"max_abs_diff_official_{partition}_float64", err)
    assert err < 1e-12  # float64; the official code masks with -1e10 biases (exp underflows to exactly 0)


def dense_reference(q, k, v, partition, s, causal):
    """The paper's factorisation, query by query: direct keys in the query's region/row, one abstract
    score per other region, one softmax, the within-region distribution times the region's weight."""
    b, h, t, d = q.shape
    out = torch.zeros_like(q)
    scale = d**-0.5
    for i in range(t):
        region = i // s
        direct = [j for j in range(region * s, min(t, region * s + s)) if not causal or j <= i]
        logits = [(q[:, :, i] * k[:, :, j]).sum(-1) * scale for j in direct]
        values = [v[:, :, j] for j in direct]
        for r in range(-(-t // s)):
            if r == region or (causal and r > region):
                continue
            keys = list(range(r * s, min(t, r * s + s)))
            if partition == "fixed":  # max-pooled key; attention with the max-pooled query
                key = k[:, :, keys].amax(2)
                qbar = q[:, :, keys].amax(2)
            else:  # the column's token of row r: its key, its attention over the row
                col = r * s + i % s
                key = k[:, :, col] if col < t else torch.zeros_like(k[:, :, 0])
                qbar = q[:, :, col] if col < t else torch.zeros_like(q[:, :, 0])
            w = (torch.einsum("bhd,bhjd->bhj", qbar, k[:, :, keys]) * scale).softmax(-1)
            logits.append((q[:, :, i] * key).sum(-1) * scale)
            values.append(torch.einsum("bhj,bhjd->bhd", w, v[:, :, keys]))
        p = torch.stack(logits, -1).softmax(-1)
        out[:, :, i] = torch.einsum("bhn,bhnd->bhd", p, torch.stack(values, 2))
    return out


@pytest.mark.parametrize("partition", ["fixed", "axial"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("t", [12, 11])
def test_dense_reference(partition, causal, t, record_property):
    g = torch.Generator().manual_seed(t)
    q, k, v = (torch.randn(2, 2, t, 4, generator=g, dtype=torch.float64) for _ in range(3))
    z, _ = combiner_attention(q, k, v, causal=causal, partition=partition, region_size=3)
    err = (z - dense_reference(q, k, v, partition, 3, causal)).abs().max().item()
    record_property(f"max_abs_diff_dense_{partition}_{'causal' if causal else 'bidir'}_{t}", err)
    assert err < 1e-12
