"""DPRoPE's cost: choosing the frequencies (once, at load) against one forward pass, and the forward pass
with DPRoPE frequencies against the default RoPE.

Part 1 prints the time of :func:`paperzoo_dprope.scaling.dprope_inv_freq` (histograms of every dimension's
rotary angles over ``L_train`` and ``L_target`` positions, two KL divergences) for Llama's head width 128
at a few lengths, and one forward pass of a tinylm decoder at ``L_target`` tokens for scale. Part 2
compares a forward pass of the same decoder with the default and the DPRoPE frequencies (medians of
interleaved rounds, peak memory): only the values of ``inv_freq`` differ, so the ratio should be ~1.

Run: ``registry bench dprope [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_dprope.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, best_time, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.positions import default_inv_freq

from paperzoo_dprope.scaling import DPRoPEInvFreq, dprope_inv_freq

LENGTHS = [(512, 2048), (2048, 8192), (4096, 16384)]
SIZES = {"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 1024}


def _forward(model: torch.nn.Module, ids: torch.Tensor) -> None:
    with torch.no_grad():
        model(ids)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print the times and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"frequency choice (best of 3) and forward passes (median of {args.rounds} rounds)"
    )
    model = TinyLMDecoder(**SIZES).to(device).eval()
    ids = torch.randint(363, (1, 1024), device=device)
    fwd = best_time(partial(_forward, model, ids), device)
    print(
        f"forward pass, {SIZES['n_layers']} layers x {SIZES['d_model']}, 1 x 1024 tokens: {fwd * 1e3:.1f} ms"
    )
    print(f"{'L_train -> L_target':>22} {'choice ms':>10} {'/ forward':>10}")
    base = default_inv_freq(128, 10000.0).to(device)
    for train_len, target_len in LENGTHS:
        secs = best_time(partial(dprope_inv_freq, base, train_len, target_len), device)
        print(f"{train_len:>10} -> {target_len:<9} {secs * 1e3:10.1f} {secs / fwd:10.2f}")
    dp = TinyLMDecoder(**SIZES, rope_inv_freq=DPRoPEInvFreq(256, 1024)).to(device).eval()
    dp.load_state_dict(model.state_dict())
    print(compare_header(f"{'(B, T)':>10}", "rope", (10, 8)))
    for b, t in ((8, 256), (1, 1024)):
        x = torch.randint(363, (b, t), device=device)
        works = {"default": partial(_forward, model, x), "dprope": partial(_forward, dp, x)}
        compare(works, "default", device, args.rounds, warmup=2, label=str((b, t)), widths=(10, 8))


if __name__ == "__main__":
    main()
