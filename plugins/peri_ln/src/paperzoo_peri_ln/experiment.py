"""The small-scale Peri-LN vs Pre-LN experiment of the claim test: a deep, narrow tinylm decoder trained
on the standard library's source, its residual-stream variance per layer (``tinylm_layer_stats``) and its
loss curve (spikes, divergence).

Run: ``python -m paperzoo_peri_ln.experiment`` (prints the per-seed figures of both placements).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

import torch
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.layer_stats import LayerStats, layer_stats
from paperzoo_tinylm.model import TinyLMDecoder

#: The claim's model: 12 blocks, narrow (175k parameters, a third of them embeddings and head).
MODEL = {"d_model": 32, "n_layers": 12, "n_heads": 2, "max_seq_len": 64}
#: The claim's high learning rate (ten times the kit's suggested 3e-3).
HIGH_LR = 3e-2


@dataclass
class Run:
    """One training run: its losses per step and the per-layer statistics at the end."""

    placement: str
    seed: int
    lr: float
    losses: list[float] = field(default_factory=list)
    stats: LayerStats | None = None

    @property
    def diverged(self) -> bool:
        """A non-finite loss, or a final loss (mean of the last 10 steps) above the first step's."""
        if not all(math.isfinite(v) for v in self.losses):
            return True
        return sum(self.losses[-10:]) / len(self.losses[-10:]) > self.losses[0]

    def spikes(self, rise: float = 1.0, warmup: int = 10) -> int:
        """Steps after ``warmup`` whose loss exceeds the lowest loss so far by ``rise`` nats."""
        low, count = math.inf, 0
        for t, v in enumerate(self.losses):
            if t >= warmup and (not math.isfinite(v) or v > low + rise):
                count += 1
            low = min(low, v) if math.isfinite(v) else low
        return count

    @property
    def variance_growth(self) -> float:
        """Residual-stream variance after the last block over that of the embedding (the stream's input)."""
        assert self.stats is not None
        return self.stats.resid_var[-1] / self.stats.resid_var[0]


def train(
    placement: str,
    seed: int,
    lr: float,
    steps: int = 100,
    batch_size: int = 16,
    seq_len: int = 32,
    warmup: int = 10,
    max_bytes: int = 200_000,
) -> Run:
    """Train ``MODEL`` with ``placement`` (AdamW, betas 0.9/0.95, linear warm-up to ``lr`` then constant,
    no gradient clipping: a spike is not hidden) and measure the per-layer statistics on a validation batch."""
    data = stdlib_bytes(seq_len=seq_len, max_bytes=max_bytes, seed=seed)
    torch.manual_seed(seed)
    model = TinyLMDecoder(**MODEL, norm_placement=placement)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / warmup))
    x_all, y_all = data.train.tensors
    run = Run(placement, seed, lr)
    for step in range(steps):
        i = torch.arange(step * batch_size, (step + 1) * batch_size) % len(x_all)
        logits = model(x_all[i]).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y_all[i].flatten())
        run.losses.append(float(loss.detach()))
        if not math.isfinite(run.losses[-1]):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    xv, yv = data.val.tensors
    run.stats = layer_stats(model, xv[:batch_size], yv[:batch_size])
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[HIGH_LR])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for lr in args.lr:
        for placement in ("pre", "peri"):
            for seed in args.seeds:
                r = train(placement, seed, lr, args.steps)
                var = ", ".join(f"{v:.3g}" for v in r.stats.resid_var)
                print(
                    f"lr={lr:g} {placement:>4} seed={seed} final loss={sum(r.losses[-10:]) / 10:.3f} "
                    f"spikes={r.spikes()} diverged={r.diverged} growth={r.variance_growth:.3g}\n    var: {var}"
                )


if __name__ == "__main__":
    main()
