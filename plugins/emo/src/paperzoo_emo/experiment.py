"""The claim's experiment: continue training the pretrained ``stdlib-small`` tinylm with cross-entropy
(MLE) or with EMO's loss for the same steps on the same batches, then decode greedily from validation
prompts and compare the continuations' repetition (rep-n) and byte-bigram statistics with the data's."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from paperzoo_contrastive_search.metrics import rep_n
from paperzoo_tinylm.generate import greedy_search

from paperzoo_emo.loss import emo_loss


@dataclass
class Setup:
    """Sizes of the experiment (defaults: the claim test's)."""

    steps: int = 80
    lr: float = 3e-4
    batch_size: int = 16
    train_len: int = 32
    n_prompts: int = 32
    prompt_len: int = 16
    new_tokens: int = 64


def finetune(
    base: torch.nn.Module, train: tuple[torch.Tensor, torch.Tensor], method: str, seed: int, setup: Setup
):
    """A copy of ``base`` trained ``setup.steps`` AdamW steps with ``mle`` or ``emo`` (mode 1, the cost of
    ``base``'s LM head, frozen); the batches depend on ``seed`` only, so both methods see the same ones."""
    model = copy.deepcopy(base).train()
    cost = model.lm_head.weight.detach().clone()
    opt = torch.optim.AdamW(model.parameters(), lr=setup.lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    x_all, y_all = train
    for _ in range(setup.steps):
        i = torch.randint(len(x_all), (setup.batch_size,), generator=g)
        x, y = x_all[i, : setup.train_len], y_all[i, : setup.train_len]
        logits = model(x).logits.float()
        if method == "mle":
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        else:
            loss = emo_loss(logits, y, cost)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def bigram_tvd(a: torch.Tensor, b: torch.Tensor, vocab: int) -> float:
    """Total variation distance between the bigram distributions of two batches of sequences."""

    def dist(s: torch.Tensor) -> torch.Tensor:
        pairs = s.unfold(1, 2, 1).reshape(-1, 2)
        counts = torch.bincount(pairs[:, 0] * vocab + pairs[:, 1], minlength=vocab * vocab).double()
        return counts / counts.sum()

    return 0.5 * float((dist(a) - dist(b)).abs().sum())


def prompts_and_references(val_x: torch.Tensor, setup: Setup) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_prompts`` prompts spread over the validation blocks and the true bytes that follow each."""
    idx = torch.linspace(0, len(val_x) - 2, setup.n_prompts).long()
    text = torch.cat([val_x[idx], val_x[idx + 1]], dim=1)
    end = setup.prompt_len + setup.new_tokens
    return text[:, : setup.prompt_len], text[:, setup.prompt_len : end]


@torch.no_grad()
def greedy_stats(
    model: torch.nn.Module, prompts: torch.Tensor, refs: torch.Tensor, vocab: int
) -> dict[str, float]:
    """rep-2/3/4 of greedy continuations and the bigram TVD between them and the true continuations."""
    out = greedy_search(model, prompts, max_new_tokens=refs.shape[1])[:, prompts.shape[1] :]
    stats = {f"rep_{n}": rep_n(out, n) for n in (2, 3, 4)}
    stats["bigram_tvd"] = bigram_tvd(out, refs, vocab)
    return stats


@torch.no_grad()
def val_ce(model: torch.nn.Module, val: tuple[torch.Tensor, torch.Tensor], n: int = 64) -> float:
    """Mean next-byte cross-entropy (nats) on the first ``n`` validation blocks."""
    x, y = val[0][:n], val[1][:n]
    return float(F.cross_entropy(model(x).logits.float().flatten(0, 1), y.flatten()))
