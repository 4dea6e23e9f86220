"""Run ``registry`` in this process (``paperzoo.cli.main``, exactly what the script runs): no torch
import per call, so bad-input tests stay fast."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def registry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> Result:
    from paperzoo import cli

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["registry", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out = capsys.readouterr()
    code = exited.value.code
    return Result(code if isinstance(code, int) else (0 if code is None else 1), out.out, out.err)


def write_config(tmp_path: Path, name: str = "cfg.yaml", **trainer) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tiny_config(tmp_path, **trainer)))
    return path
