"""Speed and memory of LN removal: the LN-free decoder's forward against the same decoder with its
LayerNorms, and the ``ln_removal_dla`` attribution (one captured forward plus one Jacobian-vector product
per component) against a plain forward of the LN-free model.

    registry bench ln_removal [--dim 128 --layers 4 --seq 128 --batch 8 --rounds 5]

(equivalently ``python -m paperzoo_ln_removal.bench``). Prints milliseconds, peak memory and the ratios
to the baseline of each comparison (lower is better); times are medians of interleaved rounds
(``paperzoo.bench.compare``).
"""

from __future__ import annotations

import argparse
import copy

import torch
from paperzoo.bench import compare, compare_header

from paperzoo_ln_removal.dla import dla
from paperzoo_ln_removal.fake_ln import calibrate, install, remove_all


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from paperzoo_tinylm.model import TinyLMDecoder

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    ln = TinyLMDecoder(
        d_model=args.dim, n_layers=args.layers, n_heads=args.heads, max_seq_len=args.seq,
        norm="layer_norm", bias=True, ffn="mlp", activation="gelu_tanh", position="learned",
    ).to(device).eval()  # fmt: skip
    ids = torch.randint(256, (args.batch, args.seq), device=device)
    free = copy.deepcopy(ln)
    install(free)
    calibrate(free, [ids])
    remove_all(free)
    free.eval()
    print(f"decoder d_model {args.dim}, {args.layers} layers, batch {args.batch} x {args.seq}, {device.type}")
    print(compare_header("comparison", "model"))
    with torch.no_grad():
        compare(
            {"layernorm": lambda: ln(ids), "ln_free": lambda: free(ids)},
            "layernorm", device, args.rounds, label="forward",
        )  # fmt: skip
        compare(
            {"forward": lambda: free(ids), "dla": lambda: dla(free, ids)},
            "forward", device, args.rounds, label="dla vs forward",
        )  # fmt: skip


if __name__ == "__main__":
    main()
