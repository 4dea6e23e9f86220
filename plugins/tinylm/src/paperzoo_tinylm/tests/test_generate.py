"""Exact properties of the decoding loop on all three kinds of cache (kit, transformers, tuples)."""

import pytest
import torch

from paperzoo_tinylm.generate import beam_search, generate, greedy_search, sample
from paperzoo_tinylm.protocol import forward, repeat_cache, select_cache
from paperzoo_tinylm.tests.decoding_models import KINDS, VOCAB, make, next_logits, prompts

NEW = 12


@pytest.fixture(scope="module", params=KINDS)
def model(request):
    return make(request.param)


def plain_greedy(model, ids, steps):
    """x_t = argmax logits(x_<t), the whole sequence recomputed every step."""
    for _ in range(steps):
        ids = torch.cat([ids, next_logits(model, ids).argmax(-1, keepdim=True)], dim=1)
    return ids


def test_greedy_cached_and_uncached_equal_the_plain_loop(model):
    ids = prompts()
    expected = plain_greedy(model, ids, NEW)
    assert torch.equal(greedy_search(model, ids, NEW), expected)
    assert torch.equal(greedy_search(model, ids, NEW, use_cache=False), expected)
    assert torch.equal(generate(model, ids, NEW), expected)
    assert torch.equal(greedy_search(model, ids[0], NEW), expected[0])  # a 1-d prompt gives a 1-d result


def test_sampling_at_temperature_to_zero_or_top_k_one_is_greedy(model):
    ids = prompts(seed=1)
    expected = greedy_search(model, ids, NEW)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample(model, ids, NEW, temperature=1e-6, generator=g), expected)
    assert torch.equal(sample(model, ids, NEW, top_k=1, generator=g), expected)
    assert torch.equal(generate(model, ids, NEW, do_sample=True, top_k=1, generator=g), expected)


def test_one_beam_is_greedy(model):
    ids = prompts(seed=2)
    expected = greedy_search(model, ids, NEW)
    assert torch.equal(beam_search(model, ids, num_beams=1, max_new_tokens=NEW), expected)
    assert torch.equal(beam_search(model, ids, 1, NEW, use_cache=False), expected)


def test_cached_equals_uncached_for_sampling_and_beams(model):
    ids = prompts(seed=3)
    settings = {"temperature": 0.8, "top_k": 10, "top_p": 0.9, "max_new_tokens": NEW}
    cached = sample(model, ids, generator=torch.Generator().manual_seed(5), **settings)
    uncached = sample(model, ids, generator=torch.Generator().manual_seed(5), use_cache=False, **settings)
    assert torch.equal(cached, uncached)
    assert not torch.equal(cached, greedy_search(model, ids, NEW)), "sampling never left the greedy path"
    for kwargs in ({"eos_token_id": None}, {"eos_token_id": 7, "pad_token_id": 1, "length_penalty": 0.5}):
        beams = beam_search(model, ids, 3, NEW, **kwargs)
        assert torch.equal(beams, beam_search(model, ids, 3, NEW, use_cache=False, **kwargs))


def test_seeded_sampling_is_reproducible_and_seed_dependent(model):
    ids = prompts(seed=4)
    draw = lambda seed: sample(model, ids, NEW, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(11), draw(11))
    assert not torch.equal(draw(11), draw(12))


def test_samples_follow_the_filtered_distribution():
    model = make("tuple")
    prompt = prompts(batch=1, seed=5)
    probs = next_logits(model, prompt)[0].double().softmax(-1)
    n = 20000
    drawn = sample(model, prompt.expand(n, -1), 1, top_k=6, generator=torch.Generator().manual_seed(0))[:, -1]
    top = probs.topk(6).indices
    assert torch.isin(drawn, top).all(), "a token outside the top 6 was drawn"
    want = torch.zeros_like(probs)
    want[top] = probs[top] / probs[top].sum()
    freq = torch.bincount(drawn, minlength=VOCAB).double() / n
    sigma = (want * (1 - want) / n).sqrt().max()
    assert (freq - want).abs().max() < 5 * sigma  # binomial noise: 5 standard deviations


