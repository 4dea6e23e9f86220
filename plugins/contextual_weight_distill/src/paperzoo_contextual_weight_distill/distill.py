"""Contextual weight distillation: initialise new token embeddings from the model's own contexts.

The teacher is the model before the extension: it reads a text in the old tokenization, where a domain
word is a span of sub-tokens. The student is the same network reading the new tokenization, where the
word is one new token. The loss is the mean squared error between the student's hidden state at the new
token and the mean of the teacher's hidden states over the word's sub-token span, at the chosen layers,
averaged over every occurrence. Only the new embedding rows receive updates: every other parameter,
including the old embedding rows, stays bitwise as it was (their gradient is never formed or applied).
Since the only trainable tensor is the embedding, the teacher and the student share all other weights, so
no second copy of the model is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from paperzoo_tinylm.tokenizer import PAD

from paperzoo_contextual_weight_distill.vocab import DomainVocab, Occurrence, init_new_rows


def _layers(hidden: Sequence[torch.Tensor], layers: str) -> list[torch.Tensor]:
    if layers == "last":
        return [hidden[-1]]
    if layers == "all":
        return list(hidden[1:])  # every block's output (the embedding output is the row itself)
    raise ValueError(f"layers={layers!r}; accepted: 'last', 'all'")


def _gather(hidden: list[torch.Tensor], occ: list[Occurrence], student: bool) -> torch.Tensor:
    """``[n_layers_used, n_occ, d]``: the student's state at each new token, or the teacher's mean over
    the sub-token span."""
    rows = []
    for h in hidden:
        if student:
            b = torch.tensor([o.row for o in occ], device=h.device)
            p = torch.tensor([o.new_pos for o in occ], device=h.device)
            rows.append(h[b, p])
        else:
            rows.append(torch.stack([h[o.row, o.old_start : o.old_start + o.length].mean(0) for o in occ]))
    return torch.stack(rows)


def distill_loss(
    model: torch.nn.Module, old_ids: torch.Tensor, vocab: DomainVocab, layers: str = "last"
) -> torch.Tensor:
    """The distillation loss of one batch of old-tokenized ids ``[B, T]`` (0 when no word occurs).

    The teacher pass runs without gradients; padding (``PAD``) is masked in both passes.
    """
    new_ids, occ = vocab.retokenize(old_ids)
    if not occ:
        return model.tok_embed.weight.sum() * 0.0
    with torch.no_grad():
        teacher = model(old_ids, attention_mask=(old_ids != PAD).long(), output_hidden_states=True)
        target = _gather(_layers(teacher.hidden_states, layers), occ, student=False)
    student = model(new_ids, attention_mask=(new_ids != PAD).long(), output_hidden_states=True)
    pred = _gather(_layers(student.hidden_states, layers), occ, student=True)
    return torch.nn.functional.mse_loss(pred.float(), target.float())


@dataclass
class DistillResult:
    """Losses of :func:`distill_new_embeddings`: before the first and after each step."""

    losses: list[float] = field(default_factory=list)


def distill_new_embeddings(
    model: torch.nn.Module,
    batches: Sequence[torch.Tensor],
    vocab: DomainVocab,
    steps: int = 100,
    lr: float = 1e-2,
    layers: str = "last",
    start: str = "mean",
    generator: torch.Generator | None = None,
    head: str | None = None,
) -> DistillResult:
    """Initialise the new rows of ``model`` (extended to ``vocab.vocab_size``) in place.

    The rows start from ``start`` (``mean`` of sub-tokens or ``random``, see
    :func:`~paperzoo_contextual_weight_distill.vocab.init_new_rows`), then Adam (no weight decay) takes
    ``steps`` steps on :func:`distill_loss` over ``batches`` (cycled; old-tokenized ``[B, T]`` ids that
    contain the words), updating the new embedding rows only. Dropout is off during distillation (the
    teacher and the student must see the same network) and the training mode is restored.

    :param head: an untied head's new rows (``mean``, ``random``; ``None``: as ``start``); distillation
        never changes the head (a tied head is the embedding).
    :returns: the loss before the first step, then after each step's update (one more pass at the end).
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"steps={steps!r} and lr={lr!r}; accepted: steps >= 0, lr > 0")
    init_new_rows(model, vocab, start, generator=generator, head=head)
    weight = model.tok_embed.weight
    base = vocab.base_vocab_size
    was_training = model.training
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    # the new rows as their own leaf: the old rows and every other weight are never written
    rows = torch.nn.Parameter(weight[base : vocab.vocab_size].detach().clone())
    opt = torch.optim.Adam([rows], lr=lr)
    result = DistillResult()
    model.eval()
    try:
        for step in range(steps + 1):
            with torch.no_grad():
                weight[base : vocab.vocab_size] = rows
            ids = batches[step % len(batches)]
            if step == steps:
                with torch.no_grad():
                    result.losses.append(float(distill_loss(model, ids, vocab, layers)))
                break
            loss = _loss_through_rows(model, ids, vocab, layers, rows)
            result.losses.append(float(loss.detach()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(flags[name])
        model.train(was_training)
    return result


def _loss_through_rows(
    model: torch.nn.Module, ids: torch.Tensor, vocab: DomainVocab, layers: str, rows: torch.Tensor
) -> torch.Tensor:
    """:func:`distill_loss` with the new rows read from ``rows`` (so the gradient reaches only them): the
    embedding module is temporarily given a weight that concatenates the frozen rows and ``rows``."""
    emb = model.tok_embed
    base, end = vocab.base_vocab_size, vocab.vocab_size
    frozen = emb.weight
    full = torch.cat([frozen[:base].detach(), rows, frozen[end:].detach()])
    original_forward = emb.forward
    emb.forward = lambda input_ids: torch.nn.functional.embedding(input_ids, full)  # type: ignore[method-assign]
    try:
        return distill_loss(model, ids, vocab, layers)
    finally:
        emb.forward = original_forward  # type: ignore[method-assign]
