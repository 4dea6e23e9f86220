"""Discovery: lazy, guarded against broken plugins, strict on name clashes."""

import json
import os
import subprocess
import sys

import pytest
from paperzoo import Paper, hookimpl
from paperzoo.errors import PluginError, UsageError
from paperzoo.registry import PluginInfo, Registry

PAPER = Paper("A paper", 2020, arxiv="2001.00001")


def test_listing_imports_no_torch_and_no_implementation():
    code = (
        "import sys, json, paperzoo\n"
        "specs = paperzoo.list()\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'timm', 'transformers')\n"
        "         or (m.startswith('paperzoo_') and '.' in m) or m.startswith('paperzoo.builtins.')]\n"
        "print(json.dumps({'n': len(specs), 'heavy': heavy, 'plugins': sorted({s.plugin for s in specs})}))\n"
    )
    out = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert out["heavy"] == []
    assert out["n"] >= 12 and "builtins" in out["plugins"]


class GoodPlugin:
    @hookimpl
    def register_layers(self, register):
        register("widget", "torch.nn:Identity", "An identity.", paper=PAPER, example={})


class OtherPlugin:
    @hookimpl
    def register_layers(self, register):
        register("widget", "torch.nn:Identity", "Another identity.", paper=PAPER, example={})


class RaisingPlugin:
    @hookimpl
    def register_layers(self, register):
        raise RuntimeError("boom")


class BadSpecPlugin:
    @hookimpl
    def register_optimizers(self, register):
        register("Bad-Name", "no_colon", "", paper=PAPER)


def test_broken_plugins_are_reported_and_others_keep_working(monkeypatch):
    monkeypatch.delenv("PAPERZOO_STRICT", raising=False)
    reg = Registry()
    reg.add_plugin(RaisingPlugin(), "raising")
    reg.add_plugin(BadSpecPlugin(), "badspec")
    reg.add_plugin(GoodPlugin(), "good")
    assert reg.plugins["raising"].status == "failed" and "boom" in reg.plugins["raising"].error
    assert reg.plugins["badspec"].status == "failed"
    assert "snake case" in reg.plugins["badspec"].error and "module:attr" in reg.plugins["badspec"].error
    assert [s.name for s in reg.list()] == ["widget"]
    assert reg.get("widget").plugin == "good"


def test_strict_mode_makes_a_broken_plugin_fatal(monkeypatch):
    monkeypatch.setenv("PAPERZOO_STRICT", "1")
    with pytest.raises(PluginError, match="boom"):
        Registry().add_plugin(RaisingPlugin(), "raising")


def test_name_clash_names_both_plugins_and_qualified_names_work():
    reg = Registry()
    reg.add_plugin(GoodPlugin(), "good")
    reg.add_plugin(OtherPlugin(), "other")
    with pytest.raises(UsageError) as err:
        reg.get("widget")
    assert "'good'" in str(err.value) and "'other'" in str(err.value)
    assert reg.get("other:widget").summary == "Another identity."
    assert reg.get("good:widget").plugin == "good"


def test_unknown_name_suggests_the_nearest_and_catalog_names_their_distribution():
    reg = Registry()
    reg.add_plugin(GoodPlugin(), "good")
    with pytest.raises(UsageError, match="Did you mean 'widget'"):
        reg.get("widgte")
    with pytest.raises(UsageError, match="Continually Pre-train .*, which has no plugin yet"):
        reg.get("infinite_lr_schedule", "optimizer")


def test_disabled_and_incompatible_plugins(monkeypatch, fresh_registry):
    monkeypatch.setenv("PAPERZOO_DISABLE", "datasets")
    reg = fresh_registry.registry()
    if "datasets" in reg.plugins:
        assert reg.plugins["datasets"].status == "disabled"
        assert not reg.list(plugin="datasets")
    from importlib import metadata

    from paperzoo.registry import _core_incompatibility

    class FakeDist:
        requires = ["paperzoo>=9.0"]

    class OkDist:
        requires = ["paperzoo>=0.1,<0.2", "torch"]

    assert "requires paperzoo>=9.0" in _core_incompatibility(FakeDist())
    assert _core_incompatibility(OkDist()) == ""
    assert metadata  # the real entry points were read above


