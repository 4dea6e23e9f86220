"""Every plugin together: every example config runs (the scaffold's tox env: test_scaffold.py).

The examples are ``examples/*.yaml`` and ``plugins/*/examples/*.yaml``. Each is validated as written
and then run in smoke mode: with the dotted overrides of its ``# smoke: key=value ...`` comment line
(a few steps; without the line it runs as written). Full runs of every example:
``PAPERZOO_FULL_EXAMPLES=1 python -m pytest tests -m integration -k example``.
"""

import json
import math
import os
import re
import shlex
from pathlib import Path

import pytest
from paperzoo import config, engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "plugins").glob("*/examples/*.yaml"))
FULL = os.environ.get("PAPERZOO_FULL_EXAMPLES", "") not in ("", "0")
SMOKE = re.compile(r"#\s*smoke:(.*)")
pytestmark = pytest.mark.integration


def example_id(path: Path) -> str:
    """``quickstart`` for ``examples/quickstart.yaml``, ``adamp/adamp`` for a plugin's example."""
    return path.stem if path.parent == ROOT / "examples" else f"{path.parent.parent.name}/{path.stem}"


def smoke_overrides(path: Path) -> list[str]:
    """The overrides of the ``# smoke:`` lines in the comment block that opens ``path`` (shell-style
    words, so a value with spaces can be quoted)."""
    overrides: list[str] = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if match := SMOKE.fullmatch(line.strip()):
            overrides += shlex.split(match.group(1))
    return overrides


@pytest.mark.parametrize("path", EXAMPLES, ids=[example_id(p) for p in EXAMPLES])
def test_example_config_validates_and_runs(path, tmp_path):
    raw = config.load_yaml(path)
    plan = engine.plan(raw, file=str(path))  # the example as written, not only its smoke version
    raw = raw if FULL else config.apply_overrides(raw, smoke_overrides(path))
    raw.setdefault("output", {})["dir"] = str(tmp_path)
    raw["trainer"]["progress"] = False
    summary = engine.execute(raw, file=str(path))
    written = json.loads(Path(summary["run_dir"], "summary.json").read_text())
    for label in engine.evaluator_keys(plan.evaluators):  # metrics are `label` or `label/<key>`
        metrics = {k: v for k, v in written.items() if k == label or k.startswith(f"{label}/")}
        assert metrics, f"summary.json has no metric of evaluator {label!r}: {sorted(written)}"
        assert all(math.isfinite(v) for v in metrics.values()), metrics


def test_smoke_line_is_read_from_the_opening_comments_only(tmp_path):
    path = tmp_path / "example.yaml"
    path.write_text(
        "# An example.\n#  smoke: trainer.max_steps=2 'trainer.lam=[0.5, 1.0]'\n#smoke: seed=1\n"
        "seed: 0\n# smoke: trainer.epochs=9\n"
    )
    assert smoke_overrides(path) == ["trainer.max_steps=2", "trainer.lam=[0.5, 1.0]", "seed=1"]
