"""UnifiedNorm through the tinylm norm slot: every norm of the model becomes a UnifiedNorm, and a model
trained briefly then evaluated is exactly its folded version (the eval-mode layers are affine)."""

import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_unified_norm.unified_norm import UnifiedNorm


def test_norm_slot_builds_unified_norms():
    torch.manual_seed(0)
    model = TinyLMDecoder(
        vocab_size=363,
        d_model=16,
        n_layers=2,
        n_heads=2,
        max_seq_len=16,
        norm="unified_norm",
        norm_params={"window": 2, "warmup_iters": 1},
    )
    norms = [m for m in model.modules() if isinstance(m, UnifiedNorm)]
    assert len(norms) >= 4  # two per block, and the final norm
    ids = torch.randint(256, (4, 16))
    model(ids).logits.float().logsumexp(-1).mean().backward()
    assert all(int(n.iters) == 1 for n in norms)
    assert all(n.weight.grad is not None and torch.isfinite(n.weight.grad).all() for n in norms)
