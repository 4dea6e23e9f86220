"""Exact properties of the masking rule, the transform and the trainer."""

import math

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import MASK
from paperzoo_tinylm.transforms import IGNORE
from torch.utils.data import TensorDataset

from paperzoo_masked_thought.chains import addition_chains, chain_example
from paperzoo_masked_thought.masking import (
    MaskedThoughtTransform,
    mask_reasoning,
    response_mask_of_targets,
    scheduled_rate,
)
from paperzoo_masked_thought.trainer import MaskedThoughtSFT, sft_loss


def _batch(b=6, t=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 256, (b, t), generator=g)
    starts = torch.randint(2, t // 2, (b, 1), generator=g)
    response = torch.arange(t)[None, :] >= starts
    return ids, response


def test_chain_example_by_hand():
    assert chain_example([4, 7, 2, 9]) == ("4+7+2+9=", "11,13,22")


def test_masks_only_response_and_only_with_mask_id():
    ids, response = _batch()
    out = mask_reasoning(ids, response, 0.5, generator=torch.Generator().manual_seed(1))
    changed = out != ids
    assert changed.any()
    assert not (changed & ~response).any()  # the question is untouched
    assert (out[changed] == MASK).all()


def test_transform_labels_unchanged_and_aligned():
    ids, response = _batch()
    out = MaskedThoughtTransform(rate=0.4)(ids, response, torch.Generator().manual_seed(2))
    assert torch.equal(out.loss_mask, response[:, 1:])
    assert torch.equal(out.targets[out.loss_mask], ids[:, 1:][out.loss_mask])  # original tokens
    assert (out.targets[~out.loss_mask] == IGNORE).all()
    assert (out.inputs != ids[:, :-1]).any()


def test_rate_zero_and_one():
    ids, response = _batch()
    assert torch.equal(mask_reasoning(ids, response, 0.0), ids)
    full = mask_reasoning(ids, response, 1.0)
    assert (full[response] == MASK).all() and torch.equal(full[~response], ids[~response])


@pytest.mark.parametrize("rate", [0.2, 0.3, 0.4])
def test_realised_rate_within_binomial_bound(rate):
    ids, response = _batch(b=64, t=256, seed=3)
    out = mask_reasoning(ids, response, rate, generator=torch.Generator().manual_seed(4))
    n = int(response.sum())
    k = int((out[response] == MASK).sum())  # ids are bytes (< 256): every MASK was placed by the rule
    # 5 standard deviations of Binomial(n, rate): fails with probability below 1e-6 for a correct rule
    assert abs(k / n - rate) < 5 * math.sqrt(rate * (1 - rate) / n)


def test_deterministic_with_seed():
    ids, response = _batch()
    a = mask_reasoning(ids, response, 0.3, generator=torch.Generator().manual_seed(5))
    b = mask_reasoning(ids, response, 0.3, generator=torch.Generator().manual_seed(5))
    c = mask_reasoning(ids, response, 0.3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_response_mask_of_targets_by_hand():
    y = torch.tensor([[IGNORE, IGNORE, 5, 6, IGNORE]])
    assert response_mask_of_targets(y).tolist() == [[False, False, False, True, True]]


def test_schedule():
    assert scheduled_rate(0.4, 0, 10) == 0.0
    assert scheduled_rate(0.4, 5, 10) == pytest.approx(0.2)
    assert scheduled_rate(0.4, 10, 10) == 0.4 and scheduled_rate(0.4, 3, 0) == 0.4


def _run(seed=0):
    torch.manual_seed(seed)
    data = addition_chains(32, 8, seed=seed)
    model = TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=32)
    return Run(model=model, data=data, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), seed=seed)


def test_rate_zero_is_plain_sft_bitwise():
    run = _run()
    batch = run.data.train.tensors
    plain = Supervised(progress=False, device="cpu")
    ours = MaskedThoughtSFT(mask_rate=0.0, progress=False, device="cpu")
    ours.setup(run)
    a = plain.compute_loss(run.model, batch, "language_modeling")
    b = ours.compute_loss(run.model, batch, "language_modeling")
    assert torch.equal(a, b)
    masked = MaskedThoughtSFT(mask_rate=0.3, progress=False, device="cpu")
    masked.setup(run)
    assert not torch.equal(a, masked.compute_loss(run.model, batch, "language_modeling"))


def test_trainer_masks_response_inputs_only():
    run = _run()
    x, y = run.data.train.tensors
    trainer = MaskedThoughtSFT(mask_rate=0.5, progress=False, device="cpu")
    trainer.setup(run)
    masked = trainer.masked_inputs(x, y)
    changed = masked != x
    assert changed.any() and not (changed & ~response_mask_of_targets(y)).any()


def test_trainer_loss_is_sft_loss_on_masked_inputs():
    run = _run()
    x, y = run.data.train.tensors
    trainer = MaskedThoughtSFT(mask_rate=0.3, progress=False, device="cpu")
    trainer.setup(run)
    got = trainer.compute_loss(run.model, (x, y), "language_modeling")
    trainer.setup(run)  # same seed: the same masks
    masked = trainer.masked_inputs(x, y)
    want = torch.nn.functional.cross_entropy(run.model(masked).logits.reshape(-1, 363), y.reshape(-1))
    assert torch.equal(got, want) and torch.equal(got, sft_loss(run.model(masked).logits, y))


def test_trainer_runs_and_is_deterministic():
    losses = []
    for _ in range(2):
        run = _run()
        trainer = MaskedThoughtSFT(mask_rate=0.3, max_steps=3, batch_size=8, progress=False, device="cpu")
        trainer.setup(run)
        trainer.train(run)
        losses.append(trainer.state.last_loss)
    assert losses[0] == losses[1] and math.isfinite(losses[0])


@pytest.mark.parametrize(
    "bad", [{"mask_rate": 1.5}, {"mask_rate": -0.1}, {"warmup_steps": -1}, {"mask_id": "x"}]
)
def test_bad_params(bad):
    from paperzoo.errors import ParamError

    with pytest.raises(ParamError):
        MaskedThoughtSFT(**bad)


def test_refuses_non_lm_data():
    model = torch.nn.Linear(2, 2)
    data = DataBundle(
        TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), None, task="classification"
    )
    with pytest.raises(ValueError, match="language models"):
        MaskedThoughtSFT(progress=False).setup(Run(model=model, data=data, optimizer=None))
