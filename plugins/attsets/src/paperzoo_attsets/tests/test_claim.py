"""The paper's claim at toy scale: AttSets aggregates a set better than mean and max pooling and is
more robust to set sizes it was not trained on (Yang et al., 2019, Sections 5-6: multi-view 3D
reconstruction, where AttSets beats mean/max pooling and degrades less as the number of views grows).

Toy version: a set regression whose target is the mean value of 1-3 flagged elements among
distractors (``attsets_informative_mean``). The same encoder/decoder (hidden 32) is trained with each
pooling (AttSets adds a 32x32 score layer, 1056 parameters, to a 4.4k-parameter network; the same
steps, batches and learning rate) on sets of 1-8 elements, and tested on sets of 1-8, 16 and 24.
"""

import pytest
import torch

from paperzoo_attsets.data import make_sets
from paperzoo_attsets.pool import AttSetsSetNet

SEEDS, STEPS, HIDDEN, SIZES = (0, 1, 2), 600, 32, tuple(range(1, 9))


def _train_and_test(pooling: str, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    xtr, ytr = make_sets(4096, SIZES, 4, 24, seed)
    model = AttSetsSetNet(4, HIDDEN, 1, pooling)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(STEPS):
        idx = torch.randint(len(xtr), (128,), generator=g)
        loss = ((model(xtr[idx]) - ytr[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = {}
    with torch.no_grad():
        for name, sizes in (("1-8", SIZES), ("16", (16,)), ("24", (24,))):
            xv, yv = make_sets(2048, sizes, 4, 24, seed + 10_000)
            out[name] = float(((model(xv) - yv) ** 2).mean())
    return out


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, float]]:
    """Test MSE per pooling and set size, averaged over 3 seeds."""
    runs = {p: [_train_and_test(p, s) for s in SEEDS] for p in ("attsets", "mean", "max")}
    return {p: {k: sum(r[k] for r in rs) / len(rs) for k in rs[0]} for p, rs in runs.items()}


def _record(record_property, results):
    for p, r in results.items():
        for k, v in r.items():
            record_property(f"mse_{p}_{k}", round(v, 5))


@pytest.mark.claim
def test_attsets_beats_mean_pooling_at_every_size(results, record_property):
    _record(record_property, results)
    for size in ("1-8", "16", "24"):
        assert results["attsets"][size] < results["mean"][size], (size, results)


@pytest.mark.claim
def test_attsets_beats_max_pooling_up_to_twice_the_trained_size(results):
    for size in ("1-8", "16"):
        assert results["attsets"][size] < results["max"][size], (size, results)


@pytest.mark.claim
def test_attsets_degrades_less_than_mean_pooling(results, record_property):
    """The error added by growing the sets from 1-8 to 24 elements."""
    growth = {p: r["24"] - r["1-8"] for p, r in results.items()}
    record_property("mse_growth_attsets", round(growth["attsets"], 5))
    record_property("mse_growth_mean", round(growth["mean"], 5))
    record_property("mse_growth_max", round(growth["max"], 5))
    assert growth["attsets"] < growth["mean"], growth


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="at 3x the trained size AttSets loses to max pooling (3 seeds: test MSE 0.0040 vs 0.0026 at 24 "
    "elements; growth from 1-8 to 24: +0.0039 vs +0.0006): the softmax leaks weight to distractors in "
    "proportion to their number, while max pooling's features do not depend on the set size",
)
def test_attsets_beats_and_degrades_less_than_max_pooling_at_24(results):
    att, mx = results["attsets"], results["max"]
    assert att["24"] < mx["24"] and att["24"] - att["1-8"] < mx["24"] - mx["1-8"], results
