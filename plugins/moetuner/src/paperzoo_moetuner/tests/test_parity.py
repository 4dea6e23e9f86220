"""Parity. No package implements MoETuner: the ILP is checked against brute-force enumeration of every
placement (``helpers.brute_force``), the traces against an independent recount from each block's
``mlp.routing["experts"]`` (Python counters) and from ``out.router_traces`` (the nonzero weights)."""

from collections import Counter

import numpy as np
import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.moe import routing_traces

from paperzoo_moetuner.placement import placement_cost, solve_ilp
from paperzoo_moetuner.tests.helpers import brute_force, random_instance
from paperzoo_moetuner.traces import RoutingTrace

CASES = [  # (seed, layers, experts, devices, capacity, load_weight, transfer_weight)
    (0, 2, 4, 2, 2, 1.0, 1.0),
    (1, 3, 4, 2, 2, 1.0, 1.0),
    (2, 3, 4, 2, 3, 2.0, 0.5),
    (3, 2, 6, 3, 2, 1.0, 1.0),
    (4, 3, 5, 2, 3, 1.0, 0.25),
    (5, 2, 6, 2, 3, 0.0, 1.0),
    (6, 3, 4, 2, 2, 1.0, 0.0),
]


@pytest.mark.parametrize("case", CASES)
def test_ilp_equals_brute_force(case, record_property):
    seed, n_layers, n_experts, n_devices, cap, lw, tw = case
    loads, trans = random_instance(seed, n_layers, n_experts)
    best, _, _ = brute_force(loads, trans, n_devices, cap, lw, tw)
    res = solve_ilp(loads, trans, n_devices, cap, load_weight=lw, transfer_weight=tw)
    again = placement_cost(res.placement, loads, trans, n_devices, lw, tw).cost
    record_property("ilp_minus_brute_force", res.objective - best)
    assert res.optimal
    assert res.objective == pytest.approx(best, abs=1e-9)
    assert again == res.objective


def _recount(experts: list[torch.Tensor], n_experts: int) -> tuple[np.ndarray, np.ndarray]:
    loads = np.zeros((len(experts), n_experts), np.int64)
    trans = np.zeros((len(experts) - 1, n_experts, n_experts), np.int64)
    for b, x in enumerate(experts):
        for e, n in Counter(x.flatten().tolist()).items():
            loads[b, e] += n
    for b in range(len(experts) - 1):
        here, there = (
            experts[b].reshape(-1, experts[b].shape[-1]),
            experts[b + 1].reshape(-1, experts[b].shape[-1]),
        )
        for row_a, row_b in zip(here.tolist(), there.tolist(), strict=True):
            for e in row_a:
                for f in row_b:
                    trans[b, e, f] += 1
    return loads, trans


def test_trace_equals_independent_recount(record_property):
    torch.manual_seed(3)
    model = TinyLMDecoder(d_model=16, n_layers=4, n_heads=2, vocab_size=64, max_seq_len=16,
                          ffn="moe", n_experts=5, moe_top_k=2, d_ff=16).eval()  # fmt: skip
    ids = torch.randint(64, (3, 9))
    with torch.no_grad():
        out = model(ids)
    experts = [r["experts"] for r in routing_traces(model)]
    ours = RoutingTrace.empty(4, 5, 2)
    ours.add(experts)
    loads, trans = _recount(experts, 5)
    assert (ours.loads == loads).all() and (ours.transitions == trans).all()
    # from the router traces' support ([B, T, E] weights, zero off the top-k)
    masks = [(w > 0).flatten(0, 1).double() for w in out.router_traces]
    from_masks = np.stack([torch.einsum("ne,nf->ef", a, b).numpy() for a, b in zip(masks, masks[1:])])
    diff = float(np.abs(from_masks - ours.transitions).max())
    record_property("trace_count_max_diff", diff)
    assert diff == 0.0
    assert (np.stack([m.sum(0).numpy() for m in masks]) == ours.loads).all()
