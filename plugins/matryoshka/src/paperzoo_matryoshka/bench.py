"""A Matryoshka training step against a plain cross-entropy step of the same model.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds (one pass of
each variant per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to the plain step. The model is an MLP encoder
and a classifier on its ``d``-dim embedding; the plain step is ``CE(W z, y)``, MRL-E adds
``CE(W[:, :m] z[:m], y)`` for ``m = 8, 16, ..., d/2`` on views of the same weight, MRL has one
classifier per dim. Sizes: the claim's (64-d embedding, 10 classes, batch 64) and the paper's
ImageNet head (2048-d embedding, 1000 classes, batch 256, behind a 512-2048 encoder).

Run: ``registry bench matryoshka [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_matryoshka.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_matryoshka.head import MatryoshkaHead
from paperzoo_matryoshka.loss import matryoshka_ce_loss

# (input features, encoder hidden, embedding d, classes, batch)
SIZES = [(64, 128, 64, 10, 64), (512, 2048, 2048, 1000, 256)]


def plain_step(model: MatryoshkaHead, x: torch.Tensor, y: torch.Tensor) -> None:
    """Cross-entropy on the full embedding only."""
    F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)


def mrl_step(model: MatryoshkaHead, x: torch.Tensor, y: torch.Tensor) -> None:
    """The Matryoshka loss over all of the head's dims."""
    matryoshka_ce_loss(model, model.encoder(x), y).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"forward+backward, median of {args.rounds} interleaved rounds; ratios: ours / plain CE"
    )
    print(compare_header(f"{'d x classes':>12} {'batch':>6}", "step", (19, 7)))
    for n_in, hidden, d, classes, batch in SIZES:
        torch.manual_seed(0)
        kwargs = {"encoder_in_features": n_in, "encoder_hidden": [hidden]}
        plain = MatryoshkaHead(d, classes, dims=[d], **kwargs).to(device)
        mrl_e = MatryoshkaHead(d, classes, **kwargs).to(device)
        mrl = MatryoshkaHead(d, classes, efficient=False, **kwargs).to(device)
        x = torch.randn(batch, n_in, device=device)
        y = torch.randint(0, classes, (batch,), device=device)
        works = {
            "plain_ce": partial(plain_step, plain, x, y),
            "mrl_e": partial(mrl_step, mrl_e, x, y),
            "mrl": partial(mrl_step, mrl, x, y),
        }
        label = f"{d:>5} x {classes:<5} {batch:>6}"
        compare(works, "plain_ce", device, args.rounds, warmup=2, label=label, widths=(19, 7))


if __name__ == "__main__":
    main()
