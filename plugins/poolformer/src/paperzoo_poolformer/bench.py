"""PoolFormer-S12: our implementation against timm's, forward + backward time and peak memory.

    registry bench poolformer [--batch 8] [--size 224] [--repeats 10] [--threads 1] [--device cpu]

(equivalently ``python -m paperzoo_poolformer.bench ...``). The reference, timm, comes with the
plugin's ``test`` extra (``pip install 'paperzoo-poolformer[test]'``); it is imported in ``main()``.

Both models are built without weights (ours gets timm's). Time: the median over ``repeats`` rounds,
each running one forward and backward pass of every model in turn (one warm-up pass each first), so
that a drift in machine load affects both alike; process CPU time on CPU, wall time on CUDA. Memory:
``peak_memory`` from ``paperzoo.bench`` of one forward and backward pass (activations,
gradients and temporaries live at once; from the CUDA allocator or the CPU profiler). Ratios are
ours / timm's (below 1 means ours is faster or smaller).
"""

from __future__ import annotations

import argparse

import torch
from paperzoo.bench import interleaved_medians, peak_memory
from paperzoo.compat import import_timm

from paperzoo_poolformer.variants import poolformer_s12


def step(model: torch.nn.Module, x: torch.Tensor) -> None:
    """One forward and backward pass; the gradients are released afterwards."""
    model(x).sum().backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    torch.manual_seed(0)
    ref = import_timm().create_model("poolformer_s12", pretrained=False).to(device)
    ours = poolformer_s12().to(device)
    ours.load_state_dict(ref.state_dict())
    models = {"ours": ours, "timm": ref}
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)

    median = interleaved_medians(
        {name: (lambda m=m: step(m, x)) for name, m in models.items()}, device, args.repeats
    )
    peak = {name: peak_memory(lambda m=model: step(m, x), device) for name, model in models.items()}

    print(
        f"PoolFormer-S12 forward+backward, batch {args.batch}, {args.size}x{args.size}, {device}, "
        f"{args.threads} thread(s), median of {args.repeats}"
    )
    for name in models:
        print(f"  {name:5s} {median[name] * 1e3:9.1f} ms   peak memory {peak[name] / 2**20:8.1f} MiB")
    print(f"  time ratio (ours / timm):        {median['ours'] / median['timm']:.3f}")
    print(f"  peak memory ratio (ours / timm): {peak['ours'] / peak['timm']:.3f}")


if __name__ == "__main__":
    main()
