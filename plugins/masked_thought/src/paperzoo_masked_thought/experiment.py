"""The claim's experiment: a tiny GPT fine-tuned on addition chains with plain SFT or Masked Thought,
scored by held-out final-answer exact match under greedy decoding.

Both arms share the seed, the initial weights, the batches and the number of optimizer steps; they
differ only in the masking rate of the response inputs (0 is plain SFT).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo_tinylm.generate import generate
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import EOS

from paperzoo_masked_thought.chains import IGNORE, addition_chains, final_answer
from paperzoo_masked_thought.masking import mask_reasoning, response_mask_of_targets
from paperzoo_masked_thought.trainer import sft_loss


@dataclass(frozen=True)
class ChainSetup:
    """Sizes of the experiment (defaults: the claim test's)."""

    n_train: int = 128
    n_val: int = 128
    n_terms: int = 4
    steps: int = 1000
    batch_size: int = 32
    lr: float = 3e-3
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4


def exact_match(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of examples whose greedily generated final answer equals the reference's."""
    model.eval()
    prompt_len = (y != IGNORE).int().argmax(dim=1) + 1  # the first kept target follows the prompt
    right = 0
    with torch.no_grad():
        for n in prompt_len.unique().tolist():
            rows = (prompt_len == n).nonzero().flatten()
            out = generate(model, x[rows, :n], x.shape[1] - n + 1, eos_token_id=EOS)
            for row, gen in zip(rows.tolist(), out[:, n:].tolist(), strict=True):
                ref = [int(t) for t in y[row] if t != IGNORE]
                right += final_answer(gen) == final_answer(ref)
    model.train()
    return right / x.shape[0]


def train_chains(seed: int, mask_rate: float, setup: ChainSetup = ChainSetup()) -> dict[str, float]:
    """Train one arm and return its held-out exact match and last loss."""
    data = addition_chains(setup.n_train, setup.n_val, setup.n_terms, seed=seed)
    x, y = data.train.tensors
    torch.manual_seed(seed)
    model = TinyLMDecoder(
        d_model=setup.d_model, n_layers=setup.n_layers, n_heads=setup.n_heads, max_seq_len=x.shape[1] + 1
    )
    opt = torch.optim.AdamW(model.parameters(), lr=setup.lr, weight_decay=0.0)
    order = torch.Generator().manual_seed(seed)
    masks = torch.Generator().manual_seed(seed + 1)
    response = response_mask_of_targets(y)
    loss = torch.tensor(float("nan"))
    for _ in range(setup.steps):
        idx = torch.randint(x.shape[0], (setup.batch_size,), generator=order)
        inputs = mask_reasoning(x[idx], response[idx], mask_rate, generator=masks) if mask_rate else x[idx]
        loss = sft_loss(model(inputs).logits, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    vx, vy = data.val.tensors
    return {"exact_match": exact_match(model, vx, vy), "loss": float(loss.detach())}
