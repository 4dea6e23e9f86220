"""docs/papers.md and the core's catalog.tsv: generated, never stale, every paper once; Markdown tables
that a `|` in a description cannot break."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import tomllib
from conftest import REGISTRY_BIN
from paperzoo.docs import md_cell, write_pages
from paperzoo.registry import Registry
from test_hints import repo_plugin

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ("docs/papers.md", "core/paperzoo/catalog.tsv")
CLAIMS = ("reproduced", "partly", "not reproduced", "not tested")


def make_docs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "make_docs.py"), *args], capture_output=True, text=True, cwd=ROOT
    )


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row, split on unescaped pipes."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def table(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading``."""
    section = ("\n" + text).split(f"\n{heading}\n", 1)[1]
    lines = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    return [cells(line) for line in lines[2:]]


def catalog_ids() -> list[str]:
    with (ROOT / "docs" / "catalog.tsv").open(newline="") as f:
        return [r["id"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def paper_plugins() -> dict[str, tuple[str, dict]]:
    """Catalog row id -> (plugin slug, its [tool.paperzoo] table), for every paper plugin."""
    out = {}
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml"):
        meta = tomllib.loads(pyproject.read_text())["tool"]["paperzoo"]
        if not meta.get("kit"):
            out[meta["catalog"]] = (pyproject.parent.name, meta)
    return out


def test_generated_files_are_up_to_date():
    result = make_docs("--check")
    assert result.returncode == 0, result.stderr


def test_check_names_each_stale_file_and_writes_nothing(tmp_path):
    for rel in GENERATED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    assert make_docs("--check", "--out", str(tmp_path)).returncode == 0
    page = tmp_path / "docs" / "papers.md"
    page.write_text(page.read_text().replace("| not yet |", "| someday |", 1))
    result = make_docs("--check", "--out", str(tmp_path))
    assert result.returncode == 1
    assert "docs/papers.md" in result.stderr and "catalog.tsv" not in result.stderr
    assert "| someday |" in page.read_text()
    (tmp_path / "core" / "paperzoo" / "catalog.tsv").unlink()
    result = make_docs("--check", "--out", str(tmp_path))
    assert result.returncode == 1 and "core/paperzoo/catalog.tsv" in result.stderr


def test_every_catalog_paper_appears_once_with_its_plugin_or_not_yet():
    text = (ROOT / "docs" / "papers.md").read_text()
    rows = table(text, "## All papers")
    assert [r[0] for r in rows] == catalog_ids() and len(rows) == 321
    assert all(len(r) == 7 for r in rows)
    plugins = paper_plugins()
    for row_id, plugin, _components, reference, parity, claim in ([r[0], *r[2:]] for r in rows):
        if row_id in plugins:
            slug, meta = plugins[row_id]
            assert plugin == f"[{slug}](../plugins/{slug}/README.md)"
            assert (ROOT / "plugins" / slug / "README.md").is_file()
            assert (claim, reference, parity) == (
                meta["claim"],
                md_cell(meta["reference"]),
                md_cell(meta["parity"]),
            )
        else:
            assert (plugin, parity, claim) == ("not yet", "—", "not tested")
    bone = next(r for r in rows if r[0] == "P019")
    assert bone[2] == "[bone](../plugins/bone/README.md)" and "`bone_bat`" in bone[3]


def test_counts_at_the_top_match_the_table():
    text = (ROOT / "docs" / "papers.md").read_text()
    rows = table(text, "## All papers")
    counts = dict((label, int(n)) for label, n in table(text, "# Papers"))
    assert counts["in the list"] == len(rows)
    assert counts["with a plugin"] == sum(r[2] != "not yet" for r in rows) == len(paper_plugins())
    for claim, label in zip(CLAIMS, ("reproduced", "partly reproduced", "not reproduced", "not tested")):
        assert counts[f"claim {label}"] == sum(r[6] == claim for r in rows), claim
    others = table(text, "## Plugins outside the list")
    kits = sorted(
        p.parent.name
        for p in (ROOT / "plugins").glob("*/pyproject.toml")
        if tomllib.loads(p.read_text())["tool"]["paperzoo"].get("kit")
    )
    assert "datasets" in kits
    assert [k[:2] for k in others] == [[f"[{kit}](../plugins/{kit}/README.md)", "kit"] for kit in kits]
    datasets_row = next(k for k in others if k[0].startswith("[datasets]"))
    assert "`digits`" in datasets_row[2]


def test_md_cell_escapes_pipes_and_joins_lines():
    assert md_cell("``|cos| < delta``\nnext line") == r"``\|cos\| < delta`` next line"
    assert md_cell(0.1) == "0.1"
    assert cells("| " + " | ".join(md_cell(v) for v in ["a|b", "c\r\nd", "|"]) + " |") == [
        r"a\|b",
        "c d",
        r"\|",
    ]


def test_component_pages_keep_every_table_row_whole(tmp_path):
    """adamp's `delta` is described with ``|cos|``: its row must still have four cells."""
    name, module = repo_plugin(ROOT / "plugins" / "adamp" / "pyproject.toml")
    reg = Registry()
    reg.add_plugin(module, name)
    assert write_pages(reg, tmp_path) == 2
    page = (tmp_path / "optimizer-adamp.md").read_text()
    params = [
        line
        for line in page.split("## Params", 1)[1].split("## Config")[0].splitlines()
        if line.startswith("|")
    ]
    assert any("`delta`" in line for line in params)
    assert all(len(cells(line)) == 4 for line in params), params
    index = (tmp_path / "index.md").read_text().splitlines()
    assert all(len(cells(line)) == 4 for line in index if line.startswith("|"))


def registry_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``registry ARGS`` with the built-ins only (every installed plugin disabled: fast, and the same
    wherever the tests run)."""
    installed = ",".join(ep.name for ep in metadata.entry_points(group="paperzoo"))
    env = {**os.environ, "PAPERZOO_DISABLE": installed}
    return subprocess.run([REGISTRY_BIN, *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_docs_takes_its_directory_as_an_argument(tmp_path):
    """``registry docs DIR`` as documented (``--out DIR`` is tested with the other commands)."""
    result = registry_cli("docs", "pages", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pages" / "index.md").is_file() and (
        tmp_path / "pages" / "optimizer-adamw.md"
    ).is_file()
    clash = registry_cli("docs", "a", "--out", "b", cwd=tmp_path)
    assert clash.returncode == 2 and clash.stderr.startswith("error: docs: give the directory once")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_plugins_prints_column_headers_above_aligned_rows(tmp_path):
    lines = registry_cli("plugins", cwd=tmp_path).stdout.splitlines()
    assert lines[0].split() == ["name", "distribution", "version", "components", "status"]
    builtins = next(line for line in lines if line.startswith("builtins "))
    assert builtins.split()[:2] == ["builtins", "paperzoo"] and builtins.split()[-1] == "ok"
    assert builtins.index(" paperzoo ") + 1 == lines[0].index("distribution")
