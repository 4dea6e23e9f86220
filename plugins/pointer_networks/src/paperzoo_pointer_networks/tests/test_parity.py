"""The exact references (there is no package implementing Ptr-Net to compare with): hand-checked tour
lengths, convex hulls and optimal tours, brute force against Held-Karp, and the evaluators on known
outputs."""

import math

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset

from paperzoo_pointer_networks.evaluators import PointerSequenceAccuracy, PointerTourLength, is_valid
from paperzoo_pointer_networks.geometry import (
    brute_force_tsp,
    canonical_tour,
    convex_hull_order,
    held_karp,
    nearest_neighbour_tour,
    tour_length,
)
from paperzoo_pointer_networks.model import IGNORE
from paperzoo_pointer_networks.tasks import make_examples, pointer_convex_hull, pointer_sorting, pointer_tsp

SQUARE = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
TRIANGLE = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)


def test_tour_length_hand_cases():
    assert tour_length(SQUARE, torch.tensor([0, 1, 2, 3])).item() == 4.0
    assert tour_length(TRIANGLE, torch.tensor([0, 1, 2])).item() == 12.0
    crossed = tour_length(SQUARE, torch.tensor([0, 2, 1, 3])).item()  # two diagonals and two sides
    assert crossed == pytest.approx(2 + 2 * math.sqrt(2), abs=1e-15)


@pytest.mark.parametrize("solver", [brute_force_tsp, held_karp])
def test_optimal_tour_hand_cases(solver):
    shuffled = SQUARE[[2, 0, 3, 1]]  # corners (1,1), (0,0), (0,1), (1,0): the tour 0-2-1-3 is optimal
    tours, lengths = solver(torch.stack([shuffled, SQUARE]))
    assert tours.tolist() == [[0, 2, 1, 3], [0, 1, 2, 3]]
    assert lengths.tolist() == [4.0, 4.0]
    tours, lengths = solver(TRIANGLE.unsqueeze(0))
    assert tours.tolist() == [[0, 1, 2]] and lengths.item() == 12.0


@pytest.mark.parametrize("n", [4, 5, 6, 7, 8])
def test_held_karp_equals_brute_force(n):
    points = torch.rand(64, n, 2, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    hk_tours, hk_len = held_karp(points)
    bf_tours, bf_len = brute_force_tsp(points)
    assert torch.allclose(hk_len, bf_len, rtol=0, atol=1e-12)  # sums of n distances in float64
    assert torch.equal(hk_tours, bf_tours)  # no ties among random points
    assert torch.allclose(tour_length(points, hk_tours), hk_len, rtol=0, atol=1e-12)


def test_canonical_tour_is_one_form_of_each_tour():
    tour = torch.tensor([[3, 1, 0, 4, 2]])
    assert canonical_tour(tour).tolist() == [[0, 1, 3, 2, 4]]  # rotated to 0-4-2-3-1, then reversed
    assert canonical_tour(torch.tensor([[2, 4, 0, 1, 3]])).tolist() == [[0, 1, 3, 2, 4]]  # same tour


def test_nearest_neighbour_hand_case():
    points = torch.tensor([[[0.0, 0.0], [5.0, 0.0], [1.0, 0.0], [2.0, 0.0]]])
    assert nearest_neighbour_tour(points).tolist() == [[0, 2, 3, 1]]


def test_convex_hull_order_hand_case():
    # corners listed out of order, an interior point (index 1) and an edge midpoint (index 5)
    points = [[1.0, 1.0], [0.5, 0.5], [0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.0]]
    assert convex_hull_order(points) == [0, 3, 2, 4]  # from the lowest index, counter-clockwise


def test_task_targets():
    x, y = make_examples("sorting", 50, 7, seed=0)
    assert torch.all(torch.diff(torch.gather(x[..., 0], 1, y), dim=1) > 0)
    x, y = make_examples("convex_hull", 20, 8, seed=0)
    for xi, yi in zip(x, y):
        hull = yi[yi != IGNORE].tolist()
        assert hull == convex_hull_order(xi.double()) + [8]
    x, y = make_examples("tsp", 20, 6, seed=0)
    assert torch.allclose(tour_length(x.double(), y), brute_force_tsp(x.double())[1], atol=1e-12)


def test_datasets_are_deterministic_and_allow_another_test_length():
    first, second = (
        pointer_sorting(n=5, n_train=8, n_val=4, val_n=9),
        pointer_sorting(n=5, n_train=8, n_val=4, val_n=9),
    )
    assert torch.equal(first.train.tensors[0], second.train.tensors[0])
    assert first.train.tensors[0].shape == (8, 5, 1) and first.val.tensors[0].shape == (4, 9, 1)
    assert pointer_convex_hull(n=6, n_train=4, n_val=2).val.tensors[1].shape == (2, 7)
    with pytest.raises(ParamError, match="at most 12"):
        pointer_tsp(n=20)


class _Fixed(torch.nn.Module):
    """A stand-in model whose decoded outputs are given."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def decode(self, x, beam_size=1, constrain=None):
        return self.outputs[: len(x)]


def test_sequence_accuracy_on_known_outputs():
    targets = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 4, IGNORE, IGNORE]])
    outputs = torch.tensor([[0, 1, 2, 3], [3, 2, 0, 1], [1, 4, IGNORE, IGNORE]])
    data = DataBundle(None, TensorDataset(torch.zeros(3, 4, 1), targets), "classification")
    got = PointerSequenceAccuracy()(_Fixed(outputs), data)
    assert got == {"exact_match": 2 / 3, "token_accuracy": 8 / 10, "valid": 1.0}
    assert is_valid(torch.tensor([[0, 1, 1, 2], [0, 4, IGNORE, IGNORE]]), 4).tolist() == [False, True]


def test_tour_length_evaluator_on_known_outputs():
    points = torch.stack([SQUARE, SQUARE]).float()
    data = DataBundle(None, TensorDataset(points, torch.tensor([[0, 1, 2, 3]] * 2)), "classification")
    got = PointerTourLength()(_Fixed(torch.tensor([[0, 1, 2, 3], [0, 2, 1, 3]])), data)
    crossed = 2 + 2 * math.sqrt(2)
    assert got["tour_length"] == pytest.approx((4 + crossed) / 2, abs=1e-12)
    assert got["target_length"] == 4.0 and got["valid"] == 1.0
    assert got["ratio"] == pytest.approx((1 + crossed / 4) / 2, abs=1e-12)