def test_beam_search_is_exact_when_the_beams_hold_the_whole_vocabulary():
    model, ids = make("tuple"), prompts(batch=2, seed=6)
    # Every two-token continuation, scored by log p(a | x) + log p(b | x, a) from uncached calls.
    first = next_logits(model, ids).log_softmax(-1)  # (B, V)
    for row in range(2):
        grid = torch.cat([ids[row].expand(VOCAB, -1), torch.arange(VOCAB)[:, None]], dim=1)
        total = first[row][:, None] + next_logits(model, grid).log_softmax(-1)  # (a, b)
        best = total.flatten().topk(3).indices
        expected = torch.stack([best // VOCAB, best % VOCAB], dim=1)
        got = beam_search(model, ids[row : row + 1], VOCAB, 2, num_return_sequences=3)[:, -2:]
        assert torch.equal(got, expected)


def test_end_of_sequence_pads_and_stops(model):
    ids = prompts(batch=3, seed=7)
    free = greedy_search(model, ids, NEW)
    eos = int(free[0, ids.shape[1] + 2])  # the third generated token of the first row
    out = greedy_search(model, ids, NEW, eos_token_id=eos, pad_token_id=VOCAB - 1)
    for row in range(3):
        new, free_new = out[row, ids.shape[1] :], free[row, ids.shape[1] :]
        hits = (free_new == eos).nonzero()
        if len(hits) == 0:  # never emits eos: unchanged
            assert torch.equal(new, free_new[: len(new)])
            continue
        stop = int(hits[0])
        assert torch.equal(new[: stop + 1], free_new[: stop + 1])
        assert (new[stop + 1 :] == VOCAB - 1).all()
    finished = (out[:, ids.shape[1] :] == eos).any(dim=1)
    assert out.shape[1] == ids.shape[1] + NEW or finished.all()


def test_beam_search_returns_finished_hypotheses_padded():
    model, ids = make("tuple"), prompts(batch=2, seed=8)
    # An eos some beam emits early: the first generated token of the best beam.
    eos = int(beam_search(model, ids, 4, 1)[0, -1])
    out = beam_search(model, ids, 4, NEW, eos_token_id=eos, pad_token_id=VOCAB - 1, num_return_sequences=2)
    assert out.shape[0] == 4
    for seq in out[:, ids.shape[1] :]:
        hits = (seq == eos).nonzero()
        if len(hits):  # finished: nothing but padding after its eos
            assert (seq[int(hits[0]) + 1 :] == VOCAB - 1).all()


@torch.no_grad()
def test_cache_helpers_agree_on_every_kind_of_cache(model):
    ids = prompts(batch=3, seed=9)
    out = forward(model, ids)
    index = torch.tensor([2, 0, 0, 1])
    past = select_cache(repeat_cache(out.past, 2), torch.tensor([4, 1, 0, 3]))  # rows 2, 0, 0, 1
    step = torch.tensor([[5], [6], [7], [8]])
    got = forward(model, step, past).logits[:, -1]
    want = next_logits(model, torch.cat([ids[index], step], dim=1))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)  # float32 cache vs one full pass


def test_invalid_arguments():
    model, ids = make("tuple"), prompts()
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_search(model, ids, -1)
    with pytest.raises(ValueError, match="batch, length"):
        greedy_search(model, ids[None], 3)
    with pytest.raises(ValueError, match="at least one"):
        greedy_search(model, ids[:, :0], 3)
    with pytest.raises(ValueError, match="beam sampling"):
        generate(model, ids, 3, do_sample=True, num_beams=2)
    with pytest.raises(ValueError, match="num_return_sequences"):
        beam_search(model, ids, 2, 3, num_return_sequences=3)
    with pytest.raises(ValueError, match="early_stopping"):
        beam_search(model, ids, 2, 3, early_stopping="sometimes")
    with pytest.raises(TypeError, match="cannot index a cache"):
        select_cache({"k": ids}, torch.tensor([0]))
    assert torch.equal(generate(model, ids, 0), ids)
