"""The registry CLI: one clear line and exit code 2 for every mistake, nothing half-written."""

import json
import subprocess

import pytest
import yaml
from conftest import REGISTRY_BIN, tiny_config


def registry(*args, cwd=None):
    return subprocess.run([REGISTRY_BIN, *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    return path


@pytest.mark.parametrize(
    "override, expected",
    [
        ("optimizer.name=sgdd", "optimizer.name: unknown optimizer 'sgdd'. Did you mean 'sgd'?"),
        ("optimizer.lrr=0.1", "optimizer.lrr: unknown param 'lrr'. Did you mean 'lr'?"),
        ("trainer.epochs=many", "trainer.epochs: expected int, got 'many'"),
        ("model.hidden=wide", "model.hidden: expected list[int], got 'wide'"),
        (
            "evaluators.0.name=acuracy",
            "evaluators.0.name: unknown evaluator 'acuracy'. Did you mean 'accuracy'?",
        ),
        ("sed=1", "sed: unknown key 'sed'. Did you mean 'seed'?"),
        # values only a component's constructor can judge
        ("optimizer.lr=-1", "optimizer: Invalid learning rate: -1.0"),
        # a constructor's ParamError points at the param itself
        ("trainer.grad_accum=3", "trainer.grad_accum: 3 does not divide batch_size 64; accepted: a divisor"),
    ],
)
def test_config_mistakes_give_one_line_exit_2_and_write_nothing(config_file, tmp_path, override, expected):
    result = registry("run", str(config_file), override)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: {config_file} (override {override}): {expected}")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override", ["optimizer.lr=-1", "trainer.grad_accum=3"])
def test_validate_builds_components_to_judge_their_values(config_file, override):
    checked, ran = (
        registry("validate", str(config_file), override),
        registry("run", str(config_file), override),
    )
    assert checked.returncode == ran.returncode == 2 and checked.stderr == ran.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["lst"], "error: No such command 'lst'. Did you mean 'list'?"),
        (["list", "--knd", "x"], "error: No such option: --knd"),
        (["info", "sgdd"], "error: unknown 'sgdd'. Did you mean 'sgd'?"),
    ],
)
def test_command_line_mistakes_give_one_line_exit_2(args, expected):
    result = registry(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [expected]


def test_validate_checks_without_training(config_file, tmp_path):
    assert registry("validate", str(config_file)).returncode == 0
    bad = registry("validate", str(config_file), "optimizer.momentum=[1, 2]")
    assert bad.returncode == 2 and "optimizer.momentum: expected float" in bad.stderr
    assert not (tmp_path / "runs").exists()


def test_run_writes_metrics_curve_summary_checkpoint_and_resolved_config(config_file, tmp_path):
    result = registry("run", str(config_file), "trainer.epochs=2", "output.name=first")
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "runs" / "first"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 2 * 7 and summary["epochs"] == 2 and summary["accuracy"] > 0.8
    assert (run_dir / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["final"] and rows[0]["loss"] > 0
    versions = json.loads((run_dir / "versions.json").read_text())
    assert "paperzoo" in versions and "torch" in versions
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["trainer"]["epochs"] == 2
    again = registry("run", str(run_dir / "config.yaml"))
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "runs" / "first-1" / "summary.json").read_text())
    assert second["train_loss"] == summary["train_loss"]


def test_list_info_plugins_and_docs(tmp_path):
    listed = json.loads(registry("list", "optimizer", "--json").stdout)
    assert {"adam", "adamw", "sgd", "cosine"} <= {s["name"] for s in listed}
    info = json.loads(registry("info", "adamw", "--json").stdout)
    lr = next(p for p in info["params"] if p["name"] == "lr")
    assert lr["default"] == 0.001 and "optimizer:" in info["snippet"]
    assert "1711.05101" in info["link"]
    plugins = json.loads(registry("plugins", "--json").stdout)
    assert plugins[0]["name"] == "builtins" and plugins[0]["status"] == "ok"
    result = registry("docs", "--out", str(tmp_path / "pages"))
    assert result.returncode == 0 and (tmp_path / "pages" / "optimizer-adamw.md").exists()
    bad = registry("info", "adamq")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: unknown 'adamq'. Did you mean 'adam'?"


def test_user_plugin_file_is_loaded_only_when_named(tmp_path):
    plugin = tmp_path / "my_layers.py"
    plugin.write_text(
        "from paperzoo import hookimpl, Paper\n"
        "@hookimpl\n"
        "def register_layers(register):\n"
        "    register('tiny_mlp', 'paperzoo.builtins.layers:MLP', 'An MLP of mine.',\n"
        "             paper=Paper('Mine', 2024, url='https://example.org'), example={'in_features': 8, 'num_classes': 3})\n"
    )
    config = tiny_config(tmp_path)
    config["model"] = {"name": "tiny_mlp", "in_features": 8, "num_classes": 3}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    assert registry("validate", str(path)).returncode == 2
    ok = registry("validate", str(path), "--plugin", str(plugin))
    assert ok.returncode == 0, ok.stderr


def test_a_trainer_that_refuses_the_model_is_a_config_error_before_anything_is_written(tmp_path):
    module = tmp_path / "picky_trainer.py"
    module.write_text(
        "from paperzoo import hookimpl, Paper\n"
        "from paperzoo.trainer import Supervised\n"
        "class Picky(Supervised):\n"
        "    def check_model(self, model):\n"
        "        if not hasattr(model, 'blocks'):\n"
        "            raise ValueError('it has no blocks; accepted: a model with blocks')\n"
        "@hookimpl\n"
        "def register_trainers(register):\n"
        "    register('picky', 'paperzoo_local_picky_trainer:Picky', 'A trainer for models with blocks.',\n"
        "             paper=Paper('Mine', 2024, url='https://example.org'))\n"
    )
    config = tiny_config(tmp_path)
    config["trainer"]["name"] = "picky"
    path = tmp_path / "picky.yaml"
    path.write_text(yaml.safe_dump(config))
    result = registry("run", str(path), "--plugin", str(module))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: model: the 'picky' trainer cannot use this model: it has no blocks; "
        "accepted: a model with blocks"
    ]
    assert not (tmp_path / "runs").exists()
