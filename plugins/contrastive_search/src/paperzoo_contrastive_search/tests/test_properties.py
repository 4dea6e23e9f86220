"""Exact properties of contrastive search, greedy decoding and the metrics."""

import pytest
import torch

from paperzoo_contrastive_search.decoding import contrastive_search, greedy_search
from paperzoo_contrastive_search.metrics import distinct_n, isotropy_score, rep_n, repetition_metrics


@torch.no_grad()
def plain_greedy(model, ids, steps):
    """x_t = argmax p(x | x_<t), recomputing the whole sequence every step (no cache)."""
    for _ in range(steps):
        out = model(ids, use_cache=False, output_hidden_states=True)
        logits = out[0] if isinstance(out, tuple) else out.logits
        ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids


@torch.no_grad()
def last_hidden(model, ids):
    out = model(ids, use_cache=False, output_hidden_states=True)
    return (out[1] if isinstance(out, tuple) else out.hidden_states)[-1]


@torch.no_grad()
def logits_of(model, ids):
    out = model(ids, use_cache=False, output_hidden_states=True)
    return out[0] if isinstance(out, tuple) else out.logits


@torch.no_grad()
def eq5_reference(model, prompt, alpha, k, steps):
    """Eq. 5 written out for one sequence, candidate by candidate, without cache or batching."""
    seq = prompt.clone()
    for _ in range(steps):
        probs = logits_of(model, seq[None])[0, -1].softmax(-1)
        context = last_hidden(model, seq[None])[0]  # h_{x_j}, j < t
        best, best_score = None, -float("inf")
        for v in probs.topk(k).indices.tolist():
            h_v = last_hidden(model, torch.cat([seq, torch.tensor([v])])[None])[0, -1]
            penalty = max(float(torch.cosine_similarity(h_v, h_j, dim=0)) for h_j in context)
            score = (1 - alpha) * float(probs[v]) - alpha * penalty
            if score > best_score:
                best, best_score = v, score
        seq = torch.cat([seq, torch.tensor([best])])
    return seq


@pytest.fixture(params=["tiny", "gpt2"])
def model(request, make_tiny_lm, make_gpt2):
    return make_tiny_lm(0) if request.param == "tiny" else make_gpt2(0)


def prompts(vocab, batch=3, length=5, seed=0):
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def vocab_of(model):
    return model.head.out_features if hasattr(model, "head") else model.config.vocab_size


@pytest.mark.parametrize("alpha,k", [(0.0, 5), (0.7, 1)])
def test_alpha_zero_or_k_one_is_greedy(model, alpha, k):
    ids = prompts(vocab_of(model))
    expected = plain_greedy(model, ids, 16)
    assert torch.equal(greedy_search(model, ids, 16), expected)
    assert torch.equal(greedy_search(model, ids, 16, use_cache=False), expected)
    assert torch.equal(contrastive_search(model, ids, alpha, k, 16), expected)
    assert torch.equal(contrastive_search(model, ids, alpha, k, 16, use_cache=False), expected)


def test_greedy_matches_transformers_generate(make_gpt2):
    model = make_gpt2(1)
    ids = prompts(64, batch=4, length=6, seed=1)
    reference = model.generate(
        ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=24, pad_token_id=0
    )
    assert torch.equal(greedy_search(model, ids, 24), reference)
    assert torch.equal(contrastive_search(model, ids, 0.0, 4, 24), reference)
    assert torch.equal(contrastive_search(model, ids, 0.5, 1, 24), reference)


@pytest.mark.parametrize("alpha,k", [(0.6, 4), (1.0, 3), (0.3, 6)])
def test_matches_equation_5_written_out(make_tiny_lm, alpha, k):
    model = make_tiny_lm(2)
    ids = prompts(24, batch=2, length=4, seed=2)
    got = contrastive_search(model, ids, alpha, k, 10)
    for row in range(2):
        assert torch.equal(got[row], eq5_reference(model, ids[row], alpha, k, 10))


def test_cache_and_no_cache_agree(model):
    ids = prompts(vocab_of(model), seed=3)
    cached = contrastive_search(model, ids, 0.6, 4, 30)
    assert torch.equal(cached, contrastive_search(model, ids, 0.6, 4, 30, use_cache=False))
    assert not torch.equal(cached, greedy_search(model, ids, 30)), "the penalty never changed a choice"


def test_rows_are_decoded_independently(model):
    ids = prompts(vocab_of(model), batch=4, seed=4)
    batch = contrastive_search(model, ids, 0.6, 4, 16)
    for row in range(4):
        assert torch.equal(batch[row], contrastive_search(model, ids[row], 0.6, 4, 16))


