"""The small-scale Mix-LN vs Pre-LN experiment of the claim test: a 12-block, narrow tinylm decoder trained on
the standard library's source, then its per-layer gradient norms and angular distances (the registered
evaluator ``tinylm_layer_stats``) on validation batches.

Run: ``python -m paperzoo_mix_ln.experiment`` (prints the per-seed figures of both models).
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass

import torch
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.layer_stats import LayerStats, LayerStatsEvaluator

from paperzoo_mix_ln.model import MixLNTransformer

#: The claim's model: 12 blocks, 32 wide, RMSNorm, RoPE, SwiGLU (tinylm's defaults otherwise).
MODEL = {"d_model": 32, "n_layers": 12, "n_heads": 2, "max_seq_len": 64}
#: alpha of each compared model: Pre-LN (0) and the paper's Mix-LN (0.25: 3 Post-LN blocks of 12).
ALPHAS = {"pre_ln": 0.0, "mix_ln": 0.25}


@dataclass
class Run:
    """One training run: its losses per step and the per-layer statistics at the end."""

    name: str
    seed: int
    losses: list[float]
    stats: LayerStats

    @property
    def grad_norm_cv(self) -> float:
        """Coefficient of variation (population std / mean) of the blocks' gradient norms."""
        g = self.stats.grad_norm
        return statistics.pstdev(g) / statistics.fmean(g)

    @property
    def deep_angle(self) -> float:
        """Mean angle (degrees) between input and output of the deeper half of the blocks."""
        a = self.stats.angle
        return statistics.fmean(a[len(a) // 2 :])

    @property
    def final_loss(self) -> float:
        return statistics.fmean(self.losses[-10:])


def train(
    name: str,
    seed: int,
    steps: int = 120,
    lr: float = 3e-3,
    batch_size: int = 16,
    seq_len: int = 32,
    warmup: int = 10,
    max_bytes: int = 200_000,
) -> Run:
    """Train ``MODEL`` with ``ALPHAS[name]`` (AdamW, betas 0.9/0.95, no weight decay, linear warm-up then
    constant, no gradient clipping), then measure the per-layer statistics on 2 validation batches."""
    data = stdlib_bytes(seq_len=seq_len, max_bytes=max_bytes, seed=seed)
    torch.manual_seed(seed)
    model = MixLNTransformer(alpha=ALPHAS[name], **MODEL)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / warmup))
    x_all, y_all = data.train.tensors
    losses = []
    for step in range(steps):
        i = torch.arange(step * batch_size, (step + 1) * batch_size) % len(x_all)
        loss = torch.nn.functional.cross_entropy(model(x_all[i]).logits.flatten(0, 1), y_all[i].flatten())
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    stats = LayerStatsEvaluator(batch_size=batch_size, n_batches=2).per_layer(model, data)
    return Run(name, seed, losses, stats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in ALPHAS:
        for seed in args.seeds:
            r = train(name, seed, args.steps, args.lr)
            grads = ", ".join(f"{v:.3g}" for v in r.stats.grad_norm)
            angles = ", ".join(f"{v:.1f}" for v in r.stats.angle)
            print(
                f"{name} seed={seed} final loss={r.final_loss:.3f} grad-norm CV={r.grad_norm_cv:.3f} "
                f"deep angle={r.deep_angle:.2f}\n    grad norm: {grads}\n    angle: {angles}"
            )


if __name__ == "__main__":
    main()
