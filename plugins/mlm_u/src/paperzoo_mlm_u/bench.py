"""MLM-U against next-token prediction (NTP) of the same size: one training step, and path decoding.

Training: the median time and peak memory of one forward+backward pass of the MLM-U loss on a tinylm
encoder vs the next-token loss (path tokens only) on the tinylm decoder of the same sizes, on batches of
DFS mazes (5x5: 107 tokens, 10x10: 407 tokens). Decoding: the paths of a batch of 5x5 mazes, by the
official MLM-U left-to-right unmasking (one full forward per path token) vs greedy next-token decoding
(also without a KV cache). Ratios are MLM-U / NTP.

Run: ``registry bench mlm_u [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_mlm_u.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder

from paperzoo_mlm_u import mazes
from paperzoo_mlm_u.data import mlm_u_mazes
from paperzoo_mlm_u.evaluator import decode_causal, decode_masked
from paperzoo_mlm_u.mlmu import full_sequences, mlm_u_loss

SIZES = {"d_model": 128, "n_layers": 4, "n_heads": 4}


def mlm_u_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> None:
    """One forward and backward pass of the MLM-U loss; gradients released."""
    seq, answer = full_sequences(x, y)
    mlm_u_loss(model, seq, answer, generator).backward()
    model.zero_grad(set_to_none=True)


def ntp_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """One forward and backward pass of next-token cross-entropy on the path; gradients released."""
    F.cross_entropy(model(x).logits.flatten(0, 1), y.flatten(), ignore_index=-100).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios are MLM-U / NTP")
    gen = torch.Generator(device=device).manual_seed(0)
    print(compare_header(f"{'training grid (B)':>18}", "model", (18, 8)))
    for n, b in [(5, 32), (10, 8)]:
        data = mlm_u_mazes(grid_n=n, n_mazes=b + 1, val_fraction=1 / (b + 1), seed=0)
        x, y = (t.to(device) for t in data.train.tensors)
        kw = dict(SIZES, vocab_size=data.vocab_size, max_seq_len=x.shape[1] + 1)
        enc, dec = TinyLMEncoder(**kw).to(device), TinyLMDecoder(**kw).to(device)
        works = {"ntp": partial(ntp_step, dec, x, y), "mlm_u": partial(mlm_u_step, enc, x, y, gen)}
        compare(works, "ntp", device, args.rounds, warmup=2, label=f"{n}x{n} ({b})", widths=(18, 8))
    data = mlm_u_mazes(grid_n=5, n_mazes=33, val_fraction=1 / 33, seed=1)
    seq, _ = full_sequences(*(t.to(device) for t in data.train.tensors))
    kw = dict(SIZES, vocab_size=data.vocab_size, max_seq_len=seq.shape[1])
    enc, dec = TinyLMEncoder(**kw).to(device).eval(), TinyLMDecoder(**kw).to(device).eval()
    start = mazes.prefix_length(5)
    steps = seq.shape[1] - start  # at most; untrained models rarely stop early
    print(compare_header(f"{'decoding (B)':>18}", "model", (18, 8)))
    works = {"ntp": partial(decode_causal, dec, seq, start), "mlm_u": partial(decode_masked, enc, seq, start)}
    with torch.no_grad():
        compare(
            works,
            "ntp",
            device,
            args.rounds,
            warmup=1,
            label=f"5x5 ({seq.shape[0]}), {steps} tok",
            widths=(18, 8),
        )


if __name__ == "__main__":
    main()
