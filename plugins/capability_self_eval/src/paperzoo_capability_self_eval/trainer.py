"""``self_eval_token_sft``: teach a causal LM its capability-aware self-evaluation token.

1. (optional) ``task_steps`` steps of the task's answer loss, so the model has something to evaluate;
2. on-policy data: ``k_samples`` samples of each of ``n_prompts`` training questions, a verifiable
   reward for each, and the label P(better) = share of sibling samples with a strictly higher reward;
3. ``max_steps`` steps of the soft-label cross-entropy on the one self-evaluation token read after
   ``response + prompt``, plus ``anchor_weight`` times the KL divergence from the model as it was before
   this step (a frozen copy) at the response positions, so that learning the token leaves the
   responses' distribution in place (without it a tiny model's answers collapse).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.training import fit_targets
from torch.utils.data import TensorDataset

from paperzoo_capability_self_eval.rollouts import SelfEvalData, collect, model_device, task_rows
from paperzoo_capability_self_eval.self_eval import (
    DEFAULT_PROMPT,
    DEFAULT_TOKEN,
    SelfEval,
    anchor_kl,
    self_eval_loss,
)


def pack(data: SelfEvalData, self_eval: SelfEval) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``response + prompt`` right-padded with ``PAD`` ``(N, T)``, and ``(N, 2)`` float targets:
    the self-evaluation position (the last real one) and the P(better) label."""
    rows = [self_eval.inputs(r) for r in data.responses]
    inputs = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD)
    pos = torch.tensor([len(r) - 1 for r in rows], dtype=torch.float64)
    return inputs, torch.stack([pos, data.labels.double()], dim=1)


class SelfEvalTokenSFT(Supervised):
    """Fine-tune the self-evaluation token on on-policy samples with reward-comparison labels.

    :param n_prompts: training questions sampled from.
    :param k_samples: on-policy samples per question (labels compare each with the other ``k - 1``).
    :param max_new_tokens: tokens sampled per answer.
    :param temperature: sampling temperature of the on-policy data.
    :param task_steps: steps of task training first (AdamW one-cycle at ``task_lr``; 0: as built).
    :param task_lr: peak learning rate of that task training.
    :param prompt: the fixed self-evaluation prompt (text, byte-encoded).
    :param token: the id whose probability is P(better).
    :param anchor_weight: weight of the KL anchor to the frozen starting model on the response positions.
    Other params: the supervised loop's (``max_steps``, ``batch_size``: self-evaluation steps and rows);
    the configured optimizer trains the token.
    """

    def __init__(
        self,
        n_prompts: int = 64,
        k_samples: int = 8,
        max_new_tokens: int = 4,
        temperature: float = 1.0,
        task_steps: int = 0,
        task_lr: float = 3e-3,
        prompt: str = DEFAULT_PROMPT,
        token: int = DEFAULT_TOKEN,
        anchor_weight: float = 1.0,
        **loop: Any,
    ) -> None:
        check_int("n_prompts", n_prompts, 1)
        check_int("k_samples", k_samples, 2)
        check_int("max_new_tokens", max_new_tokens, 1)
        check_float("temperature", temperature, 0.0, open_low=True)
        check_int("task_steps", task_steps, 0)
        check_float("task_lr", task_lr, 0.0, open_low=True)
        if not isinstance(prompt, str) or not prompt:
            raise ParamError("prompt", f"{prompt!r}; accepted: a non-empty string")
        check_int("token", token, 0)
        check_float("anchor_weight", anchor_weight, 0.0)
        self.anchor_weight = float(anchor_weight)
        loop.setdefault("max_steps", 100)
        super().__init__(**loop)
        self.n_prompts, self.k_samples, self.max_new_tokens = n_prompts, k_samples, max_new_tokens
        self.temperature, self.task_steps, self.task_lr = float(temperature), task_steps, float(task_lr)
        self.self_eval = SelfEval.from_text(prompt, token)

    def fit(self, run: Run) -> dict[str, Any]:
        self.setup(run)  # restores a checkpoint (weights, step, the self-evaluation set) on resume
        if self.state.step == 0:
            self.prepare(run)
        task_data = run.data
        run.data = dataclasses.replace(task_data, train=TensorDataset(self.inputs, self.targets))
        try:
            self.train(run)
        finally:
            run.data = task_data
        return self.finish(run)

    def prepare(self, run: Run) -> None:
        """Task training (when asked), then the on-policy self-evaluation set."""
        model = run.model
        device = model_device(model)
        if self.task_steps:
            x, y = (t.to(device) for t in fetch(run.data.train, torch.arange(len(run.data.train))))
            fit_targets(model, x, y, self.task_steps, self.batch_size, self.task_lr, seed=run.seed)
        gen = torch.Generator(device).manual_seed(run.seed)
        rows = task_rows(run.data.train, self.n_prompts, run.seed, device)
        data = collect(model, rows, self.k_samples, self.max_new_tokens, self.temperature, gen)
        self.inputs, self.targets = pack(data, self.self_eval)
        self.rewards = data.rewards
        self.reference = copy.deepcopy(model).eval().requires_grad_(False)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        """Soft-label cross-entropy of the token at each row's self-evaluation position (right padding
        after it is never read: the model is causal)."""
        x, y = batch
        logits = model(x).logits
        pos = y[:, 0].long()
        log_probs = logits[torch.arange(len(x), device=x.device), pos].float().log_softmax(-1)
        loss = self_eval_loss(log_probs, self.self_eval.token, y[:, 1])
        if self.anchor_weight > 0:
            with torch.no_grad():
                ref = self.reference(x).logits
            # positions predicting a response token: before the last response token
            end = pos - len(self.self_eval.prompt_ids)
            mask = torch.arange(x.shape[1], device=x.device)[None, :] < end[:, None]
            loss = loss + self.anchor_weight * anchor_kl(logits, ref, mask)
        return loss

    def extra_state(self) -> dict[str, Any]:
        ref = {k: v.detach().cpu() for k, v in self.reference.state_dict().items()}
        return {"inputs": self.inputs, "targets": self.targets, "rewards": self.rewards, "reference": ref}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.inputs, self.targets, self.rewards = state["inputs"], state["targets"], state["rewards"]
        self.reference = copy.deepcopy(self.run.model).eval().requires_grad_(False)
        self.reference.load_state_dict(state["reference"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "self_eval_examples": len(self.inputs),
            "sample_reward_mean": float(self.rewards.mean()),
            "label_mean": float(self.targets[:, 1].mean()),
        }
