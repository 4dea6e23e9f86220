"""Checkpoints: weights in safetensors, optimizer/scheduler/RNG state beside them, written atomically.

Layout of ``<run_dir>/checkpoints/``::

    step-000120/model.safetensors   weights (shared tensors handled by safetensors.torch.save_model)
    step-000120/state.pt            optimizer, scheduler, RNG and loop position (plain tensors and
                                    containers only: loaded with ``torch.load(weights_only=True)``)
    latest                          the name of the newest complete checkpoint

A checkpoint directory is written under a temporary name and renamed when complete; ``latest`` is
replaced atomically after that, so a run killed at any moment leaves a usable checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": list(_flatten(random.getstate()))}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, *internal, gauss = state["python"]
    random.setstate((version, tuple(internal), None if gauss == "none" else gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _flatten(python_state: tuple) -> list:
    version, internal, gauss = python_state
    return [version, *internal, "none" if gauss is None else gauss]


def save(directory: Path, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    """Write a checkpoint named after ``state["step"]``, point ``latest`` at it, drop older ones."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"step-{state['step']:06d}"
    final, tmp = directory / name, directory / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    torch.save(state, tmp / "state.pt")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = directory / ".latest.tmp"
    pointer.write_text(name)
    os.replace(pointer, directory / "latest")
    for old in directory.glob("step-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest(directory: Path) -> Path | None:
    pointer = directory / "latest"
    if not pointer.exists():
        return None
    path = directory / pointer.read_text().strip()
    return path if path.exists() else None


def load(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load weights into ``model`` and return the saved state (never unpickles arbitrary objects)."""
    load_model(model, str(path / "model.safetensors"))
    return torch.load(path / "state.pt", weights_only=True)
