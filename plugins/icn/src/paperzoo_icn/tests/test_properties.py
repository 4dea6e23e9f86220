"""Exact properties of the key-space correlation and of in-context navigation."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.generate import generate
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_icn.key_space import key_space_bias, rankdata
from paperzoo_icn.navigate import icn_prompt, in_context_navigation, sample_answers, vote
from paperzoo_icn.tests.mocks import MEMBERS, QUESTION, SEP, ListLM

F64 = torch.float64


def test_orthogonal_keys_give_exactly_zero_correlation():
    keys = torch.eye(200, dtype=F64)  # orthonormal rows: every window key has similarity 0 to the top-1
    logits = torch.randn(5, 200, dtype=F64, generator=torch.Generator().manual_seed(0))
    corr, sim = key_space_bias(logits, keys)
    assert torch.equal(corr, torch.zeros(5, dtype=F64)) and torch.equal(sim, torch.zeros(5, dtype=F64))


def test_near_orthogonal_random_keys_with_unrelated_logits_give_near_zero_correlation():
    g = torch.Generator().manual_seed(1)
    keys = torch.randn(300, 1024, dtype=F64, generator=g)
    logits = torch.randn(64, 300, dtype=F64, generator=g)  # independent of the keys
    corr, _ = key_space_bias(logits, keys)
    # 90 ranks per distribution: each correlation has sd about 1/sqrt(89) = 0.106; the mean of 64 about 0.013
    assert corr.abs().max() < 0.45 and abs(float(corr.mean())) < 0.05


def test_planted_key_clusters_give_a_clearly_positive_correlation():
    g = torch.Generator().manual_seed(2)
    centers = torch.randn(10, 64, dtype=F64, generator=g)
    keys = centers.repeat_interleave(30, 0) + 0.5 * torch.randn(300, 64, dtype=F64, generator=g)
    queries = keys[torch.randint(300, (16,), generator=g)] * 3  # a query aligned with one key
    corr, sim = key_space_bias(queries @ keys.T, keys)
    assert float(corr.min()) > 0.5 and float(sim.mean()) > 0.2  # unrelated keys: about 0


def test_scaling_key_norms_leaves_the_cosine_measure_unchanged():
    g = torch.Generator().manual_seed(3)
    keys = torch.randn(150, 16, dtype=F64, generator=g)
    logits = torch.randn(8, 150, dtype=F64, generator=g)
    scale = torch.rand(150, 1, dtype=F64, generator=g) * 10 + 0.1
    a, sa = key_space_bias(logits, keys)
    b, sb = key_space_bias(logits, keys * scale)
    torch.testing.assert_close(b, a, rtol=0, atol=1e-12)  # normalisation rounding only
    torch.testing.assert_close(sb, sa, rtol=0, atol=1e-12)
    d, _ = key_space_bias(logits, keys * scale, similarity="dot")
    assert not torch.allclose(d, a, atol=1e-3)  # the dot product does see the norms


def test_spearman_of_logprob_equals_spearman_of_rank_and_ignores_logit_shifts():
    g = torch.Generator().manual_seed(4)
    keys = torch.randn(120, 8, dtype=F64, generator=g)
    logits = torch.randn(6, 120, dtype=F64, generator=g)
    a, _ = key_space_bias(logits, keys, target="logprob")
    b, _ = key_space_bias(logits, keys, target="rank")
    c, _ = key_space_bias(logits + 7.0, keys)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_rankdata_averages_ties():
    x = torch.tensor([[3.0, 1.0, 3.0, 2.0, 3.0]])
    assert rankdata(x).tolist() == [[4.0, 1.0, 4.0, 2.0, 4.0]]


def test_window_too_small_is_refused():
    with pytest.raises(ValueError, match="rank window"):
        key_space_bias(torch.zeros(12), torch.eye(12), lo=10, hi=100)


def _tiny(seed: int = 0) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=64).double().eval()


def test_step_one_is_plain_greedy_decoding_of_the_bare_prompt():
    model, q = _tiny(), torch.tensor([257, 70, 71, 61])
    nav = in_context_navigation(model, q, 3, 4, sep=SEP)
    plain = generate(model, q, 4)[len(q) :].tolist()
    expected = tuple(plain[: plain.index(SEP)] if SEP in plain else plain)
    assert torch.equal(nav.prompts[0], q) and nav.answers[0] == expected


@pytest.mark.parametrize("instruction", [(), (33, 34)])
def test_prompt_of_step_k_lists_exactly_the_earlier_answers_in_order(instruction):
    model, q = _tiny(1), torch.tensor([257, 80, 61])
    nav = in_context_navigation(model, q, 4, 3, sep=SEP, instruction=instruction)
    for k, prompt in enumerate(nav.prompts):
        listed = []
        for answer in nav.answers[:k]:
            listed += [*answer, SEP]
        assert prompt.tolist() == q.tolist() + list(instruction) + listed


def test_an_obeying_model_explores_distinct_members_in_preference_order():
    nav = in_context_navigation(ListLM(obey=True), QUESTION, len(MEMBERS), 3, sep=SEP)
    assert nav.answers == [(m,) for m in MEMBERS]


def test_a_model_that_ignores_the_list_repeats_itself():
    nav = in_context_navigation(ListLM(obey=False), QUESTION, 3, 3, sep=SEP)
    assert nav.answers == [(MEMBERS[0],)] * 3


def test_excluding_used_first_tokens_forces_new_answers_even_without_obedience():
    nav = in_context_navigation(ListLM(obey=False), QUESTION, 4, 3, sep=SEP, exclude_first=True)
    assert nav.answers == [(m,) for m in MEMBERS[:4]]


def test_sampling_baseline_draws_from_the_bare_prompt():
    gen = torch.Generator().manual_seed(0)
    drawn = sample_answers(ListLM(obey=True), QUESTION, 200, 3, sep=SEP, temperature=1.0, generator=gen)
    counts = {m: drawn.count((m,)) for m in MEMBERS}
    assert sum(counts.values()) == 200  # every draw is one member then the separator
    assert counts[MEMBERS[0]] > counts[MEMBERS[-1]]  # softmax of 5, 4.5, ... prefers the first


def test_vote_is_the_majority_with_ties_to_the_first_seen_and_ignores_empty_answers():
    assert vote([(1,), (2,), (2,), (1,), (3,)]) == (1,)
    assert vote([(), (), (4,)]) == (4,)
    assert vote([(5,), (6,), (6,)]) == (6,)
    assert vote([()]) is None


def test_icn_prompt_layout():
    p = icn_prompt(torch.tensor([1, 2]), [(7, 8), (9,)], sep=0, instruction=[5])
    assert p.tolist() == [1, 2, 5, 7, 8, 0, 9, 0]
