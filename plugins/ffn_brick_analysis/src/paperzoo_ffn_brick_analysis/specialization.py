"""FFN neuron specialisation (Configurable Foundation Models, Xiao et al., 2024, empirical analysis of
emergent bricks): per-task activation frequencies of FFN neurons and the overlap of the task-specific
neuron sets.

For a layer of ``d`` FFN neurons with activation map ``a`` (the down projection's input), neuron ``j`` is
*activated* on a token (or example) when ``a_j > threshold``. Its *activation frequency* on a task is the
share of the task's tokens on which it is activated. The task-specific neurons of a layer are the ``k``
neurons of highest frequency (``rank_by="frequency"``) or of highest mean ``|a_j|`` (``"magnitude"``),
ties going to the lower index; the overlap of two tasks is the Jaccard index ``|A & B| / |A | B|`` of
their sets, per layer. Identical task inputs give 1; two independent uniformly random ``k``-subsets of
``d`` neurons give :func:`expected_random_jaccard` (about ``k / (2d - k)``).

Activations are read either at tinylm hook names through ``paperzoo_tinylm.hooks.capture`` (default
``blocks.*.mlp.post``) or, for any torch model, at the outputs of modules chosen by a glob over module
paths (``module="2"`` for the ReLU of the built-in ``mlp``; by default every activation module).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable

import torch
from torch import nn

DEFAULT_HOOK = "blocks.*.mlp.post"
ACTIVATION_MODULES = (nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.Softplus)


def _module_outputs(model: nn.Module, module: str | None) -> dict[str, nn.Module]:
    chosen = {
        name: m
        for name, m in model.named_modules()
        if (fnmatch.fnmatchcase(name, module) if module is not None else isinstance(m, ACTIVATION_MODULES))
    }
    if not chosen:
        what = f"module paths matching {module!r}" if module is not None else "activation modules"
        raise ValueError(f"module: the model has no {what}")
    return chosen


def _has_hook_points(model: nn.Module) -> bool:
    try:
        from paperzoo_tinylm.hooks import hook_points
    except ImportError:  # pragma: no cover - tinylm is a dependency
        return False
    return bool(hook_points(model))


@torch.no_grad()
def neuron_statistics(
    model: nn.Module,
    inputs: Iterable[torch.Tensor],
    hook: str = DEFAULT_HOOK,
    module: str | None = None,
    threshold: float = 0.0,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per layer (in forward order): ``(frequency, mean |activation|)``, each ``[d]``, over every token of
    ``inputs`` (an iterable of input batches). ``module`` given, or a model without tinylm hook points:
    the outputs of the modules at ``module`` (a glob of module paths; None: every activation module);
    otherwise the tinylm hooks matching ``hook``."""
    counts: dict[str, list] = {}

    def add(name: str, a: torch.Tensor) -> None:
        a = a.reshape(-1, a.shape[-1])
        c = counts.setdefault(name, [0, 0, 0.0])
        c[0] += a.shape[0]
        c[1] = c[1] + (a > threshold).sum(0)  # exact integer counts
        c[2] = c[2] + a.abs().sum(0, dtype=torch.float64)

    was_training = model.training
    model.eval()
    try:
        if module is None and _has_hook_points(model):
            from paperzoo_tinylm.hooks import capture

            for x in inputs:
                with capture(model, hook) as got:
                    model(x)
                for name, tensor in got.items():
                    add(name, tensor)
        else:
            handles = [
                m.register_forward_hook(lambda _m, _i, out, name=name: add(name, out))
                for name, m in _module_outputs(model, module).items()
            ]
            try:
                for x in inputs:
                    model(x)
            finally:
                for h in handles:
                    h.remove()
    finally:
        model.train(was_training)
    return {name: (c[1].double() / c[0], c[2] / c[0]) for name, c in counts.items()}


def top_k(scores: torch.Tensor, k: int) -> set[int]:
    """The ``k`` indices of highest score, ties to the lower index."""
    if not 1 <= k <= scores.numel():
        raise ValueError(f"k: got {k}; accepted: 1 <= k <= {scores.numel()} (the layer's width)")
    order = torch.sort(-scores.flatten(), stable=True).indices  # stable: ties keep the lower index first
    return set(order[:k].tolist())


def jaccard(a: set[int], b: set[int]) -> float:
    """``|a & b| / |a | b|`` (1 for two empty sets)."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def expected_random_jaccard(k: int, d: int) -> float:
    """Expected Jaccard index of two independent uniformly random ``k``-subsets of ``d`` items: the
    intersection ``X`` is hypergeometric, ``P(X = x) = C(k, x) C(d - k, k - x) / C(d, k)``, and the index is
    ``X / (2k - X)``."""
    if not 1 <= k <= d:
        raise ValueError(f"k, d: got ({k}, {d}); accepted: 1 <= k <= d")
    total = math.comb(d, k)
    return sum(math.comb(k, x) * math.comb(d - k, k - x) / total * x / (2 * k - x) for x in range(k + 1))


def task_overlaps(
    stats_a: dict[str, tuple[torch.Tensor, torch.Tensor]],
    stats_b: dict[str, tuple[torch.Tensor, torch.Tensor]],
    k: int,
    rank_by: str = "frequency",
) -> dict[str, float]:
    """Jaccard index of the two tasks' top-``k`` neuron sets, per layer."""
    if rank_by not in ("frequency", "magnitude"):
        raise ValueError(f"rank_by: got {rank_by!r}; accepted: 'frequency' or 'magnitude'")
    i = 0 if rank_by == "frequency" else 1
    if stats_a.keys() != stats_b.keys():
        raise ValueError("the two tasks were measured at different layers")
    return {name: jaccard(top_k(stats_a[name][i], k), top_k(stats_b[name][i], k)) for name in stats_a}
