"""Bad input: one line naming the file, the override it came from and the dotted path, exit 2, nothing
written; every check that needs no training runs before the run directory exists."""

import time
import types

import pytest
from runcli import registry, write_config

BAD_OVERRIDES = [
    ("trainer.epochs=-3", "trainer.epochs: -3 trains nothing"),
    ("data.val_fraction=1.0", "data.val_fraction: 1.0 leaves a split empty"),
    ("optimizer.lr=.nan", "optimizer.lr: expected a finite number, got nan"),
    ("optimizer.momentum=.inf", "optimizer.momentum: expected a finite number, got inf"),
    ("trainer.checkpoint_every=-1", "trainer.checkpoint_every: got -1"),
    ("trainer.log_every=0", "trainer.log_every: got 0"),
    ("optimizer=null", "optimizer: the 'supervised' trainer needs an optimizer"),
    ("trainer.device=tpu9", "trainer.device: 'tpu9' is not a torch device"),
    ("model.num_classes=0", "model.num_classes: got 0; accepted: at least 1"),
    ("output.name=../../x", "output.name: '../../x' is not a plain directory name"),
    ("output.name=/srv/x", "output.name: '/srv/x' is not a plain directory name"),
    ("output.name=a\0b", "output.name: not valid YAML: unacceptable character #x0000"),
    ("optimizer.lr=[1", "optimizer.lr: not valid YAML (line 1, column 3)"),
    ("optimizer.lr=abc", "optimizer.lr: expected float"),
    ("evaluators.5.name=loss", "evaluators.5: no list item '5' (the list has 2)"),
    ("trainer.grad_accum=3", "trainer.grad_accum: 3 does not divide batch_size 64"),
]


# `validate` builds every component but the data, so it cannot judge a dataset's own values
CASES = [("run", *case) for case in BAD_OVERRIDES]
CASES += [("validate", *case) for case in BAD_OVERRIDES if not case[0].startswith("data.")]


@pytest.mark.parametrize("command, override, expected", CASES)
def test_bad_override_names_file_override_and_path(
    monkeypatch, capsys, tmp_path, command, override, expected
):
    cfg = write_config(tmp_path)
    result = registry(monkeypatch, capsys, command, str(cfg), override)
    assert result.returncode == 2, result.stderr
    assert len(result.lines) == 1 and "Traceback" not in result.stderr
    shown = override.replace("\0", "\\x00")  # control characters are shown escaped
    assert result.lines[0].startswith(f"error: {cfg} (override {shown}): {expected}"), result.lines[0]
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "x").exists()


def _write(tmp_path, text: str | bytes):
    path = tmp_path / "cfg.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


BASE = (
    "data: {name: synthetic_classification, n_samples: 64, n_features: 8, num_classes: 3}\n"
    "model: {name: mlp, in_features: 8, num_classes: 3}\n"
    "optimizer: {name: sgd, lr: 0.1}\n"
    "trainer: {name: supervised, progress: false}\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        (BASE + "seed: 1\nseed: 2\n", "seed: given twice (lines 5 and 6)"),
        (BASE.replace("lr: 0.1", "lr: 0.1, lr: 0.5"), "optimizer.lr: given twice (lines 3 and 3)"),
        (BASE.encode() + b"# caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset"),
        (BASE + 'output: {name: "a\\0b"}\n', "output.name: 'a\\x00b' is not a plain directory name"),
        (BASE + "output: {name: ..}\n", "output.name: '..' is not a plain directory name"),
    ],
)
def test_bad_config_files(monkeypatch, capsys, tmp_path, text, expected):
    cfg = _write(tmp_path, text)
    result = registry(monkeypatch, capsys, "run", str(cfg))
    assert result.returncode == 2 and len(result.lines) == 1, result.stderr
    assert result.lines[0].startswith(f"error: {cfg}: {expected}"), result.lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("where", ["seed", "optimizer.lr"])
def test_alias_bomb_is_refused_fast_with_a_short_message(monkeypatch, capsys, tmp_path, where):
    section, _, key = where.rpartition(".")
    aliases = "".join(f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}], " for i in range(1, 10))
    bomb = f"[&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], {aliases}*a9]"  # about 10^9 values
    text = BASE + f"seed: {bomb}\n" if not section else BASE.replace("lr: 0.1", f"lr: {bomb}")
    cfg = _write(tmp_path, text)
    started = time.perf_counter()
    result = registry(monkeypatch, capsys, "validate", str(cfg))
    assert time.perf_counter() - started < 20  # expanding it would take hours; a generous bound
    assert result.returncode == 2 and len(result.lines) == 1, result.stderr[:500]
    assert f"error: {cfg}: {where}" in result.lines[0] and "more than 100000 values" in result.lines[0]
    assert len(result.stderr) < 400


