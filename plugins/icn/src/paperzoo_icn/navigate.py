"""In-context navigation (ICN): explore answers one at a time, each decoded with the answers found so
far written into the prompt as a list to continue, so that the query moves away from explored keys;
then self-consistency voting over what was collected.

The prompt of step ``k`` (1-based) is ``question + instruction + a_1 + sep + ... + a_{k-1} + sep``: the
question, an optional instruction, then the ``k - 1`` explored answers in order, each closed by ``sep``
(the paper's numbered list ``1. "a"\\n2. "b"\\n3. "``). An answer is the decoded tokens up to the first
stop token (``sep`` or end of sequence). Step 1 is plain decoding of ``question + instruction``.

The official code (``gsm8k.py``, ``zerogen.py``) adds two switches, both off by default here:
``exclude_first``: the answer's first token is the highest-ranked token under the step's prompt that no
earlier answer began with (a greedy choice); ``complete_from="bare"``: the rest of the answer is decoded
after the bare prompt (step 1's) and that first token, not after the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from paperzoo_tinylm.generate import generate


@dataclass
class Navigation:
    """What one ICN run explored: ``answers`` (token tuples, in order) and the ``prompts`` they were
    decoded from (1-D tensors; with ``complete_from="bare"`` the list prompt that chose the first token)."""

    answers: list[tuple[int, ...]] = field(default_factory=list)
    prompts: list[torch.Tensor] = field(default_factory=list)


def icn_prompt(
    question: torch.Tensor, explored: Sequence[Sequence[int]], sep: int, instruction: Sequence[int] = ()
) -> torch.Tensor:
    """``question + instruction + a_1 + [sep] + ... + a_m + [sep]`` as one 1-D tensor."""
    tail = [t for answer in explored for t in (*answer, sep)]
    extra = torch.tensor([*instruction, *tail], dtype=question.dtype, device=question.device)
    return torch.cat([question, extra])


def cut(tokens: Sequence[int], stops: Sequence[int]) -> tuple[int, ...]:
    """The tokens before the first stop token."""
    out = []
    for t in tokens:
        if t in stops:
            break
        out.append(int(t))
    return tuple(out)


def decode(
    model: torch.nn.Module,
    prompts: torch.Tensor,
    max_new_tokens: int,
    stops: Sequence[int],
    do_sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[tuple[int, ...]]:
    """Answers decoded after each of ``prompts`` (``[B, S]`` or ``[S]``), cut at the first stop token."""
    ids = prompts.unsqueeze(0) if prompts.dim() == 1 else prompts
    if max_new_tokens == 0:
        return [() for _ in range(ids.shape[0])]
    kw = {"do_sample": True, "temperature": temperature, "generator": generator} if do_sample else {}
    out = generate(model, ids, max_new_tokens, eos_token_id=stops[0], **kw)
    return [cut(row.tolist(), stops) for row in out[:, ids.shape[1] :]]


@torch.no_grad()
def in_context_navigation(
    model: torch.nn.Module,
    question: torch.Tensor,
    k: int,
    max_new_tokens: int,
    sep: int,
    eos: int | None = None,
    instruction: Sequence[int] = (),
    exclude_first: bool = False,
    complete_from: str = "context",
    do_sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Navigation:
    """``k`` ICN steps on one 1-D ``question``; see the module docstring."""
    if k < 1 or max_new_tokens < 1:
        raise ValueError(f"k and max_new_tokens must be >= 1, got {k} and {max_new_tokens}")
    if complete_from not in ("context", "bare"):
        raise ValueError(f"complete_from must be 'context' or 'bare', got {complete_from!r}")
    stops = (sep,) if eos is None else (sep, eos)
    nav = Navigation()
    bare = icn_prompt(question, [], sep, instruction)
    used_first: set[int] = set()
    for _ in range(k):
        prompt = icn_prompt(question, nav.answers, sep, instruction)
        nav.prompts.append(prompt)
        if not exclude_first:
            start = bare if complete_from == "bare" else prompt
            nav.answers.append(
                decode(model, start, max_new_tokens, stops, do_sample, temperature, generator)[0]
            )
            continue
        logits = model(prompt.unsqueeze(0)).logits[0, -1]
        order = logits.argsort(descending=True, stable=True).tolist()
        first = next((t for t in order if t not in used_first), order[0])
        used_first.add(first)
        if first in stops:
            nav.answers.append(())
            continue
        start = torch.cat([bare if complete_from == "bare" else prompt, prompt.new_tensor([first])])
        rest = decode(model, start, max_new_tokens - 1, stops, do_sample, temperature, generator)[0]
        nav.answers.append((first, *rest))
    return nav


@torch.no_grad()
def sample_answers(
    model: torch.nn.Module,
    question: torch.Tensor,
    n: int,
    max_new_tokens: int,
    sep: int,
    eos: int | None = None,
    instruction: Sequence[int] = (),
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[tuple[int, ...]]:
    """The baseline: ``n`` answers sampled independently at ``temperature`` from the bare prompt."""
    stops = (sep,) if eos is None else (sep, eos)
    bare = icn_prompt(question, [], sep, instruction)
    return decode(model, bare.expand(n, -1), max_new_tokens, stops, True, temperature, generator)


def vote(answers: Sequence[tuple[int, ...]]) -> tuple[int, ...] | None:
    """Self-consistency: the most frequent answer, ties to the one seen first (``Counter.most_common``);
    empty answers do not vote. ``None`` when nothing votes."""
    counts = Counter(a for a in answers if a)
    return counts.most_common(1)[0][0] if counts else None
