"""Logits processors against their definitions written out element by element."""

import math

import pytest
import torch

from paperzoo_tinylm.processors import (
    MinNewTokens,
    NoRepeatNGram,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    default_processors,
)

INF = float("inf")


def scores_and_ids(rows=4, vocab=12, length=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, vocab, generator=g), torch.randint(vocab, (rows, length), generator=g)


def test_repetition_penalty_divides_positive_and_multiplies_negative_seen_scores():
    scores, ids = scores_and_ids()
    got = RepetitionPenalty(1.5)(ids, scores)
    for r in range(scores.shape[0]):
        for v in range(scores.shape[1]):
            s = float(scores[r, v])
            want = (s * 1.5 if s < 0 else s / 1.5) if v in ids[r].tolist() else s
            assert float(got[r, v]) == pytest.approx(want, rel=1e-7, abs=0)  # one float32 op: 6e-8
    assert not torch.equal(got, scores)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_bans_exactly_the_completing_tokens(n):
    scores, ids = scores_and_ids(vocab=5, length=14, seed=n)  # few symbols: many repeated n-grams
    got = NoRepeatNGram(n)(ids, scores)
    for r in range(ids.shape[0]):
        seq = ids[r].tolist()
        seen = {tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)}
        for v in range(5):
            banned = tuple(seq[len(seq) - n + 1 :] + [v]) in seen if n > 1 else (v,) in seen
            assert (float(got[r, v]) == -INF) == banned, (r, v)
            if not banned:
                assert float(got[r, v]) == float(scores[r, v])
    assert torch.equal(NoRepeatNGram(20)(ids, scores), scores)  # no complete 20-gram yet


def test_min_new_tokens_blocks_eos_until_reached():
    scores, ids = scores_and_ids(length=7)
    blocker = MinNewTokens(prompt_len=5, min_new_tokens=3, eos_token_id=4)
    got = blocker(ids, scores)  # 2 new tokens so far: eos forbidden
    assert (got[:, 4] == -INF).all() and torch.equal(got[:, :4], scores[:, :4])
    assert torch.equal(blocker(torch.cat([ids, ids[:, :1]], 1), scores), scores)  # 3 new: allowed


def test_top_k_keeps_the_k_best_and_ties_with_the_kth():
    scores, ids = scores_and_ids()
    got = TopK(3)(ids, scores)
    for r in range(scores.shape[0]):
        kth = sorted(scores[r].tolist(), reverse=True)[2]
        for v in range(scores.shape[1]):
            keep = float(scores[r, v]) >= kth
            assert float(got[r, v]) == (float(scores[r, v]) if keep else -INF)
    tied = torch.tensor([[1.0, 3.0, 2.0, 2.0, 0.0]])
    assert torch.equal(TopK(2)(ids[:1], tied), torch.tensor([[-INF, 3.0, 2.0, 2.0, -INF]]))


@pytest.mark.parametrize("p", [0.3, 0.75, 0.95, 1.0])
def test_top_p_keeps_the_smallest_nucleus(p):
    scores, ids = scores_and_ids(seed=7)
    got = TopP(p)(ids, scores)
    for r in range(scores.shape[0]):
        probs = scores[r].double().softmax(-1).tolist()
        order = sorted(range(len(probs)), key=lambda v: -probs[v])
        kept, mass = set(), 0.0
        for v in order:  # add the most probable tokens until their mass reaches p
            kept.add(v)
            mass += probs[v]
            if mass >= p - 1e-6:
                break
        assert {v for v in range(len(probs)) if float(got[r, v]) > -INF} == kept


def test_temperature_divides():
    scores, ids = scores_and_ids()
    assert torch.equal(Temperature(0.5)(ids, scores), scores / 0.5)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError):
            Temperature(bad)


def test_default_processors_order_and_omissions():
    chain = default_processors(
        5, repetition_penalty=1.2, no_repeat_ngram_size=2, min_new_tokens=3, eos_token_id=1,
        do_sample=True, temperature=0.7, top_k=4, top_p=0.9,
    )  # fmt: skip
    kinds = [RepetitionPenalty, NoRepeatNGram, MinNewTokens, Temperature, TopK, TopP]
    assert [type(p) for p in chain] == kinds
    assert default_processors(5, min_new_tokens=3) == []  # no eos: nothing to hold back
    assert default_processors(5, temperature=0.5, top_k=3) == []  # warpers need do_sample
    assert math.isclose(chain[3].temperature, 0.7)
