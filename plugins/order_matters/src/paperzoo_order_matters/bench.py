"""Set2Set ours vs torch-geometric's, and a read-process-write training step vs a Ptr-Net's.

1. The process block alone: forward+backward of ``OrderMattersSet2Set`` on a dense batch (B, n, d)
   against ``torch_geometric.nn.aggr.Set2Set`` on the same sets concatenated with an index (PyG's
   batching), same weights; ratios ours / PyG.
2. One training step's forward+backward (teacher-forced pointer loss, sorting n numbers, batch B) of
   read-process-write (hidden H, 5 process steps) against the Ptr-Net of ``paperzoo_pointer_networks``
   with about as many parameters; ratios read-process-write / Ptr-Net.

Prints median times over ``--rounds`` interleaved rounds and peak memory (``paperzoo.bench``).
Run: ``registry bench order_matters [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_order_matters.bench``).
"""

from __future__ import annotations

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_pointer_networks.model import PointerNet, pointer_loss
from paperzoo_pointer_networks.tasks import make_examples

from paperzoo_order_matters.model import ReadProcessWrite
from paperzoo_order_matters.set2set import OrderMattersSet2Set

SET2SET_SIZES = [(64, 16, 32), (128, 32, 64)]  # (B, n, d)
STEP_SIZES = [(128, 10, 32, 40), (64, 20, 64, 78)]  # (B, n, H read-process-write, H Ptr-Net)


def _set2set_works(b: int, n: int, d: int, steps: int, device: torch.device) -> dict:
    from torch_geometric.nn.aggr import Set2Set

    theirs = Set2Set(d, processing_steps=steps).to(device)
    ours = OrderMattersSet2Set(d, processing_steps=steps).to(device)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours.lstm, name).copy_(getattr(theirs.lstm, f"{name}_l0"))
    dense = torch.randn(b, n, d, device=device, requires_grad=True)
    flat = dense.detach().reshape(b * n, d).requires_grad_()
    index = torch.arange(b, device=device).repeat_interleave(n)

    def run_ours() -> None:
        ours(dense).sum().backward()

    def run_pyg() -> None:
        theirs(flat, index, dim_size=b).sum().backward()

    return {"pyg": run_pyg, "ours": run_ours}


def _step_works(b: int, n: int, h_rpw: int, h_ptr: int, device: torch.device) -> tuple[dict, dict]:
    x, y = make_examples("sorting", b, n, seed=0)
    x, y = x.to(device), y.to(device)
    models = {
        "ptr_net": PointerNet(input_dim=1, hidden=h_ptr, mask_chosen=True).to(device),
        "rpw": ReadProcessWrite(input_dim=1, hidden=h_rpw, processing_steps=5, mask_chosen=True).to(device),
    }

    def step(model: torch.nn.Module) -> None:
        pointer_loss(model(x, targets=y), y).backward()
        model.zero_grad(set_to_none=True)

    params = {k: f"{sum(p.numel() for p in m.parameters()):,} params" for k, m in models.items()}
    return {k: (lambda m=m: step(m)) for k, m in models.items()}, params


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--steps", type=int, default=5, help="process steps T of Set2Set (default 5)")
    args = parser.parse_args(argv)
    device = bench_setup(args, f"forward+backward, median of {args.rounds} interleaved rounds")
    print(f"\nSet2Set (T={args.steps}): ratios ours / torch_geometric.nn.aggr.Set2Set")
    print(compare_header(f"{'(B, n, d)':>16}", "impl"))
    for b, n, d in SET2SET_SIZES:
        works = _set2set_works(b, n, d, args.steps, device)
        compare(works, "pyg", device, args.rounds, warmup=2, label=str((b, n, d)))
    print("\ntraining step (sorting, teacher forced): ratios read-process-write / Ptr-Net")
    print(compare_header(f"{'(B, n, H, H_ptr)':>18}", "model", (18, 8), extra="size"))
    for b, n, h_rpw, h_ptr in STEP_SIZES:
        works, params = _step_works(b, n, h_rpw, h_ptr, device)
        label = str((b, n, h_rpw, h_ptr))
        compare(works, "ptr_net", device, args.rounds, warmup=2, label=label, widths=(18, 8), extra=params)


if __name__ == "__main__":
    main()
