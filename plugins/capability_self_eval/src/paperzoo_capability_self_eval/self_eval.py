"""Capability-aware self-evaluation: after a (partial) response and a fixed self-evaluation prompt, the
probability of one designated token is the model's estimate of P(restarting gives a better response).

* :class:`SelfEval` appends the prompt, runs one forward pass and reads ``softmax(logits)[token]`` at the
  last position (the full-vocabulary probability, as the paper reads one token's likelihood);
* :func:`p_better_labels` turns on-policy rewards into targets: for sample ``i`` of a prompt, the share
  of the other samples whose reward is strictly higher (a tie is not "better");
* :func:`self_eval_loss` is the soft-label cross-entropy on that one token,
  ``-[y log p + (1 - y) log(1 - p)]`` with ``log(1 - p)`` taken as the log-mass of every other token;
* :func:`task_prompt` / :func:`answer_reward` read a ``paperzoo_tinylm.tasks`` example and give the
  verifiable reward (1 when the sampled answer's first tokens equal the reference answer, else 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from paperzoo_tinylm.tasks import IGNORE
from paperzoo_tinylm.tokenizer import EOS, encode

DEFAULT_PROMPT = "|better?"
DEFAULT_TOKEN = ord("Y")


@dataclass(frozen=True)
class SelfEval:
    """The self-evaluation prompt ids and the token whose probability is P(better)."""

    prompt_ids: tuple[int, ...] = tuple(encode(DEFAULT_PROMPT))
    token: int = DEFAULT_TOKEN

    @classmethod
    def from_text(cls, prompt: str = DEFAULT_PROMPT, token: int = DEFAULT_TOKEN) -> SelfEval:
        return cls(tuple(encode(prompt)), int(token))

    def inputs(self, response: torch.Tensor) -> torch.Tensor:
        """``response`` (a 1-d sequence, end padding already stripped) followed by the prompt."""
        tail = torch.tensor(self.prompt_ids, dtype=torch.long, device=response.device)
        return torch.cat([response, tail])

    def log_probs(self, model: torch.nn.Module, responses: Sequence[torch.Tensor]) -> torch.Tensor:
        """``log softmax(logits)`` at each response's self-evaluation position, ``(k, V)``; responses of
        equal length share a forward pass (no padding, so no mask is involved)."""
        out: list[torch.Tensor | None] = [None] * len(responses)
        groups: dict[int, list[int]] = {}
        for i, r in enumerate(responses):
            groups.setdefault(int(r.numel()), []).append(i)
        for idx in groups.values():
            batch = torch.stack([self.inputs(responses[i]) for i in idx])
            logits = model(batch).logits[:, -1].float()
            for j, i in enumerate(idx):
                out[i] = logits[j].log_softmax(-1)
        return torch.stack(out)  # type: ignore[arg-type]

    def p_better(self, model: torch.nn.Module, responses: Sequence[torch.Tensor]) -> torch.Tensor:
        """P(restarting gives a better response) for each response, ``(k,)``."""
        with torch.no_grad():
            return self.log_probs(model, responses)[:, self.token].exp()


def strip_padding(seq: torch.Tensor, prompt_len: int, eos_token_id: int = EOS) -> torch.Tensor:
    """A sampled sequence cut after its first generated end-of-sequence (the sampler pads after it)."""
    hit = torch.nonzero(seq[prompt_len:] == eos_token_id)
    return seq if hit.numel() == 0 else seq[: prompt_len + int(hit[0, 0]) + 1]


def p_better_labels(rewards: torch.Tensor) -> torch.Tensor:
    """For each of ``k`` on-policy samples of one prompt, the share of the other ``k - 1`` whose reward
    is strictly higher: the probability that one restart beats it (ties do not)."""
    r = rewards.double().reshape(-1)
    k = r.numel()
    if k < 2:
        raise ValueError("labels need at least two samples of a prompt")
    return (r[None, :] > r[:, None]).double().sum(1) / (k - 1)


def self_eval_loss(log_probs: torch.Tensor, token: int, labels: torch.Tensor) -> torch.Tensor:
    """Mean soft-label cross-entropy ``-[y log p_tok + (1 - y) log(1 - p_tok)]`` from ``(k, V)`` log
    probabilities; ``log(1 - p_tok)`` is the logsumexp of the other tokens' log probabilities."""
    log_p = log_probs[:, token]
    others = torch.cat([log_probs[:, :token], log_probs[:, token + 1 :]], dim=1).logsumexp(1)
    y = labels.to(log_probs.dtype)
    return -(y * log_p + (1 - y) * others).mean()


def anchor_kl(logits: torch.Tensor, ref_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean ``KL(p_ref || p)`` over the positions where ``mask`` is true: keeps the model's own
    next-token distributions (its responses) where the self-evaluation token is trained."""
    log_p, log_ref = logits.float().log_softmax(-1), ref_logits.float().log_softmax(-1)
    kl = (log_ref.exp() * (log_ref - log_p)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1)


def task_prompt(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``paperzoo_tinylm.tasks`` row as ``(question ids, reference answer ids)`` (the tasks train the
    answer tokens only, not the end-of-sequence after them)."""
    keep = torch.nonzero(targets != IGNORE)[:, 0]
    if keep.numel() == 0:
        raise ValueError("the row has no answer tokens (targets are all IGNORE)")
    start = int(keep[0])
    answer = targets[keep]
    return inputs[: start + 1], answer


def answer_reward(sequences: torch.Tensor, prompt_len: int, answer: torch.Tensor) -> torch.Tensor:
    """1.0 where the generated tokens begin with ``answer``, else 0.0; ``(k,)``."""
    gen = sequences[:, prompt_len:]
    n = answer.numel()
    if gen.shape[1] < n:
        return torch.zeros(len(sequences), dtype=torch.float64)
    return (gen[:, :n] == answer.to(gen.device)).all(1).double().cpu()


__all__ = [
    "DEFAULT_PROMPT",
    "DEFAULT_TOKEN",
    "SelfEval",
    "anchor_kl",
    "answer_reward",
    "p_better_labels",
    "self_eval_loss",
    "strip_padding",
    "task_prompt",
]