def test_end_of_sequence_pads_and_stops(make_tiny_lm):
    model = make_tiny_lm(5)
    ids = prompts(24, batch=2, seed=5)
    free = contrastive_search(model, ids, 0.6, 4, 12)
    eos = int(free[0, 5 + 3])  # the fourth generated token of the first row
    out = contrastive_search(model, ids, 0.6, 4, 12, eos_token_id=eos, pad_token_id=23)
    first = out[0, 5:]
    stop = int((first == eos).nonzero()[0])
    assert torch.equal(out[0, : 5 + stop + 1], free[0, : 5 + stop + 1])
    assert (first[stop + 1 :] == 23).all()
    finished = (out[:, 5:] == eos).any(dim=1)
    assert out.shape[1] == 5 + 12 or finished.all()


def test_invalid_arguments(make_tiny_lm):
    model, ids = make_tiny_lm(0), prompts(24)
    for kwargs in ({"alpha": 1.5}, {"alpha": -0.1}, {"k": 0}, {"max_new_tokens": -1}):
        with pytest.raises(ValueError):
            contrastive_search(model, ids, **{"alpha": 0.6, "k": 4, "max_new_tokens": 4, **kwargs})


# -- metrics ---------------------------------------------------------------------------------------
def test_rep_n_closed_forms():
    alternating = torch.tensor([[1, 2, 1, 2, 1, 2]])  # bigrams 12 21 12 21 12: 2 unique of 5
    assert rep_n(alternating, 2) == pytest.approx(1 - 2 / 5, abs=0)
    constant = torch.full((1, 10), 7)
    assert rep_n(constant, 2) == pytest.approx(1 - 1 / 9, abs=0)
    assert rep_n(constant, 4) == pytest.approx(1 - 1 / 7, abs=0)
    distinct = torch.arange(12)[None]
    assert repetition_metrics(distinct) == {"rep_2": 0.0, "rep_3": 0.0, "rep_4": 0.0, "diversity": 1.0}


def test_rep_n_counts_uniqueness_within_each_text():
    # Two copies of the same text repeat nothing within either; counts are summed over texts.
    same = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])
    assert rep_n(same, 2) == 0.0
    ragged = [torch.tensor([5, 5, 5]), torch.tensor([1, 2, 1, 2, 1])]  # unique 1 + 2 of totals 2 + 4
    assert rep_n(ragged, 2) == pytest.approx(1 - 3 / 6, abs=0)
    metrics = repetition_metrics(torch.tensor([[1, 2, 1, 2, 1, 2, 1, 2]]))
    expected = (1 - metrics["rep_2"]) * (1 - metrics["rep_3"]) * (1 - metrics["rep_4"])
    assert metrics["diversity"] == pytest.approx(expected, abs=0)
    assert metrics["rep_3"] == pytest.approx(1 - 2 / 6, abs=0)


def brute_force_isotropy(hidden):
    """The official script: the full S x S cosine matrix minus its diagonal, pooled over sequences."""
    unit = hidden.double() / hidden.double().norm(dim=-1, keepdim=True)
    cosine = unit @ unit.transpose(1, 2)
    batch, length = hidden.shape[:2]
    return 1 - float((cosine.sum() - batch * length) / (batch * length * (length - 1)))


def test_isotropy_equals_the_cosine_matrix_form():
    hidden = torch.randn(3, 17, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.5
    assert isotropy_score(hidden) == pytest.approx(brute_force_isotropy(hidden), abs=1e-12)
    scale = torch.rand(3, 17, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.1
    scaled = hidden * scale  # a positive scale per token leaves every cosine unchanged
    assert isotropy_score(scaled) == pytest.approx(isotropy_score(hidden), abs=1e-12)


def test_isotropy_extremes():
    assert isotropy_score(torch.eye(6)[None]) == pytest.approx(1.0, abs=1e-12)  # orthogonal tokens
    same_direction = torch.arange(1.0, 9.0)[:, None] * torch.tensor([[1.0, -2.0, 0.5]])
    assert isotropy_score(same_direction[None]) == pytest.approx(0.0, abs=1e-12)  # anisotropic
    antipodal = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
    assert isotropy_score(antipodal) == pytest.approx(2.0, abs=1e-12)


def test_distinct_n_counts_ngrams_shared_across_texts_once():
    same = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])  # 3 bigrams, each twice: 3 distinct of 6
    assert distinct_n(same, 2) == pytest.approx(3 / 6, abs=0)
    assert distinct_n(torch.arange(8).view(2, 4), 2) == 1.0
    ragged = [torch.tensor([5, 5, 5]), torch.tensor([5, 5, 1])]  # 55 55 | 55 51: 2 distinct of 4
    assert distinct_n(ragged, 2) == pytest.approx(2 / 4, abs=0)
    assert distinct_n(ragged, 1) == pytest.approx(2 / 6, abs=0)
    with pytest.raises(ValueError):
        distinct_n([torch.tensor([1, 2])], 3)
