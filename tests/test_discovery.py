"""Discovery: lazy, guarded against broken plugins, strict on name clashes."""

import json
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
    with pytest.raises(UsageError, match="pip install paperzoo-continual-pretrain"):
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
