"""A PRIOR training step against a plain next-token-prediction step of the same captioner.

Prints the median time of one training step over ``--rounds`` interleaved rounds and its peak memory
(``paperzoo.bench``), both as ratios to uniform NTP. PRIOR's step adds the frozen reference decoder's
forward pass (no gradient) and the weights; the plain step calls ``lm_loss`` without weights. Sizes: the
claim test's (32 wide, 2 blocks, batch 32 x 14 tokens) and a larger one (128 wide, 4 blocks, batch 8 x
256 tokens; reference of the same size).

Run: ``registry bench prior_token_weighting [--threads 2] [--rounds 20]`` (or
``python -m paperzoo_prior_token_weighting.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_prior_token_weighting.captions import Captioner, WithImages
from paperzoo_prior_token_weighting.weighting import prior_weights, target_probs

# (decoder sizes, (batch, tokens)); vocabulary 64, 16 image features, 2 image positions
SIZES = [
    ({"d_model": 32, "n_layers": 2, "n_heads": 4}, (32, 14)),
    ({"d_model": 128, "n_layers": 4, "n_heads": 4}, (8, 256)),
]


def step(model, reference, ids, images, caption, prior: bool) -> None:
    """One forward and backward pass; PRIOR first weights the caption tokens by the reference."""
    weights = None
    if prior:
        with torch.no_grad():
            p = target_probs(reference(ids[:, :-1]).logits, ids[:, 1:])
        weights = prior_weights(p, caption[:, 1:])
    lm_loss(WithImages(model, images), ids, weights=weights).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one training step (forward+backward), median of {args.rounds} interleaved rounds; "
        "ratios are PRIOR / uniform NTP",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "step", (27, 14)))
    for sizes, (b, t) in SIZES:
        torch.manual_seed(0)
        model = Captioner(64, 16, 2, max_seq_len=t, **sizes).to(device)
        reference = TinyLMDecoder(vocab_size=64, max_seq_len=t, **sizes).to(device).eval()
        ids = torch.randint(64, (b, t), device=device)
        images = torch.randn(b, 16, device=device)
        caption = torch.zeros(b, t, dtype=torch.bool, device=device)
        caption[:, 3:] = True
        works = {
            "uniform_ntp": partial(step, model, reference, ids, images, caption, False),
            "prior": partial(step, model, reference, ids, images, caption, True),
        }
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "uniform_ntp", device, args.rounds, warmup=2, label=label, widths=(27, 14))


if __name__ == "__main__":
    main()
