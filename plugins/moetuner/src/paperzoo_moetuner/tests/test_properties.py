"""Exact properties: the cost model's hand cases, feasibility of every placement, the greedy and
round-robin baselines, the sequential ILP's steps, and the trace counts of a tinylm MoE."""

import numpy as np
import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_moetuner.placement import (
    check_placement,
    greedy,
    placement_cost,
    round_robin,
    solve_ilp,
    solve_sequential,
)
from paperzoo_moetuner.tests.helpers import block_placements, random_instance
from paperzoo_moetuner.traces import collect_traces, mutual_information


def test_cost_hand_case():
    loads = np.array([[4, 1, 2, 3], [1, 1, 5, 1]])
    trans = np.zeros((1, 4, 4))
    trans[0, 0, 2] = 7  # expert 0 -> expert 2: on device 0 -> device 0 below
    trans[0, 1, 3] = 2  # 1 -> 3: device 1 -> device 0: crosses
    trans[0, 3, 0] = 5  # 3 -> 0: device 1 -> device 1
    p = np.array([[0, 1, 0, 1], [1, 1, 0, 0]])
    c = placement_cost(p, loads, trans, 2, load_weight=2.0, transfer_weight=3.0)
    # block 0: devices 4+2=6, 1+3=4 -> max 6; block 1: 5+1=6, 1+1=2 -> max 6
    assert c.max_load == 12
    assert c.transfers == 2
    assert c.cost == 2 * 12 + 3 * 2
    assert c.imbalance == pytest.approx((6 / 5 + 6 / 4) / 2, abs=1e-15)
    assert c.transfer_share == pytest.approx(2 / 14, abs=1e-15)


def test_one_device_has_no_transfers():
    loads, trans = random_instance(0, 3, 5)
    c = placement_cost(np.zeros((3, 5), int), loads, trans, 1)
    assert c.transfers == 0 and c.max_load == loads.sum()


def test_round_robin_layout():
    assert round_robin(2, 5, 2).tolist() == [[0, 1, 0, 1, 0]] * 2


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("n_experts", "n_devices", "capacity"), [(6, 2, 3), (6, 3, 2), (5, 2, 3), (4, 2, 4)])
def test_placements_feasible(seed, n_experts, n_devices, capacity):
    loads, trans = random_instance(seed, 2, n_experts)
    for p in (
        greedy(loads, trans, n_devices, capacity),
        solve_sequential(loads, trans, n_devices, capacity).placement,
        solve_ilp(loads, trans, n_devices, capacity).placement,
    ):
        assert p.shape == (2, n_experts)
        check_placement(p, n_devices, capacity)  # each expert on one device, capacity held
        assert all(np.bincount(row, minlength=n_devices).max() <= capacity for row in p)


def test_check_placement_rejects_overfull_device():
    with pytest.raises(ValueError, match="capacity"):
        check_placement(np.array([[0, 0, 0, 1]]), 2, 2)


def test_infeasible_capacity_refused():
    loads, trans = random_instance(0, 2, 5)
    with pytest.raises(ValueError, match="capacity"):
        solve_ilp(loads, trans, 2, capacity=2)


@pytest.mark.parametrize("seed", range(3))
def test_sequential_steps_are_block_optima(seed):
    """Each block of the sequential ILP minimises its own step cost given the previous block (every
    feasible assignment of the block enumerated)."""
    loads, trans = random_instance(seed, 3, 6)
    p = solve_sequential(loads, trans, 3, 2, load_weight=1.0, transfer_weight=0.5).placement
    cands = block_placements(6, 3, 2)
    onehot = np.eye(3)[cands]
    for b in range(3):
        step = np.einsum("seg,e->sg", onehot, loads[b].astype(float)).max(1)
        if b:
            cross = p[b - 1][None, :, None] != cands[:, None, :]  # [S, E_prev, E]
            step = step + 0.5 * (trans[b - 1][None] * cross).sum((1, 2))
        ours = step[(cands == p[b]).all(1)][0]
        assert ours == pytest.approx(step.min(), abs=1e-9)


def test_ilp_not_worse_than_baselines():
    loads, trans = random_instance(7, 3, 6)
    ilp = solve_ilp(loads, trans, 2, 3).objective
    for p in (
        round_robin(3, 6, 2),
        greedy(loads, trans, 2, 3),
        solve_sequential(loads, trans, 2, 3).placement,
    ):
        assert ilp <= placement_cost(p, loads, trans, 2).cost + 1e-9


def test_mutual_information_closed_forms():
    assert mutual_information(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-12)  # independent
    assert mutual_information(np.eye(4) * 3) == pytest.approx(2.0, abs=1e-12)  # a bijection: log2 4


def _moe(seed: int) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=16, n_layers=3, n_heads=2, vocab_size=64, max_seq_len=16,
                         ffn="moe", n_experts=4, moe_top_k=2, d_ff=16)  # fmt: skip


def test_trace_counts_sum_to_routed_slots():
    model = _moe(0)
    batches = [torch.randint(64, (3, 7)), torch.randint(64, (2, 5))]
    trace = collect_traces(model, batches)
    slots = (3 * 7 + 2 * 5) * 2
    assert trace.tokens == 3 * 7 + 2 * 5
    assert trace.loads.shape == (3, 4) and trace.transitions.shape == (2, 4, 4)
    assert (trace.loads.sum(1) == slots).all()  # B * T * k per block
    assert (trace.transitions.sum((1, 2)) == slots * 2).all()  # k * k pairs per token
    # rows of a transition table: each slot of block l pairs with the token's k slots in block l + 1
    assert (trace.transitions.sum(2) == 2 * trace.loads[:-1]).all()
    assert (trace.transitions.sum(1) == 2 * trace.loads[1:]).all()


def test_collect_restores_training_mode_and_needs_moe():
    model = _moe(0).train()
    collect_traces(model, [torch.randint(64, (1, 4))])
    assert model.training
    dense = TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, vocab_size=64, max_seq_len=16)
    with pytest.raises(ValueError, match="MoE"):
        collect_traces(dense, [torch.randint(64, (1, 4))])