def test_list_filters_by_kind_plugin_and_pattern(fresh_registry):
    import paperzoo

    assert {s.kind for s in paperzoo.list("optimizer")} == {"optimizer"}
    assert [s.name for s in paperzoo.list(pattern="synthetic_*")] == [
        "synthetic_classification",
        "synthetic_regression",
    ]
    assert "perplexity" in [s.name for s in paperzoo.list(pattern="language")]
    with pytest.raises(UsageError, match="Did you mean 'layer'"):
        paperzoo.list("layers")


def test_plugin_info_defaults():
    assert PluginInfo("x").status == "ok"


def _fake_distribution(site, dist: str, plugin: str, module: str, source: str) -> None:
    """An installed distribution ``dist`` (a ``.dist-info`` directory) whose entry point ``plugin``
    in the ``paperzoo`` group is the module ``module`` with ``source``."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[paperzoo]\n{plugin} = {module}\n")
    (site / f"{module}.py").write_text(source)


def _registry_with(site, *args, **env):
    from conftest import REGISTRY_BIN

    environ = {k: v for k, v in os.environ.items() if k != "PAPERZOO_STRICT"}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([REGISTRY_BIN, *args], capture_output=True, text=True, env=environ)


WIDGETS = """
from paperzoo import hookimpl


@hookimpl
def register_layers(register):
    register("{name}", "torch.nn:Identity", "An identity.")
"""


def test_a_plugin_calling_sys_exit_is_reported(tmp_path):
    _fake_distribution(tmp_path, "fake-exit", "exiter", "fake_exit_plugin", "import sys\nsys.exit(3)\n")
    listed = _registry_with(tmp_path, "list", "optimizer", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "sgd" in {s["name"] for s in json.loads(listed.stdout)}
    assert "warning: plugin 'exiter' failed: SystemExit: the plugin called sys.exit(3)" in listed.stderr
    for value in ("1", "true", "Yes", "ON"):
        strict = _registry_with(tmp_path, "list", PAPERZOO_STRICT=value)
        assert strict.returncode == 1 and strict.stderr.strip().splitlines() == [
            "error: plugin 'exiter' failed: SystemExit: the plugin called sys.exit(3) while loading"
        ], (value, strict.stderr)


def test_two_distributions_declaring_one_plugin_name_are_both_reported(tmp_path):
    _fake_distribution(tmp_path, "widgets-a", "widgets", "widgets_a", WIDGETS.format(name="widget_a"))
    _fake_distribution(tmp_path, "widgets-b", "widgets", "widgets_b", WIDGETS.format(name="widget_b"))
    shown = _registry_with(tmp_path, "plugins", "--json")
    rows = [p for p in json.loads(shown.stdout) if p["name"] == "widgets"]
    assert sorted(p["distribution"] for p in rows) == ["widgets-a", "widgets-b"]
    assert all(p["status"] == "conflict" and "widgets-a 1.0" in p["error"] for p in rows)
    assert all("widgets-b 1.0" in p["error"] and p["components"] == 0 for p in rows)
    listed = _registry_with(tmp_path, "list", "layer", "--json")
    assert listed.returncode == 0 and not {"widget_a", "widget_b"} & {
        s["name"] for s in json.loads(listed.stdout)
    }
    assert (
        "warning: plugin 'widgets' conflict: declared by widgets-a 1.0 and also by widgets-b 1.0"
        in listed.stderr
    )
    strict = _registry_with(tmp_path, "list", PAPERZOO_STRICT="true")
    assert strict.returncode == 1 and "error: plugin 'widgets' conflict:" in strict.stderr


@pytest.mark.parametrize(
    "value, fatal",
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("false", False), ("", False)],
)
def test_strict_mode_values(monkeypatch, value, fatal):
    monkeypatch.setenv("PAPERZOO_STRICT", value)
    reg = Registry()
    if fatal:
        with pytest.raises(PluginError, match="boom"):
            reg.add_plugin(RaisingPlugin(), "raising")
    else:
        reg.add_plugin(RaisingPlugin(), "raising")
        assert reg.plugins["raising"].status == "failed"


class ExitingPlugin:
    @hookimpl
    def register_layers(self, register):
        raise SystemExit(4)


def test_a_hook_calling_sys_exit_is_reported(monkeypatch):
    monkeypatch.delenv("PAPERZOO_STRICT", raising=False)
    reg = Registry()
    reg.add_plugin(ExitingPlugin(), "exiting")
    reg.add_plugin(GoodPlugin(), "good")
    assert reg.plugins["exiting"].status == "failed" and "sys.exit(4)" in reg.plugins["exiting"].error
    assert [s.name for s in reg.list()] == ["widget"]
