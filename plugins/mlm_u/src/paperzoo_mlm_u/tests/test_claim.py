"""The paper's claim at small scale: on 5x5 DFS mazes, MLM-U (a bidirectional tinylm encoder) reaches a
higher exact-path accuracy than next-token prediction (a decoder of the same size) at equal steps.

Three seeds, each with its own mazes; both methods see the same rows in the same order, with the same
optimizer, schedule and learning rate. At this CPU budget (300 steps of 32 mazes, 2 blocks of width 32)
the claim does not reproduce: neither method solves a maze yet and NTP is far ahead in path-token
accuracy (measured figures in the xfail reason). The paper's advantage (2x faster convergence in GPU
hours on 5x5) is measured on 10^5 mazes over many epochs, which this test cannot afford.
"""

import pytest

from paperzoo_mlm_u.experiment import compare

SEEDS = (0, 1, 2)
SETTING = {"grid_n": 5, "n_mazes": 2000, "steps": 300, "batch": 32, "lr": 3e-3, "n_eval": 100, "d_model": 32}


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at CPU scale: after 300 steps (3 seeds, 5x5) neither solves a maze (exact path "
    "MLM-U 0.000 vs NTP 0.000 on every seed) and NTP is far ahead in path-token accuracy (0.239 vs 0.020)",
)
def test_mlm_u_beats_ntp_on_5x5_mazes(record_property):
    runs = [compare(seed, **SETTING) for seed in SEEDS]
    mean = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
    for key in ("mlm_u_exact", "ntp_exact", "mlm_u_token", "ntp_token"):
        record_property(key, round(mean[key], 4))
    print({k: [round(r[k], 3) for r in runs] for k in runs[0]})
    assert mean["mlm_u_exact"] > mean["ntp_exact"]
