"""Every plugin together: every example config runs, and a scaffolded plugin passes its tox env."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from paperzoo import engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_config_validates_and_runs(path, tmp_path):
    raw = yaml.safe_load(path.read_text())
    raw.setdefault("output", {})["dir"] = str(tmp_path)
    raw["trainer"]["progress"] = False
    summary = engine.execute(raw, file=str(path))
    assert Path(summary["run_dir"], "summary.json").exists()


def test_scaffolded_plugin_passes_its_own_tox_env(tmp_path):
    for name in ("pyproject.toml", "README.md", "tox.ini", "toxfile.py", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "core", tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    registry = str(Path(sys.executable).with_name("registry"))
    subprocess.run([registry, "new", "demo", "--dir", str(tmp_path / "plugins")], check=True)
    tox = str(Path(sys.executable).with_name("tox"))
    result = subprocess.run([tox, "-q", "-e", "plugin-demo"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
