"""A label-drop training step against a plain step: forward and backward pass of an LDNet extractor.

Prints the median time of one step (label drop at ``--p`` on the batch, then the forward and backward pass
of the pointer loss) over ``--rounds`` interleaved rounds, its peak memory, and both as ratios to the same
step without drop (every label of the instruction kept). Same model and batch; only the drop differs (the
dropped rows are shorter in content but keep their padded width, so savings come only from the loss).
Also the multi-aspect head (4 levels) against a single shared pointer head, forward+backward.

Run: ``registry bench ldnet [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_ldnet.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_ldnet.drop import LabelDrop
from paperzoo_ldnet.heads import MultiAspectRelationHead
from paperzoo_ldnet.model import LDNetExtractor
from paperzoo_ldnet.relations import relation_loss, relation_task


def step(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, drop: LabelDrop, gen: torch.Generator
) -> None:
    out = drop(x, y, gen)
    relation_loss(model(out.inputs), out.targets).backward()
    model.zero_grad(set_to_none=True)


def head_step(head: torch.nn.Module, h: torch.Tensor, rel: torch.Tensor) -> None:
    head(h, rel).float().pow(2).mean().backward()
    head.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--p", type=float, default=0.8)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"time of one step, median of {args.rounds} interleaved rounds; ratios ours / baseline"
    )
    print(compare_header(f"{'case':>24}", "step", (27, 14)))
    x, y = relation_task(n_train=32, n_val=1).train.tensors
    x, y = x.to(device), y.to(device)
    model = LDNetExtractor(d_model=48, n_layers=2, n_heads=4, max_seq_len=64).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    works = {"no_drop": partial(step, model, x, y, LabelDrop(0.0), gen),
             "label_drop": partial(step, model, x, y, LabelDrop(args.p), gen)}  # fmt: skip
    compare(
        works, "no_drop", device, args.rounds, warmup=2, label=f"{'drop (B=32, T=44)':>24}", widths=(27, 14)
    )
    h = torch.randn(32, 44, 48, device=device)
    rel = torch.randint(-1, 24, (32, 44), device=device)
    heads = {"shared_head": partial(head_step, MultiAspectRelationHead(48, 1).to(device), h, rel),
             "four_levels": partial(head_step, MultiAspectRelationHead(48, 4).to(device), h, rel)}  # fmt: skip
    compare(
        heads,
        "shared_head",
        device,
        args.rounds,
        warmup=2,
        label=f"{'head 4 levels / 1':>24}",
        widths=(27, 14),
    )


if __name__ == "__main__":
    main()
