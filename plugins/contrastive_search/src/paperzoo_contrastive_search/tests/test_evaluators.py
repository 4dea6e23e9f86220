"""The evaluators: prompt selection, consistency with the plain functions, and argument checks."""

import pytest
import torch
from paperzoo.data import DataBundle
from torch.utils.data import TensorDataset

from paperzoo_contrastive_search.decoding import contrastive_search
from paperzoo_contrastive_search.evaluators import ContrastiveSearch, GreedySearch, Isotropy, spread_inputs
from paperzoo_contrastive_search.metrics import isotropy_score, repetition_metrics


def lm_data(vocab=24, n=10, length=20, seed=0):
    x = torch.randint(vocab, (n, length + 1), generator=torch.Generator().manual_seed(seed))
    split = TensorDataset(x[:, :-1], x[:, 1:])
    return DataBundle(split, split, task="language_modeling", vocab_size=vocab)


def test_spread_inputs_takes_first_last_and_evenly_spaced():
    data = lm_data(n=10)
    x = data.val.tensors[0]
    assert torch.equal(spread_inputs(data.val, 4), x[[0, 3, 6, 9]])
    assert torch.equal(spread_inputs(data.val, 50), x)  # capped at the split size


def test_contrastive_evaluator_scores_its_own_decoding(make_tiny_lm):
    model, data = make_tiny_lm(0), lm_data()
    evaluator = ContrastiveSearch(alpha=0.6, k=3, max_new_tokens=12, n_prompts=5, prompt_len=6, batch_size=2)
    got = evaluator(model, data)
    texts = spread_inputs(data.val, 5)
    generated = contrastive_search(model, texts[:, :6], 0.6, 3, 12)
    expected = repetition_metrics(generated[:, 6:])
    assert {key: got[key] for key in expected} == pytest.approx(expected, abs=0)
    with torch.no_grad():
        hidden = model(texts, output_hidden_states=True)[1][-1]
        logp = model(generated)[0][:, 5:-1].log_softmax(-1).gather(-1, generated[:, 6:, None]).mean()
    assert got["isotropy"] == pytest.approx(isotropy_score(hidden), abs=1e-6)
    assert got["log_likelihood"] == pytest.approx(float(logp), abs=1e-5)
    assert model.training is False


def test_greedy_evaluator_equals_contrastive_with_alpha_zero(make_tiny_lm):
    model, data = make_tiny_lm(1), lm_data(seed=1)
    common = {"max_new_tokens": 10, "n_prompts": 6, "prompt_len": 5}
    assert GreedySearch(**common)(model, data) == ContrastiveSearch(alpha=0.0, k=4, **common)(model, data)


def test_isotropy_evaluator_restores_training_mode(make_tiny_lm):
    model, data = make_tiny_lm(2).train(), lm_data(seed=2)
    got = Isotropy(n_sequences=7, batch_size=3)(model, data)
    assert model.training
    model.eval()
    with torch.no_grad():
        hidden = model(spread_inputs(data.val, 7), output_hidden_states=True)[1][-1]
    assert got["isotropy"] == pytest.approx(isotropy_score(hidden), abs=1e-6)
    assert Isotropy(n_sequences=7, batch_size=3)(model.train(), data) == got


def test_rejects_other_tasks_and_bad_lengths(make_tiny_lm):
    model = make_tiny_lm(0)
    x = torch.randn(8, 4)
    classification = DataBundle(
        TensorDataset(x, x[:, 0].long()),
        TensorDataset(x, x[:, 0].long()),
        task="classification",
        num_classes=2,
    )
    with pytest.raises(ValueError, match="language-modelling"):
        ContrastiveSearch()(model, classification)
    with pytest.raises(ValueError, match="prompt_len"):
        ContrastiveSearch(prompt_len=40, max_new_tokens=8)(model, lm_data())
    with pytest.raises(ValueError):
        ContrastiveSearch(alpha=2.0)
