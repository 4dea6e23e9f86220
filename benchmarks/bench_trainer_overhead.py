"""The `supervised` trainer against a hand-written PyTorch loop: same model, data, batch size.

Both train an MLP on the digits-sized synthetic task for the same number of steps with SGD; the
hand loop uses a DataLoader over a TensorDataset, as a PyTorch user would write it. Printed: the
ratio of trainer time to hand-loop time (target: at most 1.05).
Run: python benchmarks/bench_trainer_overhead.py
"""

import json
import time

import paperzoo
import torch
from paperzoo.trainer import Run
from torch.utils.data import DataLoader

EPOCHS, BATCH = 5, 64


def setup():
    torch.manual_seed(0)
    data = paperzoo.create("synthetic_classification", n_samples=8192, n_features=64, num_classes=10)
    model = paperzoo.create("mlp", in_features=64, num_classes=10, hidden=[512, 512])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return data, model, opt


def hand_loop() -> float:
    data, model, opt = setup()
    loader = DataLoader(data.train, batch_size=BATCH, shuffle=True)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def trainer() -> float:
    data, model, opt = setup()
    t = paperzoo.create("supervised", epochs=EPOCHS, batch_size=BATCH, progress=True, log_every=50)
    start = time.perf_counter()
    t.fit(Run(model=model, data=data, optimizer=opt))
    return time.perf_counter() - start


def main(repeats: int = 3) -> None:
    torch.set_num_threads(1)
    hand = min(hand_loop() for _ in range(repeats))
    ours = min(trainer() for _ in range(repeats))
    print(
        json.dumps(
            {
                "hand_loop_s": round(hand, 3),
                "supervised_s": round(ours, 3),
                "overhead_ratio": round(ours / hand, 3),
                "target": 1.05,
            }
        )
    )


if __name__ == "__main__":
    main()
