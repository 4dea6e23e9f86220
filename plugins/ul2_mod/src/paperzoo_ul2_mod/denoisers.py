"""UL2's Mixture-of-Denoisers (Tay et al., ICLR 2023) as a tinylm sequence transform.

Every row of a batch draws one denoiser with the mixing rates; its mode token (``[R]``, ``[X]`` or
``[S]``, the kit's ``tokenizer.MODE_TOKENS``) is prepended to the inputs:

- span denoisers (R: regular, X: extreme) are T5 span corruption
  (:class:`paperzoo_tinylm.span_corruption.SpanCorruption`) with their corruption rate ``r`` and mean span
  length ``mu``: inputs ``[mode] clean <extra_id_0> clean ... <eos>``, targets
  ``<extra_id_0> span <extra_id_1> span ... <eos>``;
- the S-denoiser (prefix LM) splits a row into a prefix and a suffix: inputs ``[S] prefix <eos>``,
  targets ``suffix <eos>``. The suffix length is uniform on ``1 .. 2 round(r L) - 1`` (clipped to
  ``L - 1``), so its mean share is ``r``.

:func:`restore` inverts any of them exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.span_corruption import SpanCorruption, to_transformed, uncorrupt
from paperzoo_tinylm.transforms import IGNORE, Transformed

MODES = tokenizer.MODE_TOKENS  # {"[R]": 360, "[S]": 361, "[X]": 362}


@dataclass(frozen=True)
class Denoiser:
    """One denoiser: ``kind`` ``span`` (T5 span corruption) or ``prefix`` (S), its ``mode`` token name,
    ``rate`` (span: the share of corrupted tokens; prefix: the mean share of the suffix) and, for spans,
    ``mean_span_length``."""

    kind: Literal["span", "prefix"]
    mode: str
    rate: float
    mean_span_length: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in ("span", "prefix"):
            raise ValueError(f"kind={self.kind!r}; accepted: 'span' or 'prefix'")
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r}; accepted: one of {sorted(MODES)}")
        ok = 0.0 < self.rate < 1.0 if self.kind == "span" else 0.0 < self.rate <= 0.5
        if not ok:
            accepted = "(0, 1)" if self.kind == "span" else "(0, 0.5]"
            raise ValueError(f"rate={self.rate!r}; accepted: a number in {accepted}")
        if not self.mean_span_length >= 1.0:
            raise ValueError(f"mean_span_length={self.mean_span_length!r}; accepted: a number >= 1")

    @property
    def mode_id(self) -> int:
        return MODES[self.mode]

    def span_corruption(self, eos: bool = True) -> SpanCorruption:
        return SpanCorruption(self.rate, self.mean_span_length, eos, prefix=(self.mode_id,))

    def apply(self, row: list[int], generator: torch.Generator | None, eos: bool = True):
        """``(inputs, targets)`` of one row."""
        if self.kind == "span":
            return self.span_corruption(eos).corrupt_row(row, generator)
        return prefix_split(row, self.rate, generator, eos, self.mode_id)


def R(mean_span_length: float = 3.0, rate: float = 0.15) -> Denoiser:  # noqa: N802
    """A regular span denoiser (mode ``[R]``)."""
    return Denoiser("span", "[R]", rate, mean_span_length)


def X(mean_span_length: float = 64.0, rate: float = 0.5) -> Denoiser:  # noqa: N802
    """An extreme span denoiser (mode ``[X]``): long spans and/or a high rate."""
    return Denoiser("span", "[X]", rate, mean_span_length)


def S(rate: float = 0.25) -> Denoiser:  # noqa: N802
    """The sequential (prefix-LM) denoiser (mode ``[S]``)."""
    return Denoiser("prefix", "[S]", rate)


# The paper's final seven denoisers: R (mu 3, r 0.15), (8, 0.15); X (3, 0.5), (8, 0.5),
# (64, 0.15), (64, 0.5); S (prefix LM, suffix share 0.25). Default rates: uniform over the seven.
PAPER_DENOISERS: tuple[Denoiser, ...] = (
    R(3.0, 0.15),
    R(8.0, 0.15),
    X(3.0, 0.5),
    X(8.0, 0.5),
    X(64.0, 0.15),
    X(64.0, 0.5),
    S(0.25),
)


def prefix_split(
    row: list[int],
    rate: float,
    generator: torch.Generator | None,
    eos: bool = True,
    mode_id: int | None = None,
) -> tuple[list[int], list[int]]:
    """The S-denoiser: ``([mode] prefix [EOS], suffix [EOS])``, the suffix length uniform on
    ``1 .. min(2 round(rate L) - 1, L - 1)``."""
    n = len(row)
    if n < 2:
        raise ValueError(f"a prefix split needs at least 2 tokens, got {n}")
    high = min(max(2 * int(round(rate * n)) - 1, 1), n - 1)
    m = int(torch.randint(1, high + 1, (), generator=generator))
    end = [tokenizer.EOS] if eos else []
    head = [mode_id] if mode_id is not None else []
    return head + row[: n - m] + end, row[n - m :] + end


@dataclass
class MoDTransformed(Transformed):
    """A :class:`Transformed` with ``denoiser`` ``[B]``: the index of the denoiser each row drew."""

    denoiser: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))


@dataclass(frozen=True)
class MixtureOfDenoisers:
    """The Mixture-of-Denoisers :class:`~paperzoo_tinylm.transforms.SequenceTransform`.

    :param denoisers: the denoisers (default: the paper's seven).
    :param rates: their mixing rates (normalised; default uniform).
    :param eos: append ``EOS`` to inputs and targets.
    """

    denoisers: tuple[Denoiser, ...] = PAPER_DENOISERS
    rates: tuple[float, ...] | None = None
    eos: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "denoisers", tuple(self.denoisers))
        if not self.denoisers:
            raise ValueError("denoisers is empty; accepted: at least one denoiser")
        if self.rates is not None:
            rates = tuple(float(r) for r in self.rates)
            if len(rates) != len(self.denoisers) or min(rates) < 0 or sum(rates) <= 0:
                raise ValueError(f"rates={self.rates!r}; accepted: one non-negative rate per denoiser")
            object.__setattr__(self, "rates", rates)

    @property
    def probabilities(self) -> torch.Tensor:
        """The normalised mixing rates ``[n_denoisers]`` (float64)."""
        rates = self.rates if self.rates is not None else (1.0,) * len(self.denoisers)
        p = torch.tensor(rates, dtype=torch.float64)
        return p / p.sum()

    def __call__(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> MoDTransformed:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a [B, T] long tensor, got {tuple(ids.shape)} {ids.dtype}")
        rows = ids.cpu().tolist()
        choice = torch.multinomial(self.probabilities, len(rows), replacement=True, generator=generator)
        pairs = [self.denoisers[c].apply(row, generator, self.eos) for c, row in zip(choice.tolist(), rows)]
        out = to_transformed([p[0] for p in pairs], [p[1] for p in pairs], ids.device)
        return MoDTransformed(out.inputs, out.targets, out.loss_mask, choice.to(ids.device))


def restore(inputs: Sequence[int], targets: Sequence[int], eos: bool = True) -> list[int]:
    """The original row from one example's inputs and targets (padding ignored): the exact inverse of
    every denoiser, read from the mode token."""
    x = [int(t) for t in inputs]
    y = [int(t) for t in targets]
    while x and x[-1] == tokenizer.PAD:
        x.pop()
    while y and y[-1] == IGNORE:
        y.pop()
    if not x or x[0] not in MODES.values():
        raise ValueError("inputs must start with a mode token")
    mode, x = x[0], x[1:]
    if mode != MODES["[S]"]:
        return uncorrupt(x, y, eos)
    if eos:
        if x[-1:] != [tokenizer.EOS] or y[-1:] != [tokenizer.EOS]:
            raise ValueError("expected a final EOS in inputs and targets")
        x, y = x[:-1], y[:-1]
    return x + y
