"""ELECTRA's training step (generator + discriminator) against an MLM step of the discriminator-size encoder.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds and its peak
memory, and both as ratios ELECTRA / MLM. The ELECTRA step masks 15% of the tokens, runs the generator
(``generator_size`` 0.25: a quarter of the width, heads and ffn), samples replacements, and runs the
discriminator with its one-logit head; the MLM step runs the same encoder as the discriminator with its
vocabulary head on BERT-masked input. Sizes: the claim test's (64 wide, 2 blocks, batch 16 x 48) and a
larger one (256 wide, 4 blocks, batch 8 x 128).

Run: ``registry bench electra [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_electra.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMEncoder
from paperzoo_tinylm.transforms import MLMTransform

from paperzoo_electra.model import ELECTRA_FORM, ElectraGeneratorDiscriminator

SIZES = [
    ({"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}, (16, 48)),
    ({"d_model": 256, "n_layers": 4, "n_heads": 8, "max_seq_len": 128}, (8, 128)),
]


def electra_step(model: ElectraGeneratorDiscriminator, ids: torch.Tensor) -> None:
    model(ids, generator=torch.Generator(device=ids.device).manual_seed(0)).loss.backward()
    model.zero_grad(set_to_none=True)


def mlm_step(model: TinyLMEncoder, ids: torch.Tensor) -> None:
    t = MLMTransform()(ids, torch.Generator(device=ids.device).manual_seed(0))
    F.cross_entropy(model(t.inputs).logits.flatten(0, 1), t.targets.flatten()).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--generator-size", type=float, default=0.25)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one training step's forward+backward, median of {args.rounds} interleaved rounds; "
        f"ratios are ELECTRA (generator {args.generator_size}) / MLM",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "model", (27, 7)))
    for sizes, (b, t) in SIZES:
        ids = torch.randint(256, (b, t), device=device)
        electra = ElectraGeneratorDiscriminator(generator_size=args.generator_size, **sizes).to(device)
        mlm = TinyLMEncoder(**ELECTRA_FORM, **sizes).to(device)
        works = {"mlm": partial(mlm_step, mlm, ids), "electra": partial(electra_step, electra, ids)}
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "mlm", device, args.rounds, warmup=2, label=label, widths=(27, 7))


if __name__ == "__main__":
    main()
