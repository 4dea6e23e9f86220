"""Exact properties: CopySpec's output is greedy decoding's, token for token (tinylm, GPT-2, Llama);
closed forms of passes per token on a cycling LM; the cache is rolled back; copy-table semantics."""

import math

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo_tinylm.generate import greedy_search
from torch.utils.data import TensorDataset

from paperzoo_copyspec import evaluators
from paperzoo_copyspec.decoding import CopyIndex, CopySpecStats, copyspec_generate
from paperzoo_copyspec.tests import models


def repeat_prompts(vocab: int, seed: int) -> torch.Tensor:
    """Two prompts ``a + b + a[:6]`` (a span, other tokens, then the span's start again)."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randint(vocab, (2, 12), generator=g), torch.randint(vocab, (2, 5), generator=g)
    return torch.cat([a, b, a[:, :6]], dim=1)


@pytest.mark.parametrize("kind", ["tinylm", "gpt2", "llama"])
@pytest.mark.parametrize(("gamma", "number_copy"), [(1, 2), (3, 10)])
def test_output_is_greedy_token_for_token(kind, gamma, number_copy):
    model = getattr(models, kind)(seed=1)
    prompts = repeat_prompts(40, seed=gamma)
    stats = CopySpecStats()
    out = copyspec_generate(model, prompts, 40, gamma=gamma, number_copy=number_copy, stats=stats)
    assert torch.equal(out, greedy_search(model, prompts, 40))
    assert stats.generated == 80 and stats.attempts > 0  # copying was exercised
    assert stats.passes < stats.generated  # fewer passes than tokens


def test_one_dimensional_prompt_gives_one_dimensional_output():
    model = models.tinylm(seed=2)
    prompt = repeat_prompts(40, seed=0)[0]
    out = copyspec_generate(model, prompt, 12)
    assert out.shape == (prompt.numel() + 12,) and torch.equal(out, greedy_search(model, prompt, 12))


@pytest.mark.parametrize(("number_copy", "max_new"), [(5, 40), (10, 40), (3, 7), (1, 25)])
def test_cycling_lm_passes_closed_form(number_copy, max_new):
    """A prompt holding a whole period: after the first token every draft is right, so each pass yields
    number_copy + 1 tokens: passes = 1 + ceil((max_new - 1) / (number_copy + 1))."""
    period = 12
    model = models.CyclingLM(period)
    prompt = torch.tensor([*range(period), 0])
    stats = CopySpecStats()
    out = copyspec_generate(model, prompt, max_new, gamma=1, number_copy=number_copy, stats=stats)
    want = torch.tensor([(prompt[-1].item() + 1 + t) % period for t in range(max_new)])
    assert torch.equal(out[prompt.numel() :], want)
    assert stats.passes == model.calls == 1 + math.ceil((max_new - 1) / (number_copy + 1))
    assert stats.acceptance_rate == 1.0 and stats.passes_per_token < 1
    # every pass got a cache of accepted tokens only: unused draft tokens were rolled back
    assert all(torch.equal(torch.tensor(seen), out[: len(seen)]) for seen in model.seen)


def test_rejected_drafts_are_rolled_back():
    """Period 5 over 7 tokens: the prompt's '0 1 2 5 6' makes the copy of '2' propose '5 6', which the
    model rejects; every later pass must still see exactly the accepted tokens."""
    model = models.CyclingLM(5, vocab=7)
    prompt = torch.tensor([0, 1, 2, 5, 6, 0, 1])
    stats = CopySpecStats()
    out = copyspec_generate(model, prompt, 20, gamma=1, number_copy=4, stats=stats)
    assert torch.equal(out, greedy_search(models.CyclingLM(5, vocab=7), prompt, 20))
    assert stats.accepted < stats.drafted  # some draft tokens were rejected
    assert len(model.seen) == stats.passes - 1
    assert all(torch.equal(torch.tensor(seen), out[: len(seen)]) for seen in model.seen)


def test_no_repeats_no_copies_one_pass_per_token():
    model = models.CyclingLM(64)
    stats = CopySpecStats()
    out = copyspec_generate(model, torch.tensor([0]), 30, gamma=1, stats=stats)
    assert torch.equal(out, torch.arange(31))
    assert stats.attempts == 0 and stats.passes == stats.generated == 30


def test_number_copy_zero_is_plain_greedy():
    model = models.tinylm(seed=3)
    prompts = repeat_prompts(40, seed=5)
    stats = CopySpecStats()
    out = copyspec_generate(model, prompts, 20, gamma=2, number_copy=0, stats=stats)
    assert torch.equal(out, greedy_search(model, prompts, 20))
    assert stats.passes == stats.generated == 40 and stats.accepted == 0


def test_eos_stops_a_row_and_pads_it():
    model = models.CyclingLM(8)
    prompts = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 0], [4, 5, 6, 7, 0, 1, 2, 3, 4]])
    out = copyspec_generate(model, prompts, 12, gamma=2, number_copy=6, eos_token_id=3, pad_token_id=7)
    assert out.shape == (2, 9 + 7)
    assert out[0, 9:].tolist() == [1, 2, 3, 7, 7, 7, 7] and out[1, 9:].tolist() == [5, 6, 7, 0, 1, 2, 3]


def test_sampling_path_with_a_sharp_model_is_greedy():
    """Temperature 1e-3 on logits with a gap of 1: every target distribution is one-hot to float64
    precision, so speculative sampling must reproduce the greedy tokens and accept every right draft."""
    model = models.CyclingLM(9)
    prompt = torch.tensor([*range(9), 0])
    stats = CopySpecStats()
    out = copyspec_generate(
        model, prompt, 30, gamma=2, temperature=1e-3, generator=torch.Generator().manual_seed(0), stats=stats
    )
    assert torch.equal(out, greedy_search(models.CyclingLM(9), prompt, 30))
    assert stats.acceptance_rate == 1.0


def test_copy_index_first_occurrence_wins():
    index = CopyIndex(2)
    tokens = [5, 6, 7, 5, 6, 8]
    index.add(tokens, 0, len(tokens) - 1)
    assert index.lookup((5, 6)) == 0 and index.lookup((6, 8)) == 4 and index.lookup((8, 5)) is None


@pytest.mark.parametrize("kwargs", [{"gamma": 0}, {"number_copy": -1}, {"temperature": -1.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        copyspec_generate(models.CyclingLM(4), torch.tensor([0, 1]), 4, **kwargs)


def test_evaluator_with_more_prompts_than_sequences_uses_each_once(monkeypatch):

    texts = torch.arange(3)[:, None] * 10 + torch.arange(8)  # three distinct rows
    data = DataBundle(TensorDataset(texts, texts), TensorDataset(texts, texts), "language_modeling")
    seen = []

    def recording(model, prompts, *args, **kwargs):
        seen.append(prompts)
        return copyspec_generate(model, prompts, *args, **kwargs)

    monkeypatch.setattr(evaluators, "copyspec_generate", recording)
    evaluator = evaluators.CopySpecDecoding(
        gamma=1, number_copy=2, max_new_tokens=4, n_prompts=5, prompt_len=8
    )
    assert evaluator(models.tinylm(seed=0), data)["matches_greedy"] == 1.0
    assert torch.equal(seen[0], texts)  # every row once, in order (not rows 0, 0, 1)
