"""The length-extrapolation experiment of the claim test: a small tinylm decoder (RoPE) trained at length 64
on the standard library's source with softmax or softplus (LSSA) attention, then its validation loss at
lengths 64, 256 and 512, with and without the inference-time re-weighting (the weights are not touched).

Run: ``python -m paperzoo_softplus_attention.experiment`` (prints per-seed losses and their growth).
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_softplus_attention.kernel import SoftplusAttention, set_reweighting

#: The claim's model: 2 blocks, 64 wide, 4 heads of 16, RMSNorm, RoPE, SwiGLU (tinylm's defaults otherwise).
MODEL = {"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 512}
TRAIN_LEN, EVAL_LENS = 64, (64, 256, 512)
MAX_BYTES = 400_000


def _blocks(text: bytes, length: int, n: int) -> torch.Tensor:
    data = torch.frombuffer(bytearray(text), dtype=torch.uint8).long()
    count = min(n, (len(data) - 1) // length)
    return torch.stack([data[i * length : i * length + length + 1] for i in range(count)])


def build(attention: str, seed: int) -> TinyLMDecoder:
    """A fresh decoder: ``attention`` is ``softmax`` (SDPA) or ``softplus`` (LSSA, no re-weighting)."""
    torch.manual_seed(seed)
    if attention == "softmax":
        return TinyLMDecoder(**MODEL)
    return TinyLMDecoder(**MODEL, attention="softplus_attention")


def train(
    attention: str, seed: int, steps: int = 200, batch_size: int = 16, lr: float = 3e-3
) -> TinyLMDecoder:
    """AdamW (betas 0.9/0.95), 10 warm-up steps then cosine to lr/10, clip 1.0, batches of ``TRAIN_LEN``."""
    model = build(attention, seed)
    train_text, _ = stdlib_split(MAX_BYTES)
    data = _blocks(train_text, TRAIN_LEN, 10**9)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    for step in range(steps):
        f = (
            (step + 1) / 10
            if step < 10
            else 0.1 + 0.45 * (1 + math.cos(math.pi * (step - 10) / (steps - 10)))
        )
        for group in opt.param_groups:
            group["lr"] = lr * f
        ids = data[torch.randint(len(data), (batch_size,), generator=g)]
        loss = lm_loss(model, ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def use_softmax_reweighting(model: TinyLMDecoder, p: float | None) -> None:
    """Swap a softmax model's kernels for explicit softmax re-weighted by ``p`` (``None``: plain)."""
    for block in model.blocks:
        block.attn.kernel = SoftplusAttention(normalizer="softmax", p=p)


@torch.no_grad()
def eval_losses(model: TinyLMDecoder, n_tokens: int = 4096) -> dict[int, float]:
    """Mean next-byte loss on validation blocks of each of ``EVAL_LENS`` (``n_tokens`` tokens per length)."""
    _, val_text = stdlib_split(MAX_BYTES)
    return {t: lm_loss(model, _blocks(val_text, t, max(1, n_tokens // t))).item() for t in EVAL_LENS}


def run(seed: int, p: float = 15.0, steps: int = 200) -> dict[str, dict[int, float]]:
    """Losses per length of softmax, softmax re-weighted, LSSA and LSSA re-weighted (LSSAR), one seed."""
    out = {}
    soft = train("softmax", seed, steps)
    out["softmax"] = eval_losses(soft)
    use_softmax_reweighting(soft, p)
    out["softmax_rw"] = eval_losses(soft)
    lssa = train("softplus", seed, steps)
    out["lssa"] = eval_losses(lssa)
    set_reweighting(lssa, p)
    out["lssar"] = eval_losses(lssa)
    return out


def growth(losses: dict[int, float], length: int) -> float:
    """Loss at ``length`` minus the loss at the training length."""
    return losses[length] - losses[TRAIN_LEN]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--p", type=float, default=15.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = [run(s, args.p, args.steps) for s in args.seeds]
    for name in runs[0]:
        per_len = {t: statistics.fmean(r[name][t] for r in runs) for t in EVAL_LENS}
        grow = [round(growth(r[name], 512), 3) for r in runs]
        print(f"{name:>10} " + " ".join(f"L{t}={v:.3f}" for t, v in per_len.items()) + f" growth512={grow}")


if __name__ == "__main__":
    main()
