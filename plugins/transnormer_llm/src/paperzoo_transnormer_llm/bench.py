"""Lightning attention against softmax attention: the attention kernel and a whole decoder.

1. Kernel, causal forward pass at sequence lengths 256, 1024 and 4096 (batch 2, 4 heads of width 32,
   float32): lightning attention (block-wise, block 64, the paper's decays) and its naive quadratic masked
   form, against ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``; then the slope of
   log time against log length from 256 to 4096 for each (1: linear, 2: quadratic).
2. Decoder, one training step's forward+backward pass: a TransNormerLLM against tinylm's softmax decoder
   of about the same parameters (width 128, 4 layers, 4 heads), batch 8 x 256 and 2 x 1024.

Times are medians of ``--rounds`` interleaved rounds, memory the peak of tensors alive at once
(``paperzoo.bench.peak_memory``); ratios are ours / softmax. The largest peak (a decoder step) is about
160 MiB.

Run: ``registry bench transnormer_llm [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_transnormer_llm.bench``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_transnormer_llm.layers import lightning_attention, transnormer_slopes
from paperzoo_transnormer_llm.model import TransNormerLLM

LENGTHS = (256, 1024, 4096)
DECODER = {"d_model": 128, "n_layers": 4, "n_heads": 4}
DECODER_INPUTS = ((8, 256), (2, 1024))


def _kernels(t: int, device: torch.device) -> dict:
    q, k, v = (torch.randn(2, 4, t, 32, device=device) for _ in range(3))
    decay = torch.exp(-torch.tensor(transnormer_slopes(4), device=device))
    works = {
        "softmax": partial(F.scaled_dot_product_attention, q, k, v, is_causal=True),
        "lightning": partial(lightning_attention, q, k, v, decay=decay, block_size=64),
    }
    if t <= 1024:  # the quadratic form is the reference, not a fast path: skipped at 4096 (memory)
        works["naive"] = partial(lightning_attention, q, k, v, decay=decay, form="parallel")
    return works


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios are ours / softmax")
    print("causal attention forward, batch 2, 4 heads of width 32")
    print(compare_header(f"{'T':>6}", "kernel", (6, 10)))
    times: dict[str, list[float]] = {"softmax": [], "lightning": []}
    for t in LENGTHS:
        res = compare(_kernels(t, device), "softmax", device, args.rounds, label=f"{t:>6}", widths=(6, 10))
        for name in times:
            times[name].append(res[name][0])
    span = math.log(LENGTHS[-1] / LENGTHS[0])
    slopes = {n: math.log(ts[-1] / ts[0]) / span for n, ts in times.items()}
    print(
        "time growth, slope of log time vs log T (256 -> 4096): "
        + ", ".join(f"{n} {s:.2f}" for n, s in slopes.items())
    )
    print(
        f"\ndecoder forward+backward, width {DECODER['d_model']}, {DECODER['n_layers']} layers, {DECODER['n_heads']} heads"
    )
    print(compare_header(f"{'(B, T)':>12}", "model", (12, 16)))
    for b, t in DECODER_INPUTS:
        ids = torch.randint(363, (b, t), device=device)
        torch.manual_seed(0)
        models = {
            "softmax": TinyLMDecoder(max_seq_len=t, **DECODER).to(device),
            "transnormer_llm": TransNormerLLM(d_ff=304, block_size=64, **DECODER).to(device),
        }
        works = {name: partial(lm_step, m, ids) for name, m in models.items()}
        compare(works, "softmax", device, args.rounds, label=f"{str((b, t)):>12}", widths=(12, 16))


if __name__ == "__main__":
    main()
