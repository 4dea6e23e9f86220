"""Exact properties: weights on the grid, the block partition's closed form, the entropy's closed form,
round-to-nearest as the zero-sweep special case (equal to the compress kit's W4A4 baseline), and the
search never worse than round-to-nearest on its own objective."""

import copy
import math

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_compress.act import quantize_model_wa
from paperzoo_compress.linear import block_linears
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_q_vlm.qvlm import QVLMConfig, activation_entropy, partition_blocks, qvlm_quantize_
from paperzoo_q_vlm.trainer import QVLMPTQ


def _mlp(seed: int = 0) -> tuple[nn.Sequential, torch.Tensor]:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 4))
    return net, torch.randn(32, 8)


def _linears(net: nn.Module) -> dict[str, nn.Linear]:
    return {n: m for n, m in net.named_modules() if isinstance(m, nn.Linear)}


def test_partition_closed_form():
    e = [1.0, 3.0, 0.5, 0.5, 4.0, 1.0]  # mean 5/3: layers after the 3.0 and the 4.0 start blocks
    assert partition_blocks(e) == [[0, 1], [2, 3, 4], [5]]
    assert partition_blocks(e, max_block=2) == [[0, 1], [2, 3], [4], [5]]
    assert partition_blocks(e, threshold=0.75) == [[0], [1], [2, 3, 4], [5]]
    assert partition_blocks(e, threshold=10.0, max_block=99) == [[0, 1, 2, 3, 4, 5]]
    assert partition_blocks(e, max_block=1) == [[i] for i in range(6)]


def test_entropy_closed_form():
    # two equal tokens: a = 1/sqrt(2) each, H = -2 a log a = log(2) / sqrt(2) (up to the 1e-7 epsilon)
    x = torch.full((1, 2, 3), -0.7)
    assert activation_entropy(x) == pytest.approx(math.log(2) / math.sqrt(2), abs=1e-6)
    assert activation_entropy(torch.tensor([[[2.0], [0.0]]])) == pytest.approx(0.0, abs=1e-6)


def test_weights_on_grid():
    net, x = _mlp()
    float_w = {n: m.weight.detach().clone() for n, m in _linears(net).items()}
    res = qvlm_quantize_(net, _linears(net), lambda: net(x), QVLMConfig(bits=3, sweeps=1))
    for n, m in _linears(net).items():
        w, r = float_w[n], res.ratios[n][0]
        hi, lo = w.amax(1, keepdim=True) * r, w.amin(1, keepdim=True) * r
        scale = (hi - lo) / 7
        zero = torch.round(-lo / scale)
        codes = m.weight / scale + zero
        assert torch.allclose(codes, codes.round(), atol=1e-4), n
        assert codes.round().min() >= 0 and codes.round().max() <= 7, n
        assert all(len(row.unique()) <= 8 for row in m.weight), n


def test_zero_sweeps_is_kit_w4a4_rtn():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=2, n_heads=2, max_seq_len=12).eval()
    ids = torch.randint(0, 256, (3, 12))
    ours = copy.deepcopy(model)
    qvlm_quantize_(ours, block_linears(ours), lambda: ours(ids), QVLMConfig(sweeps=0))
    kit = quantize_model_wa(model, 4, 4, inplace=False)
    with torch.no_grad():
        a, b = ours(ids).logits, kit(ids).logits
    assert (a - b).abs().max() < 1e-5  # same arithmetic; float32 matmul order may differ
    assert not torch.allclose(a, model(ids).logits, atol=1e-3)  # and it did quantise


def test_search_never_worse_than_rtn_on_its_objective():
    one_block = dict(threshold=float("inf"), max_block=99)  # one block: the objective is the output error
    gains = []
    for seed in range(3):
        net, x = _mlp(seed)
        with torch.no_grad():
            ref = net(x)
        errs = []
        for sweeps in (0, 1, 2):
            q = copy.deepcopy(net)
            res = qvlm_quantize_(
                q, _linears(q), lambda q=q, x=x: q(x), QVLMConfig(sweeps=sweeps, **one_block)
            )
            assert res.blocks == [[0, 1, 2]]
            with torch.no_grad():
                errs.append(float((q(x) - ref).pow(2).mean()))
        assert errs[2] <= errs[1] <= errs[0], errs
        gains.append(errs[0] - errs[2])
    assert max(gains) > 0, gains  # and the search does find something better than round-to-nearest


def test_bad_parameters():
    for kw in ({"max_block": 0}, {"a_bits": 1}, {"sweeps": -1}, {"threshold": "high"}, {"symmetric": True}):
        with pytest.raises(ParamError):
            QVLMPTQ(**kw)
