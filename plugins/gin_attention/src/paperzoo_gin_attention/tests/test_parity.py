"""Parity of the GIN update with torch-geometric 2.8.1: ``DenseGINConv`` on the weighted attention
graph (dense adjacency) and ``GINConv`` on the same graph as an ``edge_index`` (binary edges), float64.

No package implements GIN-Attention itself; its other reference, the reduction to softmax attention
(MLP = identity, eps = -1), is in test_properties.py. The MLP of the references is built from
``torch.nn`` modules with the weights copied, so it checks our per-head MLP too."""

import copy

import torch
from paperzoo_tinylm.attention import AttentionMask
from torch import nn
from torch_geometric.nn import DenseGINConv, GINConv
from torch_geometric.utils import dense_to_sparse

from paperzoo_gin_attention.adapter import SparseGIN
from paperzoo_gin_attention.kernel import GINAttention, attention_adjacency


def head_mlp(gin: GINAttention, h: int) -> nn.Sequential:
    """Head ``h``'s MLP as ``Linear -> RMSNorm -> SiLU -> Linear`` torch modules (uninitialised)."""
    dim, hidden = gin.mlp.w1.shape[1:]
    seq = nn.Sequential(
        nn.Linear(dim, hidden), nn.RMSNorm(hidden, eps=gin.mlp.norm_eps), nn.SiLU(), nn.Linear(hidden, dim)
    )
    return seq.double()


def copy_head(seq: nn.Sequential, gin: GINAttention, h: int) -> None:
    """Copy head ``h``'s MLP weights into ``seq`` (after the reference re-initialised it)."""
    m = gin.mlp
    with torch.no_grad():
        seq[0].weight.copy_(m.w1[h].T), seq[0].bias.copy_(m.b1[h, 0])
        seq[1].weight.copy_(m.gain)
        seq[3].weight.copy_(m.w2[h].T), seq[3].bias.copy_(m.b2[h, 0])


def test_gin_attention_heads_match_dense_gin_conv(record_property):
    torch.manual_seed(0)
    gin = GINAttention(4, 8, eps_init=0.3).double()
    with torch.no_grad():
        gin.eps.copy_(torch.tensor([0.3, -0.2, 0.0, 1.5], dtype=torch.float64).view(4, 1, 1))
        for p in gin.mlp.parameters():
            p.add_(0.1 * torch.randn_like(p))
    q, k, v = (torch.randn(2, 4, 9, 8, dtype=torch.float64) for _ in range(3))
    mask = AttentionMask(True)
    ours = gin(q, k, v, mask)
    adj = attention_adjacency(q, k, mask)
    err = 0.0
    for h in range(4):
        ref_conv = DenseGINConv(head_mlp(gin, h), train_eps=False).double()
        copy_head(ref_conv.nn, gin, h)  # the reference resets its nn (and eps, in float32) when built
        ref_conv.eps.copy_(gin.eps[h].detach().view(1))
        ref = ref_conv(v[:, h], adj[:, h])
        err = max(err, float((ours[:, h] - ref).detach().abs().max()))
    record_property("max_abs_diff_dense_gin_conv_float64", err)
    assert err < 1e-14  # float64 (4.4e-16 measured: rounding of the RMSNorm and softmax)


class ResidualMLP(nn.Module):
    """``u + W_2 act(W_1 u)``: SparseGIN's MLP with its residual, as the ``nn`` of the references."""

    def __init__(self, gin: SparseGIN) -> None:
        super().__init__()
        self.gin = copy.deepcopy(gin)  # the reference re-initialises its nn when built: copy afterwards

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.gin.w_2(self.gin.act(self.gin.w_1(u)))


def test_sparse_gin_matches_gin_conv_on_edge_index(record_property):
    torch.manual_seed(0)
    gin = SparseGIN(16, eps_init=0.25).double()
    x = torch.randn(3, 10, 16, dtype=torch.float64)
    weighted = torch.rand(3, 10, 10, dtype=torch.float64).tril()
    weighted = torch.where(weighted > 0.6, weighted, torch.zeros_like(weighted))  # a sparse causal graph
    binary = (weighted > 0).double()
    # GINConv (edge_index, sum of neighbours): messages flow source -> target, so edge (j -> i) for A[i, j]
    edge_index, _ = dense_to_sparse(binary.transpose(-1, -2).contiguous())
    conv = GINConv(ResidualMLP(gin), eps=0.25, train_eps=False).double()
    conv.nn.gin.load_state_dict(gin.state_dict())
    ref = conv(x.reshape(-1, 16), edge_index).view(3, 10, 16)
    err_sparse = float((gin.gin(x, binary) - ref).detach().abs().max())
    dense = DenseGINConv(ResidualMLP(gin), eps=0.25, train_eps=False).double()
    dense.nn.gin.load_state_dict(gin.state_dict())
    err_dense = float((gin.gin(x, weighted) - dense(x, weighted)).detach().abs().max())
    record_property("max_abs_diff_gin_conv_float64", max(err_sparse, err_dense))
    assert edge_index.shape[1] == int(binary.sum()) > 0
    assert err_sparse < 1e-14 and err_dense < 1e-14  # float64: scatter-add vs matmul summation order
