"""The registered evaluators: ``key_space_bias`` (analysis) and ``in_context_navigation`` (decoding)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo_tinylm.tasks import IGNORE
from paperzoo_tinylm.tokenizer import EOS, PAD

from paperzoo_icn.key_space import METHODS, SIMILARITIES, TARGETS, key_space_bias, unembedding
from paperzoo_icn.navigate import in_context_navigation, sample_answers, vote


def _int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")


def _choice(name: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ParamError(name, f"{value!r}; accepted: one of {', '.join(map(repr, accepted))}")


def _device(model: torch.nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _rows(data: Any, split: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = data.val if split == "val" else data.train
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    return fetch(dataset, order)


def split_answers(tokens: list[int], sep: int) -> set[tuple[int, ...]]:
    """The reference answers of a row: its answer tokens split at ``sep`` (end and padding dropped)."""
    out, cur = set(), []
    for t in [*tokens, sep]:
        if t == sep:
            if cur:
                out.add(tuple(cur))
            cur = []
        elif t not in (EOS, PAD, IGNORE):
            cur.append(t)
    return out


def task_question(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """A task row as (question ids up to the first answer token, answer token ids)."""
    keep = torch.nonzero(targets != IGNORE)[:, 0]
    if keep.numel() == 0:
        raise ValueError("the row has no answer tokens (targets are all IGNORE)")
    return inputs[: int(keep[0]) + 1], targets[keep].tolist()


class KeySpaceBias:
    """Spurious key-space correlation at the answer positions of ``n_rows`` rows (every position whose
    target is not ignored): the correlation (``method``) between the log-probability (``target``) of the
    tokens ranked ``lo .. hi-1`` and the ``similarity`` of their unembedding row to the top-1 token's.

    Reports ``key_bias`` (mean correlation), ``key_bias_std``, ``key_similarity`` (mean similarity of the
    window keys to the top-1 key) and ``positions``.
    """

    keys = ("key_bias", "key_bias_std", "key_similarity", "positions")

    def __init__(
        self,
        lo: int = 10,
        hi: int = 100,
        similarity: str = "cosine",
        target: str = "logprob",
        method: str = "spearman",
        n_rows: int = 32,
        split: str = "val",
        seed: int = 0,
    ) -> None:
        _int("lo", lo, 1)
        _int("hi", hi, lo + 3)
        _choice("similarity", similarity, SIMILARITIES)
        _choice("target", target, TARGETS)
        _choice("method", method, METHODS)
        _int("n_rows", n_rows, 1)
        _choice("split", split, ("train", "val"))
        _int("seed", seed, 0)
        self.lo, self.hi, self.similarity, self.target, self.method = lo, hi, similarity, target, method
        self.n_rows, self.split, self.seed = n_rows, split, seed

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        was_training = model.training
        model.eval()
        x, y = _rows(data, self.split, self.n_rows, self.seed)
        x, y = x.to(_device(model)), y.to(_device(model))
        logits = model(x).logits[(y != IGNORE) & (y != PAD)]
        corr, sim = key_space_bias(
            logits, unembedding(model), self.lo, self.hi, self.similarity, self.target, self.method
        )
        model.train(was_training)
        return {
            "key_bias": float(corr.mean()),
            "key_bias_std": float(corr.std()) if corr.numel() > 1 else 0.0,
            "key_similarity": float(sim.mean()),
            "positions": float(corr.numel()),
        }


class InContextNavigation:
    """ICN on ``n_prompts`` task questions against temperature sampling of as many answers.

    Each question gets ``k`` ICN answers (greedy, the explored list in context) and ``k`` answers sampled
    at ``temperature`` from the bare question; a row's reference answers are its answer tokens split at
    ``sep`` (one answer for an ordinary task, the members for ``icn_member_sets``). Reports, per question
    on average: ``distinct_correct`` and ``sample_distinct_correct`` (distinct correct answers found),
    ``vote_accuracy`` and ``sample_vote_accuracy`` (the majority answer is correct: self-consistency),
    ``first_accuracy`` (ICN's step 1, plain greedy decoding) and ``precision`` (share of ICN's answers
    that are correct).
    """

    keys = (
        "distinct_correct",
        "sample_distinct_correct",
        "vote_accuracy",
        "sample_vote_accuracy",
        "first_accuracy",
        "precision",
    )

    def __init__(
        self,
        k: int = 6,
        max_new_tokens: int = 4,
        sep: str = ",",
        instruction: str = "",
        exclude_first: bool = False,
        complete_from: str = "context",
        temperature: float = 1.0,
        n_prompts: int = 32,
        split: str = "val",
        seed: int = 0,
    ) -> None:
        _int("k", k, 1)
        _int("max_new_tokens", max_new_tokens, 1)
        if not isinstance(sep, str) or len(sep.encode("utf-8")) != 1:
            raise ParamError("sep", f"{sep!r}; accepted: a one-byte string such as ','")
        if not isinstance(instruction, str):
            raise ParamError("instruction", f"{instruction!r}; accepted: a string")
        if not isinstance(exclude_first, bool):
            raise ParamError("exclude_first", f"{exclude_first!r}; accepted: true or false")
        _choice("complete_from", complete_from, ("context", "bare"))
        ok = isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0
        if not ok:
            raise ParamError("temperature", f"{temperature!r}; accepted: a number > 0")
        _int("n_prompts", n_prompts, 1)
        _choice("split", split, ("train", "val"))
        _int("seed", seed, 0)
        self.k, self.max_new_tokens, self.sep = k, max_new_tokens, sep.encode("utf-8")[0]
        self.instruction = list(instruction.encode("utf-8"))
        self.exclude_first, self.complete_from, self.temperature = exclude_first, complete_from, temperature
        self.n_prompts, self.split, self.seed = n_prompts, split, seed

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        was_training = model.training
        model.eval()
        x, y = _rows(data, self.split, self.n_prompts, self.seed)
        device = _device(model)
        gen = torch.Generator(device).manual_seed(self.seed)
        totals = dict.fromkeys(self.keys, 0.0)
        common = {"sep": self.sep, "eos": EOS, "instruction": self.instruction}
        for row in range(x.shape[0]):
            q, answer = task_question(x[row].to(device), y[row].to(device))
            gold = split_answers(answer, self.sep)
            nav = in_context_navigation(
                model,
                q,
                self.k,
                self.max_new_tokens,
                exclude_first=self.exclude_first,
                complete_from=self.complete_from,
                **common,
            )
            drawn = sample_answers(
                model, q, self.k, self.max_new_tokens, temperature=self.temperature, generator=gen, **common
            )
            totals["distinct_correct"] += len(set(nav.answers) & gold)
            totals["sample_distinct_correct"] += len(set(drawn) & gold)
            totals["vote_accuracy"] += float(vote(nav.answers) in gold)
            totals["sample_vote_accuracy"] += float(vote(drawn) in gold)
            totals["first_accuracy"] += float(nav.answers[0] in gold)
            totals["precision"] += sum(a in gold for a in nav.answers) / self.k
        model.train(was_training)
        return {key: value / x.shape[0] for key, value in totals.items()}
