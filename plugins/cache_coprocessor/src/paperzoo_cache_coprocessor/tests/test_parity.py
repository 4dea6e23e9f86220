"""Parity. No package or official code implements the method, so the reference is the full-sequence
equivalence the method is defined by: the decoder continuing from its cache augmented with the latents
equals the decoder run once, without a cache, on the embeddings ``[prefix tokens, latents, continuation
tokens]`` (the latents at the positions right after the prefix)."""

import pytest
import torch

from paperzoo_cache_coprocessor.coprocessor import KVCacheCoprocessor, full_sequence_logits

SIZES = {"d_model": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 50, "max_seq_len": 64}


CONFIGS = {
    "rope": {},
    "learned_layernorm": {"position": "learned", "bias": True, "norm": "layer_norm"},
    "gqa_mlp": {"n_kv_heads": 2, "ffn": "mlp"},
}


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-14), (torch.float32, 1e-6)])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_cache_path_equals_full_sequence(dtype, tol, name, record_property):
    over = CONFIGS[name]
    torch.manual_seed(0)
    model = KVCacheCoprocessor(4, **{**SIZES, **over}).to(dtype)
    with torch.no_grad():  # a trained-looking coprocessor: away from a copy of the decoder
        for p in model.coprocessor.parameters():
            p.add_(0.05 * torch.randn_like(p))
        ids = torch.randint(50, (3, 15))
        worst = 0.0
        for split in (1, 6, 15):
            got, ref = model(ids, split=split).logits, full_sequence_logits(model, ids, split)
            assert got.shape == ref.shape == (3, 15, 50)
            worst = max(worst, float((got - ref).abs().max()))
    # only the summation order of the two attention paths differs (observed: 3e-16 and 1.2e-7)
    record_property(f"max_abs_diff_{str(dtype)[6:]}_{name}", worst)
    assert worst < tol
    with torch.no_grad():  # and the latents matter: the plain decoder is far from it
        assert (model(ids, split=6).logits - model.decoder(ids).logits).abs().max() > 1e-3
