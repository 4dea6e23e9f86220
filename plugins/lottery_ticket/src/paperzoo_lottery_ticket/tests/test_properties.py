"""Exact properties of iterative magnitude pruning: closed-form densities, rewinding, masks held
through training, the random-reinit control, and resuming."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from paperzoo.builtins.datasets import synthetic_classification
from paperzoo.builtins.evaluators import Accuracy
from paperzoo.builtins.layers import MLP
from paperzoo.trainer import Run

from paperzoo_lottery_ticket.masks import magnitude_prune, pools, prunable_weights
from paperzoo_lottery_ticket.trainer import IterativeMagnitudePruning


def survivors_after(n: int, rate: float, rounds: int) -> int:
    """n_{r+1} = n_r - round(p * n_r), the count each round leaves."""
    for _ in range(rounds):
        n -= round(rate * n)
    return n


# -- the pruning rule ------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.2, 0.35, 0.5])
def test_layerwise_density_is_one_minus_p_to_the_k(rate):
    g = torch.Generator().manual_seed(0)
    shapes = [(100, 64), (50, 100), (10, 50)]
    masks = [torch.ones(s, dtype=torch.bool) for s in shapes]
    for k in range(1, 8):
        weights = [torch.randn(s, generator=g) for s in shapes]  # "trained" weights differ every round
        masks = magnitude_prune(weights, masks, list(range(len(shapes))), [rate] * len(shapes))
        for m, s in zip(masks, shapes):
            n = s[0] * s[1]
            assert int(m.sum()) == survivors_after(n, rate, k)
            # |n_k - n (1-p)^k| <= sum_j 0.5 (1-p)^j < 1 / (2p)
            assert abs(float(m.float().mean()) - (1 - rate) ** k) < 1 / (2 * rate * n)


def test_pruned_entries_are_the_smallest_surviving_magnitudes_and_stay_pruned():
    g = torch.Generator().manual_seed(1)
    w = [torch.randn(40, 30, generator=g), torch.randn(7, 40, generator=g)]
    old = [torch.rand(t.shape, generator=g) > 0.3 for t in w]
    new = magnitude_prune(w, old, [0, 1], [0.25, 0.1])
    for t, m0, m1 in zip(w, old, new):
        assert not (m1 & ~m0).any(), "a pruned weight came back"
        removed, kept = t[m0 & ~m1].abs(), t[m1].abs()
        assert int(removed.numel()) == round([0.25, 0.1][len(t) == 7] * int(m0.sum()))
        assert removed.max() < kept.min()


def test_global_pool_shares_one_threshold_and_output_layer_is_pruned_apart():
    g = torch.Generator().manual_seed(2)
    # layers with very different scales: a global threshold prunes the small-scale layer hardest
    w = [
        torch.randn(50, 20, generator=g) * 0.1,
        torch.randn(30, 50, generator=g),
        torch.randn(5, 30, generator=g),
    ]
    groups, rates = pools(["linear", "linear", "output"], "global", 0.4, 0.1, None)
    assert groups == [0, 0, 1] and rates == [0.4, 0.1]
    new = magnitude_prune(w, [torch.ones_like(t, dtype=torch.bool) for t in w], groups, rates)
    hidden_removed = torch.cat([w[i][~new[i]].abs() for i in (0, 1)])
    hidden_kept = torch.cat([w[i][new[i]].abs() for i in (0, 1)])
    assert hidden_removed.numel() == round(0.4 * (1000 + 1500))
    assert hidden_removed.max() < hidden_kept.min()
    assert int((~new[2]).sum()) == round(0.1 * 150)
    assert float(new[0].float().mean()) < 0.2 < float(new[1].float().mean())


def test_layerwise_rates_per_kind_and_prunable_selection():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 16),
        torch.nn.Linear(16, 3),
    )
    found = prunable_weights(model)
    assert [p.name for p in found] == ["0.weight", "3.weight", "4.weight"]  # no bias, no norm
    assert [p.kind for p in found] == ["conv", "linear", "output"]
    assert pools([p.kind for p in found], "layerwise", 0.2, 0.1, 0.15) == ([0, 1, 2], [0.15, 0.2, 0.1])
    assert [p.kind for p in prunable_weights(model, output_layer="3")] == ["conv", "output", "linear"]


# -- the trainer -----------------------------------------------------------------------------------
class Recorder:
    """Test callback (runs after the mask callback): weights at the start of every training run,
    weights after step k of the dense run, and whether pruned entries were ever non-zero."""

    def __init__(self, k: int):
        self.k, self.at_k, self.leaks, self.grad_leaks = k, None, 0, 0
        self.starts, self.start_steps, self.start_lrs = [], [], []

    def on_train_start(self, tr):
        self.starts.append(
            (tr.stages()[tr.stage], copy.deepcopy(tr.run.model.state_dict()), [m.clone() for m in tr.masks])
        )
        self.start_steps.append(tr.state.step)
        self.start_lrs.append(tr.run.optimizer.param_groups[0]["lr"])

    def after_backward(self, tr):
        self.grad_leaks += sum(int((p.grad[~m] != 0).sum()) for p, m in zip(tr.pruned_params, tr.masks))

    def on_step_end(self, tr, loss):
        self.leaks += sum(int((p[~m] != 0).sum()) for p, m in zip(tr.pruned_params, tr.masks))
        if tr.stage == 0 and tr.state.step == self.k:
            self.at_k = copy.deepcopy(tr.run.model.state_dict())


def tiny_run(optimizer: str = "sgd", seed: int = 0) -> Run:
    data = synthetic_classification(n_samples=160, n_features=12, num_classes=3, seed=seed)
    torch.manual_seed(seed)
    model = MLP(12, 3, hidden=[24, 16])

    def make(params):
        params = list(params)
        if optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
        else:
            opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)

    return Run(model=model, data=data, evaluators={"accuracy": Accuracy()}, seed=seed, make_optimizer=make)


@pytest.mark.parametrize("rewind_step", [0, 3])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_survivors_are_rewound_and_pruned_weights_stay_zero(rewind_step, optimizer):
    run = tiny_run(optimizer)
    theta_0 = copy.deepcopy(run.model.state_dict())
    tr = IterativeMagnitudePruning(
        rounds=3,
        rate=0.3,
        output_rate=0.15,
        rewind_step=rewind_step,
        epochs=2,
        batch_size=32,
        progress=False,
        device="cpu",
    )
    rec = Recorder(rewind_step)
    tr.callbacks.append(rec)
    summary = tr.fit(run)
    rewound = theta_0 if rewind_step == 0 else rec.at_k
    assert rewound is not None and len(rec.starts) == 4
    names = [p.name for p in tr.prunable]
    for ((rnd, _), state, masks), step, lr in zip(rec.starts, rec.start_steps, rec.start_lrs):
        expect = theta_0 if rnd == 0 else rewound
        masks = dict(zip(names, masks))
        for key, value in state.items():
            target = expect[key] * masks[key] if key in masks else expect[key]
            assert torch.equal(value, target), f"round {rnd}: {key} is not m * theta_k"
        # training resumes at step k with the schedule at step k: lr_k = lr_0 (1 + cos(pi k / 10)) / 2
        assert step == (0 if rnd == 0 else rewind_step)
        assert lr == pytest.approx(rec.start_lrs[0] * (1 + math.cos(math.pi * step / 10)) / 2, abs=1e-12)
    assert rec.leaks == 0 and rec.grad_leaks == 0
    final = dict(run.model.named_parameters())
    for name, m in zip(names, tr.masks):
        assert torch.count_nonzero(final[name][~m]) == 0
        assert torch.count_nonzero(final[name][m]) == int(m.sum())  # survivors trained, not zeroed
    sizes = {"1.weight": 24 * 12, "3.weight": 16 * 24, "5.weight": 3 * 16}
    kept = [
        survivors_after(sizes["1.weight"], 0.3, r)
        + survivors_after(sizes["3.weight"], 0.3, r)
        + survivors_after(sizes["5.weight"], 0.15, r)
        for r in range(4)
    ]
    assert summary["density_per_round"] == pytest.approx([k / sum(sizes.values()) for k in kept], abs=0)
    assert summary["layer_density"]["1.weight"] == pytest.approx(0.7**3, abs=1 / (2 * 0.3 * 288))


def test_masks_are_what_keeps_pruned_weights_at_zero():
    """Without the mask callback, training moves pruned weights: the zero check above is not vacuous."""
    run = tiny_run("sgd")
    tr = IterativeMagnitudePruning(
        rounds=1, rate=0.5, output_rate=0.5, epochs=1, batch_size=32, progress=False, device="cpu"
    )
    tr.callbacks = []
    rec = Recorder(0)
    tr.callbacks.append(rec)
    tr.fit(run)
    assert rec.leaks > 0 and rec.grad_leaks > 0


def test_random_reinit_control_keeps_the_mask_with_new_values():
    run = tiny_run("sgd")
    theta_0 = copy.deepcopy(run.model.state_dict())
    tr = IterativeMagnitudePruning(
        rounds=2,
        rate=0.4,
        output_rate=0.2,
        control="random_reinit",
        epochs=1,
        batch_size=32,
        progress=False,
        device="cpu",
    )
    rec = Recorder(0)
    tr.callbacks.append(rec)
    summary = tr.fit(run)
    assert [s[0] for s in rec.starts] == [
        (0, "ticket"),
        (1, "control"),
        (1, "ticket"),
        (2, "control"),
        (2, "ticket"),
    ]
    names = [p.name for p in tr.prunable]
    for (_, control, cmasks), (_, ticket, tmasks) in (
        (rec.starts[1], rec.starts[2]),
        (rec.starts[3], rec.starts[4]),
    ):
        assert all(torch.equal(a, b) for a, b in zip(cmasks, tmasks)), "control and ticket masks differ"
        for name, m in zip(names, cmasks):
            assert torch.count_nonzero(control[name][~m]) == 0
            survivors = control[name][m]
            assert torch.count_nonzero(survivors) == survivors.numel()
            assert (survivors != theta_0[name][m]).all(), "control reused theta_0 values"
            # nn.Linear's own initialiser: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            assert survivors.abs().max() <= control[name].shape[1] ** -0.5
            assert torch.equal(ticket[name], theta_0[name] * m)
    m2 = rec.starts[3][2][0]
    assert (rec.starts[1][1]["1.weight"][m2] != rec.starts[3][1]["1.weight"][m2]).all(), (
        "same draw every round"
    )
    assert summary["control_accuracy_per_round"][0] is None
    assert len(summary["control_accuracy_per_round"]) == len(summary["accuracy_per_round"]) == 3


def _config(tmp, name, **trainer):
    return {
        "seed": 0,
        "data": {"name": "synthetic_classification", "n_samples": 128, "n_features": 8, "num_classes": 3},
        "model": {"name": "mlp", "in_features": 8, "num_classes": 3, "hidden": [16]},
        "optimizer": {
            "name": "sgd",
            "lr": 0.1,
            "momentum": 0.9,
            "scheduler": {"name": "cosine", "T_max": 12},
        },
        "trainer": {
            "name": "iterative_magnitude_pruning",
            "rounds": 2,
            "rate": 0.4,
            "output_rate": 0.2,
            "rewind_step": 2,
            "control": "random_reinit",
            "epochs": 2,
            "batch_size": 32,
            "checkpoint_every": 1,
            "progress": False,
            **trainer,
        },
        "evaluators": [{"name": "accuracy"}],
        "output": {"dir": str(tmp), "name": name},
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from paperzoo import engine

    tmp = tmp_path_factory.mktemp("whole")
    return tmp / "whole", engine.execute(_config(tmp, "whole"))


@pytest.mark.parametrize("crash_at", [(0, 2), (3, 6), (4, 3)])
def test_resume_after_interruption_reproduces_the_run(tmp_path, monkeypatch, uninterrupted, crash_at):
    """Stop the run at (stage, step), resume from its checkpoint: masks, weights and summary match an
    uninterrupted run. Stage 0 step 2: the checkpoint predates the rewind point; stage 3 is a control;
    stage 4 step 3 is the first step after the rewind point, so the round is prepared again."""
    from paperzoo import engine
    from safetensors.torch import load_file

    from paperzoo_lottery_ticket import trainer as module

    whole_dir, whole = uninterrupted
    original = module.MaskEnforcer.on_step_end

    def crash(self, tr, loss):
        original(self, tr, loss)
        if (tr.stage, tr.state.step) == crash_at:
            raise KeyboardInterrupt

    monkeypatch.setattr(module.MaskEnforcer, "on_step_end", crash)
    with pytest.raises(KeyboardInterrupt):
        engine.execute(_config(tmp_path, "cut"))
    monkeypatch.setattr(module.MaskEnforcer, "on_step_end", original)
    cut_dir = tmp_path / "cut"
    resumed = engine.execute(_config(tmp_path, "cut"), resume_dir=cut_dir)

    for key in ("density_per_round", "accuracy_per_round", "control_accuracy_per_round", "train_loss"):
        assert resumed[key] == whole[key]
    a, b = load_file(str(whole_dir / "masks.safetensors")), load_file(str(cut_dir / "masks.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ckpt = [
        d / "checkpoints" / (d / "checkpoints" / "latest").read_text().strip() for d in (whole_dir, cut_dir)
    ]
    a, b = (load_file(str(c / "model.safetensors")) for c in ckpt)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    lines = [json.loads(line) for line in (cut_dir / "metrics.jsonl").read_text().splitlines()]
    ends = [(r["stage"], r["round"], r["phase"]) for r in lines if r.get("round_end")]
    assert ends == [
        (0, 0, "ticket"),
        (1, 1, "control"),
        (2, 1, "ticket"),
        (3, 2, "control"),
        (4, 2, "ticket"),
    ]


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        IterativeMagnitudePruning(rate=1.0)
    with pytest.raises(ValueError):
        IterativeMagnitudePruning(control="shuffle")
    run = tiny_run()
    with pytest.raises(ValueError, match="rewind_step"):
        IterativeMagnitudePruning(rewind_step=100, epochs=1, batch_size=32, progress=False, device="cpu").fit(
            run
        )
