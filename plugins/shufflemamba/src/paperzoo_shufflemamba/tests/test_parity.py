"""Parity with the official code (huangzizheng01/ShuffleMamba, models_shuffle.py): golden outputs of its
``shuffle_forward`` through a 4-layer stack under four seeds, and its schedule line. No package implements
the method; the official function is pure torch, so it was run on CPU outside this repository (see
``data/official_shuffle_forward.json`` for the commit and command). The wrapper draws from torch's global
generator in the official order (one uniform number per training pass, then a permutation), so under the
same seed the outputs must be bitwise equal, and the generator must end in the same place."""

from __future__ import annotations

import json
from importlib import resources

import torch
from torch import nn

from paperzoo_shufflemamba.shuffle import StochasticLayerShuffle, shuffle_probabilities

DATA = resources.files("paperzoo_shufflemamba.tests") / "data"


def _golden() -> dict[str, torch.Tensor]:
    with resources.as_file(DATA / "official_shuffle_forward.pt") as path:
        return torch.load(path, weights_only=True)


class _VimStyleBlock(nn.Module):
    """The fixture's test block: ``(hidden, residual) -> (cumsum((hidden + residual) * w), hidden + residual)``."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = w

    def forward(self, hidden, residual=None):
        residual = hidden if residual is None else hidden + residual
        return torch.cumsum(residual * self.w, dim=1), residual


def _stack(golden, training: bool):
    probs = shuffle_probabilities(4, 0.9)
    layers = [
        StochasticLayerShuffle(_VimStyleBlock(w), p).train(training) for w, p in zip(golden["w"], probs)
    ]
    h, r, shuffled = golden["x"], None, 0
    for layer in layers:
        h, r = layer(h, r)
        shuffled += layer.last_permutation is not None
    return h, r, shuffled


def test_metadata_names_the_source():
    meta = json.loads((DATA / "official_shuffle_forward.json").read_text())
    assert meta["repository"].endswith("huangzizheng01/ShuffleMamba") and len(meta["commit"]) == 40


def test_matches_official_shuffle_forward(record_property):
    golden = _golden()
    total_shuffled, worst = 0, 0.0
    for seed in range(4):
        torch.manual_seed(seed)
        h, r, shuffled = _stack(golden, training=True)
        total_shuffled += shuffled
        worst = max(worst, (h - golden[f"hidden_seed{seed}"]).abs().max().item())
        assert torch.equal(h, golden[f"hidden_seed{seed}"]) and torch.equal(r, golden[f"residual_seed{seed}"])
        assert torch.equal(torch.rand(1, dtype=torch.float64), golden[f"next_rand_seed{seed}"])
    record_property("max_abs_diff_vs_official", worst)
    record_property("layers_shuffled_of_16", total_shuffled)
    assert total_shuffled >= 3  # the seeds exercise the shuffle, not only the unshuffled path
    unshuffled = golden["hidden_eval"]
    assert any(not torch.equal(golden[f"hidden_seed{s}"], unshuffled) for s in range(4))


def test_eval_matches_official_eval():
    golden = _golden()
    h, r, shuffled = _stack(golden, training=False)
    assert shuffled == 0 and torch.equal(h, golden["hidden_eval"]) and torch.equal(r, golden["residual_eval"])


def test_schedule_matches_official_line():
    golden = _golden()
    for depth, rate, key in ((4, 0.9, "ssr_depth4_rate0.9"), (24, 0.5, "ssr_depth24_rate0.5")):
        assert shuffle_probabilities(depth, rate) == golden[key].tolist()
