"""``maze_navigation``: decode the path of validation mazes and score it.

The model reads the maze description up to ``<PATH_START>`` and writes the path greedily:

- ``masked`` (bidirectional encoders, the official MLM-U evaluation): every path position starts as a
  hidden ``MASK``; left to right, the argmax at the next position is written and made visible;
- ``causal`` (decoders): ordinary greedy next-token decoding;
- ``auto``: ``masked`` for a model whose ``causal`` attribute is false, ``causal`` otherwise.

Scores: ``maze_exact_path`` (the decoded path equals the shortest path: in a DFS maze, a tree, the only
simple path), ``maze_legal_path`` (a walk from origin to target over open edges, ended by
``<PATH_END>``), ``maze_token_accuracy`` (the official per-token accuracy over the true path tokens).
"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle, fetch
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of

from paperzoo_mlm_u.mazes import MASK, PAD, PATH_END, judge, prefix_length_of
from paperzoo_mlm_u.mlmu import full_sequences


@torch.no_grad()
def decode_masked(model: torch.nn.Module, seq: torch.Tensor, start: int) -> torch.Tensor:
    """Fill positions ``start:`` of ``seq`` left to right with a bidirectional model, unfilled positions
    hidden; returns the filled tokens ``[B, T - start]``."""
    ids = seq.clone()
    ids[:, start:] = MASK
    attention = torch.zeros_like(ids)
    attention[:, :start] = 1
    for idx in range(start, ids.shape[1]):
        pred = logits_of(model(ids, attention_mask=attention))[:, idx].argmax(-1)
        ids[:, idx] = pred
        attention[:, idx] = 1
        if (ids[:, start : idx + 1] == PATH_END).any(1).all():
            ids[:, idx + 1 :] = PAD
            break
    return ids[:, start:]


@torch.no_grad()
def decode_causal(model: torch.nn.Module, seq: torch.Tensor, start: int) -> torch.Tensor:
    """Greedy next-token decoding of positions ``start:`` after the prefix ``seq[:, :start]``."""
    ids = seq[:, :start]
    for _ in range(seq.shape[1] - start):
        nxt = logits_of(model(ids))[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
        if (ids[:, start:] == PATH_END).any(1).all():
            break
    out = torch.full((seq.shape[0], seq.shape[1] - start), PAD, dtype=seq.dtype, device=seq.device)
    out[:, : ids.shape[1] - start] = ids[:, start:]
    return out


def score(seq: torch.Tensor, start: int, predicted: torch.Tensor) -> dict[str, int]:
    """Counts of predicted suffixes against whole sequences: ``exact`` and ``legal`` paths, ``correct``
    path tokens and ``tokens`` (the true path tokens, padding excluded)."""
    legal = exact = 0
    for row, pred in zip(seq.tolist(), predicted.tolist()):
        ok, same = judge(row, pred)
        legal, exact = legal + ok, exact + same
    truth = seq[:, start:]
    real = truth != PAD
    correct = int(((predicted == truth) & real).sum())
    return {"exact": exact, "legal": legal, "correct": correct, "tokens": int(real.sum())}


class MazeNavigation:
    """Exact-path accuracy on the validation mazes of :func:`paperzoo_mlm_u.data.mlm_u_mazes`.

    :param n_mazes: validation mazes scored (the first ones), ``batch_size`` at a time.
    :param decoding: ``auto``, ``masked`` or ``causal`` (module docstring).
    """

    keys = ("maze_exact_path", "maze_legal_path", "maze_token_accuracy")

    def __init__(self, n_mazes: int = 256, batch_size: int = 64, decoding: str = "auto") -> None:
        for name, value in (("n_mazes", n_mazes), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParamError(name, f"{value!r}; accepted: an integer >= 1")
        if decoding not in ("auto", "masked", "causal"):
            raise ParamError("decoding", f"{decoding!r}; accepted: 'auto', 'masked', 'causal'")
        self.n_mazes, self.batch_size, self.decoding = n_mazes, batch_size, decoding

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        masked = self.decoding == "masked" or (self.decoding == "auto" and not getattr(model, "causal", True))
        n = min(self.n_mazes, len(data.val))
        totals = {"exact": 0, "legal": 0, "correct": 0, "tokens": 0}
        try:
            for lo in range(0, n, self.batch_size):
                x, y = fetch(data.val, torch.arange(lo, min(n, lo + self.batch_size)))
                seq, _ = full_sequences(x.to(device), y.to(device))
                start = prefix_length_of(seq)
                pred = (decode_masked if masked else decode_causal)(model, seq, start)
                for k, v in score(seq, start, pred).items():
                    totals[k] += v
        finally:
            model.train(was_training)
        return {
            "maze_exact_path": totals["exact"] / n,
            "maze_legal_path": totals["legal"] / n,
            "maze_token_accuracy": totals["correct"] / max(1, totals["tokens"]),
        }
