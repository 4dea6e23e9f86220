"""Config patching: `{type: LayerNorm, with: {name: power_norm}}` replaces every LayerNorm of a BERT."""

import paperzoo
import torch
from paperzoo import engine
from paperzoo.patches import apply_patches

from paperzoo_powernorm.power_norm import PowerNorm

CONFIG = {
    "seed": 0,
    "data": {"name": "synthetic_classification"},
    "model": {
        "name": "hf:BertModel",
        "config": {
            "vocab_size": 50,
            "hidden_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "max_position_embeddings": 16,
        },
    },
    "patches": [{"type": "LayerNorm", "with": {"name": "power_norm", "warmup_iters": 1, "group_num": 2}}],
}


def test_every_bert_layernorm_is_replaced_and_trains():
    plan = engine.plan(CONFIG)
    engine.seed_everything(0)
    model = engine.build_model(plan)
    with torch.no_grad():  # distinct weights, so that copying them is observable
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    before = {
        n: (m.weight.clone(), m.bias.clone())
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.LayerNorm)
    }
    assert len(before) == 5  # embeddings + (attention output, layer output) x 2 layers

    checked = plan.patches[0]
    counts = apply_patches(
        model,
        plan.config.patches,
        lambda patch, module: paperzoo.create(checked.name, module, **checked.params),
    )

    assert counts == {"patches.0": 5}
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
    after = {n: m for n, m in model.named_modules() if isinstance(m, PowerNorm)}
    assert after.keys() == before.keys()
    for name, (weight, bias) in before.items():
        assert torch.equal(after[name].weight, weight) and torch.equal(after[name].bias, bias)
        assert after[name].group_num == 2 and after[name].warmup_iters == 1

    ids = torch.randint(50, (3, 7), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[0, 5:] = 0
    model.train()
    for _ in range(2):  # the second pass normalises with the running statistic (warmup_iters=1)
        model.zero_grad()
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        assert torch.isfinite(out).all()
        out.pow(2).mean().backward()
    for name, norm in after.items():
        assert int(norm.iters) == 2, name
        assert torch.isfinite(norm.weight.grad).all() and norm.weight.grad.abs().sum() > 0, name
        assert norm.ema_gz.abs().sum() > 0, name  # the backward updated the correction term
