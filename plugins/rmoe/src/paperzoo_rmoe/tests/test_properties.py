"""Exact properties of the recurrent router, in float64."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_rmoe.router import RecurrentRouter, RMoEGRUCell
from paperzoo_rmoe.tests.helpers import moe_stack, rmoe_config

F64 = torch.float64


def test_gru_cell_equals_torch_gru_cell():
    torch.manual_seed(0)
    ours = RMoEGRUCell(5, init_std=0.5).double()
    ref = torch.nn.GRUCell(5, 5).double()
    with torch.no_grad():
        for kind in ("weight", "bias"):
            for src in ("i", "h"):
                stacked = torch.cat([getattr(ours, f"{kind}_{src}{g}") for g in "rzn"])
                getattr(ref, f"{kind}_{src}h").copy_(stacked)
    x, h = torch.randn(7, 5, dtype=F64), torch.randn(7, 5, dtype=F64)
    assert torch.allclose(ours(x, h), ref(x, h), atol=1e-15, rtol=0)
    assert torch.allclose(ours(x), ref(x), atol=1e-15, rtol=0)  # no state: zeros


def test_without_the_recurrent_path_it_is_a_linear_router():
    """recurrent=False, proj = identity: bitwise the default softmax router with weight gate.weight."""
    torch.manual_seed(0)
    router = RecurrentRouter(6, 4, hidden_size=6, recurrent=False).double()
    with torch.no_grad():
        router.proj.weight.copy_(torch.eye(6, dtype=F64))
    linear = torch.nn.Linear(6, 4, bias=False).double()
    linear.weight.data.copy_(router.gate.weight)
    x = torch.randn(9, 6, dtype=F64)
    assert torch.equal(router(x), linear(x))
    assert not hasattr(router, "cell")


def test_decoder_without_recurrence_equals_the_linear_router_decoder():
    sizes = {"d_model": 8, "n_layers": 2, "n_heads": 2, "vocab_size": 32, "ffn": "moe", "n_experts": 4}
    params = {"router": "recurrent_router_moe", "router_params": {"hidden_size": 8, "recurrent": False}}
    torch.manual_seed(0)
    ours = TinyLMDecoder(**sizes, ffn_params=params).double()
    base = TinyLMDecoder(**sizes).double()
    state = {k: v for k, v in ours.state_dict().items() if ".router.proj." not in k}
    base.load_state_dict({k.replace(".router.gate.", ".router."): v for k, v in state.items()})
    with torch.no_grad():
        for block in ours.blocks:
            block.mlp.router.proj.weight.copy_(torch.eye(8, dtype=F64))
    ids = torch.randint(32, (2, 7))
    a, b = ours(ids), base(ids)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.aux_loss, b.aux_loss)


def test_routing_state_is_carried_and_gradients_reach_earlier_blocks():
    blocks = moe_stack(rmoe_config(n_layers=3))
    context, states = blocks[0].router.context, {}
    update = context.update

    def keep(layer, state):
        state.retain_grad()
        states[layer] = state
        update(layer, state)

    context.update = keep
    x = torch.randn(3, 2, 5, 8, dtype=F64)
    for layer, block in enumerate(blocks):
        block(x[layer])
    logits = blocks[2].routing["logits"]
    logits.sum().backward()
    assert states[0].grad is not None and states[0].grad.abs().sum() > 0  # layer 2 -> layer 0's state
    assert blocks[0].router.proj.weight.grad.abs().sum() > 0
    # the state changes layer 2's logits: rerunning it from a zero state gives others
    fresh = blocks[2].router.gate(blocks[2].router.cell(blocks[2].router.proj(x[2].flatten(0, 1))))
    assert not torch.allclose(fresh.view_as(logits), logits)


def test_out_of_order_blocks_are_refused():
    blocks = moe_stack(rmoe_config(n_layers=3))
    with pytest.raises(RuntimeError, match="in order"):
        blocks[1](torch.randn(1, 2, 8, dtype=F64))


def test_state_is_released_after_the_last_block():
    blocks = moe_stack(rmoe_config(n_layers=2))
    for block in blocks:
        block(torch.randn(1, 3, 8, dtype=F64))
    assert blocks[0].router.context._state is None


def test_one_cell_per_model_and_parameter_count():
    sizes = {"d_model": 8, "n_layers": 3, "n_heads": 2, "vocab_size": 32, "ffn": "moe", "n_experts": 4}
    params = {"router": "recurrent_router_moe", "router_params": {"hidden_size": 6}}
    ours, base = TinyLMDecoder(**sizes, ffn_params=params), TinyLMDecoder(**sizes)
    cells = {id(b.mlp.router.cell) for b in ours.blocks}
    assert len(cells) == 1
    extra = 3 * (8 * 6 + 6 * 4 - 8 * 4) + 3 * (2 * 6 * 6 + 2 * 6)
    assert ours.num_parameters() - base.num_parameters() == extra


def test_cached_decoding_equals_full_forward():
    sizes = {"d_model": 8, "n_layers": 2, "n_heads": 2, "vocab_size": 32, "ffn": "moe", "n_experts": 4}
    params = {"router": "recurrent_router_moe", "router_params": {"hidden_size": 6}}
    torch.manual_seed(0)
    model = TinyLMDecoder(**sizes, ffn_params=params).double()
    ids = torch.randint(32, (2, 6))
    full = model(ids).logits
    out = model(ids[:, :4], use_cache=True)
    step = model(ids[:, 4:], past_key_values=out.past_key_values, use_cache=True).logits
    assert torch.allclose(torch.cat([out.logits, step], 1), full, atol=1e-12, rtol=0)
