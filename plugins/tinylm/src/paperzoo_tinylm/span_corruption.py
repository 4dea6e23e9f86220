"""T5's sentinel span corruption (Raffel et al., 2020, section 3.1.4), the piece UL2's denoisers share.

A noise mask marks ``round(length * noise_density)`` tokens (at least 1, at most ``length - 1``) in
``round(noise_tokens / mean_noise_span_length)`` spans (at least 1), laid out as T5's
``random_spans_noise_mask``: the noise tokens and the non-noise tokens are each cut into that many
non-empty segments uniformly at random (:func:`random_segmentation`), and the segments alternate,
non-noise first, so the sequence always starts clean and ends inside a noise span. Then, as T5's
``noise_span_to_unique_sentinel`` / ``nonnoise_span_to_unique_sentinel``::

    tokens   a b [c d] e f g [h] i [j k]          noise spans in brackets
    inputs   a b <extra_id_0> e f g <extra_id_1> i <extra_id_2> <eos>
    targets  <extra_id_0> c d <extra_id_1> h <extra_id_2> j k <eos>

Sentinel ``k`` (the ``k``-th noise span) is the kit's ``tokenizer.sentinel(k)`` = ``260 + k``, named
``<extra_id_k>``: the same names as T5's vocabulary, whose ids count down from its end (T5 writes
``vocab_size - 1 - k``). :func:`uncorrupt` is the exact inverse: it rebuilds the tokens from inputs and
targets. At most 100 sentinels exist, so a sequence may hold at most 100 noise spans.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.transforms import IGNORE, Transformed


def noise_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """``(noise tokens, noise spans)`` of a sequence of ``length`` tokens, as T5 computes them."""
    if length < 2:
        raise ValueError(f"span corruption needs at least 2 tokens, got {length}")
    n_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    n_spans = max(int(round(n_noise / mean_noise_span_length)), 1)
    return n_noise, n_spans


def random_segmentation(
    num_items: int, num_segments: int, generator: torch.Generator | None = None
) -> list[int]:
    """Lengths of ``num_segments`` non-empty segments that partition ``num_items`` items, every such
    partition equally likely: ``num_segments - 1`` cut points drawn without replacement among the
    ``num_items - 1`` gaps (T5's ``_random_segmentation``: a shuffled indicator of segment starts)."""
    if not 1 <= num_segments <= num_items:
        raise ValueError(f"need 1 <= num_segments <= num_items, got {num_segments}, {num_items}")
    cuts = torch.randperm(num_items - 1, generator=generator)[: num_segments - 1] + 1
    bounds = [0, *sorted(cuts.tolist()), num_items]
    return [b - a for a, b in zip(bounds[:-1], bounds[1:])]


def random_spans_noise_mask(
    length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Boolean ``[length]``: true at noise tokens (T5's ``random_spans_noise_mask``, no random roll)."""
    n_noise, n_spans = noise_counts(length, noise_density, mean_noise_span_length)
    if n_spans > min(n_noise, length - n_noise):
        n_spans = min(n_noise, length - n_noise)
    noise = random_segmentation(n_noise, n_spans, generator)
    clean = random_segmentation(length - n_noise, n_spans, generator)
    mask: list[bool] = []
    for c, n in zip(clean, noise):
        mask += [False] * c + [True] * n
    return torch.tensor(mask, dtype=torch.bool)


def corrupt(tokens: list[int], noise_mask: list[bool], eos: bool = True) -> tuple[list[int], list[int]]:
    """T5's ``(inputs, targets)``: each noise span replaced in the inputs by its sentinel, each clean span
    replaced in the targets by the sentinel of the noise span that follows it (``EOS`` appended to both
    when ``eos``)."""
    if len(tokens) != len(noise_mask):
        raise ValueError("tokens and noise_mask differ in length")
    inputs: list[int] = []
    targets: list[int] = []
    span = -1
    for i, (token, noisy) in enumerate(zip(tokens, noise_mask)):
        if noisy:
            if i == 0 or not noise_mask[i - 1]:
                span += 1
                inputs.append(tokenizer.sentinel(span))
                targets.append(tokenizer.sentinel(span))
            targets.append(token)
        else:
            inputs.append(token)
    if eos:
        inputs.append(tokenizer.EOS)
        targets.append(tokenizer.EOS)
    return inputs, targets


def _is_sentinel(token: int) -> bool:
    return tokenizer.SENTINEL_START <= token < tokenizer.SENTINEL_START + tokenizer.N_SENTINELS


def uncorrupt(inputs: list[int], targets: list[int], eos: bool = True) -> list[int]:
    """The exact inverse of :func:`corrupt`: every sentinel of ``inputs`` replaced by the tokens that follow
    the same sentinel in ``targets``. Trailing padding (``PAD`` or ``IGNORE``) is dropped, then, when
    ``eos``, the final ``EOS`` of each. Exact whenever the original holds no sentinel id (as in T5, the
    sentinels must not occur in the text) and does not end in ``PAD``."""

    def strip(ids: list[int]) -> list[int]:
        ids = [int(i) for i in ids]
        while ids and ids[-1] in (tokenizer.PAD, IGNORE):
            ids.pop()
        if eos:
            if not ids or ids[-1] != tokenizer.EOS:
                raise ValueError("expected a final EOS (pass eos=False for sequences without one)")
            ids.pop()
        return ids

    inputs, targets = strip(inputs), strip(targets)
    spans: dict[int, list[int]] = {}
    current: list[int] | None = None
    for token in targets:
        if _is_sentinel(token):
            current = spans.setdefault(token, [])
        elif current is None:
            raise ValueError("targets must start with a sentinel")
        else:
            current.append(token)
    out: list[int] = []
    for token in inputs:
        if _is_sentinel(token):
            if token not in spans:
                raise ValueError(f"sentinel {tokenizer.decode([token])} is missing from the targets")
            out += spans.pop(token)
        else:
            out.append(token)
    if spans:
        raise ValueError(f"{len(spans)} target span(s) have no sentinel in the inputs")
    return out


def pad_rows(rows: list[list[int]], pad: int, device: torch.device | None = None) -> torch.Tensor:
    """Rows of unequal length right-padded with ``pad`` into one ``[B, max len]`` long tensor."""
    width = max(len(r) for r in rows)
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long, device=device)


def to_transformed(inputs: list[list[int]], targets: list[list[int]], device=None) -> Transformed:
    """Per-row ``(inputs, targets)`` as one :class:`Transformed`: ``inputs`` ``[B, S]`` padded with ``PAD``
    (the encoder's ``attention_mask`` is ``inputs != PAD``), ``targets`` ``[B, T]`` padded with ``IGNORE``,
    ``loss_mask`` true at every real target token. Unlike the masked LM, ``S`` and ``T`` differ."""
    x = pad_rows(inputs, tokenizer.PAD, device)
    y = pad_rows(targets, IGNORE, device)
    return Transformed(x, y, y != IGNORE)


@dataclass(frozen=True)
class SpanCorruption:
    """The span-corruption :class:`~paperzoo_tinylm.transforms.SequenceTransform`: ``ids`` ``[B, L]``
    (every token of a row is corrupted alike, special ids included) to T5 inputs and targets
    (:func:`to_transformed`), one noise mask drawn per row from ``generator``.

    :param noise_density: share of noise tokens (T5: 0.15).
    :param mean_noise_span_length: mean noise-span length (T5: 3).
    :param eos: append ``EOS`` to inputs and targets (T5 does).
    :param prefix: ids put before each row's inputs (a UL2 mode token, say).
    """

    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0
    eos: bool = True
    prefix: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 < self.noise_density < 1.0:
            raise ValueError(f"noise_density={self.noise_density!r}; accepted: a number in (0, 1)")
        if not self.mean_noise_span_length >= 1.0:
            raise ValueError(f"mean_noise_span_length={self.mean_noise_span_length!r}; accepted: >= 1")

    def check_length(self, length: int) -> None:
        """Refuse a length that would need more than 100 sentinels."""
        n_spans = noise_counts(length, self.noise_density, self.mean_noise_span_length)[1]
        if n_spans > tokenizer.N_SENTINELS:
            raise ValueError(f"{n_spans} noise spans in {length} tokens; at most {tokenizer.N_SENTINELS}")

    def corrupt_row(
        self, row: list[int], generator: torch.Generator | None = None
    ) -> tuple[list[int], list[int]]:
        """One row's ``(inputs, targets)``."""
        self.check_length(len(row))
        mask = random_spans_noise_mask(len(row), self.noise_density, self.mean_noise_span_length, generator)
        inputs, targets = corrupt(row, mask.tolist(), self.eos)
        return list(self.prefix) + inputs, targets

    def __call__(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> Transformed:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a [B, T] long tensor, got {tuple(ids.shape)} {ids.dtype}")
        pairs = [self.corrupt_row(row, generator) for row in ids.cpu().tolist()]
        return to_transformed([p[0] for p in pairs], [p[1] for p in pairs], ids.device)
