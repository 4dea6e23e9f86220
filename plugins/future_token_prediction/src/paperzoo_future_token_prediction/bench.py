"""An FTP training step against a next-token step of the same tinylm decoder trunk: one forward+backward.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds (one pass of each
objective per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to the next-token step. The FTP step adds the head
(one decoder block, k=4) and decodes N=4 future tokens at every position (positions folded into the
batch). Sizes: the claim test's (2 blocks, 32 wide, batch 16 x 32 tokens) and a larger one (4 blocks,
128 wide, batch 8 x 128 tokens).

Run: ``registry bench future_token_prediction [--threads 2] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_future_token_prediction.ftp import FTPHead, future_loss, top_embeddings

SIZES = [
    ({"d_model": 32, "n_layers": 2, "n_heads": 2, "max_seq_len": 64}, (16, 32)),
    ({"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 128}, (8, 128)),
]


def ftp_step(trunk: torch.nn.Module, head: FTPHead, ids: torch.Tensor) -> None:
    """One forward and backward pass of the FTP loss; the gradients are released afterwards."""
    future_loss(head, top_embeddings(trunk, ids), ids).backward()
    trunk.zero_grad(set_to_none=True)
    head.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--n-future", type=int, default=4)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        f"FTP (N={args.n_future}, k=4) / next-token",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "objective", (27, 9)))
    for sizes, (b, t) in SIZES:
        ids = torch.randint(363, (b, t), device=device)
        trunk = TinyLMDecoder(**sizes).to(device)
        head = FTPHead(sizes["d_model"], 363, n_future=args.n_future, k=4, n_heads=sizes["n_heads"]).to(
            device
        )
        works = {"ntp": partial(lm_step, trunk, ids), "ftp": partial(ftp_step, trunk, head, ids)}
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "ntp", device, args.rounds, warmup=2, label=label, widths=(27, 9))


if __name__ == "__main__":
    main()
