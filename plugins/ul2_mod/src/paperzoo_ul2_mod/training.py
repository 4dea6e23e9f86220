"""Losses and a training step of the Mixture-of-Denoisers objective, for the encoder-decoder and for a
decoder-only model.

- Encoder-decoder (``tinylm_encoder_decoder``): the encoder reads the inputs (``attention_mask`` masks
  padding), the decoder reads the targets shifted right behind ``PAD`` (T5's start token); cross-entropy
  on the real target tokens.
- Decoder-only (``tinylm_decoder`` or any causal LM): :func:`to_decoder_only` concatenates each row's
  inputs and targets into one sequence and trains the next-token loss on the target tokens only (the
  inputs are context). The tinylm decoder's attention is causal throughout, so this is UL2's
  decoder-only "causal LM with inputs-to-targets" form rather than a prefix LM with bidirectional
  attention over the inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.encdec import TinyLMEncoderDecoder, shift_right
from paperzoo_tinylm.span_corruption import pad_rows
from paperzoo_tinylm.transforms import IGNORE, SequenceTransform, Transformed


def to_decoder_only(t: Transformed) -> Transformed:
    """One sequence per row: ``inputs`` ``[B, T-1]`` = (inputs + targets)[:-1] padded with ``PAD``,
    ``targets`` the next tokens where they are target tokens, ``IGNORE`` elsewhere."""
    xs, ys = [], []
    for x, y in zip(t.inputs.tolist(), t.targets.tolist()):
        x = [i for i in x if i != tokenizer.PAD]
        y = [i for i in y if i != IGNORE]
        seq = x + y
        xs.append(seq[:-1])
        ys.append([IGNORE] * (len(x) - 1) + y)
    inputs = pad_rows(xs, tokenizer.PAD, t.inputs.device)
    targets = pad_rows(ys, IGNORE, t.inputs.device)
    return Transformed(inputs, targets, targets != IGNORE)


def _ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy in float32 at least (float64 logits stay float64), ``IGNORE`` ignored."""
    logits = logits if logits.dtype == torch.float64 else logits.float()
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def encdec_loss(model: torch.nn.Module, t: Transformed) -> torch.Tensor:
    """Mean target-token cross-entropy of an encoder-decoder on ``t`` (logits in float32 at least)."""
    decoder_in = shift_right(t.targets.masked_fill(t.targets == IGNORE, tokenizer.PAD), tokenizer.PAD)
    logits = model(t.inputs, decoder_in, attention_mask=(t.inputs != tokenizer.PAD).long()).logits
    return _ce(logits, t.targets)


def decoder_loss(model: torch.nn.Module, t: Transformed) -> torch.Tensor:
    """Mean target-token cross-entropy of a decoder-only model on :func:`to_decoder_only` of ``t``."""
    d = to_decoder_only(t)
    logits = model(d.inputs).logits
    return _ce(logits, d.targets)


def objective_loss(model: torch.nn.Module, t: Transformed) -> torch.Tensor:
    """:func:`encdec_loss` for a ``TinyLMEncoderDecoder``, :func:`decoder_loss` for anything else."""
    return encdec_loss(model, t) if isinstance(model, TinyLMEncoderDecoder) else decoder_loss(model, t)


def mod_loss(
    model: torch.nn.Module,
    ids: torch.Tensor,
    transform: SequenceTransform,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The loss of ``model`` on ``transform(ids)``."""
    return objective_loss(model, transform(ids, generator=generator))


def mod_step(
    model: torch.nn.Module,
    ids: torch.Tensor,
    transform: SequenceTransform,
    generator: torch.Generator | None = None,
) -> None:
    """One transform + forward + backward pass; the gradients are released afterwards."""
    mod_loss(model, ids, transform, generator).backward()
    model.zero_grad(set_to_none=True)
