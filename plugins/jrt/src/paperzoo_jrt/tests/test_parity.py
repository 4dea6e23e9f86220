"""Parity with the official PrefixLinearAttention (HazyResearch/prefix-linear-attention @7490f22,
``implementation="default"``: its pure-PyTorch parallel forward): golden float64 outputs recorded from the
official file (``data/prefix_linear_attention_official.json`` says how), compared after copying its weights
into tinylm's attention sublayer with this kernel."""

from importlib.resources import files

import pytest
import torch
from paperzoo_tinylm.attention import Attention, AttentionMask
from safetensors.torch import load_file

from paperzoo_jrt.prefix_attention import PrefixLinearAttention

GOLDEN = load_file(str(files("paperzoo_jrt.tests") / "data" / "prefix_linear_attention_official.safetensors"))


def sublayer(prefix_len: int, form: str) -> Attention:
    """tinylm's sublayer holding the official weights: q/k/v/out projections copied; the prefix maps are
    ``W_enc W^-1`` so that ``W_prefix (W x) = W_enc x``."""
    kernel = PrefixLinearAttention(prefix_len, kv_dim=32, feature_map="taylor_exp", form=form, chunk_size=5)
    attn = Attention(32, 2, 2, 16, kernel, bias=False).double()
    w = {k[2:]: v for k, v in GOLDEN.items() if k.startswith("w.")}
    with torch.no_grad():
        attn.q_proj.weight.copy_(w["proj_q.weight"])
        attn.k_proj.weight.copy_(w["proj_k.weight"])
        attn.v_proj.weight.copy_(w["proj_v.weight"])
        attn.o_proj.weight.copy_(w["out_proj.weight"])
        kernel.prefix_k.weight.copy_(w["proj_k_enc.weight"] @ torch.linalg.inv(w["proj_k.weight"]))
        kernel.prefix_v.weight.copy_(w["proj_v_enc.weight"] @ torch.linalg.inv(w["proj_v.weight"]))
    return attn


@pytest.mark.parametrize("form", ["chunked", "recurrent", "parallel"])
def test_official_forward(form, record_property):
    worst = 0.0
    for enc in (0, 5, 12):
        with torch.no_grad():
            y = sublayer(enc, form)(GOLDEN["x"], AttentionMask(causal=True))
        ref = GOLDEN[f"y_enc{enc}"]
        err = float((y - ref).abs().max())
        worst = max(worst, err)
        # float64; the prefix maps pass through a 32x32 inverse (condition number ~1e2), so 1e-12 not 1e-15
        assert err < 1e-12, (enc, err, float(ref.abs().max()))
    record_property(f"max_abs_diff_float64_{form}", worst)


def test_golden_prefix_matters():
    """The fixtures differ where the prefix differs (so the comparison above can fail)."""
    assert float((GOLDEN["y_enc5"] - GOLDEN["y_enc0"]).abs().max()) > 1e-2
    assert float((GOLDEN["y_enc12"] - GOLDEN["y_enc5"]).abs().max()) > 1e-2
