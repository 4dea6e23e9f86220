"""Exact properties: disassembly preserves the function and caps the channel maxima, assembly is exact on
equal channels and restores the channel count, the LoRA merge is exact, SmoothQuant's scaling preserves
the float model, and the input hooks compute what they say."""

import copy

import pytest
import torch
from paperzoo_compress.act import fake_quantize_activations
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_qllm import reassembly as R
from paperzoo_qllm.lowrank import LoRAQuantLinear, merge_lora, tune_blocks_
from paperzoo_qllm.method import apply_plans_, attach_input_hooks, find_plans, quantize_weights_, smoothquant_


def outlier_x(seed=0, n=200, c=12, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=dtype)
    x[:, 2] *= 25.0
    x[:, 7] *= 9.0
    return x


def tiny_decoder(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    model = TinyLMDecoder(vocab_size=50, d_model=16, n_layers=2, n_heads=4, d_ff=24, max_seq_len=32)
    model = model.to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 2.0)
        model.blocks[0].attn_norm.weight[3] *= 30.0  # an outlier channel
    return model.eval()


@pytest.mark.parametrize("theta", [1.0, 3.0, 10.0])
def test_disassembly_preserves_function_and_caps_maxima(theta):
    x = outlier_x()
    w = torch.randn(5, x.shape[1], dtype=torch.float64)
    x_max = x.abs().amax(0)
    counts = R.disassembly_counts(x_max, theta)
    xd, wd = R.disassemble_x(x, counts), R.disassemble_weight(w, counts)
    assert xd.shape[1] == int(counts.sum()) > x.shape[1]
    assert torch.allclose(xd @ wd.t(), x @ w.t(), rtol=0, atol=1e-10)
    assert float(xd.abs().amax(0).max()) <= theta * (1 + 1e-12)  # every sub-channel within theta
    assert float(xd.abs().amax(0).max()) < float(x_max.max())


def test_assembly_exact_on_equal_channels_and_restores_count():
    x = torch.randn(30, 8, dtype=torch.float64)
    x[:, 4] = x[:, 1]  # even channel 4 (src 2) equals odd channel 1 (dst 0)
    x[:, 6] = x[:, 1]  # and even channel 6 (src 3): two merged into one
    w = torch.randn(3, 8, dtype=torch.float64)
    src, dst = torch.tensor([2, 3]), torch.tensor([0, 0])
    xa, wa = R.assemble_x(x, src, dst), R.assemble_weight(w, src, dst)
    assert xa.shape == (30, 6) and wa.shape == (3, 6)
    assert torch.allclose(xa @ wa.t(), x @ w.t(), rtol=0, atol=1e-12)
    assert torch.allclose(xa[:, 1], x[:, 1], rtol=1e-15, atol=0)  # the mean of equal channels


def test_assembly_is_a_mean_and_a_sum_by_hand():
    x = torch.tensor([[1.0, 2.0, 4.0, 8.0]])
    w = torch.tensor([[1.0, 10.0, 100.0, 1000.0]])
    src, dst = torch.tensor([1]), torch.tensor([0])  # channel 2 merged into channel 1
    assert R.assemble_x(x, src, dst).tolist() == [[1.0, 3.0, 8.0]]
    assert R.assemble_weight(w, src, dst).tolist() == [[1.0, 110.0, 1000.0]]


def test_reassembly_restores_count_and_stays_within_budget():
    x = outlier_x(c=16)
    w = torch.randn(6, 16, dtype=torch.float64)
    x_max = x.abs().amax(0)
    plan = R.plan_for_theta(x, w, x_max, 20.0)
    assert plan.extra > 0
    assert plan.apply_x(x).shape == x.shape and plan.apply_weight(w).shape == w.shape
    assert len(plan.src) == plan.extra  # every added channel merged back
    split = torch.repeat_interleave(plan.counts > 1, plan.counts.long())
    assert not split[2 * plan.src].any() and not split[2 * plan.dst + 1].any()  # sub-channels never merged
    assert float(plan.apply_x(x).abs().max()) < float(x_max.max())
    with pytest.raises(ValueError, match="theta"):  # too many sub-channels to merge back
        R.plan_for_theta(x, w, x_max, 2.0)


def test_search_respects_budget_and_is_no_worse_than_its_candidates():
    x = outlier_x(c=16).float()
    w = torch.randn(6, 16)
    x_max = x.abs().amax(0)
    ref = x @ w.t()
    seen = []

    def loss(xp, wp):
        value = float(((fake_quantize_activations(xp, 4) @ wp.t()) - ref).pow(2).mean())
        seen.append(value)
        return value

    th, losses = R.search_threshold(x, w, x_max, 0.25, loss)
    assert losses == seen and len(losses) >= 2
    counts = R.disassembly_counts(x_max, th)
    assert 0 < int(counts.sum()) - 16 <= int(16 * 0.25)
    assert loss(*_disassemble_assembled(x, w, x_max, th)) == pytest.approx(min(losses))


