"""Exact properties of MG-Select's confidence, its selection, condition dropout and the task."""

from __future__ import annotations

import random

import pytest
import torch
from paperzoo import create
from paperzoo.errors import ParamError
from paperzoo.trainer import Supervised
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.tokenizer import EOS, MASK
from paperzoo_tinylm.training import fit_targets

from paperzoo_mg_select.dropout import condition_dropout_loss, drop_conditions
from paperzoo_mg_select.goal_reaching import (
    PROMPT_LEN,
    STATE_POSITIONS,
    TEXT_POSITIONS,
    demonstrations,
    episodes,
    expert,
    prompt_ids,
    rollout,
    success,
)
from paperzoo_mg_select.mg_select import (
    action_mask,
    masked_positions,
    mg_select,
    mg_select_scores,
    token_kl,
)
from paperzoo_mg_select.tests.helpers import Bigram, tiny_policy

BOTH = STATE_POSITIONS + TEXT_POSITIONS


def _candidates(model, n=6, horizon=5, seed=0):
    prompt = torch.tensor(prompt_ids((0, 1), (2, 2)))
    gen = torch.Generator().manual_seed(seed)
    return sample(model, prompt.expand(n, -1), horizon, generator=gen, use_cache=False)


def test_kl_is_zero_when_the_reference_equals_the_conditional():
    seqs = _candidates(Bigram())
    assert torch.equal(
        mg_select_scores(Bigram(), seqs, PROMPT_LEN, BOTH), torch.zeros(len(seqs), dtype=torch.float64)
    )
    model = tiny_policy()
    assert torch.equal(
        mg_select_scores(model, seqs, PROMPT_LEN, ()), torch.zeros(len(seqs), dtype=torch.float64)
    )
    # a policy that reads the conditions gives positive confidences
    assert (mg_select_scores(model, seqs, PROMPT_LEN, BOTH) > 0).all()


def test_token_kl_closed_form_and_direction():
    q = torch.tensor([[0.5, 0.5, 0.0 + 1e-30]]).log()
    p = torch.tensor([[0.9, 0.05, 0.05]]).log()
    want = 0.5 * torch.log(torch.tensor(0.5 / 0.9)) + 0.5 * torch.log(torch.tensor(0.5 / 0.05))
    assert torch.allclose(token_kl(q.double(), p.double()), want.double().reshape(1), atol=1e-12)
    assert not torch.allclose(token_kl(p.double(), q.double()), want.double().reshape(1), atol=1e-3)


def test_one_candidate_is_plain_sampling_bit_for_bit():
    model = tiny_policy()
    prompt = torch.tensor(prompt_ids((1, 0), (0, 2)))
    res = mg_select(model, prompt, 1, 6, BOTH, generator=torch.Generator().manual_seed(3))
    plain = sample(model, prompt[None], 6, generator=torch.Generator().manual_seed(3))
    assert res.best == 0 and torch.equal(res.best_sequence, plain[0])


def test_the_choice_is_the_most_confident_candidate():
    model = tiny_policy(1)
    prompt = torch.tensor(prompt_ids((2, 2), (0, 0)))
    res = mg_select(model, prompt, 8, 4, BOTH, generator=torch.Generator().manual_seed(0))
    seqs = torch.stack(res.sequences)
    scores = mg_select_scores(model, seqs, PROMPT_LEN, BOTH)
    assert torch.equal(res.scores, scores)
    assert res.best == int(scores.argmax()) and len(set(scores.tolist())) > 1


def test_mean_aggregate_and_tokens_after_eos():
    model = tiny_policy()
    seqs = _candidates(model, n=4, horizon=5)
    total = mg_select_scores(model, seqs, PROMPT_LEN, BOTH)
    mean = mg_select_scores(model, seqs, PROMPT_LEN, BOTH, aggregate="mean")
    assert torch.allclose(mean * 5, total, rtol=1e-12, atol=0)
    cut = seqs.clone()
    cut[:, PROMPT_LEN + 2] = EOS
    cut[:, PROMPT_LEN + 3 :] = EOS  # padding after the end
    keep = action_mask(cut, PROMPT_LEN, EOS)
    assert keep.sum(1).tolist() == [3] * 4
    kept = mg_select_scores(model, cut, PROMPT_LEN, BOTH, eos_token_id=EOS)
    changed = cut.clone()
    changed[:, PROMPT_LEN + 3 :] = 7  # tokens after the end do not count
    assert torch.equal(kept, mg_select_scores(model, changed, PROMPT_LEN, BOTH, eos_token_id=EOS))


def test_masked_positions_variants():
    assert masked_positions("both", (2, 3), (5, 6)) == (2, 3, 5, 6)
    assert masked_positions("state", (2, 3), (5, 6)) == (2, 3)
    assert masked_positions("text", (2, 3), (5, 6)) == (5, 6)
    with pytest.raises(ValueError):
        masked_positions("vision", (2,), (5,))
    with pytest.raises(ValueError):
        mg_select_scores(tiny_policy(), _candidates(tiny_policy()), PROMPT_LEN, (PROMPT_LEN,))


