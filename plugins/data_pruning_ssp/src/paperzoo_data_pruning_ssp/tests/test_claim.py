"""The paper's theory, reproduced by simulation (Sorscher, Geirhos et al. 2022, Sec. 2 and Fig. 1):
max-margin student perceptrons trained on pruned teacher-labelled Gaussian data in N = 50 dimensions,
the teacher as the probe that measures margins, 3 seeds (teacher and data draws, shared by the rules).

* Which examples to keep depends on the amount of data (kept fraction f = 0.3): at small data
  (alpha_tot = 1) keeping the easy (large-margin) examples beats random, which beats keeping the hard
  ones; at large data (alpha_tot = 32) keeping the hard (small-margin) examples is best.
* Better than power-law scaling: at a fixed budget of kept examples alpha_prune = P_kept / N, the error
  of hard pruning with the best f (the Pareto frontier over f in {0.1, 0.2, 0.35, 0.6, 1}) falls much
  faster from alpha_prune 1 to 4 than training on random subsets of the same size.
"""

import math

import numpy as np
import pytest

from paperzoo_data_pruning_ssp.evaluators import TeacherStudentPruningSim
from paperzoo_data_pruning_ssp.simulation import pruning_error

N, SEEDS = 50, [0, 1, 2]
FRACTIONS = (0.1, 0.2, 0.35, 0.6, 1.0)


def errors(alpha_tot: float) -> dict[str, float]:
    return TeacherStudentPruningSim(n_dim=N, alpha_tot=alpha_tot, fraction_kept=0.3, seeds=SEEDS)()


def mean_error(alpha_tot: float, fraction: float, keep: str) -> float:
    return float(np.mean([pruning_error(N, alpha_tot, fraction, keep, s) for s in SEEDS]))


@pytest.mark.claim
def test_easy_wins_at_small_data_hard_wins_at_large_data(record_property):
    small, large = errors(1.0), errors(32.0)
    for name, e in (("a1", small), ("a32", large)):
        for rule in ("hard", "easy", "random"):
            record_property(f"error_{rule}_{name}", round(e[f"error_{rule}"], 4))
    # measured (3 seeds): alpha 1: hard 0.452, easy 0.271, random 0.389;
    # alpha 32: hard 0.020, easy 0.024, random 0.045
    assert small["error_easy"] < small["error_random"] < small["error_hard"], small
    assert large["error_hard"] < large["error_easy"] and large["error_hard"] < large["error_random"], large


@pytest.mark.claim
def test_hard_pruning_frontier_beats_the_random_power_law(record_property):
    frontier, random = {}, {}
    for budget in (1.0, 4.0):
        frontier[budget] = min(mean_error(budget / f, f, "hard") for f in FRACTIONS)
        random[budget] = mean_error(budget, 1.0, "random")  # a random subset of alpha_prune N examples
    slope_hard = math.log(frontier[1.0] / frontier[4.0]) / math.log(4.0)
    slope_random = math.log(random[1.0] / random[4.0]) / math.log(4.0)
    record_property("error_hard_best_f_aprune4", round(frontier[4.0], 4))
    record_property("error_random_aprune4", round(random[4.0], 4))
    record_property("loglog_slope_hard_best_f", round(slope_hard, 3))
    record_property("loglog_slope_random", round(slope_random, 3))
    # measured (3 seeds): error at alpha_prune 4: 0.0138 (hard, best f) vs 0.111 (random);
    # log-log slopes over alpha_prune 1 -> 4: 2.15 vs 0.65
    assert frontier[4.0] < 0.5 * random[4.0], (frontier, random)
    assert slope_hard > slope_random + 0.5, (slope_hard, slope_random)
