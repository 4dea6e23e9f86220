"""Exact properties of diverse beam search: reductions to beam search, the closed form on a context-free
model, the Hamming guarantee, cache invariance and argument checks."""

import pytest
import torch
from paperzoo_tinylm.generate import beam_search
from paperzoo_tinylm.processors import NoRepeatNGram

from paperzoo_diverse_beam_search.decoding import diverse_beam_search


def prompts(seed: int, batch: int = 3, length: int = 5, vocab: int = 48) -> torch.Tensor:
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "beams,kwargs",
    [
        (4, {}),
        (3, {"eos_token_id": 5, "num_return_sequences": 3}),
        (4, {"eos_token_id": 7, "length_penalty": 0.5, "early_stopping": True, "num_return_sequences": 2}),
        (2, {"eos_token_id": 2, "early_stopping": "never", "processors": (NoRepeatNGram(2),)}),
    ],
)
def test_one_group_is_beam_search(make_tinylm, beams, kwargs):
    model, ids = make_tinylm(0), prompts(beams)
    expected = beam_search(model, ids, beams, 14, **kwargs)
    for penalty in (0.0, 3.0):  # with one group there is no earlier group to be diverse from
        assert torch.equal(diverse_beam_search(model, ids, beams, 1, penalty, 14, **kwargs), expected)


@pytest.mark.parametrize("beams,groups", [(4, 2), (6, 3), (6, 2)])
def test_zero_penalty_repeats_the_same_beam_search_in_every_group(make_tinylm, beams, groups):
    model, ids = make_tinylm(1), prompts(groups)
    size = beams // groups
    expected = beam_search(model, ids, size, 12, num_return_sequences=size).view(3, size, -1)
    got = diverse_beam_search(model, ids, beams, groups, 0.0, 12, num_return_sequences=beams).view(
        3, beams, -1
    )
    # Each of the size hypotheses is found once per group (equal scores): ranked i // groups.
    assert torch.equal(got, expected.repeat_interleave(groups, dim=1))


class ContextFree(torch.nn.Module):
    """A causal LM whose next-token distribution ignores the context: ``log p = log_probs`` everywhere."""

    def __init__(self, log_probs: torch.Tensor):
        super().__init__()
        self.log_probs = log_probs

    def forward(self, input_ids, past_key_values=None, use_cache=False, output_hidden_states=False):
        logits = self.log_probs.expand(*input_ids.shape, -1)
        return logits, logits, None


def test_closed_form_on_a_context_free_model():
    # One beam per group: group g takes the best token not taken by groups 0..g-1, at every step, as long
    # as lambda exceeds the log-probability gaps; beam search would return one token repeated.
    log_probs = torch.tensor([0.40, 0.25, 0.15, 0.10, 0.06, 0.04]).log()
    model, ids = ContextFree(log_probs), torch.tensor([[0, 1]])
    got = diverse_beam_search(model, ids, 4, 4, 5.0, 6, num_return_sequences=4, use_cache=False)
    assert torch.equal(got[:, 2:], torch.arange(4)[:, None].expand(4, 6))
    # A penalty below the gap log(0.40 / 0.25) leaves group 1 on token 0; above it, group 1 moves.
    gap = float(log_probs[0] - log_probs[1])
    low = diverse_beam_search(model, ids, 2, 2, 0.9 * gap, 3, num_return_sequences=2, use_cache=False)
    high = diverse_beam_search(model, ids, 2, 2, 1.1 * gap, 3, num_return_sequences=2, use_cache=False)
    assert torch.equal(low[:, 2:], torch.zeros(2, 3, dtype=torch.long))
    assert sorted(high[:, 2].tolist()) == [0, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_penalty_with_one_beam_per_group_gives_distinct_first_tokens(make_tinylm, seed):
    model, ids = make_tinylm(seed), prompts(seed)
    got = diverse_beam_search(model, ids, 6, 6, 1e3, 4, num_return_sequences=6).view(3, 6, -1)
    for row in got[:, :, ids.shape[1]]:
        assert len(set(row.tolist())) == 6
    plain = beam_search(model, ids, 6, 4, num_return_sequences=6).view(3, 6, -1)
    assert min(len(set(row.tolist())) for row in plain[:, :, ids.shape[1]]) < 6  # the contrast


def test_hamming_and_cumulative_agree_on_one_step_and_cache_is_invisible(make_tinylm):
    model, ids = make_tinylm(2), prompts(4)
    one = [
        diverse_beam_search(model, ids, 6, 3, 0.7, 1, diversity=d, num_return_sequences=6)
        for d in ("hamming", "cumulative")
    ]
    assert torch.equal(one[0], one[1])
    kwargs = {"num_return_sequences": 4, "eos_token_id": 3}
    cached = diverse_beam_search(model, ids, 4, 2, 0.7, 10, **kwargs)
    assert torch.equal(cached, diverse_beam_search(model, ids, 4, 2, 0.7, 10, use_cache=False, **kwargs))


def test_custom_diversity_is_called_with_the_earlier_groups_tokens(make_tinylm):
    seen = []

    def spy(previous, vocab):
        seen.append(previous.shape)
        return torch.zeros(previous.shape[0], vocab)

    model, ids = make_tinylm(0), prompts(0, batch=2)
    got = diverse_beam_search(model, ids, 6, 3, 1.0, 3, diversity=spy, num_return_sequences=6)
    # A zero penalty is lambda = 0; groups 1 and 2 see 2 and 4 earlier beams, 1..3 generated tokens.
    assert torch.equal(got, diverse_beam_search(model, ids, 6, 3, 0.0, 3, num_return_sequences=6))
    assert seen == [(2, 2, 1), (2, 4, 1), (2, 2, 2), (2, 4, 2), (2, 2, 3), (2, 4, 3)]


def test_one_dimensional_prompt_and_zero_tokens(make_tinylm):
    model, ids = make_tinylm(0), prompts(0)
    assert torch.equal(
        diverse_beam_search(model, ids[0], 4, 2, 0.5, 6), diverse_beam_search(model, ids[:1], 4, 2, 0.5, 6)[0]
    )
    assert torch.equal(diverse_beam_search(model, ids, 4, 2, 0.5, 0), ids)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_beams": 4, "num_beam_groups": 3},
        {"num_beam_groups": 0},
        {"diversity_penalty": -1.0},
        {"num_return_sequences": 5},
        {"early_stopping": "sometimes"},
        {"diversity": "jaccard"},
        {"max_new_tokens": -1},
    ],
)
def test_invalid_arguments(make_tinylm, kwargs):
    with pytest.raises(ValueError):
        diverse_beam_search(make_tinylm(0), prompts(0), **{"num_beams": 4, "num_beam_groups": 2, **kwargs})
