"""Speed and peak memory of a sparse pre-training step against a dense one, on a tinylm decoder.

``dense``: forward, backward and an AdamW step of the plain model. ``masked``: the same with every
Linear a ``MaskedLinear`` at 50% density and the masks multiplied into the weights after the step (what
``gradual_magnitude_pruning`` does on every step). ``update``: ``masked`` plus one global magnitude mask
update (done at the schedule's update steps only: every step with ``prune_every: 1``). Masks are
applied as dense products, so no step is faster than the dense one; the paper's savings are in the
parameter count, not in dense-kernel time. Medians of interleaved rounds; ratios: ours / dense.

Run: ``registry bench sparse_pretraining_schedule [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

import copy
from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_sparse_pretraining_schedule.pruner import GradualMagnitudePruner
from paperzoo_sparse_pretraining_schedule.schedule import SparsitySchedule


def step(model: torch.nn.Module, opt: torch.optim.Optimizer, ids: torch.Tensor, after=None) -> None:
    """One optimizer step of the language-model loss; ``after()`` runs after it."""
    opt.zero_grad(set_to_none=True)
    lm_loss(model, ids).backward()
    opt.step()
    if after is not None:
        after()


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"training step, median of {args.rounds} interleaved rounds; ratios: ours / dense"
    )
    torch.manual_seed(0)
    dense = TinyLMDecoder(
        vocab_size=256, d_model=args.d_model, n_layers=args.layers, n_heads=4, max_seq_len=args.seq
    ).to(device)
    masked = copy.deepcopy(dense)
    pruner = GradualMagnitudePruner(masked, SparsitySchedule(0.5, 4))
    pruner.prune_to(0.5)
    updating = copy.deepcopy(masked)
    upd = GradualMagnitudePruner(updating, SparsitySchedule(0.5, 4))
    ids = torch.randint(256, (args.batch, args.seq), device=device)
    opts = {
        name: torch.optim.AdamW(m.parameters(), lr=1e-4)
        for name, m in (("d", dense), ("m", masked), ("u", updating))
    }
    works = {
        "dense": partial(step, dense, opts["d"], ids),
        "masked": partial(step, masked, opts["m"], ids, pruner.reapply),
        "update": partial(step, updating, opts["u"], ids, lambda: (upd.reapply(), upd.prune_to(0.5))),
    }
    n = sum(p.numel() for p in dense.parameters())
    label = f"{n / 1e6:.2f}M {args.batch}x{args.seq}"
    print(compare_header("model, batch", "step", (16, 8)))
    compare(works, "dense", device, args.rounds, label=label, widths=(16, 8))


if __name__ == "__main__":
    main()