def test_drop_conditions_rates_and_independence():
    x = torch.arange(20).repeat(4000, 1)
    g = torch.Generator().manual_seed(0)
    out = drop_conditions(x, STATE_POSITIONS, TEXT_POSITIONS, 0.5, 0.5, g)
    others = [i for i in range(20) if i not in BOTH]
    assert torch.equal(out[:, others], x[:, others])
    state = (out[:, list(STATE_POSITIONS)] == MASK).all(1)
    text = (out[:, list(TEXT_POSITIONS)] == MASK).all(1)
    # whole conditions are dropped, never a part of one
    assert torch.equal(state, (out[:, list(STATE_POSITIONS)] == MASK).any(1))
    for variant in ((False, False), (True, False), (False, True), (True, True)):
        share = ((state == variant[0]) & (text == variant[1])).double().mean()
        assert abs(share - 0.25) < 0.03  # 4000 rows: standard error 0.007
    assert torch.equal(
        drop_conditions(x[:5], STATE_POSITIONS, TEXT_POSITIONS, 1.0, 0.0, g)[:, list(TEXT_POSITIONS)],
        x[:5, list(TEXT_POSITIONS)],
    )
    assert drop_conditions(x, STATE_POSITIONS, TEXT_POSITIONS, 0.0, 0.0, g) is x


def test_dropout_zero_is_the_plain_training_loop_bitwise():
    x, y = demonstrations(64, 3, 4, 0.4, seed=0)
    plain = fit_targets(tiny_policy(), x, y, 4, 8, seed=0)
    zero = fit_targets(
        tiny_policy(),
        x,
        y,
        4,
        8,
        seed=0,
        loss_fn=condition_dropout_loss(STATE_POSITIONS, TEXT_POSITIONS, 0.0, 0.0),
    )
    dropped = fit_targets(
        tiny_policy(),
        x,
        y,
        4,
        8,
        seed=0,
        loss_fn=condition_dropout_loss(STATE_POSITIONS, TEXT_POSITIONS, 0.5, 0.5),
    )
    a, b, c = plain.state_dict(), zero.state_dict(), dropped.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_trainer_loss_with_dropout_zero_is_the_supervised_loss_bitwise():
    x, y = demonstrations(16, 3, 4, 0.4, seed=0)
    model = tiny_policy()
    trainer = create("condition_dropout", p_state=0.0, p_text=0.0)
    trainer.generator = torch.Generator().manual_seed(0)
    want = Supervised().compute_loss(model, (x, y), "language_modeling")
    assert torch.equal(trainer.compute_loss(model, (x, y), "language_modeling"), want)
    trainer = create("condition_dropout", p_state=1.0, p_text=1.0)
    trainer.generator = torch.Generator().manual_seed(0)
    masked = x.clone()
    masked[:, list(BOTH)] = MASK
    want = Supervised().compute_loss(model, (masked, y), "language_modeling")
    assert torch.equal(trainer.compute_loss(model, (x, y), "language_modeling"), want)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("condition_dropout", {"p_state": 1.5}),
        ("condition_dropout", {"text_positions": [5, 5]}),
        ("mg_select", {"masking": "image"}),
        ("mg_select", {"aggregate": "max"}),
        ("mg_select", {"n": 0}),
        ("mg_select", {"state_positions": [9]}),
    ],
)
def test_bad_parameters_are_refused(name, params):
    with pytest.raises(ParamError):
        create(name, **params)


def test_expert_reaches_every_goal_and_rows_are_aligned():
    for size, horizon in ((3, 4), (4, 6)):
        for s, g in episodes(200, size, random.Random(0)):
            assert rollout(s, expert(s, g, horizon), size) == g
    x, y = demonstrations(50, 3, 4, 0.0, seed=1)
    assert torch.equal(y[:, PROMPT_LEN - 1 : -1], x[:, PROMPT_LEN:])
    assert (y[:, : PROMPT_LEN - 1] == -100).all() and (y[:, -1] == EOS).all()
    assert all(success(row, 3) for row in x)
    with pytest.raises(ValueError):
        expert((0, 0), (2, 2), 3)


def test_evaluator_reads_the_grid_size_from_the_split():
    """On a 3 x 3 grid from (0, 0) to (2, 2), ``rrrr`` clips to (2, 0) while a 4 x 4 rollout reaches (3, 0):
    the evaluator must roll out on the split's own grid, not a default."""
    data = create("mg_select_goal_reaching", n_samples=40, size=3, horizon=4)
    assert data.val.grid_size == 3 and data.train.grid_size == 3
    from paperzoo_mg_select.evaluator import MGSelect

    policy = tiny_policy()
    by_split = MGSelect(n=2, n_prompts=3)(policy, data)
    explicit = MGSelect(n=2, n_prompts=3, size=3)(policy, data)
    assert by_split == explicit
    plain = type(data)(
        train=data.train, val=torch.utils.data.TensorDataset(*data.val.tensors), task=data.task
    )
    with pytest.raises(ValueError, match="grid_size"):
        MGSelect(n=2, n_prompts=3)(policy, plain)
