"""The paper's headline claim at toy scale: picking the sample with the lowest self-evaluated P(better)
beats a single sample, and adaptive sampling keeps much of that gain with fewer samples.

A 2-layer tinylm decoder is trained for 200 steps on addition mod 11 (about 30% of its samples right at
temperature 1), then ``self_eval_token_sft`` trains its self-evaluation token on 8 on-policy samples of
each training question (verifiable reward: the exact answer). ``adaptive_best_of_n`` then answers the
same questions with fresh samples: one sample (the compute baseline), fixed best-of-8 and adaptive
best-of-8, each chosen by the model's own P(better). Three seeds.

Measured (seeds 0, 1, 2): the token does not learn the model's capability at this scale. Best-of-8
chosen by self-evaluation is no better than one sample (reward 0.217 / 0.250 / 0.283 against 0.283 /
0.267 / 0.400 for one sample, while some of the 8 samples is right for 75 / 80 / 87% of the questions);
adaptive sampling at threshold 0.3 stops after 1.1 / 1.0 / 1.0 samples (reward 0.217 / 0.267 / 0.400).
The claim's direction is not reproduced: a strict xfail records it.
"""

from __future__ import annotations

import tempfile

import pytest
from paperzoo import engine

_EVAL = {"name": "adaptive_best_of_n", "split": "train", "n_prompts": 60, "max_new_tokens": 2}
_T = {"t_min": 1.0, "t_max": 1.0}


def _run(seed: int) -> dict[str, float]:
    config = {
        "seed": seed,
        "data": {"name": "tinylm_modular_arithmetic", "modulus": 11, "train_fraction": 0.5, "seed": seed},
        "model": {"name": "tinylm_decoder", "d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 32},
        "optimizer": {"name": "adamw", "lr": 3.0e-3},
        "trainer": {
            "name": "self_eval_token_sft",
            "task_steps": 200,
            "n_prompts": 60,
            "k_samples": 8,
            "max_new_tokens": 2,
            "max_steps": 200,
            "batch_size": 32,
            "progress": False,
        },
        "evaluators": [
            {**_EVAL, **_T, "n_max": 1, "seed": seed},
            {**_EVAL, **_T, "n_max": 8, "threshold": 0.0, "seed": seed},
            {**_EVAL, **_T, "n_max": 8, "threshold": 0.3, "seed": seed},
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        config["output"] = {"dir": tmp, "name": "run"}
        s = engine.execute(config)
    one, fixed, adaptive = (f"adaptive_best_of_n.{i}" for i in range(3))
    return {
        "single": s[f"{one}/reward"],
        "fixed8": s[f"{fixed}/reward"],
        "fixed8_oracle": s[f"{fixed}/oracle_reward"],
        "adaptive": s[f"{adaptive}/reward"],
        "adaptive_samples": s[f"{adaptive}/mean_samples"],
        "sample_reward": s["sample_reward_mean"],
    }


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="measured: self-evaluated best-of-8 does not beat one sample on a tiny LM (the token does not "
    "learn the model's capability in a minute of CPU training); see the module docstring",
)
def test_self_evaluated_best_of_n_beats_one_sample(record_property):
    runs = [_run(seed) for seed in (0, 1, 2)]
    mean = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
    for key, value in mean.items():
        record_property(f"{key}_mean", round(value, 4))
    print({k: [round(r[k], 3) for r in runs] for k in runs[0]})
    gain = [r["fixed8"] - r["single"] for r in runs]
    assert all(g > 0.02 for g in gain), f"best-of-8 gain over one sample per seed: {gain}"
    assert mean["adaptive_samples"] < 8
    assert mean["adaptive"] - mean["single"] >= 0.5 * (mean["fixed8"] - mean["single"])
