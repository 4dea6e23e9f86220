"""Exact properties: mask density, pruned weights held at zero, rewinding to theta_0 bitwise, the
norm-matched control's initial norm, the global pool, and resuming inside any stage bitwise."""

from __future__ import annotations

import json
import math

import pytest
import torch

from paperzoo_grokking_tickets.model import GrokkingMLP, modular_addition, split_pairs
from paperzoo_grokking_tickets.tests.helpers import Recording, adamw, fit
from paperzoo_grokking_tickets.trainer import global_magnitude_masks, norm_matching_scale

P = 7


def tiny_run(**params):
    torch.manual_seed(0)
    model = GrokkingMLP(P, 12, 6)
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    data = modular_addition(P, 0.5, symmetric=False, seed=0)
    trainer = fit(model, data, max_steps=6, batch_size=24, eval_every=3, **params)
    return trainer, theta0


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.6, 0.9])
def test_mask_density_is_exact_and_removes_the_smallest_magnitudes(rate):
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(13, 7, generator=g), torch.randn(5, 13, generator=g) * 0.1]
    masks = global_magnitude_masks(weights, rate)
    n = 13 * 7 + 5 * 13
    kept = sum(int(m.sum()) for m in masks)
    assert kept == n - math.floor(rate * n)
    removed = torch.cat([w[~m].abs() for w, m in zip(weights, masks)])
    survivors = torch.cat([w[m].abs() for w, m in zip(weights, masks)])
    if removed.numel():
        assert removed.max() < survivors.min()  # one global threshold across tensors


def test_norm_matching_scale_equalises_the_l2_norm():
    g = torch.Generator().manual_seed(2)
    weights = [torch.randn(9, 4, generator=g), torch.randn(3, 9, generator=g)]
    masks = global_magnitude_masks(weights, 0.6)
    c = norm_matching_scale(weights, masks)
    ticket = math.sqrt(sum(float((w * m).pow(2).sum()) for w, m in zip(weights, masks)))
    scaled = math.sqrt(sum(float((c * w).pow(2).sum()) for w in weights))
    assert 0 < c < 1 and scaled == pytest.approx(ticket, rel=1e-6)


def test_ticket_starts_from_theta0_bitwise_and_pruned_weights_stay_zero():
    starts = {}

    class Spy(Recording):
        def begin_stage(self, run, name):
            super().begin_stage(run, name)
            starts[name] = {k: v.clone() for k, v in run.model.state_dict().items()}

    torch.manual_seed(0)
    model = GrokkingMLP(P, 12, 6)
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    data = modular_addition(P, 0.5, symmetric=False, seed=0)
    trainer = Spy(device="cpu", progress=False, rate=0.6, max_steps=6, batch_size=24, eval_every=3)
    from paperzoo.trainer import Run

    trainer.fit(Run(model=model, data=data, make_optimizer=adamw()))
    masks = dict(zip(trainer.pruned_names, trainer.masks))
    for name, w0 in theta0.items():
        assert torch.equal(starts["dense"][name], w0)
        assert torch.equal(starts["ticket"][name], w0 * masks[name])  # survivors: theta_0 bitwise
        assert torch.equal(starts["norm_matched"][name], w0 * trainer.records["norm_matched"]["scale"])
    n = sum(m.numel() for m in masks.values())
    assert sum(int(m.sum()) for m in masks.values()) == n - int(0.6 * n)
    final = trainer.stage_weights["ticket"]
    for name, m in masks.items():
        assert (final[name][~m] == 0).all(), "a pruned weight moved during retraining"
        assert (final[name][m] != theta0[name][m]).any(), "the survivors were not trained"
    # the ticket's mask comes from the dense run's final weights
    dense = trainer.stage_weights["dense"]
    assert torch.equal(
        torch.cat([masks[k].flatten() for k in trainer.pruned_names]),
        torch.cat(
            [m.flatten() for m in global_magnitude_masks([dense[k] for k in trainer.pruned_names], 0.6)]
        ),
    )


def test_rate_zero_ticket_retraces_the_dense_run():
    trainer, _ = tiny_run(rate=0.0, norm_matched=False)
    dense, ticket = trainer.stage_weights["dense"], trainer.stage_weights["ticket"]
    assert all(torch.equal(dense[k], ticket[k]) for k in dense)
    assert trainer.records["dense"]["curve"] == trainer.records["ticket"]["curve"]


def test_retrain_steps_sets_the_length_of_the_later_stages():
    trainer, _ = tiny_run(rate=0.5, retrain_steps=3)
    assert [s for s, _ in trainer.records["dense"]["curve"]] == [0, 3, 6]
    for stage in ("norm_matched", "ticket"):
        assert [s for s, _ in trainer.records[stage]["curve"]] == [0, 3]


