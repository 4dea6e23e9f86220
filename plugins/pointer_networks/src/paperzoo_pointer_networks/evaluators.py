"""Evaluators of a pointer network's decoded outputs on the validation split."""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle, batches

from paperzoo_pointer_networks.geometry import tour_length
from paperzoo_pointer_networks.model import IGNORE


def is_valid(seqs: torch.Tensor, n: int) -> torch.Tensor:
    """(B,) whether each sequence points at no input position twice (the stop and padding aside)."""
    real = (seqs >= 0) & (seqs < n)
    hot = torch.zeros(*seqs.shape[:1], n + 1, dtype=torch.long, device=seqs.device)
    hot.scatter_add_(1, torch.where(real, seqs, torch.full_like(seqs, n)), real.long())
    return (hot[:, :n] <= 1).all(1)


def decode_split(model: torch.nn.Module, dataset, beam_size: int, batch_size: int, constrain: bool | None):
    """Yield ``(x, targets, decoded)`` batches of ``dataset`` decoded by ``model`` (in eval mode)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for x, y in batches(dataset, batch_size):
            x = x.to(device)
            yield x, y.to(device), model.decode(x, beam_size=beam_size, constrain=constrain)
    finally:
        model.train(was_training)


class PointerSequenceAccuracy:
    """Exact match of the decoded position sequences with the targets (sorting, convex hull).

    :param beam_size: 1 for greedy decoding, more for beam search.
    :param batch_size: examples decoded at once.
    :param constrain: never point at a position twice (default: the model's ``mask_chosen``).

    Returns ``exact_match`` (whole sequence right, stop included), ``token_accuracy`` (right positions
    among the target's steps) and ``valid`` (no position repeated).
    """

    keys = ("exact_match", "token_accuracy", "valid")

    def __init__(self, beam_size: int = 1, batch_size: int = 1024, constrain: bool | None = None):
        self.beam_size, self.batch_size, self.constrain = beam_size, batch_size, constrain

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        exact = right = steps = valid = count = 0
        for x, y, seqs in decode_split(model, data.val, self.beam_size, self.batch_size, self.constrain):
            keep = y != IGNORE
            exact += int(((seqs == y) | ~keep).all(1).sum())
            right += int(((seqs == y) & keep).sum())
            steps += int(keep.sum())
            valid += int(is_valid(seqs, x.shape[1]).sum())
            count += len(y)
        return {"exact_match": exact / count, "token_accuracy": right / steps, "valid": valid / count}


class PointerTourLength:
    """Mean closed-tour length of the decoded tours beside that of the target (optimal) tours (TSP).

    :param beam_size: 1 for greedy decoding, more for beam search.
    :param batch_size: examples decoded at once.
    :param constrain: never visit a city twice (default: the model's ``mask_chosen``); the paper's beam
        search kept valid tours only.

    Returns ``tour_length`` (mean over every decoded sequence, read as a closed tour), ``target_length``
    (mean length of the targets), ``ratio`` (mean of decoded / target length per example) and ``valid``
    (fraction of decoded sequences that visit every city once).
    """

    keys = ("tour_length", "target_length", "ratio", "valid")

    def __init__(self, beam_size: int = 1, batch_size: int = 1024, constrain: bool | None = None):
        self.beam_size, self.batch_size, self.constrain = beam_size, batch_size, constrain

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        ours = target = ratio = valid = 0.0
        count = 0
        for x, y, seqs in decode_split(model, data.val, self.beam_size, self.batch_size, self.constrain):
            x64 = x.double()
            got, best = tour_length(x64, seqs.clamp(0, x.shape[1] - 1)), tour_length(x64, y)
            ours += float(got.sum())
            target += float(best.sum())
            ratio += float((got / best).sum())
            valid += float(is_valid(seqs, x.shape[1]).sum())
            count += len(y)
        return {
            "tour_length": ours / count,
            "target_length": target / count,
            "ratio": ratio / count,
            "valid": valid / count,
        }
