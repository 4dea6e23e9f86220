"""A self-pretraining step against a supervised step on the same classifier: one forward+backward pass.

Prints the median time of one micro-batch's forward+backward pass over ``--rounds`` interleaved rounds
(one pass of each loss per round), its peak memory (``paperzoo.bench.peak_memory``), and both as ratios to
the supervised (classification) step. The pretraining step's extra cost is the LM head over every
position (``[B, T, vocab]`` logits and their cross-entropy) where the supervised step has one pooled
``[B, classes]`` output. Sizes: the claim's (2 blocks, 32 wide, batch 32 x 64 tokens) and a larger one.

Run: ``registry bench self_pretraining [--threads 2] [--rounds 20]`` (or
``python -m paperzoo_self_pretraining.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_self_pretraining.model import SequenceClassifier
from paperzoo_self_pretraining.trainer import causal_lm_loss

# (model sizes, (batch, tokens))
SIZES = [
    ({"d_model": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}, (32, 64)),
    ({"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 256}, (8, 256)),
]


def supervised_step(model: SequenceClassifier, ids: torch.Tensor, labels: torch.Tensor) -> None:
    """Forward+backward of the classification loss."""
    F.cross_entropy(model(ids).float(), labels).backward()


def pretrain_step(model: SequenceClassifier, ids: torch.Tensor) -> None:
    """Forward+backward of the causal-LM self-pretraining loss."""
    causal_lm_loss(model.lm_logits(ids), ids).backward()


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=20).parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "causal-LM pretraining step / supervised step",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "step", (27, 9)))
    for sizes, (b, t) in SIZES:
        model = SequenceClassifier(**sizes).to(device)
        ids = torch.randint(97, 105, (b, t), device=device)
        labels = torch.randint(2, (b,), device=device)

        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        works = {
            "supervised": partial(supervised_step, model, ids, labels),
            "pretrain": partial(pretrain_step, model, ids),
        }
        compare(works, "supervised", device, args.rounds, warmup=2, label=label, widths=(27, 9))


if __name__ == "__main__":
    main()
