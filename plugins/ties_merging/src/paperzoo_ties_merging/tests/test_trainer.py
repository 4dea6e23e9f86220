"""The trainer: merging given checkpoints equals the tensor functions; fine-tuning here writes
checkpoints that merge to the same model again; per-task heads stay disjoint; lambda is the argmax."""

import json

import paperzoo
import pytest
import torch
from paperzoo import engine
from safetensors.torch import load_file, save_model

from paperzoo_ties_merging.merge import merge_state_dicts

CONFIG = {
    "seed": 0,
    "data": {"name": "synthetic_classification", "n_samples": 200, "n_features": 8, "num_classes": 4},
    "model": {"name": "mlp", "in_features": 8, "num_classes": 4, "hidden": [16]},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "evaluators": [{"name": "accuracy"}],
}
LAMS = [0.5, 1.0, 1.5]


def run(tmp_path, name, **params):
    config = {
        **CONFIG,
        "trainer": {"name": "ties_merging", "progress": False, **params},
        "output": {"dir": str(tmp_path), "name": name},
    }
    summary = engine.execute(config)
    ckpt = tmp_path / name / "checkpoints" / (tmp_path / name / "checkpoints" / "latest").read_text().strip()
    return summary, load_file(str(ckpt / "model.safetensors"))


@pytest.fixture(scope="module")
def finetuned_here(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("here")
    summary, weights = run(tmp, "here", tasks=[[0, 1], [2, 3]], lam=LAMS, finetune_epochs=2, batch_size=16)
    return tmp, summary, weights


def test_given_checkpoints_equal_merge_state_dicts(tmp_path):
    torch.manual_seed(0)
    base = paperzoo.create("mlp", in_features=8, num_classes=4, hidden=[16])
    paths, states = [], []
    for t in range(3):
        model = paperzoo.create("mlp", in_features=8, num_classes=4, hidden=[16])
        model.load_state_dict(base.state_dict())
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        save_model(model, str(tmp_path / f"ft{t}.safetensors"))
        paths.append(str(tmp_path / f"ft{t}.safetensors"))
        states.append(model.state_dict())
    save_model(base, str(tmp_path / "base.safetensors"))
    task_weights = [0.5, 1.5, -0.25]
    cases = [
        dict(method="ties", scope="model"),
        dict(method="ties", scope="tensor"),
        dict(method="task_arithmetic", scope="model"),
        dict(method="ties", scope="model", weights=task_weights, majority_sign_method="frequency"),
        dict(method="task_arithmetic", scope="model", weights=task_weights),
    ]
    merged = []
    for i, case in enumerate(cases):
        summary, weights = run(
            tmp_path,
            f"case-{i}",
            **case,
            k=0.3,
            lam=1.0,
            base=str(tmp_path / "base.safetensors"),
            finetuned=paths,
        )
        expected = merge_state_dicts(base.state_dict(), states, k=0.3, lam=1.0, **case)
        assert weights.keys() == expected.keys()
        assert all(torch.equal(weights[n], expected[n]) for n in expected), case
        assert summary["lam"] == 1.0 and 0.0 <= summary["accuracy"] <= 1.0
        merged.append(weights)
    for options, plain in ((merged[3], merged[0]), (merged[4], merged[2])):  # the options take effect
        assert not all(torch.equal(options[n], plain[n]) for n in plain)


def test_task_heads_stay_disjoint(finetuned_here):
    tmp, _, _ = finetuned_here
    base = load_file(str(tmp / "here" / "tasks" / "base.safetensors"))
    for t, others in ((0, [2, 3]), (1, [0, 1])):
        tuned = load_file(str(tmp / "here" / "tasks" / f"task-{t}.safetensors"))
        assert torch.equal(tuned["3.weight"][others], base["3.weight"][others])
        assert torch.equal(tuned["3.bias"][others], base["3.bias"][others])
        assert not torch.equal(tuned["3.weight"], base["3.weight"])


def test_lambda_is_the_best_held_out_score(finetuned_here):
    tmp, summary, _ = finetuned_here
    rows = [json.loads(line) for line in (tmp / "here" / "metrics.jsonl").read_text().splitlines()]
    scores = {r["lam"]: r["selection_score"] for r in rows if "selection_score" in r and not r.get("final")}
    assert sorted(scores) == LAMS
    assert summary["lam"] == max(LAMS, key=lambda lam: (scores[lam], -lam))
    assert summary["selection_score"] == max(scores.values())
    assert summary["steps"] > 0 and {"task_accuracy/0", "task_accuracy/1", "individual/task_accuracy"} <= set(
        summary
    )


def test_its_checkpoints_merge_to_the_same_model(finetuned_here):
    tmp, summary, weights = finetuned_here
    art = tmp / "here" / "tasks"
    again, weights_again = run(
        tmp,
        "again",
        tasks=[[0, 1], [2, 3]],
        lam=LAMS,
        base=str(art / "base.safetensors"),
        finetuned=[str(art / "task-0.safetensors"), str(art / "task-1.safetensors")],
    )
    assert again["lam"] == summary["lam"]
    assert all(torch.equal(weights[n], weights_again[n]) for n in weights)
    assert again["task_accuracy"] == summary["task_accuracy"]


def test_run_directories_are_accepted_as_checkpoints(finetuned_here, tmp_path):
    tmp, _, weights = finetuned_here
    # the merged run itself as the only "fine-tuned" model: tau = theta_merged - theta_0, and with
    # k = 1 and lambda = 1 the merge gives theta_merged back
    art = tmp / "here" / "tasks"
    _, out = run(
        tmp_path, "dir", k=1.0, lam=1.0, base=str(art / "base.safetensors"), finetuned=[str(tmp / "here")]
    )
    for n in weights:
        torch.testing.assert_close(out[n], weights[n], rtol=0, atol=1e-6)  # (x - b) + b rounds once


def test_bad_configs_fail_early():
    from paperzoo_ties_merging.trainer import TiesMerging

    with pytest.raises(ValueError):
        TiesMerging(k=20)
    with pytest.raises(ValueError):
        TiesMerging(base="base.safetensors")
    with pytest.raises(ValueError):
        TiesMerging(method="average")


@pytest.mark.parametrize(
    "params, words",
    [
        (dict(weights=[1.0, 2.0]), "weights has 2 values; it needs one per fine-tuned model (3)"),
        (
            dict(weights=[1.0, 2.0], num_tasks=4),
            "weights has 2 values; it needs one per fine-tuned model (4)",
        ),
        (
            dict(weights=[1.0], tasks=[[0, 1], [2, 3]]),
            "weights has 1 values; it needs one per fine-tuned model (2)",
        ),
        (dict(weights=[1.0, 1.0, 1.0], finetuned=["a", "b"]), "one per fine-tuned model (2)"),
        (dict(majority_sign_method="count"), "'total' or 'frequency', got 'count'"),
        (dict(method="task_arithmetic", majority_sign_method="frequency"), "applies to method 'ties' only"),
    ],
)
def test_bad_weights_and_sign_methods_fail_early(params, words):
    from paperzoo_ties_merging.trainer import TiesMerging

    with pytest.raises(ValueError) as err:
        TiesMerging(**params)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bad_weights_in_a_config_are_one_line_errors_at_the_trainer():
    from paperzoo.errors import ConfigError

    config = {**CONFIG, "trainer": {"name": "ties_merging", "weights": [1.0, 2.0], "progress": False}}
    with pytest.raises(ConfigError) as err:
        engine.build_components(engine.plan(config), with_data=False)
    assert str(err.value) == "trainer: weights has 2 values; it needs one per fine-tuned model (3)"
    config["trainer"] = {"name": "ties_merging", "majority_sign_method": "count"}
    with pytest.raises(ConfigError) as err:
        engine.plan(config)
    assert err.value.path == "trainer.majority_sign_method" and "\n" not in str(err.value)


def test_resume_before_the_merge_reads_the_finetuned_stages_back(finetuned_here, tmp_path, monkeypatch):
    import yaml

    from paperzoo_ties_merging import trainer

    tmp, summary, weights = finetuned_here

    class Stopped(Exception):
        pass

    def stopped(*args, **kwargs):
        raise Stopped  # as if the run were stopped after fine-tuning, during the merge

    config = yaml.safe_load((tmp / "here" / "config.yaml").read_text())
    config["output"] = {"dir": str(tmp_path), "name": "crashed"}
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "merged_task_vector", stopped)
        with pytest.raises(Stopped):
            engine.execute(config)
    crashed = tmp_path / "crashed"
    assert (crashed / "tasks" / "task-1.safetensors").is_file() and not (crashed / "summary.json").exists()
    stages = {f.name: f.stat().st_mtime_ns for f in (crashed / "tasks").iterdir()}
    again = engine.execute(config, resume_dir=crashed)
    assert {f.name: f.stat().st_mtime_ns for f in (crashed / "tasks").iterdir()} == stages  # read back
    ckpt = crashed / "checkpoints" / (crashed / "checkpoints" / "latest").read_text().strip()
    resumed = load_file(str(ckpt / "model.safetensors"))
    assert all(torch.equal(weights[n], resumed[n]) for n in weights)
    assert again["lam"] == summary["lam"] and again["task_accuracy"] == summary["task_accuracy"]
