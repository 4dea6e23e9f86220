"""``adaptive_best_of_n``: adaptive, self-evaluated best-of-N on the questions of a task bundle."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.errors import ParamError

from paperzoo_capability_self_eval.adaptive import adaptive_best_of_n, annealed_temperature, self_eval_scorer
from paperzoo_capability_self_eval.rollouts import model_device, task_rows
from paperzoo_capability_self_eval.self_eval import DEFAULT_PROMPT, DEFAULT_TOKEN, SelfEval, answer_reward


class AdaptiveBestOfN:
    """For each of ``n_prompts`` questions: sample in rounds ``1, 1, 2, 4, ...`` up to ``n_max`` with
    annealed temperatures, stop once the chosen sample's P(better) < ``threshold``, keep the sample with
    the lowest P(better); score it with the task's verifiable reward.

    Reports ``reward`` (mean reward of the chosen samples), ``reward_first`` (of the first sample alone),
    ``mean_samples``, ``oracle_reward`` (share of questions where some drawn sample is right) and
    ``p_better`` (mean P(better) of the chosen samples).

    :param n_max: the most samples per question.
    :param threshold: stop once the chosen sample's P(better) is below it (0: fixed best-of-``n_max``).
    :param n_prompts: questions answered (drawn by ``seed`` from the split).
    :param max_new_tokens: tokens sampled per answer.
    :param t_min: temperature of the first sample.
    :param t_max: the temperature later samples approach.
    :param decay: annealing ``T(i) = t_max - (t_max - t_min) * decay ** i``.
    :param rounds: round sizes: ``doubling`` (1, 1, 2, 4, ...), ``one`` or ``all``.
    :param prompt: the fixed self-evaluation prompt (text).
    :param token: the id whose probability is P(better).
    :param split: ``val`` or ``train``.
    :param seed: seed of the question draw and of the sampling.
    """

    keys = ("reward", "reward_first", "mean_samples", "oracle_reward", "p_better")

    def __init__(
        self,
        n_max: int = 8,
        threshold: float = 0.5,
        n_prompts: int = 32,
        max_new_tokens: int = 4,
        t_min: float = 0.5,
        t_max: float = 1.0,
        decay: float = 0.5,
        rounds: str = "doubling",
        prompt: str = DEFAULT_PROMPT,
        token: int = DEFAULT_TOKEN,
        split: str = "val",
        seed: int = 0,
    ) -> None:
        check_int("n_max", n_max, 1)
        check_float("threshold", threshold, 0.0, 1.0)
        check_int("n_prompts", n_prompts, 1)
        check_int("max_new_tokens", max_new_tokens, 1)
        check_float("t_min", t_min, 0.0, open_low=True)
        check_float("t_max", t_max, t_min)
        check_float("decay", decay, 0.0, 0.999999)
        if rounds not in ("doubling", "one", "all"):
            raise ParamError("rounds", f"{rounds!r}; accepted: 'doubling', 'one' or 'all'")
        if split not in ("train", "val"):
            raise ParamError("split", f"{split!r}; accepted: 'train' or 'val'")
        check_int("seed", seed, 0)
        self.n_max, self.threshold, self.n_prompts = n_max, float(threshold), n_prompts
        self.max_new_tokens, self.rounds, self.split, self.seed = max_new_tokens, rounds, split, seed
        self.temperature = annealed_temperature(float(t_min), float(t_max), float(decay))
        self.self_eval = SelfEval.from_text(prompt, token)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        was_training = model.training
        model.eval()
        dataset = data.val if self.split == "val" else data.train
        device = model_device(model)
        gen = torch.Generator(device).manual_seed(self.seed)
        scorer = self_eval_scorer(model, self.self_eval)
        totals = dict.fromkeys(self.keys, 0.0)
        rows = task_rows(dataset, self.n_prompts, self.seed, device)
        for question, answer in rows:
            res = adaptive_best_of_n(
                model,
                question,
                scorer,
                self.n_max,
                self.max_new_tokens,
                threshold=self.threshold,
                rounds=self.rounds,
                temperature=self.temperature,
                generator=gen,
            )
            seqs = torch.nn.utils.rnn.pad_sequence(res.sequences, batch_first=True)
            rewards = answer_reward(seqs, res.prompt_len, answer)
            totals["reward"] += float(rewards[res.best])
            totals["reward_first"] += float(rewards[0])
            totals["mean_samples"] += res.n_samples
            totals["oracle_reward"] += float(rewards.max())
            totals["p_better"] += -res.best_score
        model.train(was_training)
        return {k: v / len(rows) for k, v in totals.items()}
