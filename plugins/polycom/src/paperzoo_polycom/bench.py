"""PolyReLU and PolyNorm against GELU (the activation they replace) on FFN-shaped inputs.

Prints the time of one forward+backward pass of each activation alone on ``(B, T, d_ff)`` inputs, and
of one training step (forward+backward) of the claim test's tinylm decoder with each activation, with
ratios to GELU; the peak memory of one pass and its ratio to GELU's; and the tensors each activation
saves for its backward pass, in sizes of its input (what a deep model holds per layer between its
forward and backward passes, and what ``checkpoint=True`` reduces). Shapes: the claim test's
``(16, 64, 256)`` and ``(4, 256, 2048)``. Time is the median over ``--rounds`` interleaved rounds (one
pass of every variant per round, so that a change of machine load affects all alike) of
``time.perf_counter`` (``--clock cpu``: this process's CPU time), with ``--threads`` intra-op threads
(default 1); memory is ``paperzoo.bench.peak_memory`` of one pass (output, tensors saved for the
backward, gradients and temporaries; the input and the output gradient are made before).

Run: ``registry bench polycom [--threads 1] [--rounds 30] [--clock wall]`` (equivalently
``python -m paperzoo_polycom.bench ...``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
from paperzoo.bench import backward_pass, compare, compare_header
from torch import nn

from paperzoo_polycom.polycom import PolyNorm, PolyReLU

SHAPES = [(16, 64, 256), (4, 256, 2048)]
_WIDTHS = (16, 24)  # of the label and variant columns


def activations() -> dict[str, nn.Module]:
    """The compared activations, GELU first (the baseline of every ratio)."""
    return {
        "GELU": nn.GELU(),
        "ReLU": nn.ReLU(),
        "PolyReLU": PolyReLU(),
        "PolyReLU(checkpoint)": PolyReLU(checkpoint=True),
        "PolyNorm": PolyNorm(),
        "PolyNorm(stable=False)": PolyNorm(stable=False),
        "PolyNorm(checkpoint)": PolyNorm(checkpoint=True),
    }


def saved_bytes(act: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages that the forward pass saves for the backward (what a deep model
    keeps per layer between its forward and backward passes)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        act(x)
    return sum(seen.values())


def measure_layers(shape, device, rounds, clock) -> dict[str, tuple[float, int]]:
    """Print (and return) the median time and peak memory of one pass of each activation on ``shape``,
    with the tensors it saves for the backward pass in sizes of the input."""
    x = torch.randn(shape, device=device, requires_grad=True)
    grad = torch.randn_like(x)
    acts = {name: act.to(device) for name, act in activations().items()}
    works = {name: partial(backward_pass, act, x, grad) for name, act in acts.items()}
    size = x.numel() * x.element_size()
    saved = {name: f"{saved_bytes(act, x) / size:7.2f}" for name, act in acts.items()}
    return compare(
        works, "GELU", device, rounds, clock, warmup=3, label=str(shape), widths=_WIDTHS, extra=saved
    )


def measure_models(device, rounds, clock) -> dict[str, tuple[float, int]]:
    """Print (and return) the median time and peak memory of one training step of the claim test's
    tinylm decoder with each activation (GELU the baseline)."""
    from paperzoo_tinylm.model import TinyLMDecoder
    from paperzoo_tinylm.training import lm_step

    ids = torch.randint(256, (16, 64), device=device)
    works: dict[str, Callable[[], None]] = {}
    for act in ("gelu", "polyrelu", "polynorm"):
        torch.manual_seed(0)
        model = TinyLMDecoder(d_model=64, n_layers=2, n_heads=4, max_seq_len=64, ffn="mlp", activation=act)
        works[f"tinylm ({act})"] = partial(lm_step, model.to(device), ids)
    saved = dict.fromkeys(works, f"{float('nan'):7.2f}")
    return compare(
        works,
        "tinylm (gelu)",
        device,
        rounds,
        clock,
        warmup=2,
        label="model step",
        widths=_WIDTHS,
        extra=saved,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="intra-op CPU threads (default 1)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved timed rounds (default 30)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall (default) or CPU time")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(
        f"device={device}, threads={torch.get_num_threads()}, torch={torch.__version__}; {args.clock} time of "
        f"one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are to GELU"
    )
    print("saved: tensors kept for the backward pass, in sizes of the input (layers only)")
    print(compare_header("shape", "variant", _WIDTHS, f"{'saved':>7}"))
    for shape in SHAPES:
        measure_layers(shape, device, args.rounds, clock)
    measure_models(device, max(args.rounds // 3, 3), clock)


if __name__ == "__main__":
    main()
