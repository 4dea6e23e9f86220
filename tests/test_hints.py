"""Install hints for names no loaded plugin provides: they name an install that works."""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
import tomllib
from conftest import REGISTRY_BIN
from paperzoo import builtins
from paperzoo.errors import UsageError
from paperzoo.registry import PluginInfo, Registry

ROOT = Path(__file__).resolve().parent.parent
CORE_CATALOG = ROOT / "core" / "paperzoo" / "catalog.tsv"


def repo_plugin(pyproject: Path) -> tuple[str, ModuleType]:
    """A repository plugin's name and registration module, imported from its ``src`` folder (installed
    or not: registration modules import only the core)."""
    entry_points = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["paperzoo"]
    ((name, module),) = entry_points.items()
    src = str(pyproject.parent / "src")
    if src not in sys.path:
        sys.path.append(src)
    return name, importlib.import_module(module)


def repo_registry() -> Registry:
    """Built-ins and every plugin of the repository."""
    reg = builtins_only()
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        name, module = repo_plugin(pyproject)
        reg.add_plugin(module, name)
    return reg


def builtins_only() -> Registry:
    """A registry as on a machine where no plugin is installed."""
    reg = Registry()
    reg.add_plugin(builtins, "builtins", PluginInfo("builtins", "paperzoo"))
    return reg


def hint(reg: Registry, name: str, kind: str | None = None) -> str:
    with pytest.raises(UsageError) as err:
        reg.get(name, kind)
    return str(err.value)


def core_catalog() -> list[dict[str, str]]:
    with CORE_CATALOG.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_a_component_of_a_plugin_not_installed_names_the_plugin_and_a_working_install():
    message = hint(builtins_only(), "adamp", "optimizer")
    assert message == (
        "unknown optimizer 'adamp'. It is provided by the plugin 'adamp' (paperzoo-adamp), not installed "
        "here: from a clone of the repository, pip install -e plugins/adamp"
    )
    assert (ROOT / "plugins" / "adamp" / "pyproject.toml").is_file()  # the path the hint installs


def test_an_unknown_dataset_of_the_kit_names_the_datasets_plugin():
    message = hint(builtins_only(), "digits", "dataset")
    assert message.startswith("unknown dataset 'digits'. It is provided by the plugin 'datasets'")
    assert message.endswith("pip install -e plugins/datasets")


def test_a_paper_without_a_plugin_says_not_available_yet():
    with (ROOT / "docs" / "catalog.tsv").open(newline="") as f:
        row = next(r for r in csv.DictReader(f, delimiter="\t") if r["id"] == "P001")
    assert not (ROOT / "plugins" / row["plugin"]).exists()
    kind, _, name = row["components"].split(";")[0].strip().partition(":")
    message = hint(builtins_only(), name, kind)
    assert message == (
        f"unknown {kind} '{name}'. It is a component of \"{row['title']}\", which has no plugin yet "
        "(not available yet)."
    )


def test_a_kind_the_catalog_does_not_give_the_name_gets_no_hint():
    message = hint(builtins_only(), "adamp", "layer")
    assert "plugin" not in message and message.startswith("unknown layer 'adamp'.")


def test_a_disabled_plugin_is_said_to_be_disabled_not_missing():
    reg = builtins_only()
    reg.plugins["adamp"] = PluginInfo(
        "adamp", "paperzoo-adamp", status="disabled"
    )  # as PAPERZOO_DISABLE does
    assert hint(reg, "adamp") == (
        "unknown 'adamp'. It is provided by the plugin 'adamp' (paperzoo-adamp), installed but "
        "disabled here (PAPERZOO_DISABLE)."
    )
    reg.plugins["adamp"].status = "failed"
    assert hint(reg, "sgdp").endswith("which did not load (failed; see `registry plugins`).")


def test_a_config_naming_a_dataset_not_loaded_gets_the_hint_at_its_path(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {name: digits}\nmodel: {name: mlp, in_features: 64, num_classes: 10}\n"
        "trainer: {name: supervised}\n"
    )
    env = {**os.environ, "PAPERZOO_DISABLE": "datasets"}
    result = subprocess.run(
        [REGISTRY_BIN, "validate", str(config)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    try:
        metadata.distribution("paperzoo-datasets")
        why = "installed but disabled here (PAPERZOO_DISABLE)."
    except metadata.PackageNotFoundError:
        why = "not installed here: from a clone of the repository, pip install -e plugins/datasets"
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {config}: data.name: unknown dataset 'digits'. It is provided by the plugin 'datasets' "
        f"(paperzoo-datasets), {why}"
    )


def test_every_catalog_name_with_a_plugin_is_registered_by_that_plugin():
    reg = repo_registry()
    rows = [r for r in core_catalog() if r["plugin"]]
    assert {r["plugin"] for r in rows} == {p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml")}
    for row in rows:
        assert reg.plugins[row["plugin"]].status == "ok", row["plugin"]
        spec = reg.get(f"{row['plugin']}:{row['name']}", row["kind"])
        assert (spec.plugin, spec.kind) == (row["plugin"], row["kind"])


def test_the_catalog_lists_every_plugin_component_and_no_registered_name_as_not_yet():
    reg = repo_registry()
    rows = core_catalog()
    listed = {(r["kind"], r["name"], r["plugin"]) for r in rows if r["plugin"]}
    assert listed == {(s.kind, s.name, s.plugin) for s in reg.specs if s.plugin != "builtins"}
    registered = {s.name for s in reg.specs}
    assert not [r["name"] for r in rows if not r["plugin"] and r["name"] in registered]
    assert all(r["paper"] for r in rows if not r["plugin"])


def test_every_catalog_row_gives_an_install_from_the_repository_or_says_not_yet():
    """No hint offers a package-index install: the plugins are installed from the repository."""
    reg = builtins_only()
    for row in core_catalog():
        message = hint(reg, row["name"], row["kind"])
        if row["plugin"]:
            assert message.endswith(f"pip install -e plugins/{row['plugin']}"), message
            assert (ROOT / "plugins" / row["plugin"] / "pyproject.toml").is_file()
        else:
            assert message.endswith("which has no plugin yet (not available yet)."), message
