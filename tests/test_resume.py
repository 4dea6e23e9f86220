"""Resuming: clear messages, a finished run left alone, time accumulated across resumes, recovery
from a broken ``latest``, and run directories that are locked, created atomically and never written
through a symbolic link."""

import json
import os
import shutil
import threading

import pytest
import yaml
from conftest import tiny_config
from paperzoo import engine, rundir
from runcli import registry


class Killed(BaseException):
    """Stands for SIGKILL: the run stops right there."""


def _config(tmp_path, name):
    config = tiny_config(tmp_path, checkpoint_every=5)  # 21 steps, checkpoints at 5, 10, 15 and 21
    config["output"]["name"] = name
    return config


def _killed_run(monkeypatch, tmp_path, name="killed", at_step=10, clock_step=None):
    """A run stopped right after its checkpoint at ``at_step``; with ``clock_step``, each reading of
    the trainer's clock advances by that many seconds."""
    from paperzoo import trainer

    original = trainer.Supervised.save_checkpoint

    def save_then_die(self, run):
        original(self, run)
        if self.state.step == at_step:
            raise Killed

    with monkeypatch.context() as m:
        m.setattr(trainer.Supervised, "save_checkpoint", save_then_die)
        if clock_step is not None:
            ticks = iter(range(10**9))
            m.setattr(trainer.time, "perf_counter", lambda: clock_step * next(ticks))
        with pytest.raises(Killed):
            engine.execute(_config(tmp_path, name), "cfg.yaml")
    return tmp_path / "runs" / name


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_resume_of_a_missing_directory(monkeypatch, capsys, tmp_path):
    missing = tmp_path / "runs" / "quickstart-20261123-101500"
    result = registry(monkeypatch, capsys, "run", "--resume", str(missing))
    assert result.returncode == 2 and result.lines == [
        f"error: --resume {missing}: no such run directory; give a directory that `registry run` created "
        "(its path is printed as run_dir)"
    ]


def test_resume_of_a_run_without_checkpoint(monkeypatch, capsys, tmp_path):
    run_dir = tmp_path / "runs" / "early"
    run_dir.mkdir(parents=True)  # killed before its first checkpoint: only the resolved config
    (run_dir / "config.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path)))
    result = registry(monkeypatch, capsys, "run", "--resume", str(run_dir))
    assert result.returncode == 2 and len(result.lines) == 1
    assert result.lines[0].startswith(f"error: --resume {run_dir}: the run has no checkpoint")
    assert "set trainer.checkpoint_every" in result.lines[0]
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml"]


def test_resuming_a_finished_run_prints_its_summary_and_writes_nothing(monkeypatch, capsys, tmp_path):
    summary = engine.execute(_config(tmp_path, "done"), "cfg.yaml")
    run_dir = tmp_path / "runs" / "done"

    def snapshot():
        return {
            str(p.relative_to(run_dir)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(run_dir.rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    result = registry(monkeypatch, capsys, "run", "--resume", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "already complete" in result.stdout and f"{summary['train_seconds']:.4f}" in result.stdout
    assert snapshot() == before


def test_train_seconds_accumulate_across_a_resume(monkeypatch, tmp_path):
    run_dir = _killed_run(monkeypatch, tmp_path, clock_step=100.0)  # the first 10 steps "took" >= 1000 s
    summary = engine.execute(yaml.safe_load((run_dir / "config.yaml").read_text()), resume_dir=run_dir)
    assert summary["steps"] == 21 and summary["train_seconds"] >= 1000


def test_resume_recovers_from_latest_naming_a_missing_directory(monkeypatch, capsys, tmp_path):
    full = engine.execute(_config(tmp_path, "full"), "cfg.yaml")
    run_dir = _killed_run(monkeypatch, tmp_path)
    checkpoints = run_dir / "checkpoints"
    # what an older save left when killed between deleting step-10 and renaming its copy into place
    os.rename(checkpoints / "step-000010", checkpoints / ".step-000010.tmp")
    result = registry(monkeypatch, capsys, "run", "--resume", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "resuming from .step-000010.tmp" in result.stderr
    steps = [(r["step"], r.get("loss"), r.get("final")) for r in _rows(run_dir)]
    assert steps == [(r["step"], r.get("loss"), r.get("final")) for r in _rows(tmp_path / "runs" / "full")]
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == full["steps"] == 21


def test_resume_without_any_complete_checkpoint_is_refused(monkeypatch, capsys, tmp_path):
    run_dir = _killed_run(monkeypatch, tmp_path)
    shutil.rmtree(run_dir / "checkpoints" / "step-000010")
    metrics = (run_dir / "metrics.jsonl").read_bytes()
    result = registry(monkeypatch, capsys, "run", "--resume", str(run_dir))
    assert result.returncode == 2 and len(result.lines) == 1, result.stderr
    assert (
        "'latest' names 'step-000010', which is missing, and no complete checkpoint is left" in result.stderr
    )
    assert (run_dir / "metrics.jsonl").read_bytes() == metrics  # no silent restart from step 0


@pytest.mark.parametrize("name", ["metrics.jsonl", "summary.json", "checkpoints/.latest.tmp"])
def test_resume_refuses_symbolic_links_in_the_run_directory(monkeypatch, capsys, tmp_path, name):
    run_dir = _killed_run(monkeypatch, tmp_path)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = run_dir / name
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    result = registry(monkeypatch, capsys, "run", "--resume", str(run_dir))
    assert result.returncode == 2 and result.lines == [
        f"error: {link}: a symbolic link in a run directory; a run directory holds only files it wrote "
        "itself: remove the link"
    ]
    assert target.read_text() == "keep me\n"


def test_run_files_are_never_written_through_a_link(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "summary.json"
    link.symlink_to(target)
    rundir.write_text(link, "{}\n")  # replaces the link itself
    assert not link.is_symlink() and link.read_text() == "{}\n" and target.read_text() == "keep me\n"
    link.unlink()
    link.symlink_to(target)
    with pytest.raises(OSError):
        rundir.append_text(link, "more\n")
    with pytest.raises(OSError):
        rundir.read_text(link)
    assert target.read_text() == "keep me\n"


def test_a_run_directory_in_use_is_refused(monkeypatch, capsys, tmp_path):
    run_dir = _killed_run(monkeypatch, tmp_path)
    metrics = (run_dir / "metrics.jsonl").read_bytes()
    with rundir.locked(run_dir):  # another process writing it
        result = registry(monkeypatch, capsys, "run", "--resume", str(run_dir))
    assert result.returncode == 2 and result.lines == [
        f"error: {run_dir}: the run directory is in use by another process"
    ]
    assert (run_dir / "metrics.jsonl").read_bytes() == metrics
    with rundir.locked(run_dir):  # released: it can be locked again
        pass


def test_run_directories_are_created_atomically(tmp_path):
    (tmp_path / "runs" / "x").mkdir(parents=True)
    made: list = []
    start = threading.Barrier(8)

    def create():
        start.wait()
        made.extend(rundir.create(tmp_path / "runs", "x") for _ in range(10))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == len(set(made)) == 80  # no two callers got the same directory
    assert sorted(p.name for p in made) == sorted(f"x-{i}" for i in range(1, 81))
