"""Exact properties of prefix linear attention and of the JRT-Prompt construction."""

import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.linear_attention import LinearAttention
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tasks import IGNORE

from paperzoo_jrt.jrt_prompt import JRTPromptEvaluator, jrt_example
from paperzoo_jrt.prefix_attention import PrefixLinearAttention, TaylorExp

B, H, T, D = 2, 2, 11, 4
CAUSAL = AttentionMask(causal=True)


def qkv(seed: int = 0, t: int = T):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, t, D, generator=g, dtype=torch.float64) for _ in range(3)]


def kernel(prefix_len: int, form: str = "chunked", **kw) -> PrefixLinearAttention:
    torch.manual_seed(1)
    return PrefixLinearAttention(prefix_len, kv_dim=H * D, form=form, chunk_size=3, **kw).double()


def naive(kern: PrefixLinearAttention, q, k, v) -> torch.Tensor:
    """The official formula, token by token: y_t = phi(q_t)(S_e + sum_{s<=t} phi(k_s)^T v_s) / (...)."""
    phi = kern.phi
    fe, ve = kern.prefix_features(k, v)
    fq, fk = phi(q), phi(k)
    out = torch.zeros_like(v)
    for t in range(q.shape[2]):
        state = fe.transpose(-1, -2) @ ve + fk[:, :, : t + 1].transpose(-1, -2) @ v[:, :, : t + 1]
        z = fe.sum(2) + fk[:, :, : t + 1].sum(2)
        num = torch.einsum("bhf,bhfd->bhd", fq[:, :, t], state)
        out[:, :, t] = num / ((fq[:, :, t] * z).sum(-1, keepdim=True) + kern.eps)
    return out


def test_taylor_exp_kernel_closed_form():
    x, y = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    dot = (x * y).sum(-1)
    want = 1 + dot / 6**0.5 + dot**2 / (2 * 6)
    got = (TaylorExp()(x) * TaylorExp()(y)).sum(-1)
    assert torch.allclose(got, want, atol=1e-13, rtol=0)


@pytest.mark.parametrize("feature_map", ["taylor_exp", "elu1"])
def test_prefix_zero_equals_causal_linear_attention(feature_map):
    q, k, v = qkv()
    ours = kernel(0, feature_map=feature_map)(q, k, v, CAUSAL)
    fmap = TaylorExp() if feature_map == "taylor_exp" else feature_map
    ref = LinearAttention(feature_map=fmap, normalize=True, chunk_size=3, eps=1e-12)(q, k, v, CAUSAL)
    assert torch.equal(ours, ref)


@pytest.mark.parametrize("prefix_len", [1, 4, 11, 20])
def test_forms_equal_naive_loop(prefix_len):
    q, k, v = qkv(prefix_len)
    with torch.no_grad():
        ref = naive(kernel(prefix_len), q, k, v)
    for form in ("chunked", "recurrent", "parallel"):
        got = kernel(prefix_len, form)(q, k, v, CAUSAL)
        assert float((got - ref).abs().max()) < 1e-12, form


def test_prefix_state_added_to_causal_state():
    """Prefix outputs differ from causal linear attention exactly by the prefix state in the numerator
    and the normaliser: feeding the prefix keys as extra 'past' keys of causal linear attention agrees."""
    q, k, v = qkv(3)
    kern = kernel(5)
    fe, ve = kern.prefix_features(k, v)
    assert fe.shape[2] == 5
    phi = kern.phi
    # causal linear attention over [prefix keys; keys] with the queries after the prefix keys
    from paperzoo_tinylm.linear_attention import linear_attention_parallel

    ref = linear_attention_parallel(
        phi(q), torch.cat([fe, phi(k)], 2), torch.cat([ve, v], 2), normalize=True, q_offset=5, eps=1e-12
    )
    assert float((kern(q, k, v, CAUSAL) - ref).abs().max()) < 1e-13


def test_decode_positions_get_no_gradient_from_the_future():
    q, k, v = (x.requires_grad_() for x in qkv(4))
    kern = kernel(4)
    t = 7  # a decode position (>= prefix_len)
    kern(q, k, v, CAUSAL)[:, :, t].sum().backward()
    for x in (q, k, v):
        assert float(x.grad[:, :, t + 1 :].abs().max()) == 0.0
        assert float(x.grad[:, :, : t + 1].abs().max()) > 0.0


