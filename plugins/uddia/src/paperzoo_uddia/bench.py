"""UDDIA decoding against plain sampling (the decoding it replaces) on the same tinylm decoder.

Prints the median wall time of decoding 16 tokens after a 32-token prompt over ``--rounds`` interleaved
rounds, its peak memory (``paperzoo.bench.peak_memory``), and both as ratios to plain sampling, for
adaptive triggering (about one token in six triggers on stdlib text) emulated by a threshold that
fires on every step (always-on, the worst case: 3 Adam steps per token) and never (the trigger's own
overhead: one classifier read per token). Sizes: a 4-block, 128-wide decoder (stdlib-small's shape,
random weights).

Run: ``registry bench uddia [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_uddia.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_uddia.decoding import LinearAttributeClassifier, uddia_sample


def _plain(model: torch.nn.Module, prompt: torch.Tensor, n: int) -> torch.Tensor:
    return sample(model, prompt[None], n, use_cache=False, generator=torch.Generator().manual_seed(0))


def _uddia(model, prompt, n, classifier, threshold) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return uddia_sample(model, prompt, n, classifier, threshold=threshold, steps=3, lr=0.2, generator=gen)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of decoding 16 tokens, median of {args.rounds} interleaved rounds; ratios are "
        "UDDIA / plain sampling (both rerun the whole sequence each step)",
    )
    if device.type != "cpu":
        print("note: the generators are CPU generators; run on CPU")
        return
    print(compare_header(f"{'d_model x layers':>16}", "decoder", (18, 10)))
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, d_ff=384).eval()
    classifier = LinearAttributeClassifier(128).eval()
    prompt = torch.randint(256, (32,))
    works = {
        "plain": partial(_plain, model, prompt, 16),
        "never": partial(_uddia, model, prompt, 16, classifier, 2.0),
        "always": partial(_uddia, model, prompt, 16, classifier, -1.0),
    }
    compare(works, "plain", device, args.rounds, warmup=1, label=f"{128:>6} x {4:<7}", widths=(18, 10))


if __name__ == "__main__":
    main()
