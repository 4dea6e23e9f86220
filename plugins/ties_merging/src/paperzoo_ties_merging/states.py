"""Reading and writing the model states that are merged."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from paperzoo import checkpoint
from safetensors.torch import load_model, save_model


def resolve(path: str | Path) -> Path:
    """The weights file a path names: a ``.safetensors``/``.pt``/``.pth``/``.bin`` file, a checkpoint
    directory holding ``model.safetensors``, or a run directory (its ``checkpoints/latest``)."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if (path / "model.safetensors").is_file():
        return path / "model.safetensors"
    latest = checkpoint.latest(path / "checkpoints")
    if latest is not None:
        return latest / "model.safetensors"
    raise FileNotFoundError(f"no weights at {path} (a weights file, a checkpoint or a run directory)")


def load_into(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load the weights at ``path`` into ``model`` (strictly: every key must match)."""
    file = resolve(path)
    if file.suffix == ".safetensors":
        load_model(model, str(file), strict=True)
    else:
        model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True), strict=True)
    return model


def state_of(template: torch.nn.Module, path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a copy of ``template``, with the weights at ``path`` loaded if given.

    Going through a module (rather than the raw file) restores tied weights that safetensors stores
    once, so every state has the same keys and aliasing as ``template``."""
    model = copy.deepcopy(template)
    if path is not None:
        load_into(model, path)
    return {name: value.detach() for name, value in model.state_dict(keep_vars=False).items()}


def save(model: torch.nn.Module, path: Path) -> None:
    """Write ``model``'s weights to a safetensors file (tied weights once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(path))


@torch.no_grad()
def assign(model: torch.nn.Module, base: dict[str, torch.Tensor], delta: dict[str, torch.Tensor], lam: float):
    """``theta = theta_0 + lam * delta`` written into ``model`` in place (entries without a delta get
    ``theta_0``)."""
    live = model.state_dict()
    names = list(base)
    torch._foreach_copy_([live[n] for n in names], [base[n] for n in names])
    keys = list(delta)
    torch._foreach_add_([live[n] for n in keys], [delta[n].to(live[n].dtype) for n in keys], alpha=lam)