def test_prefix_positions_see_the_whole_prefix():
    """A prefix output depends on later prefix tokens (non-causal) but never on tokens after the prefix."""
    q, k, v = (x.requires_grad_() for x in qkv(5))
    kern = kernel(6)
    kern(q, k, v, CAUSAL)[:, :, 1].sum().backward()
    assert float(k.grad[:, :, 5].abs().max()) > 0.0  # a later prefix key reaches position 1
    assert float(v.grad[:, :, 5].abs().max()) > 0.0
    for x in (k, v, q):
        assert float(x.grad[:, :, 6:].abs().max()) == 0.0


def test_prefix_state_is_invariant_to_permuting_the_prefix():
    """The prefix state is a sum over the prefix, so permuting prefix tokens leaves every decode output
    unchanged (to rounding); causal linear attention (prefix 0) sees the order through its causal part
    only, so the same check on the causal kernel also holds for decode positions: what differs is the
    prefix positions' outputs, which read the same prefix state under any order."""
    q, k, v = qkv(6)
    m = 6
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    kp, vp, qp = (torch.cat([x[:, :, perm], x[:, :, m:]], 2) for x in (k, v, q))
    kern = kernel(m, separate_prefix_kv=True)
    base, moved = kern(q, k, v, CAUSAL), kern(qp, kp, vp, CAUSAL)
    assert float((base[:, :, m:] - moved[:, :, m:]).abs().max()) < 1e-13
    # every prefix query reads the same prefix state: with the causal part removed (pure prefix reading,
    # queries only), the output is a function of the query alone: permuted queries give permuted outputs
    fe, ve = kern.prefix_features(k, v)
    fep, vep = kern.prefix_features(kp, vp)
    s, sp = fe.transpose(-1, -2) @ ve, fep.transpose(-1, -2) @ vep
    assert float((s - sp).abs().max()) < 1e-13 and float((fe.sum(2) - fep.sum(2)).abs().max()) < 1e-13


def test_cached_decoding_equals_full_forward():
    torch.manual_seed(0)
    model = TinyLMDecoder(
        d_model=16,
        n_layers=2,
        n_heads=2,
        max_seq_len=32,
        vocab_size=64,
        attention="prefix_linear_attention",
        attention_params={"prefix_len": 5, "kv_dim": 16, "chunk_size": 4},
    ).double()
    ids = torch.randint(64, (2, 12))
    full = model(ids).logits
    out = model(ids[:, :7], use_cache=True)
    steps = [out.logits]
    cache = out.past_key_values
    for i in range(7, 12):
        out = model(ids[:, i : i + 1], past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        steps.append(out.logits)
    assert float((torch.cat(steps, 1) - full).abs().max()) < 1e-12


def test_jrt_prompt_hand_case():
    text = "ab1c2|.b1."  # after <bos>: context "ab1c2|", then queries
    ids = [257] + [ord(c) for c in text]
    targets = [IGNORE] * 8 + [ord("1"), IGNORE, IGNORE]  # the input "b" (index 8) is followed by "1"
    x, y = jrt_example(ids, targets, "tinylm_mqar", repeats=3)
    assert x == [257] + [ord(c) for c in "ab1c2|ab1c2|ab1c2|.b1."]
    assert y == [IGNORE] * 20 + [ord("1"), IGNORE, IGNORE]  # shifted by two copies of 6 tokens
    assert x[20] == ord("b") and x[21] == ord("1")
    kv = [257] + [ord(c) for c in "ab:1,..?ab="]
    x2, _ = jrt_example(kv, [IGNORE] * len(kv), "tinylm_kv_retrieval", repeats=2)
    assert bytes(x2[1:]).decode() == "ab:1,..ab:1,..?ab="


def test_evaluator_scores_an_oracle():
    """An LM that predicts the true next token scores 1 read once and read twice; bad input is refused."""
    from paperzoo_tinylm.long_context import mqar

    data = mqar(n_samples=8, seq_len=32, n_pairs=4, n_queries=2)

    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):  # recall by lookup: after a key, its value from the context
            logits = torch.zeros(*x.shape, 363)
            for b, row in enumerate(x.tolist()):
                end = row.index(ord("|"))
                pairs = dict(zip(row[1:end:2], row[2:end:2]))
                for t in range(end + 1, len(row)):
                    logits[b, t, pairs.get(row[t], ord("."))] = 1.0
            return logits

    res = JRTPromptEvaluator(batch_size=4)(Oracle(), data)
    assert res["token_accuracy_once"] == 1.0 and res["token_accuracy_jrt"] == 1.0
    with pytest.raises(ValueError, match="repeats"):
        JRTPromptEvaluator(repeats=0)
    with pytest.raises(ValueError, match="kv_dim"):
        PrefixLinearAttention(2, kv_dim=6).double()(*qkv(), CAUSAL)
