"""Checkpoints survive a kill at any instant of a save, and resume recovers (or refuses) a broken
``latest`` instead of silently restarting from step 0."""

import os
import shutil

import pytest
import torch
from paperzoo import checkpoint
from paperzoo.rundir import RunDirError

# every operation of a save that changes the checkpoint directory (mkdtemp and mkstemp only add fresh
# temporary names nothing points at)
OPERATIONS = [
    (os, "rename"),
    (os, "replace"),
    (os, "unlink"),
    (shutil, "rmtree"),
    (checkpoint, "save_model"),
    (torch, "save"),
]


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def _model(value: float) -> torch.nn.Module:
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


def _saved_value(path) -> tuple[int, float]:
    """The step and the (constant) weight value of a checkpoint, loaded as a resume would."""
    model = torch.nn.Linear(3, 2)
    state = checkpoint.load(path, model)
    return state["step"], float(model.weight[0, 0].detach())


def _kill_at(monkeypatch, k: int) -> list[str]:
    """Make the ``k``-th operation (counting from 0) of the next save raise ``Killed`` before it acts;
    a partial ``rmtree`` deletes one file first. Returns the log of operations run."""
    log: list[str] = []
    for module, name in OPERATIONS:
        original = getattr(module, name)

        def op(*args, _original=original, _name=name, **kwargs):
            if len(log) > k >= 0:  # dead: no clean-up runs after a kill
                raise Killed
            log.append(_name)
            if len(log) - 1 == k:
                if _name == "rmtree" and os.path.isdir(args[0]):
                    files = sorted(e.path for e in os.scandir(args[0]) if e.is_file())
                    if files:
                        os.unlink(files[0])
                raise Killed
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, op)
    return log


@pytest.mark.parametrize("second_step", [5, 10], ids=["same step again", "next step"])
def test_a_kill_at_any_point_of_a_save_leaves_a_complete_latest(monkeypatch, tmp_path, second_step):
    directory = tmp_path / "checkpoints"
    checkpoint.save(directory, _model(1.0), {"step": 5})
    checkpoint.save(tmp_path / "dry", _model(1.0), {"step": 5})
    with monkeypatch.context() as m:  # a dry run counts the operations of the second save
        log = _kill_at(m, -1)
        checkpoint.save(tmp_path / "dry", _model(2.0), {"step": second_step})
        n = len(log)
    assert n >= 5
    for k in range(n + 1):  # k == n: the save completes
        run_dir = tmp_path / f"kill-{k}"
        shutil.copytree(directory, run_dir)
        with monkeypatch.context() as m:
            _kill_at(m, k)
            try:
                checkpoint.save(run_dir, _model(2.0), {"step": second_step})
            except Killed:
                pass
        found = checkpoint.latest(run_dir)
        assert found is not None, f"killed at operation {k}: no checkpoint"
        assert _saved_value(found) in {(5, 1.0), (second_step, 2.0)}, f"killed at operation {k}"
    # after a complete save, only the newest checkpoint is kept
    assert sorted(p.name for p in (tmp_path / f"kill-{n}").iterdir()) == [
        "latest",
        found.name,
    ]


def _legacy_crash(tmp_path, keep_tmp: bool, truncate: bool = False):
    """The state an older save left when killed between deleting ``step-10`` and renaming its
    complete temporary copy into place."""
    directory = tmp_path / "checkpoints"
    checkpoint.save(directory, _model(2.0), {"step": 10})
    if keep_tmp:
        os.rename(directory / "step-000010", directory / ".step-000010.tmp")
        if truncate:
            path = directory / ".step-000010.tmp" / "model.safetensors"
            path.write_bytes(path.read_bytes()[:40])
    else:
        shutil.rmtree(directory / "step-000010")
    return directory


def test_latest_naming_a_missing_directory_recovers_the_complete_copy(tmp_path, capsys):
    directory = _legacy_crash(tmp_path, keep_tmp=True)
    found = checkpoint.latest(directory)
    assert found == directory / ".step-000010.tmp" and _saved_value(found) == (10, 2.0)
    assert (
        "'latest' names 'step-000010', which is missing; resuming from .step-000010.tmp"
        in capsys.readouterr().err
    )


def test_latest_naming_a_missing_directory_falls_back_to_the_newest_complete_step(tmp_path):
    directory = _legacy_crash(tmp_path, keep_tmp=True, truncate=True)
    os.makedirs(directory / "step-000005")
    torch.save({"step": 5}, directory / "step-000005" / "state.pt")
    from safetensors.torch import save_model

    save_model(_model(1.0), str(directory / "step-000005" / "model.safetensors"))
    assert _saved_value(checkpoint.latest(directory)) == (5, 1.0)


@pytest.mark.parametrize("truncate", [False, True], ids=["copy deleted", "copy cut short"])
def test_latest_naming_a_missing_directory_with_nothing_complete_is_an_error(tmp_path, truncate):
    directory = _legacy_crash(tmp_path, keep_tmp=truncate, truncate=truncate)
    with pytest.raises(RunDirError, match="'latest' names 'step-000010', which is missing, and no complete"):
        checkpoint.latest(directory)


def test_no_checkpoint_at_all_is_none(tmp_path):
    assert checkpoint.latest(tmp_path / "checkpoints") is None
