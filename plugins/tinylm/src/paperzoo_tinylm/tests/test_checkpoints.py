"""The pretrained-checkpoint machinery on a tiny recipe: cache location, train once then load, determinism."""

from __future__ import annotations

import pytest
import torch

import paperzoo_tinylm
from paperzoo_tinylm import checkpoints

TINY_RECIPE = {
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32},
    "data": {"seq_len": 16, "max_bytes": 4000, "val_fraction": 0.1, "seed": 0},
    "train": {"steps": 3, "batch_size": 4, "lr": 1e-2, "min_lr": 1e-3, "warmup": 1, "betas": [0.9, 0.95],
              "weight_decay": 0.1, "clip": 1.0, "seed": 0, "threads": 1},
}  # fmt: skip


@pytest.fixture
def tiny_recipe(monkeypatch, tmp_path):
    monkeypatch.setitem(checkpoints.RECIPES, "tiny-test", TINY_RECIPE)
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path))
    calls = []
    real = checkpoints.train
    monkeypatch.setattr(checkpoints, "train", lambda recipe: calls.append(1) or real(recipe))
    return calls


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path / "x"))
    assert checkpoints.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("PAPERZOO_CACHE")
    assert "paperzoo" in str(checkpoints.cache_dir())


def test_trains_once_then_loads_the_same_weights(tiny_recipe, tmp_path):
    first = paperzoo_tinylm.pretrained("tiny-test")
    path = checkpoints.checkpoint_path("tiny-test")
    assert path.exists() and path.parent == tmp_path / "tinylm" and tiny_recipe == [1]
    second = paperzoo_tinylm.pretrained("tiny-test")
    assert tiny_recipe == [1]  # loaded, not retrained
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert second.pretrained_info["key"] == path.stem.rsplit("-", 1)[-1]
    assert second.pretrained_info["val_bpb"] == first.pretrained_info["val_bpb"] > 0
    retrained = paperzoo_tinylm.pretrained("tiny-test", retrain=True)  # deterministic: bitwise the same
    assert tiny_recipe == [1, 1]
    for (name, a), b in zip(first.state_dict().items(), retrained.state_dict().values()):
        assert torch.equal(a, b), name


def test_key_changes_with_the_recipe(tiny_recipe, monkeypatch):
    before = checkpoints.checkpoint_path("tiny-test")
    monkeypatch.setitem(
        checkpoints.RECIPES, "tiny-test", {**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "steps": 4}}
    )
    assert checkpoints.checkpoint_path("tiny-test") != before


def test_unknown_checkpoint_is_named():
    with pytest.raises(KeyError, match="stdlib-small"):
        paperzoo_tinylm.pretrained("stdlib-huge")


def test_bigram_baseline_closed_form():
    # train pairs: 0->1 three times; smoothing 0.5 over 256 symbols
    x, y = torch.tensor([[0, 0, 0]]), torch.tensor([[1, 1, 1]])
    bits = checkpoints.bigram_bits_per_byte(x, y, torch.tensor([[0]]), torch.tensor([[1]]), alpha=0.5)
    assert bits == pytest.approx(
        -torch.log2(torch.tensor(3.5 / (3 + 0.5 * 256), dtype=torch.float64)).item(), abs=1e-12
    )
