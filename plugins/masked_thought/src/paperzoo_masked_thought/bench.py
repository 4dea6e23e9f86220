"""A Masked Thought SFT step against a plain SFT step: one forward+backward pass of a tinylm decoder.

Prints the median time of one training step (masking the response inputs with ``--rate``, then the
forward and backward pass of the response-only SFT loss) over ``--rounds`` interleaved rounds, its peak
memory (``paperzoo.bench.peak_memory``), and both as ratios to the same step without masking. The model,
batch and targets are identical; only the inputs differ. Sizes: the claim test's (64 wide, 2 blocks, batch
32 x 16 tokens) and a larger one (128 wide, 4 blocks, batch 8 x 256 tokens, half of each row a response).

Run: ``registry bench masked_thought [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_masked_thought.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_masked_thought.masking import mask_reasoning, response_mask_of_targets
from paperzoo_masked_thought.trainer import sft_loss

# (model sizes, (batch, tokens))
SIZES = [
    ({"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}, (32, 16)),
    ({"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 256}, (8, 256)),
]


def sft_step(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, rate: float, gen: torch.Generator
) -> None:
    """One step's forward and backward pass (masking first when ``rate > 0``); gradients released."""
    inputs = mask_reasoning(x, response_mask_of_targets(y), rate, generator=gen) if rate > 0 else x
    sft_loss(model(inputs).logits, y).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--rate", type=float, default=0.2)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one SFT forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        f"Masked Thought (rate={args.rate}) / plain SFT",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "step", (27, 14)))
    for sizes, (b, t) in SIZES:
        x = torch.randint(256, (b, t), device=device)
        y = torch.roll(x, -1, dims=1)
        y[:, : t // 2] = -100  # the first half is the question
        model = TinyLMDecoder(**sizes).to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        works = {
            "plain_sft": partial(sft_step, model, x, y, 0.0, gen),
            "masked_thought": partial(sft_step, model, x, y, args.rate, gen),
        }
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "plain_sft", device, args.rounds, warmup=2, label=label, widths=(27, 14))


if __name__ == "__main__":
    main()
