"""The paper's headline claim at small scale: with batch statistics in a transformer, UN trains where
plain BatchNorm lags, and ends close to LayerNorm.

A Post-LN tinylm decoder (d_model 32, 2 layers, 2 heads) learns next-byte prediction on the standard
library's source (200 Adam steps, lr 3e-3, batch 32 x 64 bytes), its LayerNorms kept, or replaced by a
BatchNorm over batch x tokens, or by UN (window 4, warm-ups scaled to the run, momentum 0); 3 seeds,
the same data order and initialisation for every norm. Scored in eval mode (running statistics) on 256
validation blocks: next-byte accuracy, in points."""

import pytest
import torch
import torch.nn.functional as F
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_unified_norm.unified_norm import UnifiedNorm

STEPS, SEEDS = 200, (0, 1, 2)


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over the features of ``(batch, tokens, features)``: statistics over batch x tokens."""

    def __init__(self, ln: nn.LayerNorm):
        super().__init__()
        self.bn = nn.BatchNorm1d(ln.normalized_shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


NORMS = {
    "layernorm": None,
    "batchnorm": TokenBatchNorm,
    "un": lambda ln: UnifiedNorm(
        ln, window=4, warmup_iters=STEPS // 4, ratio_warmup=STEPS // 2, momentum=0.0
    ),
}


def replace_layernorms(model: nn.Module, make) -> None:
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.LayerNorm):
                setattr(module, name, make(child))


def train(norm: str, seed: int) -> tuple[float, float]:
    """Validation (next-byte accuracy in points, loss) after training with ``norm``."""
    data = stdlib_bytes(seq_len=64, max_bytes=300_000, seed=seed)
    xs, ys = data.train.tensors
    vx, vy = (t[:256] for t in data.val.tensors)
    torch.manual_seed(seed)
    model = TinyLMDecoder(
        vocab_size=363,
        d_model=32,
        n_layers=2,
        n_heads=2,
        max_seq_len=64,
        norm="layer_norm",
        norm_placement="post",
    )
    if NORMS[norm] is not None:
        replace_layernorms(model, NORMS[norm])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(STEPS):
        idx = torch.randint(len(xs), (32,), generator=gen)
        loss = F.cross_entropy(model(xs[idx]).logits.flatten(0, 1), ys[idx].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(vx).logits
    acc = (logits.argmax(-1) == vy).float().mean().item() * 100
    return acc, F.cross_entropy(logits.flatten(0, 1), vy.flatten()).item()


@pytest.mark.claim
def test_un_trains_where_batchnorm_lags_and_ends_near_layernorm(record_property):
    results = {norm: [train(norm, seed) for seed in SEEDS] for norm in NORMS}
    acc = {norm: sum(a for a, _ in runs) / len(runs) for norm, runs in results.items()}
    for norm, runs in results.items():
        record_property(f"val_acc_{norm}", round(acc[norm], 2))
        record_property(f"val_loss_{norm}", round(sum(v for _, v in runs) / len(runs), 4))
        assert all(torch.isfinite(torch.tensor(v)) for _, v in runs), norm
    assert acc["un"] > acc["batchnorm"] + 1.0  # BN lags UN
    assert acc["un"] > acc["layernorm"] - 1.0  # within about a point of LayerNorm
