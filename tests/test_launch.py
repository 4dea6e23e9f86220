"""Multi-process runs: bad ``--nproc`` values are refused, a failed launch is a non-zero exit, and a
signal to the launcher ends every process it started."""

import os
import signal
import subprocess
import sys
import time

import pytest
from paperzoo import cli
from runcli import registry, write_config


@pytest.mark.parametrize("nproc", ["0", "-4"])
def test_nproc_below_one_is_refused(monkeypatch, capsys, tmp_path, nproc):
    result = registry(monkeypatch, capsys, "run", str(write_config(tmp_path)), "--nproc", nproc)
    assert result.returncode == 2 and result.lines == [
        f"error: --nproc {nproc}: accepted: 1 or more processes"
    ]


def test_more_processes_than_cores_need_oversubscribe(monkeypatch, capsys, tmp_path):
    import torch

    launched = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(cli, "_launch", lambda nproc: launched.append(nproc) or 3)
    cfg = write_config(tmp_path)
    result = registry(monkeypatch, capsys, "run", str(cfg), "--nproc", "64")
    assert result.returncode == 2 and result.lines == [
        "error: --nproc 64: more processes than the 2 CPU cores of this machine; accepted: at most 2, "
        "or add --oversubscribe to run them anyway"
    ]
    assert launched == []
    # allowed explicitly, the launcher runs, and its failure (exit 3 here) is the command's exit code
    result = registry(monkeypatch, capsys, "run", str(cfg), "--nproc", "64", "--oversubscribe")
    assert launched == [64] and result.returncode == 3, result.stderr
    assert not (tmp_path / "runs").exists()


LAUNCHER = """
import sys
from paperzoo.cli import _supervise
sys.exit(_supervise([sys.executable, "-c", sys.argv[1]], grace=float(sys.argv[2])))
"""

WORKERS = """
import os, signal, subprocess, sys, time
pids = sys.argv[1]
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
worker = subprocess.Popen([sys.executable, "-c", stubborn])
with open(pids + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {worker.pid}")
os.replace(pids + ".tmp", pids)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_launcher_ends_every_worker(tmp_path, signum):
    pids = tmp_path / "pids"
    code = WORKERS.replace("sys.argv[1]", repr(str(pids)))
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, code, "1.0"])
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child, worker = map(int, pids.read_text().split())
    assert _alive(child) and _alive(worker)
    launcher.send_signal(signum)
    assert launcher.wait(timeout=60) == 128 + signum
    deadline = time.monotonic() + 10  # the worker ignores SIGTERM: it is killed after the grace time
    while (_alive(child) or _alive(worker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child) and not _alive(worker)


def test_the_launched_command_exit_code_is_returned(tmp_path):
    done = subprocess.run([sys.executable, "-c", LAUNCHER, "import sys; sys.exit(7)", "1.0"], timeout=60)
    assert done.returncode == 7


FAILING_TRAINER = """
import os
from paperzoo import hookimpl
from paperzoo.trainer import Supervised


class FailsOnRankOne(Supervised):
    def fit(self, run):
        if os.environ.get("RANK") == "1":
            raise RuntimeError("rank 1 fails")
        return super().fit(run)


@hookimpl
def register_trainers(register):
    register("fails_on_rank_one", f"{__name__}:FailsOnRankOne", "Supervised, failing on rank 1.")
"""


def test_a_failed_worker_fails_the_command(tmp_path):
    from conftest import REGISTRY_BIN

    plugin = tmp_path / "failing.py"
    plugin.write_text(FAILING_TRAINER)
    cfg = write_config(tmp_path, epochs=1)
    done = subprocess.run(
        [REGISTRY_BIN, "run", str(cfg), "--plugin", str(plugin), "trainer.name=fails_on_rank_one"]
        + ["--nproc", "2", "--oversubscribe"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "rank 1 fails" in done.stderr
