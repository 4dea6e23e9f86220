"""Exact properties of ACT: a hand-computed redistribution, rows summing to one, the causal mask kept,
bitwise no-ops, and the kernel and hook routes on a tiny decoder (float64)."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.hooks import capture, patch

from paperzoo_act_attention_calibration.calibration import calibrate, received_attention, sink_mask
from paperzoo_act_attention_calibration.kernel import SinkCalibratedAttention, calibrated, pattern_calibrator
from paperzoo_act_attention_calibration.tests.helpers import causal_map, tiny_decoder

# 4 queries x 4 keys, causal; column means over the queries that see them: key 0: 2.3/4, key 1: 1.3/3,
# key 2: 0.2/2, key 3: 0.2/1 -> keys 0, 1 and 3 exceed 0.1, key 0 (the first) is kept: sinks {1, 3}
HAND = torch.tensor(
    [
        [1.0, 0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.4, 0.4, 0.2, 0.0],
        [0.4, 0.4, 0.0, 0.2],
    ],
    dtype=torch.float64,
)


def test_hand_computed_redistribution():
    beta = 0.5
    # row 1: sink mass 0.5 -> 0.25 stays, 0.25 goes to key 0 (the only other key): [0.75, 0.25]
    # row 2: sink mass 0.4 -> 0.2 stays, 0.2 shared 0.4 : 0.2 by keys 0, 2: [0.4 + 0.2 * 2/3, 0.2, 0.2 + 0.2/3]
    # row 3: sink mass 0.6 -> 0.3 stays, 0.3 all to key 0 (key 2 has 0): [0.7, 0.2, 0, 0.1]
    want = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.75, 0.25, 0.0, 0.0],
            [0.4 + 0.4 / 3, 0.2, 0.2 + 0.2 / 3, 0.0],
            [0.7, 0.2, 0.0, 0.1],
        ],
        dtype=torch.float64,
    )
    got = calibrate(HAND[None, None], beta=beta, threshold=0.1)[0, 0]
    assert sink_mask(received_attention(HAND[None, None]))[0, 0].tolist() == [False, True, False, True]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("beta", [0.0, 0.4, 0.9])
def test_rows_sum_to_one_nonnegative_and_masked_keys_stay_zero(beta):
    p = causal_map(3, 4, 12, {0: 3.0, 4: 2.0, 9: 2.5}, seed=1)
    out = calibrate(p, beta=beta)
    assert not torch.equal(out, p)
    assert (out >= 0).all()
    torch.testing.assert_close(out.sum(-1), torch.ones_like(out.sum(-1)), rtol=0, atol=1e-14)
    upper = torch.ones(12, 12, dtype=torch.bool).triu(1)
    assert (out[..., upper] == 0).all()


def test_sinks_lose_exactly_one_minus_beta_and_others_keep_their_ratios():
    p = causal_map(1, 2, 10, {0: 3.0, 5: 2.5}, seed=2)
    sinks = sink_mask(received_attention(p))
    assert sinks[0, :, 5].all() and not sinks[0, :, 0].any()  # the first detected key (0) is kept
    out = calibrate(p, beta=0.4)
    s = sinks[0, 0]
    torch.testing.assert_close(out[0, 0][:, s], 0.4 * p[0, 0][:, s], rtol=1e-15, atol=0)
    rows = slice(6, None)  # rows that see the sink: the non-sink keys all grow by one factor per row
    ratio = out[0, 0, rows][:, ~s][:, :6] / p[0, 0, rows][:, ~s][:, :6]
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-14, atol=0)


def test_no_op_when_no_key_exceeds_the_threshold_or_no_head_is_selected():
    p = causal_map(2, 3, 9, {0: 2.0, 3: 2.0}, seed=3)
    assert torch.equal(calibrate(p, heads=[]), p)
    assert calibrate(p, heads=[]) is p
    assert torch.equal(calibrate(p, threshold=0.99), p)  # nothing detected
    one = causal_map(1, 1, 9, {0: 6.0}, seed=4)  # only key 0 is detected: it is the kept sink
    assert sink_mask(received_attention(one)).sum() == 0
    assert torch.equal(calibrate(one), one)


def test_only_selected_heads_change():
    p = causal_map(2, 4, 10, {0: 3.0, 4: 2.5}, seed=5)
    out = calibrate(p, heads=[1, 3])
    assert torch.equal(out[:, [0, 2]], p[:, [0, 2]])
    assert not torch.equal(out[:, [1, 3]], p[:, [1, 3]])


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="beta"):
        SinkCalibratedAttention(beta=1.5)
    with pytest.raises(ValueError, match="threshold"):
        calibrate(HAND[None, None], threshold=-0.1)


def test_empty_head_set_is_the_plain_model_bitwise():
    model = tiny_decoder(attn_impl="sdpa").float()
    ids = torch.randint(64, (2, 16), generator=torch.Generator().manual_seed(0))
    plain = model(ids).logits
    with calibrated(model, {0: [], 1: []}):
        assert torch.equal(model(ids).logits, plain)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in tiny_decoder(attn_impl="sdpa").parameters()
    )


def test_kernel_with_no_sink_equals_eager_softmax_bitwise():
    model = tiny_decoder()
    ids = torch.randint(64, (2, 16), generator=torch.Generator().manual_seed(1))
    plain = model(ids).logits
    with calibrated(model, {0: [0, 1, 2, 3], 1: [0, 1, 2, 3]}, threshold=0.999):
        assert torch.equal(model(ids).logits, plain)


def test_wraps_a_tiny_decoder_without_parameters_and_restores_it():
    model = tiny_decoder()
    n_params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(64, (2, 24), generator=torch.Generator().manual_seed(2))
    plain = model(ids).logits
    with calibrated(model, {0: [1, 2], 1: [0]}) as m:
        assert sum(p.numel() for p in m.parameters()) == n_params
        assert isinstance(m.blocks[0].attn.kernel, SinkCalibratedAttention)
        with capture(m, "blocks.*.attn.pattern") as got:
            out = m(ids).logits
    assert not torch.equal(out, plain)
    assert torch.equal(model(ids).logits, plain)  # restored
    pat = got["blocks.0.attn.pattern"]
    torch.testing.assert_close(pat.sum(-1), torch.ones_like(pat.sum(-1)), rtol=0, atol=1e-13)
    assert (pat[..., torch.ones(24, 24, dtype=torch.bool).triu(1)] == 0).all()
    # the mask is kept, but sink detection averages over every query of the pass (the official column
    # means): a later token can change which keys are sinks, so earlier outputs depend on it, unlike plain
    later = ids.clone()
    later[:, -1] = (later[:, -1] + 1) % 64
    assert torch.equal(model(later).logits[:, :-1], plain[:, :-1])
    with calibrated(model, {0: [1, 2], 1: [0]}):
        assert not torch.equal(model(later).logits[:, :-1], out[:, :-1])


def test_pattern_hook_route_equals_the_kernel_route():
    model = tiny_decoder()
    ids = torch.randint(64, (2, 20), generator=torch.Generator().manual_seed(3))
    with calibrated(model, {0: [0, 3], 1: [2]}):
        want = model(ids).logits
    with patch(model, "blocks.0.attn.pattern", pattern_calibrator([0, 3])):
        with patch(model, "blocks.1.attn.pattern", pattern_calibrator([2])):
            got = model(ids).logits
    assert torch.equal(got, want)


def test_cached_decoding_calibrates_each_step_over_its_own_row():
    model = tiny_decoder()
    ids = torch.randint(64, (1, 12), generator=torch.Generator().manual_seed(4))
    with calibrated(model, {0: [0, 1], 1: [3]}):
        prefix = model(ids[:, :-1], use_cache=True)
        step = model(ids[:, -1:], past_key_values=prefix.past_key_values, use_cache=True).logits
        assert torch.isfinite(step).all()
        torch.testing.assert_close(prefix.logits, model(ids[:, :-1]).logits, rtol=0, atol=1e-12)
