"""The data_diet trainer: scores averaged over independently initialised models, the kept subset,
the step budget, the random control."""

import dataclasses
import math

import pytest
import torch
from paperzoo.builtins.layers import MLP
from paperzoo_dataprune.testing import tiny_bundle, tiny_run

from paperzoo_data_diet.scores import el2n_scores, grand_scores
from paperzoo_data_diet.trainer import DataDiet


def _trainer(**kw):
    return DataDiet(**{"batch_size": 16, "epochs": 1, "progress": False, "device": "cpu", **kw})


@pytest.mark.parametrize("score, scorer", [("el2n", el2n_scores), ("grand", grand_scores)])
def test_scores_at_initialisation_average_independently_initialised_models(score, scorer):
    """With score_epochs=0 the score is the mean over n_seeds fresh initialisations: each one the
    same network built from scratch under that seed."""
    data = tiny_bundle()
    trainer = _trainer(score=score, n_seeds=3, score_epochs=0, prune_fraction=0.5)
    run = tiny_run(data)
    trainer.fit(run)
    per_seed = []
    for s in trainer.scoring_seeds(run):
        torch.manual_seed(s)
        per_seed.append(scorer(MLP(5, 3, [8]), data.train))
    torch.testing.assert_close(trainer.scores, torch.stack(per_seed).mean(0), rtol=1e-6, atol=1e-7)
    assert len(set(trainer.scoring_seeds(run))) == 3
    assert not torch.allclose(per_seed[0], per_seed[1])


def test_kept_subset_is_the_highest_scores_and_is_what_trains():
    data = tiny_bundle()
    trainer = _trainer(score="el2n", n_seeds=2, score_epochs=1, prune_fraction=0.75)
    trainer.fit(tiny_run(data))
    n_keep = 60 - round(0.75 * 60)
    assert len(trainer.kept) == n_keep
    threshold = trainer.scores.sort(descending=True).values[n_keep - 1]
    assert (trainer.scores[trainer.kept] >= threshold).all()
    assert list(trainer.train_subset.indices) == trainer.kept.tolist()
    assert trainer.train_subset.dataset is data.train


def test_scoring_leaves_the_global_rng_and_the_model_alone():
    data = tiny_bundle()
    run = tiny_run(data)
    trainer = _trainer(score="el2n", n_seeds=2, score_epochs=2)
    trainer.setup(run)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    rng = torch.get_rng_state()
    trainer.compute_scores(run)
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(before[k], v) for k, v in run.model.state_dict().items())


@pytest.mark.parametrize("match_steps", [True, False])
def test_step_budget(match_steps):
    data = tiny_bundle()
    trainer = _trainer(score="random", prune_fraction=0.5, epochs=3, match_steps=match_steps)
    summary = trainer.fit(tiny_run(data))
    n = 60 if match_steps else 30
    assert summary["steps"] == 3 * math.ceil(n / 16)
    assert summary["data_diet/kept"] == 30 and summary["data_diet/train_size"] == 60


def test_random_control_is_a_seeded_uniform_subset():
    data = tiny_bundle(n=400)
    kept = {}
    for seed in (0, 0, 1):
        trainer = _trainer(score="random", prune_fraction=0.5)
        trainer.fit(tiny_run(data, seed))
        kept.setdefault(seed, []).append(trainer.kept)
    assert torch.equal(kept[0][0], kept[0][1])
    assert not torch.equal(kept[0][0], kept[1][0])
    # a uniform half of 0..399: its mean index is 199.5 +- 5.8 (std of the mean of 200 draws without
    # replacement), and it is not a contiguous block.
    for k in (kept[0][0], kept[1][0]):
        assert len(k) == 200 and abs(k.double().mean() - 199.5) < 4 * 5.8
        assert (k.diff() > 1).any()


def test_bad_params():
    with pytest.raises(ValueError):
        DataDiet(score="forgetting")
    with pytest.raises(ValueError):
        DataDiet(prune_fraction=1.0)
    assert DataDiet(score="grand").score_epochs == 0
    assert DataDiet(score="el2n", epochs=200).score_epochs == 20


def test_resume_reuses_the_saved_subset_and_continues_exactly(tmp_path, monkeypatch):
    """A run resumed from its checkpoint takes the kept subset from the checkpoint (no rescoring) and
    ends where an uninterrupted run ends."""
    data = tiny_bundle()
    params = {"score": "el2n", "n_seeds": 2, "score_epochs": 1, "prune_fraction": 0.5}
    straight = tiny_run(data)
    _trainer(epochs=3, **params).fit(straight)

    first = dataclasses.replace(tiny_run(data), run_dir=tmp_path)
    _trainer(epochs=1, **params).fit(first)

    def no_rescoring(self, run):
        raise AssertionError("a resumed run scored the data again")

    monkeypatch.setattr(DataDiet, "compute_scores", no_rescoring)
    resumed = dataclasses.replace(tiny_run(data), run_dir=tmp_path, resume=True)
    trainer = _trainer(epochs=3, **params)
    summary = trainer.fit(resumed)
    assert summary["steps"] == 3 * math.ceil(60 / 16)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_data_diet_is_the_shared_trainer_with_the_el2n_evaluator_plugged_in():
    """``data_diet`` and the dataprune kit's ``pruned_dataset_training`` with ``score: el2n`` score,
    select and train identically."""
    from paperzoo_dataprune.trainer import PrunedDatasetTraining

    data = tiny_bundle()
    params = {"n_seeds": 2, "score_epochs": 1, "prune_fraction": 0.5}
    ours, ours_run = _trainer(score="el2n", **params), tiny_run(data)
    ours.fit(ours_run)
    shared = PrunedDatasetTraining(
        score="el2n", keep="hard", batch_size=16, progress=False, device="cpu", **params
    )
    shared_run = tiny_run(data)
    shared.fit(shared_run)
    assert torch.equal(ours.scores, shared.scores) and torch.equal(ours.kept, shared.kept)
    for a, b in zip(ours_run.model.parameters(), shared_run.model.parameters(), strict=True):
        assert torch.equal(a, b)
