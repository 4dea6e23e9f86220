"""Bone / Bat adapter: forward+backward time and peak memory against PEFT's LoRA at an equal number of
trainable parameters, and against PEFT's own implementation of the same method (``MissLinear``, the
layer PEFT shipped as Bone). Printed as ratios (ours / reference; below 1 is better).

    registry bench bone [--features 768 --tokens 1024 --r 32 --repeats 30]
    python -m paperzoo_bone.bench [args]        # the same

Needs peft, which only the plugin's ``test`` extra installs: it is imported when the reference layers
are built, not when this module is imported.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

import torch
from paperzoo.bench import interleaved_medians, peak_memory
from paperzoo.compat import import_transformers
from torch import nn

from paperzoo_bone.layer import BoneLinear


def peft_lora(base: nn.Linear, rank: int) -> nn.Module:
    import_transformers()  # peft imports transformers, which imports torchvision when installed
    from peft import LoraConfig
    from peft.tuners.lora.layer import Linear

    cfg = LoraConfig(r=rank, lora_alpha=rank)
    layer = Linear(base, adapter_name="default", config=cfg, r=rank, lora_alpha=rank)
    with torch.no_grad():
        layer.lora_B["default"].weight.normal_(0, 0.01)  # off zero, so both matmuls do real work
    return frozen_base(layer)


def frozen_base(layer: nn.Module) -> nn.Module:
    """A PEFT layer built by hand (not through ``get_peft_model``) leaves its base trainable."""
    for p in layer.get_base_layer().parameters():
        p.requires_grad_(False)
    return layer


def peft_miss(base: nn.Linear, r: int, variant: str) -> nn.Module:
    import_transformers()
    from peft import MissConfig
    from peft.tuners.miss.layer import MissLinear

    cfg = MissConfig(r=r, init_weights=True if variant == "bone" else "bat")
    layer = MissLinear(base, adapter_name="default", config=cfg, r=r)
    with torch.no_grad():
        layer.miss_block["default"].normal_(0, 0.01)
    return frozen_base(layer)


def ours(base: nn.Linear, r: int, variant: str) -> nn.Module:
    layer = BoneLinear(base, r=r, variant=variant)
    with torch.no_grad():
        layer.bone_block.normal_(0, 0.01)
    return layer


def trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def step(module: nn.Module, x: torch.Tensor) -> None:
    module.zero_grad(set_to_none=True)
    module(x).square().mean().backward()


def peak_bytes(module: nn.Module, x: torch.Tensor) -> int:
    """Peak of tensor memory during one forward+backward, above what existed before it."""
    step(module, x)  # warm: gradients allocated once, so every variant starts from the same state
    return peak_memory(lambda: step(module, x), x.device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=768, help="square Linear layer size")
    parser.add_argument("--tokens", type=int, default=1024, help="batch * sequence length")
    parser.add_argument("--r", type=int, default=32, help="Bone block size (LoRA gets rank r/2)")
    parser.add_argument("--repeats", type=int, default=30, help="timing rounds")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    base = nn.Linear(args.features, args.features).to(device)
    x = torch.randn(args.tokens, args.features, device=device)

    builders: dict[str, Callable[[], nn.Module]] = {
        "bone (ours)": lambda: ours(copy.deepcopy(base), args.r, "bone"),
        "bone (peft MiSS)": lambda: peft_miss(copy.deepcopy(base), args.r, "bone"),
        "bat (ours)": lambda: ours(copy.deepcopy(base), args.r, "bat"),
        "bat (peft MiSS)": lambda: peft_miss(copy.deepcopy(base), args.r, "bat"),
        f"lora r={args.r // 2} (peft)": lambda: peft_lora(copy.deepcopy(base), args.r // 2),
    }
    modules = {name: build().to(device).train() for name, build in builders.items()}
    timing = interleaved_medians(
        {name: (lambda m=m: step(m, x)) for name, m in modules.items()}, device, args.repeats, warmup=3
    )
    results = {}
    print(
        f"Linear {args.features}x{args.features}, {args.tokens} tokens, r={args.r}, {device}, "
        f"{args.threads} thread(s), median of {args.repeats} rounds"
    )
    print(f"{'layer':<22}{'trainable':>10}{'fwd+bwd ms':>12}{'peak MiB':>10}")
    for name, module in modules.items():
        ms, mib = 1e3 * timing[name], peak_bytes(module, x) / 2**20
        results[name] = (ms, mib)
        print(f"{name:<22}{trainable(module):>10}{ms:>12.2f}{mib:>10.1f}")

    lora = f"lora r={args.r // 2} (peft)"
    print("\nratios (time, peak memory); below 1 means ours is faster / smaller")
    for variant in ("bone", "bat"):
        ms, mib = results[f"{variant} (ours)"]
        for ref in (f"{variant} (peft MiSS)", lora):
            ref_ms, ref_mib = results[ref]
            print(f"  {variant} (ours) / {ref:<18} time {ms / ref_ms:5.2f}   memory {mib / ref_mib:5.2f}")


if __name__ == "__main__":
    main()
