"""Exact properties of UDDIA decoding."""

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo_tinylm.generate import sample
from torch.utils.data import TensorDataset

from paperzoo_uddia.decoding import _optimise, designated_parameters, uddia_sample
from paperzoo_uddia.evaluators import UddiaDecoding
from paperzoo_uddia.tests.helpers import classifier, tiny_lm


def _state(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_threshold_above_any_score_equals_plain_sampling_token_for_token():
    model, clf = tiny_lm(), classifier()
    prompt = torch.randint(32, (6,), generator=torch.Generator().manual_seed(1))
    for seed in range(3):
        ours = uddia_sample(
            model,
            prompt,
            12,
            clf,
            threshold=1.0,
            lr=0.5,
            temperature=0.8,
            top_k=10,
            generator=torch.Generator().manual_seed(seed),
        )
        plain = sample(
            model,
            prompt[None],
            12,
            temperature=0.8,
            top_k=10,
            use_cache=False,
            generator=torch.Generator().manual_seed(seed),
        )[0]
        assert torch.equal(ours.sequence, plain)
        assert ours.update_steps == 0 and ours.triggered == 0


def test_always_on_changes_the_output_and_counts_steps():
    model, clf = tiny_lm(), classifier()
    prompt = torch.arange(6)
    on = uddia_sample(
        model,
        prompt,
        10,
        clf,
        threshold=-1.0,
        steps=2,
        lr=0.5,
        gm_scale=1.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert on.triggered == 10 and on.update_steps == 20
    differs = [
        not torch.equal(
            on.sequence,
            uddia_sample(
                model, prompt, 10, clf, threshold=2.0, generator=torch.Generator().manual_seed(0)
            ).sequence,
        )
    ]
    assert any(differs)


def test_parameters_restored_bitwise_after_sampling():
    model, clf = tiny_lm(), classifier()
    before = _state(model)
    uddia_sample(
        model,
        torch.arange(5),
        8,
        clf,
        threshold=-1.0,
        steps=3,
        lr=0.3,
        kl_scale=0.1,
        n_layers_tuned=2,
        generator=torch.Generator().manual_seed(0),
    )
    after = _state(model)
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())  # flags restored too


def test_only_designated_parameters_change_during_an_update():
    model, clf = tiny_lm(), classifier()
    chosen = designated_parameters(model, 1)
    before = _state(model)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in chosen.values():
        p.requires_grad_(True)
    ids = torch.arange(7)[None]
    base = model(ids).logits[:, -1].log_softmax(-1).detach()
    _optimise(model, ids, clf, list(chosen.values()), 2, 0.1, 0.0, base)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == set(chosen)


def test_designated_parameters_are_upper_bias_and_norm_terms():
    names = set(designated_parameters(tiny_lm(), 1))
    assert names and all(n.startswith("blocks.2.") or n.startswith("final_norm") for n in names)
    assert all(n.endswith("bias") or "norm" in n for n in names)
    assert "final_norm.bias" in names and "blocks.2.attn_norm.bias" in names
    two = set(designated_parameters(tiny_lm(), 2))
    assert names < two and any(n.startswith("blocks.1.") for n in two)
    rms = set(designated_parameters(tiny_lm(bias=False), 1))  # no biases: the RMSNorm gains
    assert rms == {"blocks.2.attn_norm.weight", "blocks.2.ffn_norm.weight", "final_norm.weight"}


def test_update_lowers_the_attribute_score():
    model, clf = tiny_lm(), classifier()
    chosen = list(designated_parameters(model, 2).values())
    ids = torch.arange(7)[None]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in chosen:
        p.requires_grad_(True)
    score = lambda: float(clf(model(ids, output_hidden_states=True).hidden_states[-1][:, -1]).detach())  # noqa: E731
    first = score()
    _optimise(model, ids, clf, chosen, 5, 0.05, 0.0, model(ids).logits[:, -1].log_softmax(-1).detach())
    assert score() < first - 0.1


def test_evaluator_restores_training_mode_when_it_fails():

    texts = torch.randint(32, (4, 10), generator=torch.Generator().manual_seed(0))
    data = DataBundle(TensorDataset(texts, texts), TensorDataset(texts, texts), "language_modeling")
    model = tiny_lm().train()
    with pytest.raises(ValueError, match="prompt_len"):
        UddiaDecoding(attribute="ab", prompt_len=20, n_fit_sequences=4)(model, data)
    assert model.training
