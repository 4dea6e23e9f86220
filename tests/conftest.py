import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REGISTRY_BIN = str(Path(sys.executable).with_name("registry"))


def tiny_config(tmp_path: Path, **trainer) -> dict:
    return {
        "seed": 0,
        "data": {"name": "synthetic_classification", "n_samples": 512, "n_features": 8, "num_classes": 3},
        "model": {"name": "mlp", "in_features": 8, "num_classes": 3, "hidden": [32]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "trainer": {"name": "supervised", "epochs": 3, "batch_size": 64, "progress": False, **trainer},
        "evaluators": [{"name": "accuracy"}, {"name": "loss"}],
        "output": {"dir": str(tmp_path / "runs")},
    }


@pytest.fixture
def fresh_registry():
    """A registry rebuilt for the test and restored afterwards."""
    from paperzoo import registry

    saved = registry._REGISTRY
    registry.reset()
    yield registry
    registry._REGISTRY = saved
