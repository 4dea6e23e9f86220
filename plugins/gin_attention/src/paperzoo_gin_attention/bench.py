"""GIN-Attention against softmax attention (SDPA), and the Sparse-GIN adapter's training step.

Part 1, the kernel: one forward+backward pass of the attention kernel alone on ``q, k, v`` ``[2, 4, T,
32]`` (causal) at lengths 256 and 1024: ``softmax`` (tinylm's kernel: fused
``scaled_dot_product_attention``), ``gin_id`` (GIN-Attention with MLP = identity and eps = -1: the
explicit softmax graph ``A V``, what the reduction costs) and ``gin`` (the paper's form: per-head MLP,
multiplier 2, learnable eps); ratios to ``softmax``.

Part 2, fine-tuning: one forward+backward pass of the language-model loss (batch 8 x 128 tokens) of a
decoder the size of tinylm's ``stdlib-small`` (d_model 128, 4 blocks, 4 heads; fresh weights: the
cost does not depend on them): ``full`` (every weight trained), ``sparse_gin`` (base frozen, the
adapter on every block, hidden width 64) and ``frozen_fwd`` (the frozen model's forward alone); ratios
to ``full``. Peak memory: ``paperzoo.bench.peak_memory``.

Run: ``registry bench gin_attention [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_gin_attention.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask, SoftmaxAttention
from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_gin_attention.adapter import SparseGINAdapter
from paperzoo_gin_attention.kernel import GINAttention

HEADS, HEAD_DIM = 4, 32
BASE = {"d_model": 128, "n_layers": 4, "n_heads": 4, "d_ff": 384, "max_seq_len": 128}


def kernel_pass(kernel: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """Forward and backward of ``kernel`` (causal); the gradients are released afterwards."""
    kernel(q, k, v, AttentionMask(True), HookPoint()).square().mean().backward()
    for t in (q, k, v):
        t.grad = None
    kernel.zero_grad(set_to_none=True)


def frozen_forward(model: torch.nn.Module, ids: torch.Tensor) -> None:
    with torch.no_grad():
        model(ids)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024])
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"forward+backward, median of {args.rounds} interleaved rounds; ratios to the first row"
    )
    print(compare_header(f"{'kernel, T':>10}", "kernel", (10, 10)))
    for t in args.lengths:
        q, k, v = (torch.randn(2, HEADS, t, HEAD_DIM, device=device, requires_grad=True) for _ in range(3))
        kernels = {
            "softmax": SoftmaxAttention(impl="sdpa"),
            "gin_id": GINAttention(HEADS, HEAD_DIM, mlp="identity", eps_init=-1.0),
            "gin": GINAttention(HEADS, HEAD_DIM),
        }
        works = {name: partial(kernel_pass, m.to(device), q, k, v) for name, m in kernels.items()}
        compare(works, "softmax", device, args.rounds, label=f"{t:>10}", widths=(10, 10))
    print(compare_header(f"{'LM, (B, T)':>10}", "step", (10, 10)))
    ids = torch.randint(363, (8, 128), device=device)
    full = TinyLMDecoder(**BASE).to(device)
    adapter = SparseGINAdapter(base=TinyLMDecoder(**BASE), hidden_dim=64).to(device)
    works = {
        "full": partial(lm_step, full, ids),
        "sparse_gin": partial(lm_step, adapter, ids),
        "frozen_fwd": partial(frozen_forward, adapter.base, ids),
    }
    compare(works, "full", device, args.rounds, label=f"{'(8, 128)':>10}", widths=(10, 10))


if __name__ == "__main__":
    main()
