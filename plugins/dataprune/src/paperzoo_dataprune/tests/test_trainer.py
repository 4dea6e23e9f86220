"""The pruned trainer: callable and evaluator-name scores, averaging over scoring models, the kept
subset is what trains, the step budget, resume without rescoring, config-level use."""

import dataclasses
import math

import pytest
import torch
from paperzoo.builtins.layers import MLP
from paperzoo.data import fetch
from paperzoo.errors import ParamError

from paperzoo_dataprune.scoring import subset
from paperzoo_dataprune.testing import tiny_bundle, tiny_run
from paperzoo_dataprune.trainer import PrunedDatasetTraining


def _trainer(**kw):
    return PrunedDatasetTraining(**{"batch_size": 16, "epochs": 1, "progress": False, "device": "cpu", **kw})


def first_feature(model, data):
    """A score that ignores the model: the first input feature of each training example."""
    return data.train.tensors[0][:, 0]


def output_norm(model, data):
    """A score that reads the model: the norm of its output on each training example."""
    with torch.no_grad():
        return model(data.train.tensors[0]).norm(dim=-1)


@pytest.mark.parametrize("keep", ["hard", "easy"])
def test_callable_score_selects_and_trains_on_the_subset(keep):
    data = tiny_bundle()
    trainer = _trainer(score=first_feature, keep=keep, prune_fraction=0.75)
    summary = trainer.fit(tiny_run(data))
    feature = data.train.tensors[0][:, 0]
    kept = set(trainer.kept.tolist())
    other = torch.tensor([i for i in range(60) if i not in kept])
    if keep == "hard":
        assert feature[trainer.kept].min() > feature[other].max()
    else:
        assert feature[trainer.kept].max() < feature[other].min()
    assert list(trainer.train_subset.indices) == trainer.kept.tolist() and len(kept) == 15
    assert trainer.train_subset.dataset is data.train
    assert summary["prune/kept"] == 15 and summary["prune/train_size"] == 60


def test_scores_average_independently_initialised_models():
    data = tiny_bundle()
    run = tiny_run(data)
    trainer = _trainer(score=output_norm, n_seeds=3, score_epochs=0)
    trainer.fit(run)
    per_seed = []
    for s in trainer.scoring_seeds(run):
        torch.manual_seed(s)
        per_seed.append(output_norm(MLP(5, 3, [8]), data))
    torch.testing.assert_close(trainer.scores, torch.stack(per_seed).mean(0), rtol=1e-6, atol=1e-7)
    assert not torch.allclose(per_seed[0], per_seed[1])


def test_scoring_leaves_the_global_rng_and_the_model_alone():
    data = tiny_bundle()
    run = tiny_run(data)
    trainer = _trainer(score=output_norm, n_seeds=2, score_epochs=2)
    trainer.setup(run)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    rng = torch.get_rng_state()
    trained = trainer.compute_scores(run)
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    untrained = _trainer(score=output_norm, n_seeds=2, score_epochs=0)
    untrained.setup(run)
    at_init = untrained.compute_scores(run)
    assert not torch.allclose(trained, at_init)  # score_epochs > 0 trains the scoring models


def test_evaluator_name_is_resolved_through_the_registry(monkeypatch):
    import paperzoo

    class Evaluator:
        def __init__(self, sign):
            self.sign = sign

        def scores(self, model, data):
            return self.sign * data.train.tensors[0][:, 0]

    built = {}

    def create(name, kind=None, **params):
        built.update(name=name, kind=kind, params=params)
        return Evaluator(**params)

    monkeypatch.setattr(paperzoo, "create", create)
    data = tiny_bundle()
    trainer = _trainer(score="some_score", score_params={"sign": -1.0}, keep="hard", prune_fraction=0.5)
    trainer.fit(tiny_run(data))
    assert built == {"name": "some_score", "kind": "evaluator", "params": {"sign": -1.0}}
    easy = _trainer(score=first_feature, keep="easy", prune_fraction=0.5)
    easy.fit(tiny_run(data))
    assert torch.equal(trainer.kept, easy.kept)  # hardest of -f = easiest of f


