"""Best-of-N selection (:mod:`paperzoo_tinylm.best_of_n`): rounds, deterministic ties, the sampled
continuations are the kit's sampler's, the scorer's choice is the maximum, the stopping hook."""

from __future__ import annotations

import pytest
import torch

from paperzoo_tinylm.best_of_n import best_of_n, round_sizes, select_best
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.model import TinyLMDecoder

PROMPT = torch.tensor([3, 7, 1, 4])


def _model() -> TinyLMDecoder:
    torch.manual_seed(0)
    return TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, vocab_size=32, max_seq_len=32).eval()


def _token_sum(seqs: torch.Tensor, prompt_len: int) -> torch.Tensor:
    return seqs[:, prompt_len:].sum(dim=1).double()


@pytest.mark.parametrize(
    ("n", "rounds", "expected"),
    [
        (8, "doubling", [1, 1, 2, 4]),
        (6, "doubling", [1, 1, 2, 2]),
        (1, "doubling", [1]),
        (5, "all", [5]),
        (3, "one", [1, 1, 1]),
        (7, [3, 3, 3], [3, 3, 1]),
    ],
)
def test_round_sizes(n, rounds, expected):
    assert round_sizes(n, rounds) == expected


@pytest.mark.parametrize(("n", "rounds"), [(0, "all"), (4, "halving"), (5, [2, 2]), (3, [0, 3])])
def test_round_sizes_refuses(n, rounds):
    with pytest.raises(ValueError):
        round_sizes(n, rounds)


def test_select_best_ties_go_to_the_first():
    assert select_best(torch.tensor([0.1, 0.7, 0.2, 0.7])) == 1
    assert select_best(torch.tensor([2.0, 2.0, 2.0])) == 0
    assert select_best(torch.tensor([float("-inf"), -1.0])) == 1
    with pytest.raises(ValueError):
        select_best(torch.tensor([0.0, float("nan")]))


def test_samples_are_the_samplers_and_the_choice_is_the_maximum():
    model = _model()
    got = best_of_n(model, PROMPT, 6, _token_sum, 5, generator=torch.Generator().manual_seed(3))
    ref = sample(model, PROMPT.expand(6, -1), 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.stack(got.sequences), ref)
    sums = [int(s[4:].sum()) for s in ref]
    assert got.n_samples == 6 and got.best == sums.index(max(sums))
    assert got.best_score == max(sums)
    assert torch.equal(got.best_sequence, ref[got.best])


def test_ties_are_deterministic():
    model = _model()
    got = best_of_n(model, PROMPT, 5, lambda s, p: torch.zeros(len(s)), 4, rounds="one")
    assert got.best == 0
    again = best_of_n(
        model, PROMPT, 5, lambda s, p: torch.ones(len(s)), 4, generator=torch.Generator().manual_seed(1)
    )
    twice = best_of_n(
        model, PROMPT, 5, lambda s, p: torch.ones(len(s)), 4, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(again.best_sequence, twice.best_sequence)


def test_stopping_hook_and_temperature_schedule():
    model = _model()
    seen: list[int] = []

    def temperature(drawn: int) -> float:
        seen.append(drawn)
        return 0.5 + 0.1 * drawn

    one = best_of_n(model, PROMPT, 8, _token_sum, 3, rounds="doubling", stop=lambda r: True)
    assert one.n_samples == 1 and one.rounds == [1]
    full = best_of_n(
        model,
        PROMPT,
        8,
        _token_sum,
        3,
        rounds="doubling",
        temperature=temperature,
        stop=lambda r: False,
        generator=torch.Generator().manual_seed(9),
    )
    assert full.n_samples == 8 and full.rounds == [1, 1, 2, 4]
    assert seen == [0, 1, 2, 4]
    assert full.temperatures == pytest.approx([0.5, 0.6, 0.7, 0.9])
    # stop once the best score reaches a level: sampling ends at the first round that reaches it
    level = float(full.scores[:4].max())  # reached in the third round (seed 9: at sample 3)
    early = best_of_n(
        model,
        PROMPT,
        8,
        _token_sum,
        3,
        rounds="doubling",
        temperature=temperature,
        stop=lambda r: r.best_score >= level,
        generator=torch.Generator().manual_seed(9),
    )
    first = int(torch.nonzero(full.scores >= level)[0, 0])
    reached = next(c for c in [1, 2, 4, 8] if c > first)
    assert early.n_samples == reached == 4
    assert torch.equal(early.scores, full.scores[:reached])


def test_scorer_must_return_one_score_per_sample():
    with pytest.raises(ValueError, match="scores"):
        best_of_n(_model(), PROMPT, 3, lambda s, p: torch.zeros(1), 2)
    with pytest.raises(ValueError, match="one prompt"):
        best_of_n(_model(), PROMPT.expand(2, -1), 3, _token_sum, 2)
