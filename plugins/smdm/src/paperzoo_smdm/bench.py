"""SMDM against a left-to-right model of the same size: one training step, and generation speed.

Training: the median time and peak memory of one forward+backward pass of the masked-diffusion loss on a
tinylm encoder vs the next-token loss on the tinylm decoder of the same sizes (the two differ only in the
attention mask and the loss). Generation: ``--new-tokens`` answer tokens after a 16-token prompt, batch 4,
by the masked-diffusion sampler with ``K`` steps (each step a full forward over prompt + answer; no KV
cache) vs cached greedy decoding; tokens per second in the last column. Ratios are ours / AR.

Run: ``registry bench smdm [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_smdm.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.generate import generate
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder
from paperzoo_tinylm.tokenizer import MASK
from paperzoo_tinylm.training import lm_step

from paperzoo_smdm.diffusion import diffusion_loss, mdm_sample

SIZES = {"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 256}


def mdm_step(model: torch.nn.Module, ids: torch.Tensor, generator: torch.Generator) -> None:
    """One forward and backward pass of the masked-diffusion loss; gradients released."""
    diffusion_loss(model, ids, 1e-3, generator).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios are ours / AR")
    enc, dec = TinyLMEncoder(**SIZES).to(device), TinyLMDecoder(**SIZES).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    print(compare_header(f"{'training (B, T)':>16}", "model", (18, 12)))
    for b, t in [(16, 64), (8, 256)]:
        ids = torch.randint(256, (b, t), device=device)
        works = {"ar": partial(lm_step, dec, ids), "mdm": partial(mdm_step, enc, ids, gen)}
        compare(works, "ar", device, args.rounds, warmup=2, label=f"{str((b, t)):>16}", widths=(18, 12))
    enc.eval(), dec.eval()
    n, batch = args.new_tokens, 4
    prompt = torch.randint(256, (batch, 16), device=device)
    x = torch.cat([prompt, torch.full((batch, n), MASK, device=device)], 1)
    works = {"ar_greedy": partial(generate, dec, prompt, n)}
    for k in sorted({n, max(n // 4, 1)}, reverse=True):
        works[f"mdm_K{k}"] = partial(mdm_sample, enc, x, k)
        works[f"mdm_K{k}_cfg"] = partial(mdm_sample, enc, x, k, cfg_scale=1.0)
    print(compare_header(f"{'generation':>16}", "model", (18, 12)))
    with torch.no_grad():
        label = f"{n} tokens x {batch}"
        res = compare(works, "ar_greedy", device, args.rounds, warmup=1, label=label, widths=(18, 12))
    base = n * batch / res["ar_greedy"][0]
    for name, (secs, _) in res.items():
        print(f"{name:>31}: {n * batch / secs:9.0f} tokens/s ({n * batch / secs / base:.2f} x AR greedy)")


if __name__ == "__main__":
    main()
