"""JRT-Prompt (Arora et al., 2024): repeat the context ``repeats`` times before the questions, so that a
recurrent LM reads it again knowing what it holds, and measure recall on the answers.

For tinylm's recall tasks the context is everything between ``<bos>`` and the questions: in
``tinylm_mqar`` the key-value pairs and the ``|`` after them, in ``tinylm_kv_retrieval`` the
``key:value,`` pairs and their filler up to the first ``?``. The repeated example is
``<bos> C C ... C Q`` (``C`` the context, ``Q`` the rest), with the same answer targets, shifted.
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.tasks import IGNORE, answer_accuracy
from torch import nn

#: The character that ends (``mqar``: included) or follows (``kv_retrieval``: excluded) the context.
CONTEXT_END = {"tinylm_mqar": ("|", True), "tinylm_kv_retrieval": ("?", False)}


def context_end(ids: list[int], task: str) -> int:
    """The index just after the context in an input ``ids`` (``ids[0]`` is ``<bos>``)."""
    if task not in CONTEXT_END:
        raise ValueError(f"task: got {task!r}; accepted: one of {sorted(CONTEXT_END)}")
    char, included = CONTEXT_END[task]
    token = ord(char)
    if token not in ids:
        raise ValueError(f"{task}: no {char!r} in the example; accepted: an example of {task}")
    return ids.index(token) + int(included)


def jrt_example(ids: list[int], targets: list[int], task: str, repeats: int = 2) -> tuple[list, list]:
    """One example (inputs and targets of equal length) with its context read ``repeats`` times."""
    if repeats < 1:
        raise ValueError(f"repeats: got {repeats}; accepted: an integer >= 1")
    end = context_end(ids, task)
    if any(t != IGNORE for t in targets[:end]):
        raise ValueError(f"{task}: a target inside the context; accepted: answer-only targets after it")
    context = ids[1:end]
    new_ids = ids[:end] + context * (repeats - 1) + ids[end:]
    new_targets = [IGNORE] * (len(context) * (repeats - 1)) + targets
    return new_ids, new_targets


def jrt_batch(x: torch.Tensor, y: torch.Tensor, task: str, repeats: int = 2) -> tuple[torch.Tensor, ...]:
    """:func:`jrt_example` over a batch ``[B, T]`` (every row's context must have the same length)."""
    rows = [jrt_example(a.tolist(), b.tolist(), task, repeats) for a, b in zip(x, y)]
    if len({len(r[0]) for r in rows}) != 1:
        raise ValueError(
            f"{task}: contexts of different lengths in one batch; accepted: fixed-length examples"
        )
    return (
        torch.tensor([r[0] for r in rows], dtype=x.dtype, device=x.device),
        torch.tensor([r[1] for r in rows], dtype=y.dtype, device=y.device),
    )


def logits_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The logits of any LM: an output with ``.logits``, a tuple whose first item they are, or a tensor."""
    out = model(x)
    if hasattr(out, "logits"):
        return out.logits
    return out[0] if isinstance(out, tuple | list) else out


class JRTPromptEvaluator:
    """``jrt_prompt``: recall accuracy of any LM on ``tinylm_mqar`` / ``tinylm_kv_retrieval`` answers,
    with the context read once and read ``repeats`` times (teacher-forced, answer tokens only).

    Keys: ``token_accuracy_once``, ``exact_once``, ``token_accuracy_jrt``, ``exact_jrt`` and
    ``token_accuracy_gain`` (jrt minus once).
    """

    keys = ("token_accuracy_once", "exact_once", "token_accuracy_jrt", "exact_jrt", "token_accuracy_gain")

    def __init__(
        self,
        repeats: int = 2,
        batch_size: int = 32,
        n_batches: int | None = None,
        split: str = "val",
        task: str | None = None,
    ) -> None:
        """:param repeats: how many times the context is read (2: "just read twice").
        :param batch_size: examples per forward pass.
        :param n_batches: batches evaluated from the start of the split (``None``: all).
        :param split: ``val`` or ``train``.
        :param task: ``tinylm_mqar`` or ``tinylm_kv_retrieval`` (``None``: the data's name)."""
        if repeats < 1:
            raise ValueError(f"repeats: got {repeats}; accepted: an integer >= 1")
        if batch_size < 1 or (n_batches is not None and n_batches < 1):
            raise ValueError("batch_size and n_batches: accepted: positive integers (n_batches may be None)")
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if task is not None and task not in CONTEXT_END:
            raise ValueError(f"task: got {task!r}; accepted: one of {sorted(CONTEXT_END)} or None")
        self.repeats, self.batch_size, self.n_batches = repeats, batch_size, n_batches
        self.split, self.task = split, task

    @torch.no_grad()
    def __call__(self, model: nn.Module, data) -> dict[str, float]:
        from paperzoo.data import batches

        task = self.task or getattr(data, "name", None)
        if task not in CONTEXT_END:
            raise ValueError(f"data: got {task!r}; accepted: one of {sorted(CONTEXT_END)} (or set task)")
        device = next(model.parameters()).device
        was = model.training
        model.eval()
        sums = {"once": [0.0, 0.0], "jrt": [0.0, 0.0]}
        n = 0
        for i, (x, y) in enumerate(batches(getattr(data, self.split), self.batch_size)):
            if self.n_batches is not None and i == self.n_batches:
                break
            xj, yj = jrt_batch(x, y, task, self.repeats)
            for name, (a, b) in {"once": (x, y), "jrt": (xj, yj)}.items():
                tok, ex = answer_accuracy(logits_of(model, a.to(device)).float().cpu(), b)
                sums[name][0] += tok * len(x)
                sums[name][1] += ex * len(x)
            n += len(x)
        model.train(was)
        res = {
            "token_accuracy_once": sums["once"][0] / n,
            "exact_once": sums["once"][1] / n,
            "token_accuracy_jrt": sums["jrt"][0] / n,
            "exact_jrt": sums["jrt"][1] / n,
        }
        res["token_accuracy_gain"] = res["token_accuracy_jrt"] - res["token_accuracy_once"]
        return res
