"""ACT on tinylm: a softmax attention kernel that calibrates selected heads, and the two ways to apply a
per-layer head set to a trained decoder (swapping kernels, or patching ``blocks.<i>.attn.pattern``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from paperzoo_tinylm.attention import AttentionMask, SoftmaxAttention, repeat_kv
from torch import nn

from paperzoo_act_attention_calibration.calibration import BETA, THRESHOLD, calibrate, check_params

HeadSet = Mapping[int, Sequence[int]]


def as_head_set(heads: HeadSet | Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """``{layer: [head, ...]}`` from a mapping or from ``(layer, head)`` pairs (sorted, no repeats)."""
    pairs = (
        [(int(layer), int(h)) for layer, hs in heads.items() for h in hs]
        if isinstance(heads, Mapping)
        else [(int(layer), int(h)) for layer, h in heads]
    )
    out: dict[int, list[int]] = {}
    for layer, h in sorted(set(pairs)):
        out.setdefault(layer, []).append(h)
    return out


class SinkCalibratedAttention(nn.Module):
    """A tinylm attention kernel ``(q, k, v, mask, pattern) -> z``: softmax attention whose heads
    ``heads`` are calibrated (:func:`~paperzoo_act_attention_calibration.calibration.calibrate`) before
    the pattern hook and the product with ``v``. No parameters.

    :param heads: the heads to calibrate (``None``: all; ``[]``: plain softmax attention, bitwise).
    :param beta: the share of a sink's attention kept (official 0.4).
    :param threshold: mean received attention above which a key is detected (official 0.1).
    :param scale, impl: as tinylm's ``SoftmaxAttention`` (used as is when ``heads`` is empty).
    """

    def __init__(
        self,
        heads: Sequence[int] | None = None,
        beta: float = BETA,
        threshold: float = THRESHOLD,
        scale: float | None = None,
        impl: str = "sdpa",
    ) -> None:
        super().__init__()
        check_params(beta, threshold)
        self.heads = None if heads is None else [int(h) for h in heads]
        self.beta, self.threshold = float(beta), float(threshold)
        self.softmax = SoftmaxAttention(scale=scale, impl=impl)

    def forward(self, q, k=None, v=None, mask: AttentionMask | None = None, pattern=None) -> torch.Tensor:
        k = q if k is None else k
        v = k if v is None else v
        mask = AttentionMask(causal=True) if mask is None else mask
        if self.heads == [] and pattern is not None:
            return self.softmax(q, k, v, mask, pattern)
        k, v = repeat_kv(k, q.shape[1] // k.shape[1]), repeat_kv(v, q.shape[1] // k.shape[1])
        scale = q.shape[-1] ** -0.5 if self.softmax.scale is None else self.softmax.scale
        tq, tk = q.shape[-2], k.shape[-2]
        p = self.softmax.probs(q, k, mask, scale)
        allowed = mask.allowed(tq, tk, q.device)
        if allowed is None:
            allowed = torch.ones(1, 1, tq, tk, dtype=torch.bool, device=q.device)
        p = calibrate(p, self.heads, self.beta, self.threshold, allowed)
        return (p if pattern is None else pattern(p)) @ v

    def extra_repr(self) -> str:
        return f"heads={self.heads}, beta={self.beta}, threshold={self.threshold}"


@contextmanager
def calibrated(
    model: nn.Module,
    heads: HeadSet | Iterable[tuple[int, int]],
    beta: float = BETA,
    threshold: float = THRESHOLD,
) -> Iterator[nn.Module]:
    """Inside the ``with`` block, the tinylm decoder ``model`` calibrates the heads ``{layer: [head]}``:
    each listed block's softmax kernel is swapped for a :class:`SinkCalibratedAttention` with the same
    scale and implementation, and restored on exit. Weights are not touched."""
    check_params(beta, threshold)
    head_set = as_head_set(heads)
    saved: dict[int, nn.Module] = {}
    try:
        for layer, hs in head_set.items():
            attn = model.blocks[layer].attn
            if not isinstance(attn.kernel, SoftmaxAttention):
                raise ValueError(
                    f"blocks.{layer}.attn.kernel: got {type(attn.kernel).__name__}; accepted: softmax attention"
                )
            old = attn.kernel
            attn.kernel = SinkCalibratedAttention(hs, beta, threshold, old.scale, old.impl)
            saved[layer] = old
        yield model
    finally:
        for layer, old in saved.items():
            model.blocks[layer].attn.kernel = old


def pattern_calibrator(
    heads: Sequence[int] | None, beta: float = BETA, threshold: float = THRESHOLD
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function for ``patch(model, "blocks.<i>.attn.pattern", fn)``: calibrates ``heads`` of the
    pattern, taking the mask as causal with the last query on the last key (a decoder without padding)."""
    check_params(beta, threshold)
    return lambda p: calibrate(p, heads, beta, threshold)
