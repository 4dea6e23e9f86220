"""Speed and peak memory of RMSNorm and CRMSNorm against LayerNorm (the norms alone), and of the
converted Pre-RMSNorm / Pre-CRMSNorm tinylm decoders against the Pre-LN decoder (whole model).

Time: ``best_time`` of one forward+backward pass (norms) or one forward pass (decoders, inference),
the best of ``--repeats`` after a warm-up (process CPU time on CPU, wall time on CUDA). Memory:
``peak_memory`` of one pass. Printed as ratios ours / LayerNorm baseline.

Run: ``registry bench pre_rmsnorm [--device cuda] [--repeats 10]``.
"""

from __future__ import annotations

import argparse

import torch
from paperzoo.bench import best_time, peak_memory, train_step
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.norms import RMSNorm
from torch import nn

from paperzoo_pre_rmsnorm.convert import convert
from paperzoo_pre_rmsnorm.layer import CRMSNorm


def _report(name: str, base, ours, device: torch.device, repeats: int) -> None:
    t = best_time(ours, device, repeats) / best_time(base, device, repeats)
    m = peak_memory(ours, device) / max(1, peak_memory(base, device))
    print(f"{name:34s} time {t:.3f}  peak memory {m:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=4096)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    torch.manual_seed(0)
    d = args.features
    x = torch.randn(args.tokens, d, device=device, requires_grad=True)
    xc = x.detach()[:, :-1].clone().requires_grad_()
    ln = nn.LayerNorm(d, eps=1e-6).to(device)
    print("ratio ours / LayerNorm (forward+backward of the norm alone; 1.0 = same)")
    norms = [
        ("RMSNorm (tinylm, eager)", RMSNorm(d).to(device), x),
        ("RMSNorm (torch.nn.RMSNorm)", nn.RMSNorm(d, eps=1e-6).to(device), x),
        ("CRMSNorm (eager)", CRMSNorm(d - 1).to(device), xc),
    ]
    for name, norm, inp in norms:
        _report(name, lambda: train_step(ln, x), lambda n=norm, i=inp: train_step(n, i), device, args.repeats)
    model = TinyLMDecoder(
        d_model=256, n_layers=4, n_heads=4, vocab_size=256, max_seq_len=256, norm="layer_norm"
    )
    model = model.to(device).eval()
    ids = torch.randint(256, (8, 256), device=device)
    print("ratio converted / Pre-LN decoder (inference forward, d_model 256, 4 layers, 8 x 256 tokens)")
    for target in ("rms_norm", "crms_norm"):
        conv = convert(model, target).to(device).eval()
        with torch.no_grad():
            _report(f"Pre-{target}", lambda: model(ids), lambda c=conv: c(ids), device, args.repeats)


if __name__ == "__main__":
    main()
