"""KAT's GR-KAN feed-forward layer against the GELU MLP it replaces (and the group-rational activation
against GELU): forward+backward time and peak memory, printed as ratios to the GELU baseline (below 1
means faster / smaller). Pure PyTorch on any device (no fused kernel).

    registry bench kat [--dim 192 --tokens 2048 --rounds 15]
    python -m paperzoo_kat.bench [args]        # the same
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from paperzoo.bench import backward_pass, compare, compare_header
from torch import nn

from paperzoo_kat.model import GELUMLP, GRKANFFN
from paperzoo_kat.rational import GroupRational


def _works(modules: dict[str, nn.Module], x: torch.Tensor) -> dict:
    grad = torch.randn_like(x)
    x = x.requires_grad_(True)
    return {name: partial(backward_pass, m, x, grad) for name, m in modules.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=192, help="model width (hidden: 4 x dim)")
    parser.add_argument("--tokens", type=int, default=2048, help="batch x sequence length")
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    d, h = args.dim, 4 * args.dim
    print(
        f"{args.tokens} tokens, width {d}, hidden {h}, {args.groups} groups, {device}, {args.threads} thread(s)"
    )
    print(compare_header("layer", "variant", widths=(12, 10)))
    x = torch.randn(args.tokens, d, device=device)
    ffn = {
        "gelu_mlp": GELUMLP(d, h).to(device),
        "grkan": GRKANFFN(d, h, num_groups=args.groups).to(device),
        "grkan_kern": GRKANFFN(d, h, num_groups=args.groups, denominator="abs_terms").to(device),
    }
    compare(_works(ffn, x), "gelu_mlp", device, args.rounds, label="ffn fwd+bwd", widths=(12, 10))
    xh = torch.randn(args.tokens, h, device=device)
    acts = {"gelu": nn.GELU().to(device), "rational": GroupRational(h, args.groups).to(device)}
    compare(_works(acts, xh), "gelu", device, args.rounds, label="activation", widths=(12, 10))


if __name__ == "__main__":
    main()
