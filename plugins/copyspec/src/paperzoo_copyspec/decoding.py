"""CopySpec decoding (Dumitru et al., 2025): speculate that the tokens which followed an earlier
occurrence of the last ``gamma`` tokens follow again, and verify them in one forward pass.

Works on any causal LM of :mod:`paperzoo_tinylm.protocol` (tinylm decoders, transformers causal LMs)
and uses the kit's verify-and-accept primitive (:mod:`paperzoo_tinylm.speculative`). Each prompt row is
decoded on its own (rows accept different numbers of tokens per pass, as in the paper's batch-1 setting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from paperzoo_tinylm.generate import check_prompt
from paperzoo_tinylm.protocol import forward
from paperzoo_tinylm.speculative import crop_cache, greedy_accept, sampling_accept


class CopyIndex:
    """The ``gamma``-grams of a token sequence, each mapped to the start of its first occurrence.

    The paper hashes every ``gamma``-gram into a table of start positions and copies from the first;
    here the ``gamma``-gram tuple itself is the key (no hash collisions; otherwise the same table).
    """

    def __init__(self, gamma: int):
        if gamma < 1:
            raise ValueError(f"gamma must be >= 1, got {gamma}")
        self.gamma = gamma
        self.first: dict[tuple[int, ...], int] = {}

    def add(self, tokens: list[int], start: int, stop: int) -> None:
        """Index the grams starting at ``start .. stop - 1`` (earlier entries win)."""
        for j in range(max(start, 0), stop):
            self.first.setdefault(tuple(tokens[j : j + self.gamma]), j)

    def lookup(self, gram: tuple[int, ...]) -> int | None:
        """The first start of ``gram`` (``None`` when it never occurred)."""
        return self.first.get(gram)


@dataclass
class CopySpecStats:
    """Counters of one or more decodes.

    :param passes: target forward passes (the prompt's included).
    :param generated: tokens generated (after truncation at ``max_new_tokens`` or end of sequence).
    :param attempts: passes that verified a copied draft.
    :param drafted: draft tokens proposed.
    :param accepted: draft tokens accepted.
    """

    passes: int = 0
    generated: int = 0
    attempts: int = 0
    drafted: int = 0
    accepted: int = 0

    @property
    def passes_per_token(self) -> float:
        """Forward passes per generated token (1 for plain decoding)."""
        return self.passes / max(self.generated, 1)

    @property
    def acceptance_rate(self) -> float:
        """Accepted share of the drafted tokens (0 when nothing was drafted)."""
        return self.accepted / self.drafted if self.drafted else 0.0


def _choose(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> int:
    if temperature == 0:
        return int(logits.argmax())
    return int(torch.multinomial((logits / temperature).softmax(-1), 1, generator=generator))


def _row(
    model: Any,
    prompt: torch.Tensor,
    max_new_tokens: int,
    gamma: int,
    number_copy: int,
    temperature: float,
    eos_token_id: int | None,
    generator: torch.Generator | None,
    stats: CopySpecStats,
) -> list[int]:
    seq = prompt.tolist()
    prompt_len = len(seq)
    index = CopyIndex(gamma)
    out = forward(model, prompt[None], None, True)
    stats.passes += 1
    seq.append(_choose(out.logits[0, -1].float(), temperature, generator))
    past = out.past  # holds every token but the last
    # The table holds every gram ending before the last token: a match always has a continuation.
    index.add(seq, 0, len(seq) - gamma)
    while seq[-1] != eos_token_id and len(seq) - prompt_len < max_new_tokens:
        left = max_new_tokens - (len(seq) - prompt_len)
        draft: list[int] = []
        start = index.lookup(tuple(seq[-gamma:])) if left >= gamma and len(seq) >= gamma else None
        if start is not None:
            draft = seq[start + gamma : start + gamma + min(number_copy, left)]
        inputs = torch.tensor([[seq[-1], *draft]], device=prompt.device)
        out = forward(model, inputs, past, True)
        stats.passes += 1
        logits, drafted = out.logits[0].float(), torch.tensor(draft, dtype=torch.long)
        if temperature == 0:
            n, token = greedy_accept(drafted, logits)
        else:
            n, token = sampling_accept(drafted, (logits / temperature).softmax(-1), None, generator)
        if start is not None:
            stats.attempts += 1
            stats.drafted += len(draft)
            stats.accepted += n
        past = crop_cache(out.past, len(seq) + n)  # roll back the rejected draft tokens
        new = [*draft[:n], token]
        if eos_token_id is not None and eos_token_id in new:
            new = new[: new.index(eos_token_id) + 1]
        old = len(seq)
        seq.extend(new)
        index.add(seq, old - gamma, len(seq) - gamma)
    seq = seq[: prompt_len + max_new_tokens]
    stats.generated += len(seq) - prompt_len
    return seq


@torch.no_grad()
def copyspec_generate(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int = 64,
    gamma: int = 3,
    number_copy: int = 10,
    temperature: float = 0.0,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    stats: CopySpecStats | None = None,
) -> torch.Tensor:
    """Decode with CopySpec.

    After each pass, the last ``gamma`` tokens are looked up among the earlier ``gamma``-grams of the
    sequence (prompt and generated tokens); on a match the ``number_copy`` tokens that followed its first
    occurrence are appended to the input of the next pass as a draft, verified greedily
    (``temperature=0``: output token for token that of greedy decoding) or by speculative sampling
    (``temperature > 0``: the distribution of ancestral sampling at that temperature), and the key/value
    cache is cropped back to the accepted tokens.

    :param model: a causal LM following :mod:`paperzoo_tinylm.protocol` with a cropable cache, in eval mode.
    :param input_ids: ``(B, S)`` prompts or one ``(S,)`` prompt.
    :param max_new_tokens: tokens to generate per row.
    :param gamma: tokens matched to trigger a copy (the paper's ``gamma``).
    :param number_copy: tokens copied per attempt (the paper's ``|S|``, 10 in its experiments).
    :param temperature: 0 for greedy decoding, else sampling at that temperature.
    :param eos_token_id: a row stops after emitting it; shorter rows are filled with ``pad_token_id``
        (default ``eos_token_id``).
    :param generator: random source of sampling.
    :param stats: counters to add this decode's passes and acceptances to.
    :returns: ``(B, S + generated)`` (``(S + generated,)`` for a 1-d prompt).
    """
    ids, squeeze = check_prompt(input_ids, max_new_tokens)
    if number_copy < 0 or temperature < 0:
        raise ValueError(f"need number_copy >= 0 and temperature >= 0, got {number_copy}, {temperature}")
    if gamma < 1:
        raise ValueError(f"gamma must be >= 1, got {gamma}")
    if max_new_tokens == 0:
        return input_ids
    stats = CopySpecStats() if stats is None else stats
    rows = [
        _row(model, row, max_new_tokens, gamma, number_copy, temperature, eos_token_id, generator, stats)
        for row in ids
    ]
    width = max(len(r) for r in rows)
    fill = eos_token_id if pad_token_id is None else pad_token_id
    out = torch.full((len(rows), width), -1 if fill is None else fill, dtype=torch.long, device=ids.device)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out[0] if squeeze else out