@pytest.mark.parametrize("match_steps", [True, False])
def test_step_budget(match_steps):
    trainer = _trainer(keep="random", prune_fraction=0.5, epochs=3, match_steps=match_steps)
    summary = trainer.fit(tiny_run(tiny_bundle()))
    n = 60 if match_steps else 30
    assert summary["steps"] == 3 * math.ceil(n / 16)
    assert trainer.scores is None


def test_bad_params():
    with pytest.raises(ValueError):
        PrunedDatasetTraining(keep="hard")  # no score
    with pytest.raises(ValueError):
        PrunedDatasetTraining(keep="median", score=first_feature)
    with pytest.raises(ValueError):
        PrunedDatasetTraining(keep="random", prune_fraction=1.0)
    with pytest.raises(ValueError):
        _trainer(score=first_feature, score_params={"a": 1})


def test_resume_reuses_the_saved_subset_and_continues_exactly(tmp_path, monkeypatch):
    data = tiny_bundle()
    params = {"score": output_norm, "n_seeds": 2, "score_epochs": 1, "prune_fraction": 0.5}
    straight = tiny_run(data)
    _trainer(epochs=3, **params).fit(straight)
    _trainer(epochs=1, **params).fit(dataclasses.replace(tiny_run(data), run_dir=tmp_path))

    def no_rescoring(self, run):
        raise AssertionError("a resumed run scored the data again")

    monkeypatch.setattr(PrunedDatasetTraining, "compute_scores", no_rescoring)
    resumed = dataclasses.replace(tiny_run(data), run_dir=tmp_path, resume=True)
    summary = _trainer(epochs=3, **params).fit(resumed)
    assert summary["steps"] == 3 * math.ceil(60 / 16)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"keep": "hard"}, "score"),
        ({"keep": "median", "score": first_feature}, "keep"),
        ({"keep": "random", "prune_fraction": 1.0}, "prune_fraction"),
        ({"keep": "random", "offset_fraction": -0.1}, "offset_fraction"),
        ({"keep": "random", "n_seeds": 0}, "n_seeds"),
        ({"keep": "random", "score_epochs": -1}, "score_epochs"),
        ({"score": first_feature, "score_params": {"a": 1}}, "score_params"),
    ],
)
def test_bad_params_name_the_param(params, name):
    with pytest.raises(ParamError) as info:
        PrunedDatasetTraining(**params)
    assert info.value.param == name


def test_trained_scoring_without_make_optimizer_is_a_clear_error():
    run = dataclasses.replace(tiny_run(tiny_bundle()), make_optimizer=None)
    with pytest.raises(ValueError, match="make_optimizer"):
        _trainer(score=output_norm, score_epochs=1).fit(run)


def test_kept_subset_holds_tensor_indices_that_fetch_reads():
    data = tiny_bundle()
    inner = subset(data.train, torch.arange(59, -1, -2))  # 30 examples, in reverse order
    outer = subset(inner, torch.tensor([0, 3, 4]))
    assert outer.dataset is data.train and isinstance(outer.indices, torch.Tensor)
    x, y = fetch(outer, torch.tensor([2, 0]))
    assert torch.equal(x, data.train.tensors[0][[51, 59]]) and torch.equal(y, data.train.tensors[1][[51, 59]])
    trainer = _trainer(keep="random", prune_fraction=0.5)
    trainer.fit(tiny_run(data))
    assert isinstance(trainer.train_subset.indices, torch.Tensor)


def test_resumed_run_reports_the_saved_scoring_time(tmp_path):
    data = tiny_bundle()
    params = {"score": output_norm, "n_seeds": 2, "score_epochs": 1, "prune_fraction": 0.5}
    first = _trainer(epochs=1, **params)
    first.fit(dataclasses.replace(tiny_run(data), run_dir=tmp_path))
    resumed = _trainer(epochs=2, **params)
    summary = resumed.fit(dataclasses.replace(tiny_run(data), run_dir=tmp_path, resume=True))
    assert first.score_seconds > 0 and resumed.score_seconds == first.score_seconds
    assert summary["prune/score_seconds"] == round(first.score_seconds, 3)
