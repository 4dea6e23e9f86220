"""``registry new``: the scaffold is the standard layout, lint-clean, runnable, and passes its own tests.

The fast tests use one scaffold written to a temporary folder: its example runs in this process (its
``src`` on ``sys.path``), and ``registry verify`` runs its tests through a ``.dist-info`` that makes
it an installed plugin. The integration test installs it for real, in its own tox env.
"""

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REGISTRY_BIN
from paperzoo import config, engine

ROOT = Path(__file__).resolve().parent.parent
RUFF = str(Path(sys.executable).with_name("ruff"))
SLUG = "demo"
PACKAGE = f"paperzoo_{SLUG}"


def registry(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([REGISTRY_BIN, *args], capture_output=True, text=True, env={**os.environ, **env})


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    """A fresh scaffold of plugin ``demo``."""
    directory = tmp_path_factory.mktemp("plugins")
    result = registry("new", SLUG, "--dir", str(directory))
    assert result.returncode == 0, result.stderr
    return directory / SLUG


@pytest.fixture
def importable(plugin, monkeypatch):
    """The scaffold's package importable in this process; forgotten afterwards."""
    monkeypatch.syspath_prepend(str(plugin / "src"))
    yield plugin
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def test_scaffold_has_the_standard_layout(plugin):
    package = f"src/{PACKAGE}"
    for relative in [
        "pyproject.toml",
        "README.md",
        f"examples/{SLUG}.yaml",
        f"{package}/__init__.py",
        f"{package}/layer.py",
        f"{package}/bench.py",
        *(
            f"{package}/tests/{name}.py"
            for name in ("__init__", "conftest", "test_contract", "test_properties")
        ),
        *(f"{package}/tests/{name}.py" for name in ("test_parity", "test_claim")),
    ]:
        assert (plugin / relative).is_file(), relative
    assert not (plugin / "tests").exists()  # the tests ship inside the package
    meta = (plugin / "pyproject.toml").read_text()
    assert f'name = "paperzoo-{SLUG}"' in meta
    assert f'[project.entry-points.paperzoo]\n{SLUG} = "{PACKAGE}"' in meta
    assert 'test = ["pytest>=8"]' in meta
    paperzoo_table = meta.split("[tool.paperzoo]\n", 1)[1]
    assert re.search(r'^claim = "not tested"', paperzoo_table, flags=re.M)
    assert re.search(r'^catalog = ""', paperzoo_table, flags=re.M)
    headings = re.findall(r"^## (.+)$", (plugin / "README.md").read_text(), flags=re.M)
    assert headings == [
        "How to use",
        "Suggested hyperparameters",
        "Technical details and deviations from the paper",
        "Results",
        "Speed and memory",
        "Attribution",
    ]
    assert "```bibtex" in (plugin / "README.md").read_text()


@pytest.mark.parametrize("slug", [SLUG, "a_rather_long_paper_name_from_the_year_2024"])
def test_fresh_scaffold_passes_the_repositorys_ruff_check_and_format(tmp_path, slug):
    assert registry("new", slug, "--dir", str(tmp_path)).returncode == 0
    options = ["--config", str(ROOT / "pyproject.toml"), "--no-cache", str(tmp_path / slug)]
    check = subprocess.run([RUFF, "check", *options], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = subprocess.run([RUFF, "format", "--check", *options], capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


@pytest.mark.parametrize(
    "slug, expected",
    [
        ("MyPaper", "error: plugin slug 'MyPaper' must be lowercase snake case, e.g. 'my_paper'"),
        ("my-paper", "error: plugin slug 'my-paper' must be lowercase snake case, e.g. 'my_paper'"),
        (SLUG, "already exists"),
    ],
)
def test_bad_slug_or_existing_folder_gives_one_line_and_writes_nothing(tmp_path, slug, expected):
    (tmp_path / SLUG).mkdir()
    result = registry("new", slug, "--dir", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [SLUG] and not any((tmp_path / SLUG).iterdir())


def smoke_overrides(text: str) -> list[str]:
    found = re.search(r"^#\s*smoke:(.*)$", text, flags=re.M)
    return shlex.split(found.group(1)) if found else []


def test_example_config_runs_with_the_scaffolds_layer_in_smoke_mode(importable, fresh_registry, tmp_path):
    path = importable / "examples" / f"{SLUG}.yaml"
    text = path.read_text()
    overrides = smoke_overrides(text)
    assert overrides and all("=" in o for o in overrides), "the example has no `# smoke: key=value` line"
    fresh_registry.registry().add_plugin(importlib.import_module(PACKAGE), SLUG)
    raw = config.apply_overrides(yaml.safe_load(text), [*overrides, f"output.dir={tmp_path}"])
    summary = engine.execute(raw, file=str(path))
    assert summary["steps"] == int(raw["trainer"]["max_steps"])
    assert [p["with"]["name"] for p in raw["patches"]] == [f"{SLUG}_layer"], "the scaffold's layer is unused"
    assert 0.0 <= summary["accuracy"] <= 1.0


def test_benchmark_prints_its_ratios(importable, capsys):
    bench = importlib.import_module(f"{PACKAGE}.bench")
    bench.main(["--rounds", "1", "--threads", "1", "--features", "16", "--tokens", "8"])
    out = capsys.readouterr().out
    assert re.search(r"nn\.Linear +\d+\.\d+ +1\.00 +\d+\.\d\d +1\.00", out), out
    assert re.search(r"ours +\d+\.\d+ +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d", out), out


def test_scaffold_tests_pass_where_installed_and_stubs_are_expected_failures(plugin, tmp_path):
    """``registry verify demo`` with the scaffold made an installed plugin by a ``.dist-info``."""
    info = tmp_path / f"{PACKAGE}-0.1.0.dist-info"
    info.mkdir()
    meta = f'Metadata-Version: 2.1\nName: paperzoo-{SLUG}\nVersion: 0.1.0\nRequires-Dist: pytest>=8; extra == "test"\n'
    (info / "METADATA").write_text(meta)
    (info / "entry_points.txt").write_text(f"[paperzoo]\n{SLUG} = {PACKAGE}\n")
    result = registry("verify", SLUG, PYTHONPATH=os.pathsep.join([str(tmp_path), str(plugin / "src")]))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = dict(re.findall(r"^  (\S.*?\S)  +(\S.*)$", result.stdout, flags=re.M))
    assert int(rows["passed"]) >= 4 and rows["failed"] == "0" and rows["skipped"] == "0"
    assert rows["expected failures"] == "1" and rows["not run (claims)"] == "1"  # parity; claim


@pytest.mark.integration
def test_scaffolded_plugin_passes_its_own_tox_env(tmp_path):
    for name in ("pyproject.toml", "README.md", "tox.ini", "toxfile.py", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "core", tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([REGISTRY_BIN, "new", SLUG, "--dir", str(tmp_path / "plugins")], check=True)
    tox = str(Path(sys.executable).with_name("tox"))
    result = subprocess.run([tox, "-q", "-e", f"plugin-{SLUG}"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed, 1 deselected, 1 xfailed", result.stdout), result.stdout[-3000:]
