"""The paper's headline, in direction, at small scale (3 seeds each, CPU).

1. Outputs that are positions of a variable-length input (Table 1's claim that a Ptr-Net trained on
   some sizes works on others, where a seq2seq model with a fixed output vocabulary cannot even name
   the extra positions): sorting, trained on n in [5, 10], tested on n = 15.
2. Planar TSP with n = 5 (Table 2: Ptr-Net 2.12 against optimal 2.12): not reproduced at this budget.
"""

import pytest
import torch

from paperzoo_pointer_networks.geometry import nearest_neighbour_tour, tour_length
from paperzoo_pointer_networks.model import PointerNet
from paperzoo_pointer_networks.tasks import make_examples
from paperzoo_pointer_networks.training import fit_lengths

SEEDS = (0, 1, 2)


def _trained(task: str, lengths: tuple[int, int], input_dim: int, steps: int, seed: int) -> PointerNet:
    torch.manual_seed(seed)
    model = PointerNet(input_dim=input_dim, hidden=32, mask_chosen=True)
    fit_lengths(model, task, lengths, steps=steps, seed=seed)
    return model.eval()


@pytest.mark.claim
def test_sorting_generalises_beyond_trained_lengths(record_property):
    x, y = make_examples("sorting", 1000, 15, seed=10**6)
    exact, token = [], []
    for seed in SEEDS:
        out = _trained("sorting", (5, 10), 1, steps=500, seed=seed).decode(x)
        exact.append((out == y).all(1).float().mean().item())
        token.append((out == y).float().mean().item())
    rand = torch.rand(1000, 15, generator=torch.Generator().manual_seed(0)).argsort(1)
    random_token = (rand == y).float().mean().item()
    record_property("n15_exact_match_ptrnet_mean", round(sum(exact) / 3, 4))
    record_property("n15_exact_match_ptrnet_per_seed", str([round(e, 3) for e in exact]))
    record_property("n15_token_accuracy_ptrnet_mean", round(sum(token) / 3, 4))
    record_property("n15_token_accuracy_random_permutation", round(random_token, 4))
    record_property("n15_token_accuracy_fixed_vocab10_upper_bound", round(10 / 15, 4))
    # a model with 10 output classes can be right on at most the 10 of 15 steps whose answer is < 10
    assert min(token) > 10 / 15, token
    assert min(exact) > 0.25 and random_token < 0.1, (exact, random_token)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="TSP n=5 at a ~6 s budget (500 steps of 128, hidden 32) is not learnt: measured greedy tour "
    "length 2.63 (mean of 3 seeds) against optimal 2.12 and nearest neighbour 2.20 (random tours 2.59); the paper trained "
    "on 1M examples",
)
def test_tsp5_tours_close_to_optimal(record_property):
    x, y = make_examples("tsp", 1000, 5, seed=10**6)
    x64 = x.double()
    optimal = tour_length(x64, y).mean().item()
    nearest = tour_length(x64, nearest_neighbour_tour(x64)).mean().item()
    ours = [
        tour_length(x64, _trained("tsp", (5, 5), 2, steps=500, seed=s).decode(x)).mean().item() for s in SEEDS
    ]
    record_property("tsp5_length_ptrnet_mean", round(sum(ours) / 3, 4))
    record_property("tsp5_length_optimal", round(optimal, 4))
    record_property("tsp5_length_nearest_neighbour", round(nearest, 4))
    assert max(ours) < min(1.02 * optimal, nearest), (ours, optimal, nearest)
