"""Exact properties: the schedule's ends and closed forms, the average parameter count against the
recorded per-step counts and the schedule's integral, masks held through training, the reduction to
the plain loop at zero sparsity, planted scaling-law constants recovered, and bad params refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_compress.sparsity import MaskedLinear
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_sparse_pretraining_schedule.evaluate import AvgParamScalingLaw
from paperzoo_sparse_pretraining_schedule.law import fit_scaling_law
from paperzoo_sparse_pretraining_schedule.pruner import GradualMagnitudePruner
from paperzoo_sparse_pretraining_schedule.schedule import SparsitySchedule, cubic_sparsity, kept_count
from paperzoo_sparse_pretraining_schedule.trainer import GradualMagnitudePruning


# -- the schedule -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cubic", "geometric"])
@pytest.mark.parametrize("total, s_f", [(8, 0.5), (100, 0.75), (997, 0.6)])
def test_schedule_is_exactly_zero_before_t0_and_exactly_s_f_from_t1(kind, total, s_f):
    sch = SparsitySchedule(s_f, total, kind=kind, every=1 if kind == "cubic" else 3)
    assert (sch.t0, sch.t1) == (round(0.25 * total), round(0.75 * total))
    values = [sch.sparsity(k) for k in range(total)]
    assert all(v == 0.0 for v in values[: sch.t0 + (kind == "cubic")])  # cubic: s(t0) = 0 too
    if kind == "cubic":
        assert all(v == s_f for v in values[sch.t1 :])
    else:  # ((1 - s_f)^(1/n))^n: n roundings of a power, within 1e-13 of 1 - s_f
        assert values[sch.t0] > 0.0 and all(abs(v - s_f) < 1e-13 for v in values[sch.t1 :])
    assert all(b >= a for a, b in zip(values, values[1:]))  # sparsity never decreases


def test_cubic_closed_form_points():
    # (1 - u)^3 at u = 1/2 is 1/8; at u = 1/4 it is 27/64
    assert cubic_sparsity(50, 25, 75, 0.8) == pytest.approx(0.8 * 7 / 8, abs=1e-15)
    assert cubic_sparsity(37.5, 25, 75, 0.8) == pytest.approx(0.8 * (1 - 27 / 64), abs=1e-15)
    assert cubic_sparsity(24.999, 25, 75, 0.8) == 0.0 and cubic_sparsity(75, 25, 75, 0.8) == 0.8


@pytest.mark.parametrize("total", [8, 40, 400, 4000])
def test_mean_sparsity_equals_the_sum_closed_form_and_tends_to_the_integral(total):
    s_f = 0.75
    sch = SparsitySchedule(s_f, total)
    t1, length = sch.t1, sch.t1 - sch.t0
    # sum_{j<L} (1 - (1 - j/L)^3) = L - (1/L^3) sum_{i=1..L} i^3 = L - (L + 1)^2 / (4 L)
    exact_sum = s_f * (length - (length + 1) ** 2 / (4 * length) + total - t1) / total
    assert sch.mean_sparsity() == pytest.approx(exact_sum, abs=1e-13)
    # the integral: s_f (3/4 L + T - t1) / T; the left sum falls short by s_f (1/2 + 1/(4L)) / T
    integral = s_f * (0.75 * length + total - t1) / total
    assert sch.closed_form_mean_sparsity() == pytest.approx(integral, abs=1e-15)
    gap = integral - sch.mean_sparsity()
    assert gap == pytest.approx(s_f * (0.5 + 1 / (4 * length)) / total, abs=1e-13)
    if total % 4 == 0:  # t0, t1 exactly at 25% / 75%: the paper's average density 1 - 0.625 s_f
        assert sch.closed_form_mean_sparsity() == pytest.approx(0.625 * s_f, abs=1e-15)


def test_geometric_schedule_multiplies_the_kept_fraction_per_update():
    sch = SparsitySchedule(0.75, 16, every=4, kind="geometric")
    kept = [sch.target_density(u) for u in sch.update_steps()]
    assert sch.update_steps() == [4, 8, 12]
    for i, k in enumerate(kept, start=1):
        assert k == pytest.approx(0.25 ** (i / 3), abs=1e-15)


# -- the pruner --------------------------------------------------------------------------------------
def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))


def test_global_update_prunes_the_smallest_survivors_and_never_regrows():
    model = _mlp()
    pruner = GradualMagnitudePruner(model, SparsitySchedule(0.8, 20))
    previous = {k: m.mask.clone() for k, m in pruner.layers.items()}
    g = torch.Generator().manual_seed(3)
    for density in (0.7, 0.5, 0.3, 0.2):
        with torch.no_grad():  # "training" between updates moves every surviving weight
            for m in pruner.layers.values():
                m.weight.add_(0.3 * torch.randn(m.weight.shape, generator=g)).mul_(m.mask)
        before = torch.cat([m.weight.flatten().abs() for m in pruner.layers.values()])
        was = torch.cat([m.mask.flatten() for m in pruner.layers.values()])
        pruner.prune_to(density)
        now = torch.cat([m.mask.flatten() for m in pruner.layers.values()])
        assert int(now.sum()) == pruner.nonzero() == kept_count(density, pruner.total)
        assert not (now & ~was).any()  # no regrowth
        assert before[was & ~now].max() <= before[now].min()  # one global threshold
        for k, m in pruner.layers.items():
            assert not (m.mask & ~previous[k]).any() and torch.all(m.weight[~m.mask] == 0)
            previous[k] = m.mask.clone()


def test_layerwise_scope_gives_every_layer_the_same_density():
    pruner = GradualMagnitudePruner(_mlp(), SparsitySchedule(0.5, 10), scope="layerwise", exclude=["4"])
    assert sorted(pruner.layers) == ["0", "2"]  # the excluded output layer stays an nn.Linear
    pruner.prune_to(0.35)
    for m in pruner.layers.values():
        assert int(m.mask.sum()) == int(0.35 * m.weight.numel())


# -- the trainer on a tiny decoder ----------------------------------------------------------------
class _Blocks(torch.utils.data.Dataset):
    def __init__(self, ids: torch.Tensor):
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i, :-1], self.ids[i, 1:]


def _run(trainer: Supervised, steps: int, seed: int = 0, run_dir=None, resume: bool = False):
    torch.manual_seed(seed)
    model = TinyLMDecoder(vocab_size=32, max_seq_len=16, d_model=16, n_layers=1, n_heads=2)
    ids = torch.randint(32, (64, 17), generator=torch.Generator().manual_seed(1))
    data = DataBundle(_Blocks(ids), None, "language_modeling", vocab_size=32)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    run = Run(model=model, data=data, optimizer=opt, seed=seed, run_dir=run_dir, resume=resume)
    summary = trainer.fit(run)
    return model, summary


def test_trainer_counts_are_the_schedule_and_n_avg_their_mean():
    steps = 12
    trainer = GradualMagnitudePruning(final_sparsity=0.75, max_steps=steps, batch_size=8, progress=False)
    model, summary = _run(trainer, steps)
    sch = trainer.schedule
    n = summary["n_dense"]
    want = [kept_count(1.0 - sch.sparsity(k), n) for k in range(steps)]
    assert trainer.counts == want
    assert summary["n_avg"] == sum(want) / steps
    # within the truncation of each count, Nbar = n (1 - mean sparsity)
    assert abs(summary["n_avg"] - n * (1 - sch.mean_sparsity())) <= 1.0
    assert summary["n_final"] == kept_count(0.25, n) and summary["density"] == pytest.approx(0.25, abs=1 / n)
    # the weights themselves hold the zeros (AdamW with weight decay ran on them) and match the masks
    masked = [m for m in model.modules() if isinstance(m, MaskedLinear)]
    assert len(masked) == 8  # q, k, v, o, gate, up, down and the head (pruned too unless excluded)
    assert sum(int(torch.count_nonzero(m.weight)) for m in masked) == summary["n_final"]


def test_zero_sparsity_is_the_plain_loop_bit_for_bit():
    steps = 6
    dense_model, dense = _run(Supervised(max_steps=steps, batch_size=8, progress=False), steps)
    gmp = GradualMagnitudePruning(final_sparsity=0.0, max_steps=steps, batch_size=8, progress=False)
    sparse_model, ours = _run(gmp, steps)
    assert ours["train_loss"] == dense["train_loss"]
    ref = dense_model.state_dict()
    for name, value in sparse_model.state_dict().items():
        if not name.endswith(".mask"):
            assert torch.equal(value, ref[name]), name
    assert gmp.counts == [gmp.pruner.total] * steps


class _Stop(Exception):
    pass


class _StopAt:
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer, loss):
        if trainer.state.step == self.step:
            raise _Stop


def test_resume_continues_the_counts_and_masks(tmp_path):
    steps = 12

    def make():
        return GradualMagnitudePruning(
            final_sparsity=0.5, max_steps=steps, batch_size=8, progress=False, checkpoint_every=5
        )

    full_model, full = _run(make(), steps, run_dir=tmp_path / "a")
    interrupted = make()
    interrupted.callbacks.append(_StopAt(7))  # killed after the step-5 checkpoint, inside the window
    with pytest.raises(_Stop):
        _run(interrupted, steps, run_dir=tmp_path / "b")
    resumed = make()
    model, again = _run(resumed, steps, run_dir=tmp_path / "b", resume=True)
    want = json.loads((tmp_path / "a" / "param_counts.json").read_text())
    assert resumed.counts == want and len(want) == steps
    assert again["n_avg"] == full["n_avg"] and again["n_final"] == full["n_final"]
    ref = full_model.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, ref[name]), name


# -- the scaling law ------------------------------------------------------------------------------
PLANTED = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}  # Chinchilla's constants


def test_planted_chinchilla_constants_are_recovered():
    n, d = np.meshgrid([2e6, 8e6, 3e7, 1e8, 4e8], [1e8, 1e9, 1e10, 1e11])
    n, d = n.ravel(), d.ravel()
    p = PLANTED
    loss = p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]
    fit = fit_scaling_law(n, loss, d)
    for k, v in PLANTED.items():
        assert fit.params[k] == pytest.approx(v, rel=1e-6), k
    assert fit.rmse_log < 1e-10


def test_same_tokens_drop_the_data_term_and_average_counts_fit_a_mixed_family_exactly():
    dense = np.array([1e4, 4e4, 1.6e5])
    n_avg = np.concatenate([dense, dense * (1 - 0.625 * 0.75)])  # 75%-sparse runs: Nbar = 0.53 N
    n_final = np.concatenate([dense, dense * 0.25])
    loss = 2.0 + 30.0 / n_avg**0.5
    ev = AvgParamScalingLaw(list(n_avg), list(loss), tokens=[1e6] * 6, n_final=list(n_final))
    out = ev(None, None)
    assert set(out) == {"E", "A", "alpha", "rmse_log", "r2", "rmse_log_final", "rmse_ratio"}
    assert out["E"] == pytest.approx(2.0, rel=1e-6) and out["alpha"] == pytest.approx(0.5, rel=1e-6)
    assert out["rmse_log"] < 1e-9 < out["rmse_log_final"]  # the final counts cannot fit both families


def test_bad_params_are_refused_by_name():
    for kwargs, param in (
        ({"final_sparsity": 1.0}, "final_sparsity"),
        ({"final_sparsity": -0.1}, "final_sparsity"),
        ({"start_fraction": 0.8}, "end_fraction"),
        ({"prune_every": 0}, "prune_every"),
        ({"schedule": "linear"}, "schedule"),
        ({"scope": "row"}, "scope"),
    ):
        with pytest.raises(ParamError) as err:
            GradualMagnitudePruning(**kwargs)
        assert err.value.param == param
    for kwargs, param in (
        ({"n_avg": [1, 2, 3], "loss": [3, 2, 1.5, 1.2]}, "n_avg"),
        ({"n_avg": [1, 2, 3, 4], "loss": [3, 2, 1.5, -1]}, "loss"),
        ({"n_avg": [1, 2, 3, 4], "loss": [3, 2, 1.5, 1.2], "n_final": [1, 0, 3, 4]}, "n_final"),
        ({"n_avg": [1, 2, 3, 4], "loss": [3, 2, 1.5, 1.2], "loss_fn": "l3"}, "loss_fn"),
    ):
        with pytest.raises(ParamError) as err:
            AvgParamScalingLaw(**kwargs)
        assert err.value.param == param
