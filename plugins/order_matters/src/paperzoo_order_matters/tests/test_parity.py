"""Parity with torch-geometric's Set2Set (``torch_geometric.nn.aggr.Set2Set``), weights copied, float64.

PyG batches sets by concatenation: ``x`` (N, d) holds every element of every set and ``index`` (N,)
names the set of each element (sets of different sizes, no padding). Ours takes a dense batch
(B, n_max, d) and a mask (B, n_max) of the real elements: set ``b``'s elements are row ``b``'s first
entries, the rest padding. Both give (B, 2d). PyG's ``lstm`` is an ``nn.LSTM(2d, d)``, ours an
``nn.LSTMCell(2d, d)`` with the same gate layout: ``weight_ih_l0 -> weight_ih`` etc.
"""

import torch
from torch_geometric.nn.aggr import Set2Set

from paperzoo_order_matters.set2set import OrderMattersSet2Set

SIZES = [3, 1, 6, 4]


def _pair(d: int, steps: int) -> tuple[Set2Set, OrderMattersSet2Set]:
    torch.manual_seed(0)
    theirs = Set2Set(d, processing_steps=steps).double()
    ours = OrderMattersSet2Set(d, processing_steps=steps).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours.lstm, name).copy_(getattr(theirs.lstm, f"{name}_l0"))
    return theirs, ours


def _dense(x: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """PyG's concatenated sets as a dense batch; the padding holds large values that must not leak."""
    dense = torch.full((len(sizes), max(sizes), x.shape[1]), 1e6, dtype=x.dtype)
    mask = torch.zeros(len(sizes), max(sizes), dtype=torch.bool)
    start = 0
    for b, size in enumerate(sizes):
        dense[b, :size], mask[b, :size] = x[start : start + size], True
        start += size
    return dense, mask


def test_set2set_matches_torch_geometric(record_property):
    d = 5
    theirs, ours = _pair(d, steps=4)
    x = torch.randn(sum(SIZES), d, dtype=torch.float64, requires_grad=True)
    index = torch.repeat_interleave(torch.arange(len(SIZES)), torch.tensor(SIZES))
    ref = theirs(x, index, dim_size=len(SIZES))
    dense, mask = _dense(x, SIZES)
    out = ours(dense, mask)
    err = (out - ref).abs().max().item()
    (grad_ref,) = torch.autograd.grad(ref.pow(2).sum(), x)
    (grad_ours,) = torch.autograd.grad(out.pow(2).sum(), x)
    grad_err = (grad_ours - grad_ref).abs().max().item()
    record_property("max_abs_diff_float64", err)
    record_property("max_abs_grad_diff_float64", grad_err)
    assert out.shape == ref.shape == (len(SIZES), 2 * d)
    assert err < 1e-12 and grad_err < 1e-12, (err, grad_err)


def test_set2set_matches_torch_geometric_without_padding():
    """Equal-size sets: the plain (B, n, d) call, no mask."""
    theirs, ours = _pair(3, steps=2)
    dense = torch.randn(4, 5, 3, dtype=torch.float64)
    index = torch.arange(4).repeat_interleave(5)
    ref = theirs(dense.reshape(20, 3), index, dim_size=4)
    assert (ours(dense) - ref).abs().max() < 1e-12