def test_long_values_are_cut_in_messages(monkeypatch, capsys, tmp_path):
    cfg = write_config(tmp_path)
    value = "[" + ", ".join(["1"] * 300) + "]"
    result = registry(monkeypatch, capsys, "run", str(cfg), f"optimizer.lr={value}")
    assert result.returncode == 2 and len(result.lines) == 1
    assert "optimizer.lr: expected float" in result.stderr and "..." in result.stderr
    assert len(result.stderr) < 500


PATCH_PLUGIN = """
from paperzoo import hookimpl, Paper
import torch


class Picky(torch.nn.Module):
    def __init__(self, base: torch.nn.Module):
        super().__init__()
        raise TypeError(f"Picky cannot wrap {type(base).__name__}")


@hookimpl
def register_layers(register):
    paper = Paper("P", 2020, arxiv="2001.00001")
    register("picky", f"{__name__}:Picky", "Raises TypeError.", paper=paper)
"""


def test_patch_whose_constructor_raises_type_error(monkeypatch, capsys, tmp_path, fresh_registry):
    plugin = tmp_path / "picky_plugin.py"
    plugin.write_text(PATCH_PLUGIN)
    cfg = write_config(tmp_path)
    result = registry(
        monkeypatch,
        capsys,
        "run",
        str(cfg),
        "--plugin",
        str(plugin),
        "patches=[{type: ReLU, with: {name: picky}}]",
    )
    assert result.returncode == 2 and len(result.lines) == 1, result.stderr
    assert result.lines[0].startswith(
        f"error: {cfg} (override patches=[{{type: ReLU, with: {{name: picky}}}}]): patches.0.with: "
        "cannot replace module '2' (ReLU): Picky cannot wrap ReLU"
    ), result.lines[0]
    assert not (tmp_path / "runs").exists()


class _Model:
    def __init__(self, **params):
        self.params = params


def _fake_timm(created: list):
    def create_model(name, pretrained=False, **params):
        created.append((name, pretrained, params))
        if "depth" in params:
            raise TypeError("FakeNet.__init__() got an unexpected keyword argument 'depth'")
        return _Model(**params)

    return types.SimpleNamespace(
        is_model=lambda n: n == "fakenet", list_models=lambda: ["fakenet"], create_model=create_model
    )


def _timm_plan(tmp_path, **model):
    from conftest import tiny_config

    config = tiny_config(tmp_path)
    config["model"] = {"name": "timm:fakenet", **model}
    return config


def test_timm_pretrained_false_builds_and_weight_loading_is_refused(monkeypatch, tmp_path):
    from paperzoo import compat, engine
    from paperzoo.errors import ConfigError

    created = []
    monkeypatch.setattr(compat, "import_timm", lambda: _fake_timm(created))
    p = engine.plan(_timm_plan(tmp_path, pretrained=False, num_classes=3), "cfg.yaml")
    model = engine.build_model(p)
    assert created == [("fakenet", False, {"num_classes": 3})] and model.params == {"num_classes": 3}
    with pytest.raises(ConfigError) as err:
        engine.plan(_timm_plan(tmp_path, checkpoint_path="weights.pth"), "cfg.yaml")
    assert str(err.value).startswith("cfg.yaml: model.checkpoint_path: weights are never loaded")
    with pytest.raises(
        ConfigError, match="^cfg.yaml: model.pretrained: pretrained weights would need a download"
    ):
        engine.plan(_timm_plan(tmp_path, pretrained=True), "cfg.yaml")
    p = engine.plan(_timm_plan(tmp_path, depth=3), "cfg.yaml")
    with pytest.raises(ConfigError, match="^model: TypeError: FakeNet.__init__.. got an unexpected keyword"):
        engine.build_model(p)


def test_timm_model_without_the_models_extra(monkeypatch, capsys, tmp_path):
    from paperzoo import compat

    def missing():
        raise ModuleNotFoundError("No module named 'torchvision'", name="torchvision")

    monkeypatch.setattr(compat, "import_timm", missing)
    cfg = write_config(tmp_path)
    result = registry(monkeypatch, capsys, "validate", str(cfg), "model={name: 'timm:resnet18'}")
    assert result.returncode == 2 and len(result.lines) == 1, result.stderr
    line = result.lines[0]
    assert line.startswith(
        f"error: {cfg} (override model={{name: 'timm:resnet18'}}): model.name: timm models"
    )
    assert "torchvision" in line and line.endswith("pip install 'paperzoo[models]'")


def test_params_accept_non_finite_values_only_where_declared():
    import math
    from typing import Annotated

    from paperzoo.errors import ConfigError
    from paperzoo.params import NonFinite, validate

    def component(
        a: float = 1.0, b: float = math.inf, c: Annotated[float, NonFinite()] = 0.0, d: tuple = (1.0,)
    ):
        return a, b, c, d

    assert validate(component, {"b": float("inf"), "c": float("nan")})["b"] == math.inf
    for key, value in (("a", float("inf")), ("a", float("nan")), ("d", [1.0, float("nan")])):
        with pytest.raises(ConfigError, match=f"^{key}: expected a finite number"):
            validate(component, {key: value})
