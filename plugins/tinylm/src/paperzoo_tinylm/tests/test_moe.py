"""The MoE block's router slot, load-balance loss, routing traces and routing context."""

from __future__ import annotations

import pytest
import torch

from paperzoo_tinylm.config import TinyLMConfig
from paperzoo_tinylm.ffn import MoE, build_ffn
from paperzoo_tinylm.hooks import capture
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.moe import RoutingContext, balance_loss, routing_traces

F64 = torch.float64
SIZES = {"d_model": 8, "n_layers": 2, "n_heads": 2, "vocab_size": 32, "ffn": "moe", "n_experts": 4}


def _reference_moe(moe: MoE, x: torch.Tensor) -> torch.Tensor:
    """The block's formula before the router slot existed: a bias-free linear router on ``[B, T, d]``."""
    probs = (x @ moe.router.weight.T).softmax(-1)
    top_w, top_i = probs.topk(moe.top_k, dim=-1)
    trace = torch.zeros_like(probs).scatter(-1, top_i, top_w / top_w.sum(-1, keepdim=True))
    flat, weights = x.flatten(0, -2), trace.flatten(0, -2)
    y = torch.zeros_like(flat)
    for e, expert in enumerate(moe.experts):
        rows = weights[:, e].nonzero().squeeze(-1)
        if rows.numel():
            y.index_add_(0, rows, expert(flat[rows]) * weights[rows, e, None])
    return y.view_as(x)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_default_router_reproduces_the_block_bitwise(dtype):
    torch.manual_seed(0)
    moe = MoE(8, 12, n_experts=4, top_k=2, expert="gated", activation="silu", bias=False).to(dtype)
    assert isinstance(moe.router, torch.nn.Linear) and moe.router.bias is None
    x = torch.randn(3, 5, 8, dtype=dtype)
    assert torch.equal(moe(x), _reference_moe(moe, x))
    assert list(moe.state_dict())[0] == "router.weight"  # checkpoints keep their keys


def test_build_ffn_default_router_equals_the_explicit_linear():
    torch.manual_seed(0)
    a = build_ffn(TinyLMConfig(**SIZES))
    torch.manual_seed(0)
    b = build_ffn(TinyLMConfig(**SIZES, ffn_params={"router": "linear"}))
    x = torch.randn(2, 3, 8)
    assert torch.equal(a(x), b(x))


def test_uniform_router_balance_loss_is_one():
    moe = MoE(8, 12, n_experts=5, top_k=2, expert="mlp", activation="relu", bias=False).double()
    with torch.no_grad():
        moe.router.weight.zero_()
    moe(torch.randn(4, 7, 8, dtype=F64))
    assert moe.aux_loss.item() == pytest.approx(1.0, abs=1e-15)


def test_balance_loss_closed_form_for_a_collapsed_router():
    """Every token to the same k experts with probability ~1 there: loss = E * sum_top (1/k)(1/k) = E/k."""
    e, k = 6, 2
    probs = torch.zeros(10, e, dtype=F64)
    probs[:, :k] = 1 / k
    chosen = torch.zeros_like(probs)
    chosen[:, :k] = 1
    assert balance_loss(probs, chosen, k).item() == pytest.approx(e / k, abs=1e-14)


def test_traces_match_the_top_k_of_the_router_logits():
    torch.manual_seed(0)
    model = TinyLMDecoder(**SIZES, moe_top_k=2).double()
    ids = torch.randint(32, (2, 9))
    with capture(model, ["blocks.*.mlp.router_logits"]) as got:
        out = model(ids)
    traces = routing_traces(model)
    assert len(traces) == 2
    for i, (trace, routing) in enumerate(zip(out.router_traces, traces)):
        probs = got[f"blocks.{i}.mlp.router_logits"].softmax(-1)
        w, idx = probs.topk(2, -1)
        assert torch.equal(routing["experts"], idx)
        assert torch.allclose(routing["weights"], w / w.sum(-1, keepdim=True), atol=1e-15, rtol=0)
        assert torch.allclose(routing["weights"].sum(-1), torch.ones(2, 9, dtype=F64), atol=1e-15, rtol=0)
        assert torch.equal(trace, routing["trace"])
        assert torch.equal((trace > 0).sum(-1), torch.full((2, 9), 2))
        assert torch.equal(trace.gather(-1, idx), routing["weights"])
    assert torch.equal(out.aux_loss, traces[0]["aux_loss"] + traces[1]["aux_loss"])


def test_a_models_blocks_share_one_routing_context_and_know_their_index(monkeypatch):
    import paperzoo_tinylm.ffn as ffn

    calls = []
    real = ffn.build_router

    def record(name, d, n_experts, params, context, layer):
        calls.append((context, layer))
        return real(name, d, n_experts, params, context, layer)

    monkeypatch.setattr(ffn, "build_router", record)
    config = TinyLMConfig(**{**SIZES, "n_layers": 3})
    TinyLMDecoder(config)
    TinyLMDecoder(config)  # a second model from the same config: its own stack
    assert [layer for _, layer in calls] == [0, 1, 2, 0, 1, 2]
    assert calls[0][0] is calls[1][0] is calls[2][0] and calls[2][0] is not calls[3][0]
    assert calls[0][0].n_layers == 3
    build_ffn(config)  # a block built alone is a stack of one
    assert calls[-1][1] == 0 and calls[-1][0].n_layers == 1 and calls[-1][0] is not calls[3][0]


def test_routing_context_order_and_release():
    ctx = RoutingContext(n_layers=3)
    assert ctx.previous(0) is None
    ctx.update(0, "h0")
    assert ctx.previous(1) == "h0"
    ctx.update(1, "h1")
    with pytest.raises(RuntimeError, match="in order"):
        ctx.previous(1)
    ctx.update(2, "h2")  # the last block releases the state
    assert ctx._state is None
    shared = ctx.shared("cell", lambda: torch.nn.Linear(2, 2))
    assert ctx.shared("cell", lambda: torch.nn.Linear(2, 2)) is shared


def test_unknown_moe_params_are_refused():
    with pytest.raises(ValueError, match="ffn_params: got 'routr'"):
        build_ffn(TinyLMConfig(**SIZES, ffn_params={"routr": "x"}))
    with pytest.raises(ValueError, match="router_params"):
        build_ffn(TinyLMConfig(**SIZES, ffn_params={"router_params": {"a": 1}}))