def test_steps_to_target_is_the_first_crossing_of_the_curve():
    trainer, _ = tiny_run(rate=0.5, target_accuracy=0.01)
    for record in trainer.records.values():
        first = next(step for step, acc in record["curve"] if acc >= 0.01)
        assert record["steps_to_target"] == first
    assert [s for s, _ in trainer.records["dense"]["curve"]] == [0, 3, 6]


def _config(tmp, name, **trainer):
    return {
        "seed": 0,
        "data": {"name": "grokking_modular_addition", "modulus": P, "train_fraction": 0.5},
        "model": {"name": "grokking_mlp", "modulus": P, "d_emb": 12, "d_model": 6},
        "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 1.0},
        "trainer": {
            "name": "grokking_ticket",
            "max_steps": 4,
            "batch_size": 12,
            "eval_every": 2,
            "progress": False,
            **trainer,
        },
        "evaluators": [{"name": "accuracy"}],
        "output": {"dir": str(tmp), "name": name},
    }


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    from paperzoo import engine

    first = engine.execute(_config(tmp_path, "run"))
    again = engine.execute(_config(tmp_path, "run"), resume_dir=first["run_dir"])
    assert first["stages"] == again["stages"] and first["density"] == again["density"]


# 8 dense steps (2 epochs of 4 steps), 6 per later stage; checkpoints every 3 steps of every stage
LONG = {"max_steps": 8, "retrain_steps": 6, "checkpoint_every": 3}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from paperzoo import engine

    tmp = tmp_path_factory.mktemp("whole")
    return tmp / "whole", engine.execute(_config(tmp, "whole", **LONG))


def _latest(run_dir):
    return run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()


def _curves(run_dir):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["stage"], r["step"], r["test_accuracy"]) for r in lines if "stage" in r]


@pytest.mark.parametrize(
    "crash_at, every, resumed_from",
    [
        ((0, 7), 3, "step-000006"),  # dense stage, second epoch
        ((2, 5), 3, "step-000003"),  # ticket stage
        ((0, 5), 0, "step-000000"),  # no periodic checkpoints: the dense stage resumes from its start
    ],
)
def test_a_run_stopped_inside_a_stage_resumes_there_and_ends_bitwise_equal(
    tmp_path, monkeypatch, uninterrupted, crash_at, every, resumed_from
):
    """Stop the run after step k of a stage (before that step's checkpoint), resume: the run continues
    from the stage's last checkpoint (not from the stage's start) and its final weights, masks,
    summary and test-accuracy curves equal those of an uninterrupted run bit for bit."""
    from paperzoo import engine
    from safetensors.torch import load_file

    from paperzoo_grokking_tickets import trainer as module

    whole_dir, whole = uninterrupted
    original = module._MaskAndCurve.on_step_end

    def crash(self, tr, loss):
        original(self, tr, loss)
        if (tr.stage, tr.state.step) == crash_at:
            raise KeyboardInterrupt

    config = _config(tmp_path, "cut", **{**LONG, "checkpoint_every": every})
    monkeypatch.setattr(module._MaskAndCurve, "on_step_end", crash)
    with pytest.raises(KeyboardInterrupt):
        engine.execute(config)
    monkeypatch.setattr(module._MaskAndCurve, "on_step_end", original)
    cut_dir = tmp_path / "cut"
    assert _latest(cut_dir).name == resumed_from
    extra = torch.load(_latest(cut_dir) / "state.pt", weights_only=False)["extra"]
    assert (extra["stage"], extra["in_stage"]) == (crash_at[0], True)
    resumed = engine.execute(config, resume_dir=cut_dir)

    for key in ("stages", "density", "train_loss", "steps", "accuracy"):
        assert resumed[key] == whole[key], key
    assert _curves(cut_dir) == _curves(whole_dir)
    for a, b in (
        (whole_dir / "masks.safetensors", cut_dir / "masks.safetensors"),
        (_latest(whole_dir) / "model.safetensors", _latest(cut_dir) / "model.safetensors"),  # the ticket
    ):
        a, b = load_file(str(a)), load_file(str(b))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_split_and_bad_params():
    train, test = split_pairs(5, 0.4, seed=0, symmetric=True)
    assert len(train) == int(0.4 * 15) and sorted(train + test) == [
        (a, b) for a in range(5) for b in range(a, 5)
    ]
    from paperzoo.errors import ParamError

    from paperzoo_grokking_tickets.trainer import GrokkingTicket

    for bad in (
        {"rate": 1.0},
        {"rate": -0.1},
        {"eval_every": 0},
        {"target_accuracy": 0.0},
        {"retrain_steps": 0},
        {"norm_matched": "no"},
    ):
        with pytest.raises(ParamError):
            GrokkingTicket(**bad)
    with pytest.raises(ParamError):
        modular_addition(1)
