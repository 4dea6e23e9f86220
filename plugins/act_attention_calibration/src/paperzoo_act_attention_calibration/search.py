"""The offline head search of ACT: calibrate one head at a time on a calibration set and keep the heads
whose calibration raises the score (the official scripts loop over layers and heads with
``CALIBRATION=1 LAYER_NUM=l HEAD_NUM=h`` and log the calibration-set accuracy of each)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager

from torch import nn

from paperzoo_act_attention_calibration.calibration import BETA, THRESHOLD
from paperzoo_act_attention_calibration.kernel import calibrated


def official_layers(n_layers: int) -> range:
    """The layers the official scripts search for a 32-layer Llama (2..30): all but the first two and
    the last."""
    return range(2, n_layers - 1)


def search_heads(
    model: nn.Module,
    score: Callable[[nn.Module], float],
    candidates: Iterable[tuple[int, int]],
    beta: float = BETA,
    threshold: float = THRESHOLD,
    min_gain: float = 0.0,
    context: Callable[..., AbstractContextManager] = calibrated,
) -> tuple[dict[int, list[int]], dict[tuple[int, int], float]]:
    """``(head_set, gains)``: ``gains[(layer, head)]`` is ``score`` with that head alone calibrated minus
    ``score`` of the plain model; the head set keeps the heads with a gain above ``min_gain``.

    :param score: the calibration-set metric, higher is better (e.g. accuracy).
    :param candidates: ``(layer, head)`` pairs to try.
    :param context: ``calibrated`` (tinylm) or ``calibrated_llama`` (transformers).
    """
    base = score(model)
    gains: dict[tuple[int, int], float] = {}
    for layer, head in candidates:
        with context(model, {layer: [head]}, beta, threshold):
            gains[(layer, head)] = score(model) - base
    keep: dict[int, list[int]] = {}
    for (layer, head), gain in gains.items():
        if gain > min_gain:
            keep.setdefault(layer, []).append(head)
    return keep, gains


def all_heads(n_layers: int, n_heads: int, layers: Iterable[int] | None = None) -> Iterator[tuple[int, int]]:
    """Every ``(layer, head)`` of ``layers`` (default: all)."""
    for layer in range(n_layers) if layers is None else layers:
        for head in range(n_heads):
            yield layer, head
