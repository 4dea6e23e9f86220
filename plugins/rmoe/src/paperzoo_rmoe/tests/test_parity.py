"""Parity with the official RMoE code (qiuzh20/RMoE): golden float64 tensors of its `CustomGRUCell` and
`MixtralSparseMoeBlock` over a stack of 3 blocks chained through the router state (see
``data/rmoe_golden.json`` for the commit, the command and the shims), weights copied into tinylm MoE
blocks routed by ``recurrent_router_moe``."""

from __future__ import annotations

import json
from importlib.resources import files

import torch
from safetensors.torch import load_file

from paperzoo_rmoe.tests.helpers import moe_stack, rmoe_config

DATA = files("paperzoo_rmoe.tests") / "data"


def _load():
    golden = load_file(str(DATA / "rmoe_golden.safetensors"))
    meta = json.loads((DATA / "rmoe_golden.json").read_text())
    return golden, meta


def _ours(golden):
    blocks = moe_stack(rmoe_config(n_layers=3, d_model=8, hidden_size=6))
    with torch.no_grad():
        cell = blocks[0].router.cell
        for name, p in cell.named_parameters():
            p.copy_(golden[f"cell.{name}"])
        for layer, block in enumerate(blocks):
            g = lambda k, pre=f"block{layer}.": golden[pre + k]  # noqa: E731
            block.router.proj.weight.copy_(g("weight1"))
            block.router.gate.weight.copy_(g("weight2"))
            for e, expert in enumerate(block.experts):
                expert.gate_proj.weight.copy_(g(f"experts.{e}.w1.weight"))
                expert.up_proj.weight.copy_(g(f"experts.{e}.w3.weight"))
                expert.down_proj.weight.copy_(g(f"experts.{e}.w2.weight"))
    return blocks


def test_golden_metadata_names_the_source():
    _, meta = _load()
    assert meta["repository"] == "https://github.com/qiuzh20/RMoE"
    assert len(meta["commit"]) == 40 and meta["command"].startswith("python make_golden.py")


def test_matches_the_official_router_and_block(record_property):
    golden, _ = _load()
    blocks = _ours(golden)
    assert all(b.router.cell is blocks[0].router.cell for b in blocks)  # one cell for the stack, as official
    states, logits, outs = [], [], []
    context = blocks[0].router.context
    context.update = _recording(context.update, states)
    for layer, block in enumerate(blocks):
        outs.append(block(golden["x"][layer]))
        logits.append(block.routing["logits"].flatten(0, -2))
    err_logits = (torch.stack(logits) - golden["router_logits"]).abs().max().item()
    err_state = (torch.stack(states) - golden["router_state"]).abs().max().item()
    err_out = (torch.stack(outs) - golden["out"]).abs().max().item()
    record_property("max_abs_diff_router_logits_float64", err_logits)
    record_property("max_abs_diff_moe_out_float64", err_out)
    assert err_logits < 1e-14 and err_state < 1e-14
    # the official block takes the softmax in float32 (dtype=torch.float) and casts the weights back:
    # outputs agree to float32 rounding of the routing weights (relative 6e-8 of outputs of order 10)
    assert err_out < 2e-6
    for layer, block in enumerate(blocks):  # same experts chosen
        official = golden["router_logits"][layer].softmax(-1).topk(2).indices
        assert torch.equal(block.routing["experts"].flatten(0, -2), official)


def _recording(update, states):
    def record(layer, state):
        states.append(state.detach())
        update(layer, state)

    return record
