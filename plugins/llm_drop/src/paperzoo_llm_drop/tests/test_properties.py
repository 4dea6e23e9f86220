"""Exact properties: zero-output modules, dropping as removing residual branches, the KV cache of a
dropped model, the selection rules, and refusals."""

import pytest
import torch
import torch.nn.functional as F
from paperzoo.errors import ParamError
from paperzoo_tinylm.hooks import patch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_llm_drop.drop import (
    DroppedBlock,
    drop_blocks,
    drop_modules,
    iterative_drops,
    module_similarities,
    select_drops,
    top_k,
)
from paperzoo_llm_drop.tests.helpers import ids, tiny
from paperzoo_llm_drop.trainer import AttentionDrop


@pytest.mark.parametrize("target,weight", [("attn", "attn.o_proj"), ("mlp", "mlp.down_proj")])
def test_zero_output_module_has_similarity_one_and_drops_bitwise(target, weight):
    model, x = tiny(), ids()
    with torch.no_grad():
        model.blocks[1].get_submodule(weight).weight.zero_()
    sims = module_similarities(model, x, target)
    assert abs(sims[1].item() - 1.0) < 1e-7  # float32 cosine of a vector with itself
    assert (sims[[0, 2, 3]] < 0.999).all()
    assert top_k(sims, 1) == [1]
    dropped = drop_modules(model, **{target: [1]})
    assert torch.equal(dropped(x).logits, model(x).logits)  # x + 0 == x: bitwise


@pytest.mark.parametrize("placement", ["pre", "peri"])
def test_dropped_sublayers_equal_zeroed_residual_branches(placement):
    """Dropping == the residual branch replaced by zeros (through tinylm's patch hook for ``pre``; the
    branch's output norm replaced by zeros for ``peri``): bitwise."""
    model, x = tiny(norm_placement=placement), ids()
    dropped = drop_modules(model, attn=[0, 2], mlp=[2, 3])
    assert not torch.equal(dropped(x).logits, model(x).logits)
    if placement == "peri":
        for i, norm in [(0, "attn_out_norm"), (2, "attn_out_norm"), (2, "ffn_out_norm"), (3, "ffn_out_norm")]:
            setattr(model.blocks[i], norm, _Zero())
        assert torch.equal(dropped(x).logits, model(x).logits)
        return
    names = ["blocks.0.attn.out", "blocks.2.attn.out", "blocks.2.mlp.out", "blocks.3.mlp.out"]
    with patch(model, names, torch.zeros_like):
        ref = model(x).logits
    assert torch.equal(dropped(x).logits, ref)


class _Zero(torch.nn.Module):
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(y)


def test_block_drop_equals_a_model_built_without_those_blocks():
    model, x = tiny(), ids()
    keep = [0, 2]
    small = TinyLMDecoder(**{**model.config.__dict__, "n_layers": 2}).double().eval()
    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("blocks."):
            i = int(k.split(".")[1])
            if i in keep:
                state[k.replace(f"blocks.{i}.", f"blocks.{keep.index(i)}.", 1)] = v
        else:
            state[k] = v
    small.load_state_dict(state)
    dropped = drop_blocks(model, [1, 3])
    assert torch.equal(dropped(x).logits, small(x).logits)
    # the cached decode of the dropped model equals the hand-built model's, step by step
    a = dropped(x, use_cache=True)
    b = small(x, use_cache=True)
    nxt = x[:, :1]
    step_a = dropped(nxt, past_key_values=a.past_key_values, use_cache=True).logits
    step_b = small(nxt, past_key_values=b.past_key_values, use_cache=True).logits
    assert torch.equal(step_a, step_b)


def test_dropped_weights_are_gone_and_kept_names_unchanged():
    model = tiny()
    dropped = drop_modules(model, attn=[1], mlp=[3])
    keys, full = set(dropped.state_dict()), set(model.state_dict())
    gone = {k for k in full if k.startswith(("blocks.1.attn", "blocks.3.mlp", "blocks.1.attn_norm"))}
    gone |= {k for k in full if k.startswith("blocks.3.ffn_norm")}
    assert keys == full - gone
    n_attn = sum(p.numel() for p in model.blocks[1].attn.parameters()) + model.config.d_model
    n_mlp = sum(p.numel() for p in model.blocks[3].mlp.parameters()) + model.config.d_model
    assert model.num_parameters() - dropped.num_parameters() == n_attn + n_mlp
    assert isinstance(dropped.blocks[1], DroppedBlock) and not isinstance(model.blocks[1], DroppedBlock)


def test_kv_cache_decoding_after_dropping_the_first_attention():
    model, x = tiny(), ids(2, 10)
    dropped = drop_modules(model, attn=[0, 2])
    out = dropped(x[:, :6], use_cache=True)
    assert len(out.past_key_values) == 2  # kept attention layers only
    cache = out.past_key_values
    for t in range(6, 10):
        step = dropped(x[:, t : t + 1], past_key_values=cache, use_cache=True).logits[:, -1]
        full = dropped(x[:, : t + 1]).logits[:, -1]
        assert (step - full).abs().max() < 1e-12  # float64; the cached path sums in another order


def test_block_similarity_equals_hidden_state_cosines():
    model, x = tiny(), ids()
    hs = model(x, output_hidden_states=True).hidden_states
    sims = module_similarities(model, x, "block")
    for i in range(3):  # the last hidden state is after the final norm
        want = F.cosine_similarity(hs[i].float(), hs[i + 1].float(), dim=-1).mean()
        assert abs(sims[i].item() - want.item()) < 1e-6


def test_joint_drop_ranks_attention_and_mlp_together():
    model, x = tiny(), ids()
    with torch.no_grad():
        model.blocks[2].mlp.down_proj.weight.zero_()
        model.blocks[0].attn.o_proj.weight.mul_(1e-3)
    attn, mlp = module_similarities(model, x, "attn"), module_similarities(model, x, "mlp")
    chosen = select_drops(model, x, 3, ("attn", "mlp"))
    order = torch.sort(torch.cat([attn, mlp]), descending=True, stable=True).indices[:3].tolist()
    assert chosen == {
        "attn": sorted(j for j in order if j < 4),
        "mlp": sorted(j - 4 for j in order if j >= 4),
    }
    assert 2 in chosen["mlp"] and 0 in chosen["attn"]


def test_iterative_rescoring_never_picks_a_dropped_module_and_starts_like_one_shot():
    model, x = tiny(), ids()
    one = select_drops(model, x, 1, ("attn", "mlp"))
    dropped, order = iterative_drops(model, x, 4, ("attn", "mlp"))
    first = order["attn"][:1] if one["attn"] else order["mlp"][:1]
    assert first == (one["attn"] or one["mlp"])
    assert sum(len(v) for v in order.values()) == 4
    assert all(len(set(v)) == len(v) for v in order.values())
    assert torch.isinf(module_similarities(dropped, x, "attn")[order["attn"]]).all()


def test_refusals():
    x = ids()
    with pytest.raises(ValueError, match="post"):
        module_similarities(tiny(norm_placement="post"), x)
    with pytest.raises(ValueError, match="at most 4"):
        select_drops(tiny(), x, 5)
    with pytest.raises(ValueError, match="layer index"):
        drop_modules(tiny(), attn=[4])
    with pytest.raises(ValueError, match="target"):
        module_similarities(tiny(), x, "ffn")
    with pytest.raises(ParamError):
        AttentionDrop(drop_n=0)
    with pytest.raises(ParamError):
        AttentionDrop(method="greedy")
