"""CodeGen2's mixture of causal LM and span corruption rewritten as causal infilling.

A row is rewritten (with probability ``1 - p_clm``) into one left-to-right sequence::

    tokens    a b [c d] e f g [h]
    rewritten a b <extra_id_0> e f g <extra_id_1> SEP <extra_id_0> c d EOM <extra_id_1> h EOM

The corrupted prefix is tinylm's T5 span corruption (:func:`paperzoo_tinylm.span_corruption.corrupt`
without ``EOS``), then after the separator every sentinel is followed by its span and an end-of-mask
token. The vocabulary has no ``<sep>`` nor ``<eom>``: both default to ``EOS`` (the separator plays the
part of CodeGen2's ``<|endoftext|><sep>``; the parser takes the first ``EOS`` as the separator, which is
exact because ordinary rows hold no special id). The loss counts only the tokens after the separator;
a plain causal-LM row counts every token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.span_corruption import corrupt, pad_rows, random_spans_noise_mask, uncorrupt
from paperzoo_tinylm.transforms import IGNORE, Transformed

SEP = tokenizer.EOS
EOM = tokenizer.EOS


def _is_sentinel(token: int) -> bool:
    return tokenizer.SENTINEL_START <= token < tokenizer.SENTINEL_START + tokenizer.N_SENTINELS


def to_infill(
    tokens: list[int], noise_mask: list[bool], sep: int = SEP, eom: int = EOM
) -> tuple[list[int], int]:
    """The causal-infilling sequence of ``tokens`` under ``noise_mask`` and the index of its separator."""
    inputs, targets = corrupt(tokens, noise_mask, eos=False)
    out = inputs + [sep]
    for i, token in enumerate(targets):
        if _is_sentinel(token) and i > 0:
            out.append(eom)
        out.append(token)
    out.append(eom)
    return out, len(inputs)


def from_infill(seq: list[int], sep: int = SEP, eom: int = EOM) -> list[int]:
    """The exact inverse of :func:`to_infill`: the original tokens (trailing ``PAD``/``IGNORE`` dropped)."""
    seq = [int(t) for t in seq]
    while seq and seq[-1] in (tokenizer.PAD, IGNORE):
        seq.pop()
    cut = seq.index(sep)
    prefix, rest = seq[:cut], seq[cut + 1 :]
    if not rest or rest[-1] != eom:
        raise ValueError("an infill sequence ends with the end-of-mask token")
    targets: list[int] = []
    for i, token in enumerate(rest):
        if token == eom and (i + 1 == len(rest) or _is_sentinel(rest[i + 1])):
            continue  # the end-of-mask of a span
        targets.append(token)
    return uncorrupt(prefix, targets, eos=False)


@dataclass(frozen=True)
class CLMInfillMix:
    """Per row: plain causal LM with probability ``p_clm``, else causal infilling of T5 span corruption.

    ``__call__(ids [B, L], generator)`` returns a :class:`Transformed` of next-token pairs: ``inputs``
    ``[B, S-1]`` (``PAD`` after a shorter row), ``targets`` ``[B, S-1]`` (``IGNORE`` where the loss does not
    count), ``loss_mask`` = ``targets != IGNORE``. Stateless: every draw comes from ``generator`` (first
    the per-row choice, :meth:`choose`, then each infilling row's mask in row order).
    """

    p_clm: float = 0.5
    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0
    sep: int = SEP
    eom: int = EOM

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_clm <= 1.0:
            raise ValueError(f"p_clm must be in [0, 1], got {self.p_clm}")
        if not 0.0 < self.noise_density < 1.0:
            raise ValueError(f"noise_density must be in (0, 1), got {self.noise_density}")
        if self.mean_noise_span_length < 1.0:
            raise ValueError(f"mean_noise_span_length must be >= 1, got {self.mean_noise_span_length}")

    def choose(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[n]`` booleans: True where a row stays plain causal LM."""
        return torch.rand(n, generator=generator) < self.p_clm

    def sequences(
        self, ids: torch.Tensor, generator: torch.Generator | None = None
    ) -> list[tuple[list[int], int]]:
        """Per row ``(sequence, first target index)``: ``(row, 1)`` for causal LM, else the infill form
        with targets from the token after the separator."""
        clm = self.choose(ids.shape[0], generator)
        out = []
        for row, plain in zip(ids.tolist(), clm.tolist()):
            if plain:
                out.append((row, 1))
                continue
            mask = random_spans_noise_mask(
                len(row), self.noise_density, self.mean_noise_span_length, generator=generator
            ).tolist()
            seq, sep_at = to_infill(row, mask, self.sep, self.eom)
            out.append((seq, sep_at + 1))
        return out

    def __call__(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> Transformed:
        rows = self.sequences(ids.cpu(), generator)
        xs = [seq[:-1] for seq, _ in rows]
        ys = [[IGNORE] * (start - 1) + seq[start:] for seq, start in rows]
        inputs = pad_rows(xs, tokenizer.PAD, ids.device)
        targets = pad_rows(ys, IGNORE, ids.device)
        return Transformed(inputs, targets, targets != IGNORE)


def mix_loss(
    model: torch.nn.Module,
    ids: torch.Tensor,
    transform: CLMInfillMix,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean next-token cross-entropy (logits in float32) over the target tokens of ``transform(ids)``."""
    t = transform(ids, generator)
    logits = model(t.inputs).logits
    return F.cross_entropy(logits.flatten(0, 1).float(), t.targets.flatten(), ignore_index=IGNORE)


def mix_step(
    model: torch.nn.Module,
    ids: torch.Tensor,
    transform: CLMInfillMix,
    generator: torch.Generator | None = None,
) -> None:
    """One transform + forward + backward pass; the gradients are released afterwards."""
    mix_loss(model, ids, transform, generator).backward()
    model.zero_grad(set_to_none=True)
