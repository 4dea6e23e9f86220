"""Evaluator: the infinite-width kernel recursion beside the empirical preactivation variance of real
random MLPs initialised with ``(C_b, C_W)``, fed with the run's inputs."""

from __future__ import annotations

import math

import torch
from paperzoo.data import DataBundle, batches
from paperzoo.errors import ParamError

from paperzoo_criticality.kernel import (
    ACTIVATIONS,
    chi_parallel,
    chi_perp,
    first_layer_kernel,
    kernel_recursion,
)
from paperzoo_criticality.mlp import empirical_kernels


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamError(name, f"got {value!r}; accepted: an integer >= 1")
    return value


class KernelRecursionCriticality:
    """Compare ``K^{(l+1)} = C_b + C_W <sigma(z)^2>_{K^{(l)}}`` (``K^{(1)} = C_b + C_W |x|^2 / n_0`` of each
    input) with ``(1/n) sum_i z_i^{(l)}(x)^2`` measured in ``networks`` random MLPs of width ``width`` and
    ``depth`` layers (weights ``N(0, C_W/n_in)``, biases ``N(0, C_b)``), averaged over the networks and the
    first ``max_inputs`` inputs of the split. The model of the run is not used: the evaluator checks an
    initialisation, on the run's inputs.

    Keys: ``k_first`` (``K^{(1)}``), ``k_last_theory`` / ``k_last_empirical`` (``K^{(depth)}``),
    ``max_rel_error`` (largest ``|empirical / theory - 1|`` over the layers), ``log_growth_theory`` /
    ``log_growth_empirical`` (``log K^{(depth)} / K^{(1)}``: 0 at criticality, negative when the signal
    vanishes, positive when it explodes), ``chi_parallel`` and ``chi_perp`` at ``K^{(1)}``.

    :param activation: ``relu``, ``tanh``, ``gelu``, ... (see ``paperzoo_criticality.kernel.ACTIVATIONS``).
    :param c_b: bias variance ``C_b >= 0``.
    :param c_w: weight variance ``C_W > 0`` (weights ``N(0, C_W / n_in)``).
    :param width: hidden width ``n``.
    :param depth: number of layers ``L``.
    :param networks: random networks averaged (the recursion is the ensemble's mean: one network's
        kernel fluctuates by a relative amount that grows with ``depth / width``).
    :param max_inputs: inputs of the split used (the first ones).
    :param split: ``val`` or ``train``.
    :param seed: seed of the first network (network ``m`` uses ``seed + m``).
    """

    keys = (
        "k_first",
        "k_last_theory",
        "k_last_empirical",
        "max_rel_error",
        "log_growth_theory",
        "log_growth_empirical",
        "chi_parallel",
        "chi_perp",
    )

    def __init__(
        self,
        activation: str = "relu",
        c_b: float = 0.0,
        c_w: float = 2.0,
        width: int = 512,
        depth: int = 20,
        networks: int = 8,
        max_inputs: int = 16,
        split: str = "val",
        seed: int = 0,
    ):
        if activation not in ACTIVATIONS:
            raise ParamError("activation", f"got {activation!r}; accepted: {', '.join(ACTIVATIONS)}")
        if not isinstance(c_b, (int, float)) or isinstance(c_b, bool) or c_b < 0:
            raise ParamError("c_b", f"got {c_b!r}; accepted: a number >= 0")
        if not isinstance(c_w, (int, float)) or isinstance(c_w, bool) or c_w <= 0:
            raise ParamError("c_w", f"got {c_w!r}; accepted: a number > 0")
        if split not in ("val", "train"):
            raise ParamError("split", f"got {split!r}; accepted: 'val' or 'train'")
        self.width, self.depth = _positive_int("width", width), _positive_int("depth", depth)
        self.networks, self.max_inputs = (
            _positive_int("networks", networks),
            _positive_int("max_inputs", max_inputs),
        )
        self.activation, self.c_b, self.c_w, self.split, self.seed = (
            activation,
            float(c_b),
            float(c_w),
            split,
            seed,
        )

    def inputs(self, data: DataBundle) -> torch.Tensor:
        """The first ``max_inputs`` inputs of the split, flattened to ``[N, n_0]`` (float64)."""
        x, _ = next(iter(batches(getattr(data, self.split), self.max_inputs)))
        return x.reshape(len(x), -1).to(torch.float64)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        x = self.inputs(data)
        k1 = first_layer_kernel(x, self.c_b, self.c_w)
        theory = kernel_recursion(self.activation, k1, self.c_b, self.c_w, self.depth).mean(0)
        runs = [
            empirical_kernels(x, self.activation, self.c_b, self.c_w, self.width, self.depth, self.seed + m)
            for m in range(self.networks)
        ]
        empirical = torch.stack(runs).mean((0, 2))
        k_first = float(k1.mean())
        return {
            "k_first": k_first,
            "k_last_theory": float(theory[-1]),
            "k_last_empirical": float(empirical[-1]),
            "max_rel_error": float((empirical / theory - 1).abs().max()),
            "log_growth_theory": math.log(float(theory[-1]) / k_first),
            "log_growth_empirical": math.log(float(empirical[-1]) / k_first),
            "chi_parallel": float(chi_parallel(self.activation, k_first, self.c_w)),
            "chi_perp": float(chi_perp(self.activation, k_first, self.c_w)),
        }
