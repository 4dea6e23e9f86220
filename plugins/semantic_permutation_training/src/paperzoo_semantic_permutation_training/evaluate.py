"""``spt_answer_ranking``: accuracy of choosing each question's answer among all the split's answers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo.data import DataBundle, fetch
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.transforms import IGNORE


def split_rows(x: torch.Tensor, y: torch.Tensor) -> tuple[list[list[int]], list[tuple[int, ...]]]:
    """Each row's prompt (the inputs before its first target) and answer (its targets, ``<eos>`` too)."""
    prompts, answers = [], []
    for xr, yr in zip(x.tolist(), y.tolist()):
        first = next(i for i, t in enumerate(yr) if t != IGNORE)
        prompts.append(xr[: first + 1])
        answers.append(tuple(t for t in yr if t != IGNORE))
    return prompts, answers


@torch.no_grad()
def answer_scores(
    model: torch.nn.Module, prompts: list[list[int]], candidates: list[tuple[int, ...]], chunk: int = 1024
) -> torch.Tensor:
    """``[len(prompts), len(candidates)]``: the summed log-probability of each candidate after each
    prompt under the causal LM ``model`` (float32)."""
    rows = [(p, c) for p in prompts for c in candidates]
    width = max(len(p) + len(c) for p, c in rows)
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        ids = torch.full((len(part), width), PAD, dtype=torch.long)
        tgt = torch.full((len(part), width), IGNORE, dtype=torch.long)
        for i, (p, c) in enumerate(part):
            ids[i, : len(p) + len(c)] = torch.tensor(p + list(c))
            tgt[i, len(p) - 1 : len(p) + len(c) - 1] = torch.tensor(c)
        logits = model(ids.to(device)).logits.float()
        nll = F.cross_entropy(logits.transpose(1, 2), tgt.to(device), reduction="none")
        out.append(-nll.sum(dim=1))
    return torch.cat(out).reshape(len(prompts), len(candidates)).cpu()


def ranking_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of rows whose own answer scores highest among the distinct answers of all rows."""
    prompts, answers = split_rows(x, y)
    candidates = sorted(set(answers))
    scores = answer_scores(model, prompts, candidates)
    gold = torch.tensor([candidates.index(a) for a in answers])
    return float((scores.argmax(dim=1) == gold).double().mean())


class AnswerRanking:
    """Scores every answer of a split after every question's prompt and reports how often a question's
    own answer is ranked first (``accuracy``) and the chance level ``1 / distinct answers``.

    :param split: ``val`` or ``train``; its rows are ``(inputs, targets)`` with answer-only targets.
    """

    keys = ("accuracy", "chance")

    def __init__(self, split: str = "val") -> None:
        if split not in ("val", "train"):
            raise ParamError("split", f"{split!r}; accepted: val, train")
        self.split = split

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        dataset = getattr(data, self.split)
        x, y = fetch(dataset, torch.arange(len(dataset)))
        was = model.training
        model.eval()
        try:
            accuracy = ranking_accuracy(model, x, y)
        finally:
            model.train(was)
        return {"accuracy": accuracy, "chance": 1.0 / len(set(split_rows(x, y)[1]))}
