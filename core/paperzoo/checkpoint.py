"""Checkpoints: weights in safetensors, optimizer/scheduler/RNG state beside them, written atomically.

Layout of ``<run_dir>/checkpoints/``::

    step-000120/model.safetensors   weights (shared tensors handled by safetensors.torch.save_model)
    step-000120/state.pt            optimizer, scheduler, RNG and loop position (plain tensors and
                                    containers only: loaded with ``torch.load(weights_only=True)``)
    latest                          the name of the newest complete checkpoint

Saving never removes or overwrites a checkpoint that ``latest`` names: the new one is written into a
fresh temporary directory, renamed to a name not in use (``step-000120``, or ``step-000120-1`` when
a resumed run saves that step again), then ``latest`` is replaced atomically by renaming a new file
over it, and only then are older checkpoints deleted. A run killed at any instant leaves ``latest``
naming a complete checkpoint. Should ``latest`` name a missing directory all the same (a run dir
written by an older release, or edited by hand), :func:`latest` falls back to the newest checkpoint
that loads completely, a complete temporary copy included, and says so; with none left it is an
error, never a silent restart from step 0.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_model

from . import rundir

NAME = re.compile(r"^step-(\d+)(?:-\d+)?$")
TEMPORARY = re.compile(r"^\.step-(\d+)\..*tmp$")


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
    tmp = Path(tempfile.mkdtemp(dir=directory, prefix=f".{name}.", suffix=".tmp"))
    tmp.chmod(0o777 & ~rundir.umask())  # what mkdir would give, not mkdtemp's 0700
    save_model(model, str(tmp / "model.safetensors"))
    torch.save(state, tmp / "state.pt")
    final, n = directory / name, 0
    while final.exists() or final.is_symlink():
        n += 1
        final = directory / f"{name}-{n}"
    os.rename(tmp, final)  # complete, under a name nothing points at yet
    rundir.write_text(directory / "latest", final.name)  # the atomic switch
    for old in directory.iterdir():
        if old != final and (NAME.match(old.name) or TEMPORARY.match(old.name)):
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.startswith(".latest.") and old.name.endswith(".tmp"):
            old.unlink(missing_ok=True)
    return final


def latest(directory: Path, quiet: bool = False) -> Path | None:
    """The checkpoint to resume from: the one ``latest`` names; if that is missing, the newest
    checkpoint that loads completely (a warning says which, unless ``quiet``). ``None`` when there
    has never been one; a RunDirError when there was one and none is left."""
    named = _pointer(directory / "latest")
    if named is not None and NAME.match(named) and _present(directory / named):
        return directory / named
    for candidate in _candidates(directory):
        if _complete(candidate):
            what = f"'latest' names {named!r}, which is missing" if named else "'latest' is missing"
            if not quiet:
                print(f"warning: {directory}: {what}; resuming from {candidate.name}", file=sys.stderr)
            return candidate
    if named is not None or _candidates(directory):
        raise rundir.RunDirError(
            f"{directory}: 'latest' names {named!r}, which is missing, and no complete checkpoint is left; "
            "the run cannot be resumed: start it again"
        )
    return None


def missing_message(run_dir: Path) -> str:
    """Why ``--resume run_dir`` cannot continue when it has no checkpoint at all."""
    return (
        f"--resume {run_dir}: the run has no checkpoint (it was stopped before its first one); "
        "set trainer.checkpoint_every to write checkpoints during training, and start it again"
    )


def load(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load weights into ``model`` and return the saved state (never unpickles arbitrary objects)."""
    load_model(model, str(path / "model.safetensors"))
    return torch.load(path / "state.pt", weights_only=True)


def _pointer(path: Path) -> str | None:
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return rundir.read_text(path).strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _present(path: Path) -> bool:
    return (path / "model.safetensors").is_file() and (path / "state.pt").is_file()


def _candidates(directory: Path) -> list[Path]:
    """Checkpoint directories, complete names before temporary ones, newest step first."""
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = NAME.match(entry.name) or TEMPORARY.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink():
            found.append((int(match.group(1)), entry.name.startswith("step-"), entry.name, entry))
    return [entry for *_, entry in sorted(found, reverse=True)]


def _complete(path: Path) -> bool:
    """Whether both files of a checkpoint load (a copy cut short by a kill does not)."""
    if not _present(path):
        return False
    try:
        load_file(str(path / "model.safetensors"))
        state = torch.load(path / "state.pt", weights_only=True)
    except Exception:
        return False
    match = NAME.match(path.name) or TEMPORARY.match(path.name)
    return isinstance(state, dict) and match is not None and state.get("step") == int(match.group(1))
