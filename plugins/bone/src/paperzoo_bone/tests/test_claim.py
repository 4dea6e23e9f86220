"""The paper's claim at small scale: at the same number of trainable parameters and the same number
of steps, Bone fits the fine-tuning data faster than LoRA.

Setup (real data: scikit-learn's 8x8 digits). An MLP 64-64-64-64-10 is pre-trained on the digits,
then every 64x64 hidden Linear is adapted to a shifted task (the same digits mirrored, rotated by 90
degrees, or with inverted intensities; labels unchanged), with the head and all base weights frozen.
Bone and Bat use r = 8 (8 x 64 = 512 parameters per layer); LoRA (PEFT's layer) uses rank 4
(4 x (64 + 64) = 512 per layer, alpha = rank). Adam, batches of 64, 150 steps; the figure is the
cross-entropy on the whole shifted training set after fine-tuning (the paper compares training
loss), averaged over three fine-tuning seeds.

The paper trains every method with one shared learning rate; :func:`test_same_learning_rate` does
the same with Adam's default rate. :func:`test_each_method_at_its_best_learning_rate` tunes the rate
of each method on a grid instead: there Bone wins the rotated digits and ties the inverted ones, but
LoRA wins the mirrored digits by a wide margin, so that stronger form of the claim does not reproduce
on every task (it is marked as an expected failure, strict, so that a change of outcome is noticed).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_bone.layer import BoneLinear

pytestmark = pytest.mark.claim
peft = pytest.importorskip("peft")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

HIDDEN, STEPS, BATCH, SEEDS = 64, 150, 64, (0, 1, 2)
ADAPTED = (0, 2, 4)  # the three 64x64 Linear layers; the head (index 6) stays frozen
SHIFTS = ("mirror", "rotate", "invert")
METHODS = ("bone", "bat", "lora")


def shift(x: torch.Tensor, kind: str) -> torch.Tensor:
    img = x.view(-1, 8, 8)
    if kind == "mirror":
        return img.flip(-1).reshape(-1, 64)
    if kind == "rotate":
        return img.transpose(-1, -2).flip(-1).reshape(-1, 64)
    return 1.0 - x


def mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, 10),
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny matrices: extra threads only add contention (and run-to-run noise)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pretrained(one_thread):
    torch.manual_seed(0)
    digits = sklearn_datasets.load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order[:1400]], y[order[:1400]]
    net = mlp()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        idx = torch.randint(len(x), (128,), generator=g)
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    with torch.no_grad():
        assert F.cross_entropy(net(x), y).item() < 0.1, "pre-training did not fit the digits"
    return net.state_dict(), x, y


def lora(base: nn.Linear, rank: int) -> nn.Module:
    from peft import LoraConfig
    from peft.tuners.lora.layer import Linear

    layer = Linear(
        base, adapter_name="default", config=LoraConfig(r=rank, lora_alpha=rank), r=rank, lora_alpha=rank
    )
    return layer


def finetune(pretrained, method: str, kind: str, lr: float, seed: int) -> tuple[float, int]:
    """Final cross-entropy on the shifted training set, and the number of trainable parameters."""
    state, x, y = pretrained
    xs = shift(x, kind)
    torch.manual_seed(seed)
    net = mlp()
    net.load_state_dict(state)
    net.requires_grad_(False)
    for i in ADAPTED:
        net[i] = lora(net[i], 4) if method == "lora" else BoneLinear(net[i], r=8, variant=method)
        net[i].requires_grad_(False)
        for name, p in net[i].named_parameters():
            p.requires_grad_("lora_" in name or name == "bone_block")
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(STEPS):
        idx = torch.randint(len(xs), (BATCH,), generator=g)
        opt.zero_grad()
        F.cross_entropy(net(xs[idx]), y[idx]).backward()
        opt.step()
    with torch.no_grad():
        loss = F.cross_entropy(net(xs), y).item()
    return (loss if math.isfinite(loss) else float("inf")), sum(p.numel() for p in params)


def test_same_learning_rate(pretrained, record_property):
    """The paper's protocol: one learning rate (here Adam's default, 1e-3) for every method."""
    table = {}
    for kind in SHIFTS:
        for method in METHODS:
            runs = [finetune(pretrained, method, kind, 1e-3, seed) for seed in SEEDS]
            counts = {n for _, n in runs}
            assert counts == {3 * 512}, f"{method} trains {counts} parameters, not 1536"
            table[kind, method] = sum(loss for loss, _ in runs) / len(runs)
    print("\nfinal training loss at lr 1e-3 (mean of 3 seeds)")
    for kind in SHIFTS:
        print(f"  {kind:<7}" + "".join(f"  {m} {table[kind, m]:.3f}" for m in METHODS))
    for method in METHODS:  # mean over the three shifted tasks (each a mean of 3 seeds)
        record_property(
            f"loss_{method}_lr1e-3", round(sum(table[k, method] for k in SHIFTS) / len(SHIFTS), 4)
        )
    for method in ("bone", "bat"):
        gains = [1 - table[kind, method] / table[kind, "lora"] for kind in SHIFTS]
        record_property(f"mean_gain_{method}_vs_lora", round(sum(gains) / len(gains), 4))
        # measured gains: bone 15%, 19%, 4% (mean 13%); bat 24%, 19%, 9% (mean 17%)
        assert min(gains) > 0.02, (method, gains, table)
        assert sum(gains) / len(gains) > 0.08, (method, gains, table)


@pytest.mark.xfail(
    strict=True,
    reason="not reproduced on every task: with each method at its best learning "
    "rate, LoRA reaches a far lower loss than Bone on the mirrored digits (0.13 vs 0.51)",
)
def test_each_method_at_its_best_learning_rate(pretrained, record_property):
    """The stronger reading of the claim: Bone wins even when every method gets its best rate."""
    grid = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    best = {
        (kind, method): min(finetune(pretrained, method, kind, lr, 0)[0] for lr in grid)
        for kind in SHIFTS
        for method in METHODS
    }
    print("\nfinal training loss at each method's best learning rate (seed 0)")
    for kind in SHIFTS:
        print(f"  {kind:<7}" + "".join(f"  {m} {best[kind, m]:.3f}" for m in METHODS))
    for method in ("bone", "lora"):
        record_property(f"best_lr_loss_mirror_{method}", round(best["mirror", method], 4))
    for kind in SHIFTS:
        assert best[kind, "bone"] < best[kind, "lora"], (kind, best)
