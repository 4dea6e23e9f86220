"""Exact properties: the sampler's sample counts at P(better) = 0 and 1, fewer expected samples than fixed
best-of-N at equal quality (mock LM and reward), labels, the token loss, pruning, annealing, rewards."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import EOS

from paperzoo_capability_self_eval.adaptive import (
    adaptive_best_of_n,
    annealed_temperature,
    expected_samples,
    prune_and_finish,
)
from paperzoo_capability_self_eval.self_eval import (
    SelfEval,
    anchor_kl,
    answer_reward,
    p_better_labels,
    self_eval_loss,
    strip_padding,
    task_prompt,
)

PROMPT = torch.tensor([5, 9, 2])


def _model(vocab: int = 24) -> TinyLMDecoder:
    torch.manual_seed(0)
    return TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, vocab_size=vocab, max_seq_len=48).eval()


def _constant(p: float):
    return lambda seqs, prompt_len: torch.full((len(seqs),), p, dtype=torch.float64)


@pytest.mark.parametrize("n_max", [1, 5, 8])
def test_one_sample_when_p_better_is_zero_and_n_when_one(n_max):
    model = _model()
    zero = adaptive_best_of_n(model, PROMPT, _constant(0.0), n_max, 3, threshold=0.5, eos_token_id=None)
    one = adaptive_best_of_n(model, PROMPT, _constant(1.0), n_max, 3, threshold=0.5, eos_token_id=None)
    assert zero.n_samples == 1
    assert one.n_samples == n_max
    # threshold 1 with P(better) = 1 still never stops early (strictly below the threshold stops)
    assert adaptive_best_of_n(model, PROMPT, _constant(1.0), n_max, 2, threshold=1.0).n_samples == n_max


def test_choice_is_the_lowest_p_better():
    model = _model()

    def p_better(seqs, prompt_len):  # lower for larger first generated token
        return 1.0 - seqs[:, prompt_len].double() / 100.0

    res = adaptive_best_of_n(
        model, PROMPT, p_better, 8, 3, threshold=0.0, generator=torch.Generator().manual_seed(1)
    )
    firsts = [int(s[3]) for s in res.sequences]
    assert res.n_samples == 8 and firsts[res.best] == max(firsts)
    assert firsts.index(max(firsts)) == res.best  # ties: the first drawn


def test_fewer_expected_samples_than_fixed_best_of_n_at_equal_quality():
    """Mock LM and reward: each sample is right with probability q and a right sample is known
    (P(better) = 0) while a wrong one is not (P(better) = 1). Fixed best-of-N and adaptive sampling are
    right exactly when some sample is; adaptive stops at the first round holding a right one."""
    n_max, q, trials = 8, 0.4, 300
    gen = torch.Generator().manual_seed(0)
    model = _model()

    def p_better(seqs, prompt_len):
        right = torch.rand(len(seqs), generator=gen) < q
        return torch.where(right, 0.0, 1.0).double()

    quality = {"fixed": 0.0, "adaptive": 0.0}
    samples = {"fixed": 0.0, "adaptive": 0.0}
    for name, threshold in (("fixed", 0.0), ("adaptive", 0.5)):
        for _ in range(trials):
            res = adaptive_best_of_n(model, PROMPT, p_better, n_max, 1, threshold=threshold)
            quality[name] += float(-res.best_score == 0.0)
            samples[name] += res.n_samples
        quality[name] /= trials
        samples[name] /= trials
    exact_quality = 1 - (1 - q) ** n_max
    # round sizes 1, 1, 2, 4: a round ends sampling when it holds a right sample
    exact_samples = sum(
        size * (1 - q) ** drawn for size, drawn in zip([1, 1, 2, 4], [0, 1, 2, 4], strict=True)
    )
    assert samples["fixed"] == n_max
    assert samples["adaptive"] == pytest.approx(exact_samples, abs=4 * 2.5 / trials**0.5)
    assert samples["adaptive"] < 0.5 * n_max
    for name in quality:  # both right with probability 1 - (1 - q)^N: equal quality
        assert quality[name] == pytest.approx(
            exact_quality, abs=4 * (exact_quality * (1 - exact_quality) / trials) ** 0.5
        )


def test_expected_samples_closed_form():
    assert expected_samples(1.0, 8) == 1
    assert expected_samples(0.0, 8) == 8
    assert expected_samples(0.5, 8) == pytest.approx(1 + 0.5 + 0.25 * 2 + 0.125 * 4)


def test_labels_share_of_strictly_better_siblings():
    labels = p_better_labels(torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5]))
    assert labels.tolist() == pytest.approx([0.0, 0.75, 0.75, 0.0, 0.5])
    assert p_better_labels(torch.ones(4)).tolist() == [0.0] * 4  # ties are never "better"
    with pytest.raises(ValueError):
        p_better_labels(torch.ones(1))


def test_self_eval_loss_is_binary_cross_entropy_of_the_token():
    torch.manual_seed(0)
    logits = torch.randn(5, 11, dtype=torch.float64)
    y = torch.rand(5, dtype=torch.float64)
    p = logits.softmax(-1)[:, 3]
    ref = torch.nn.functional.binary_cross_entropy(p, y)
    assert float(self_eval_loss(logits.log_softmax(-1), 3, y)) == pytest.approx(float(ref), abs=1e-12)


def test_self_eval_reads_the_token_after_the_prompt():
    model = _model(vocab=363)
    se = SelfEval.from_text("|b?", token=7)
    responses = [torch.tensor([1, 2, 3]), torch.tensor([4, 5]), torch.tensor([6, 7, 8])]
    got = se.p_better(model, responses)
    for r, g in zip(responses, got, strict=True):
        full = torch.cat([r, torch.tensor(list(b"|b?"))])
        with torch.no_grad():
            want = model(full[None]).logits[0, -1].softmax(-1)[7]
        assert float(g) == pytest.approx(float(want), abs=1e-6)  # float32, batched vs alone


def test_anchor_is_zero_at_the_reference_and_masked():
    torch.manual_seed(0)
    a, b = torch.randn(2, 4, 9), torch.randn(2, 4, 9)
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    assert float(anchor_kl(a, a, mask)) == pytest.approx(0.0, abs=1e-7)
    b2 = b.clone()
    b2[:, 2:] = 100.0  # masked positions do not count
    assert float(anchor_kl(a, b, mask)) == pytest.approx(float(anchor_kl(a, b2, mask)), abs=1e-6)


def test_pruning_keeps_the_lowest_partial_p_better():
    model = _model()

    def p_better(seqs, prompt_len):
        return seqs[:, prompt_len].double() / 100.0

    out, kept, scores = prune_and_finish(
        model, PROMPT, p_better, 6, 2, 2, 5, generator=torch.Generator().manual_seed(0), eos_token_id=23
    )
    order = sorted(range(6), key=lambda i: (float(scores[i]), i))
    assert kept.tolist() == order[:2]
    assert out.shape == (2, 3 + 5)
    assert torch.equal(out[:, :3], PROMPT.expand(2, -1))
    full, kept_all, _ = prune_and_finish(model, PROMPT, p_better, 4, 4, 2, 5, eos_token_id=23)
    assert sorted(kept_all.tolist()) == [0, 1, 2, 3] and full.shape == (4, 8)


def test_annealing_starts_low_and_rises_to_t_max():
    t = annealed_temperature(0.2, 1.0, 0.5)
    assert t(0) == pytest.approx(0.2) and t(1) == pytest.approx(0.6) and t(2) == pytest.approx(0.8)
    assert all(t(i) < t(i + 1) <= 1.0 for i in range(10))
    with pytest.raises(ValueError):
        annealed_temperature(1.0, 0.5)


def test_task_prompt_and_reward():
    from paperzoo_tinylm.tasks import modular_arithmetic

    bundle = modular_arithmetic(7, "+", 0.5, 0)
    x, y = bundle.train[0]
    question, answer = task_prompt(x, y)
    text = bytes(question[1:].tolist()).decode()
    a, b = int(text[0]), int(text[2])
    assert text.endswith("=") and bytes(answer.tolist()).decode() == str((a + b) % 7)
    right = torch.cat([question, answer, torch.tensor([EOS])])
    wrong = right.clone()
    wrong[len(question)] = ord("9") if answer[0] != ord("9") else ord("8")
    assert answer_reward(torch.stack([right, wrong]), len(question), answer).tolist() == [1.0, 0.0]
    assert torch.equal(strip_padding(torch.cat([right, torch.tensor([EOS, EOS])]), len(question)), right)


def test_pruning_ties_keep_the_order_drawn():
    model = _model()
    _, kept, _ = prune_and_finish(model, PROMPT, _constant(0.5), 5, 3, 1, 3, eos_token_id=23)
    assert kept.tolist() == [0, 1, 2]

    def p_better(seqs, prompt_len):  # two levels: rows 1 and 3 low, the rest high
        return torch.tensor([0.9, 0.1, 0.9, 0.1, 0.9], dtype=torch.float64)

    _, kept, _ = prune_and_finish(model, PROMPT, p_better, 5, 3, 1, 3, eos_token_id=23)
    assert kept.tolist() == [1, 3, 0]


class _Recording(torch.nn.Module):
    """A model that records the devices of the ids it is handed and of its own parameters."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, ids, **kwargs):
        self.seen.append((ids.device, next(self.inner.parameters()).device))
        return self.inner(ids, **kwargs)


def test_the_evaluator_hands_the_model_tensors_on_its_device():
    from paperzoo_tinylm.tasks import modular_arithmetic

    from paperzoo_capability_self_eval.evaluators import AdaptiveBestOfN
    from paperzoo_capability_self_eval.rollouts import model_device, task_rows

    bundle = modular_arithmetic(7, "+", 0.5, 0)
    model = _Recording(_model(vocab=363))
    out = AdaptiveBestOfN(n_max=2, n_prompts=3, max_new_tokens=2)(model, bundle)
    assert set(out) == set(AdaptiveBestOfN.keys) and model.seen
    assert all(ids == params for ids, params in model.seen)
    assert model_device(torch.nn.Linear(2, 2, device="meta")) == torch.device("meta")
    assert model_device(torch.nn.Identity()) == torch.device("cpu")
    # the same questions whatever the device asked for
    for (q0, a0), (q1, a1) in zip(
        task_rows(bundle.val, 3, 0), task_rows(bundle.val, 3, 0, "cpu"), strict=True
    ):
        assert torch.equal(q0, q1) and torch.equal(a0, a1)
