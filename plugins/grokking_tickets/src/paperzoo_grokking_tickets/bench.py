"""Speed and peak memory of one ticket training step against one dense step of the same MLP.

The paper's MLP (``p = 67``, ``d_emb = 500``, ``d_model = 48``) on its full-batch training split (40%
of the 2,278 unordered pairs), AdamW. The ticket step is what ``grokking_ticket`` runs in its ticket
stage: forward, backward, ``g <- m ⊙ g``, optimizer step, ``theta <- m ⊙ theta`` (masks at 40%
density); the dense step is the same without the two masking multiplies. Prints the median time of
``--rounds`` interleaved rounds, peak memory (``paperzoo.bench.peak_memory``) and both as ratios to the
dense step.

Run: ``registry bench grokking_tickets [--device cuda] [--threads 1] [--rounds 30]``.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_lottery_ticket.masks import apply_masks

from paperzoo_grokking_tickets.model import GrokkingMLP, modular_addition
from paperzoo_grokking_tickets.trainer import global_magnitude_masks, prunable_parameters


def train_step(model, opt, x, y, masks=None) -> None:
    """One full-batch step (float64 cross-entropy, as the trainer); masked when ``masks`` is given."""
    loss = F.cross_entropy(model(x).double(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for _, p in prunable_parameters(model)]
    if masks is not None:
        apply_masks([p.grad for p in params], masks)
    opt.step()
    if masks is not None:
        apply_masks(params, masks)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=30)
    parser.add_argument("--modulus", type=int, default=67)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"one training step, median of {args.rounds} interleaved rounds; ratios: ticket / dense"
    )
    data = modular_addition(args.modulus, 0.4)
    x, y = (t.to(device) for t in data.train.tensors)
    runs = {}
    for name in ("dense", "ticket"):
        torch.manual_seed(0)
        model = GrokkingMLP(args.modulus, 500, 48).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
        masks = None
        if name == "ticket":
            params = [p for _, p in prunable_parameters(model)]
            masks = [m.to(p.dtype) for m, p in zip(global_magnitude_masks(params, 0.6), params)]
            apply_masks(params, masks)
        runs[name] = partial(train_step, model, opt, x, y, masks)
    print(compare_header("examples", "step", (10, 8)))
    compare(runs, "dense", device, args.rounds, label=str(len(x)), widths=(10, 8))


if __name__ == "__main__":
    main()