def _disassemble_assembled(x, w, x_max, th):
    counts = R.disassembly_counts(x_max, th)
    r = int(counts.sum()) - counts.numel()
    src, dst = R.match_pairs(R.mask_split(R.pair_scores(x, w), counts > 1.0), r)
    xa, wa = R.assemble_x(x, src, dst), R.assemble_weight(w, src, dst)
    ca = R.assemble_x(counts[None], src, dst)[0]
    return R.disassemble_x(xa, ca), R.disassemble_weight(wa, ca)


def test_lora_merge_is_exact_and_starts_at_the_linear():
    torch.manual_seed(0)
    linear = torch.nn.Linear(12, 7).double()
    layer = LoRAQuantLinear(linear, rank=3, alpha=2.0, plan=None, a_bits=None)
    x = torch.randn(5, 12, dtype=torch.float64)
    assert torch.equal(layer(x), linear(x))  # B = 0 at the start
    with torch.no_grad():
        layer.lora_B.normal_()
    merged = torch.nn.functional.linear(x, merge_lora(layer), linear.bias)
    assert not torch.allclose(merged, linear(x))
    assert torch.allclose(layer(x), merged, rtol=0, atol=1e-12)
    expected = linear(x) + (x @ layer.lora_A.t()) @ layer.lora_B.t() * (2.0 / 3)
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-12)


def test_smoothquant_preserves_the_float_model():
    model = tiny_decoder()
    ids = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(1))
    smoothed = copy.deepcopy(model)
    smoothquant_(smoothed, ids)
    assert not torch.equal(smoothed.blocks[0].attn_norm.weight, model.blocks[0].attn_norm.weight)
    assert torch.allclose(smoothed(ids).logits, model(ids).logits, rtol=0, atol=1e-10)


def test_hooks_apply_the_reassembly_and_the_float_model_is_kept_up_to_assembly():
    model = tiny_decoder()
    ids = torch.randint(0, 50, (4, 16), generator=torch.Generator().manual_seed(2))
    plans = find_plans(model, ids, adaptive=False, theta=12.0)
    name = "blocks.0.attn.q_proj"
    assert plans[name].extra > 0
    reassembled = copy.deepcopy(model)
    apply_plans_(reassembled, plans)
    handles = attach_input_hooks(reassembled, plans, a_bits=None)
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    lin = reassembled.get_submodule(name)
    expected = torch.nn.functional.linear(plans[name].apply_x(x), lin.weight, lin.bias)
    assert torch.equal(lin(x), expected)
    # the assembly's merges change the float function (disassembly alone does not)
    out_r, out = reassembled(ids).logits, model(ids).logits
    assert not torch.equal(out_r, out)
    for h in handles:
        h.remove()
    assert not torch.equal(reassembled(ids).logits, out_r)  # the hooks were doing the reassembly


def test_lowrank_tuning_lowers_block_error_with_identity_plans():
    model = tiny_decoder(dtype=torch.float32)
    ids = torch.randint(0, 50, (8, 16), generator=torch.Generator().manual_seed(3))
    float_model = copy.deepcopy(model)
    quantize_weights_(model, 3)  # the frozen quantised weights the LoRA corrects
    history = []
    tune_blocks_(
        model,
        float_model,
        ids,
        {},
        w_bits=3,
        a_bits=None,
        steps=40,
        lr=1e-2,
        requantize=False,
        log=lambda step, loss: history.append(loss),
    )
    first_block = history[:40]
    assert first_block[-1] < 0.5 * first_block[0]


def test_plans_survive_the_checkpoint_state():
    import json

    from paperzoo_qllm.trainer import ChannelReassemblyPTQ

    model = tiny_decoder()
    ids = torch.randint(0, 50, (4, 16), generator=torch.Generator().manual_seed(2))
    trainer = ChannelReassemblyPTQ(max_steps=1, batch_size=2, progress=False)
    trainer.plans = find_plans(model, ids, adaptive=False, theta=12.0)
    state = json.loads(json.dumps(trainer.extra_state()))  # plain numbers only
    restored = ChannelReassemblyPTQ(max_steps=1, batch_size=2, progress=False)
    restored.load_extra_state(state)
    x = torch.randn(3, 16, dtype=torch.float64)
    for name, plan in trainer.plans.items():
        assert torch.equal(restored.plans[name].apply_x(x), plan.apply_x(x)) if plan.extra else True
    assert any(p.extra for p in restored.plans.values())
