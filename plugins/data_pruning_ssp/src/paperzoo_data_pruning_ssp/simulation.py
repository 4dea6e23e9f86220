"""The teacher-student perceptron simulation of data pruning (Sorscher, Geirhos et al. 2022, Sec. 2).

A teacher perceptron ``T`` (a uniformly random unit vector in ``R^N``) labels ``P = alpha_tot N``
Gaussian inputs ``x ~ N(0, I_N)`` with ``y = sign(T . x)``. A probe ``J_p`` at angle ``theta`` to ``T``
(``theta = 0``: the teacher itself) measures each example's margin ``|J_p . x|``; small margins are hard.
A fraction ``f`` of the examples is kept (the hardest, the easiest, or a random subset, by the
``dataprune`` kit's selection rule on the score ``-|J_p . x|``), a student perceptron is trained on
them with the max-margin rule (a linear SVM without bias), and its test error is exact:
``eps = arccos(cos(J, T)) / pi`` for Gaussian inputs.

The paper's theory: at small ``alpha_tot`` keeping the easy examples is best; at large ``alpha_tot``
keeping the hard ones is best, and then the error falls faster than a power law in the kept data.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from paperzoo_dataprune.select import Keep, select_kept


def teacher_student_data(
    n_dim: int, n_examples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(teacher (N,), inputs (P, N), labels (P,))``: a unit teacher, Gaussian inputs, ``sign(T . x)``."""
    teacher = rng.standard_normal(n_dim)
    teacher /= np.linalg.norm(teacher)
    x = rng.standard_normal((n_examples, n_dim))
    return teacher, x, np.where(x @ teacher >= 0, 1.0, -1.0)


def probe(teacher: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at ``angle`` (radians) to the unit ``teacher``, in a random direction orthogonal to it."""
    u = rng.standard_normal(len(teacher))
    u -= (u @ teacher) * teacher
    u /= np.linalg.norm(u)
    return np.cos(angle) * teacher + np.sin(angle) * u


def generalization_error(student: np.ndarray, teacher: np.ndarray) -> float:
    """Exact test error of ``sign(J . x)`` against ``sign(T . x)`` for isotropic inputs: ``angle / pi``."""
    cos = float(student @ teacher / (np.linalg.norm(student) * np.linalg.norm(teacher)))
    return float(np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi)


def max_margin_student(x: np.ndarray, y: np.ndarray, c: float = 100.0) -> np.ndarray:
    """The max-margin perceptron through the origin (scikit-learn ``LinearSVC``, hinge loss, no bias,
    large ``C``: the hard-margin solution on separable data)."""
    from sklearn.svm import LinearSVC

    if len(np.unique(y)) < 2:  # one class only: the Hebbian direction is the max-margin one's limit
        return (y[:, None] * x).mean(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svm = LinearSVC(C=c, fit_intercept=False, loss="hinge", max_iter=20000, tol=1e-6, random_state=0)
        return svm.fit(x, y).coef_.ravel()


def pruning_error(
    n_dim: int, alpha_tot: float, fraction_kept: float, keep: Keep, seed: int, probe_angle: float = 0.0
) -> float:
    """Test error of a student trained on the ``fraction_kept`` of ``alpha_tot N`` examples kept by ``keep``.

    The teacher, data and probe depend on ``seed`` only, so the rules compare on the same data.
    """
    rng = np.random.default_rng(seed)
    teacher, x, y = teacher_student_data(n_dim, round(alpha_tot * n_dim), rng)
    margin = np.abs(x @ probe(teacher, probe_angle, rng))
    kept = select_kept(torch.from_numpy(-margin), 1.0 - fraction_kept, keep, seed=seed).numpy()
    return generalization_error(max_margin_student(x[kept], y[kept]), teacher)
