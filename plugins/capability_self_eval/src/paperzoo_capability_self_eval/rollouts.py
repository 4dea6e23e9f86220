"""On-policy rollouts on a ``paperzoo_tinylm.tasks`` bundle: questions, sampled answers, verifiable
rewards, and the self-evaluation training set built from them."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo.data import fetch
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.tokenizer import EOS

from paperzoo_capability_self_eval.self_eval import answer_reward, p_better_labels, strip_padding, task_prompt


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); CPU for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def task_rows(
    dataset, n: int, seed: int, device: torch.device | str = "cpu"
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` rows (drawn without replacement by ``seed``; all when fewer, the same rows on every device)
    as ``(question, answer)`` on ``device``."""
    total = len(dataset)
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[: min(n, total)]
    x, y = fetch(dataset, order)
    x, y = x.to(device), y.to(device)
    return [task_prompt(x[i], y[i]) for i in range(len(order))]


@dataclass
class SelfEvalData:
    """Responses (question + sampled answer, end padding stripped), their P(better) labels and rewards."""

    responses: list[torch.Tensor]
    labels: torch.Tensor
    rewards: torch.Tensor


@torch.no_grad()
def collect(
    model: torch.nn.Module,
    rows: list[tuple[torch.Tensor, torch.Tensor]],
    k: int,
    max_new_tokens: int,
    temperature: float,
    generator: torch.Generator,
) -> SelfEvalData:
    """``k`` samples per question from ``model`` itself (on-policy), rewarded against the reference;
    each labelled with the share of its siblings that scored strictly higher."""
    was_training = model.training
    model.eval()
    responses, labels, rewards = [], [], []
    for question, answer in rows:
        s = question.numel()
        seqs = sample(
            model, question.expand(k, -1), max_new_tokens, temperature, generator=generator, eos_token_id=EOS
        )
        r = answer_reward(seqs, s, answer)
        responses += [strip_padding(q, s) for q in seqs]
        labels.append(p_better_labels(r))
        rewards.append(r)
    model.train(was_training)
    return SelfEvalData(responses, torch.cat(labels), torch.cat(rewards))
