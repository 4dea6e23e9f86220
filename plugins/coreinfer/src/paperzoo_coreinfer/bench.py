"""Benchmark: one decoding step of the CoreInfer sliced FFN versus the dense gated FFN at a large d_ff
(CPU wall clock); prints time and memory ratios ours/dense for several core fractions."""

from __future__ import annotations

import argparse

import torch
from paperzoo.bench import compare
from paperzoo_tinylm.ffn import GatedFFN

from paperzoo_coreinfer.ffn import CoreInferFFN


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--d-model", type=int, default=1024)
    p.add_argument("--d-ff", type=int, default=8192)
    p.add_argument("--rounds", type=int, default=30)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    dense = GatedFFN(args.d_model, args.d_ff, torch.nn.SiLU()).eval()
    x = torch.randn(1, 1, args.d_model)
    works = {"dense": lambda: dense(x)}
    for frac in (0.5, 0.25, 0.1):
        clone = CoreInferFFN.wrap(dense)
        clone.set_core(torch.randperm(args.d_ff)[: int(frac * args.d_ff)].sort().values)
        works[f"core{frac}"] = lambda c=clone: c.sparse(x)
    print(
        f"one decoding step, d_model={args.d_model}, d_ff={args.d_ff}, cpu threads={torch.get_num_threads()}"
    )
    with torch.no_grad():
        compare(works, "dense", torch.device("cpu"), args.rounds, label="ffn step")


if __name__ == "__main__":
    main()
