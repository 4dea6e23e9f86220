"""The paper's claim that layer normalization speeds up the training of recurrent networks (Sec. 6),
at small scale: on the adding problem (sequences of 30 steps), an LN-LSTM and a plain LSTM of the same
size, initialisation, data order, optimiser and number of steps (the plain LSTM is the same code with
``layer_norm=False``), 3 seeds. The LN-LSTM must end each seed with a lower validation MSE and reach
an MSE of 0.05 (predicting the mean gives 1/6) in fewer steps on average."""

from __future__ import annotations

import paperzoo
import pytest
import torch
import torch.nn.functional as F

SEQ_LEN, HIDDEN, BATCH, STEPS, LR, EVERY, TARGET = 30, 32, 32, 250, 1e-2, 25, 0.05


def train(layer_norm: bool, seed: int) -> tuple[float, int]:
    """Final validation MSE, and the first evaluated step at which it is below TARGET (STEPS + EVERY
    when never)."""
    n = STEPS * BATCH + 512  # one pass over the training split, and 512 validation sequences
    data = paperzoo.create("adding_problem", seq_len=SEQ_LEN, n_samples=n, val_fraction=512 / n, seed=seed)
    (x_train, y_train), (x_val, y_val) = data.train.tensors, data.val.tensors
    assert len(x_train) == STEPS * BATCH
    torch.manual_seed(seed)
    model = paperzoo.create("ln_lstm", input_size=2, hidden_size=HIDDEN, output_size=1, layer_norm=layer_norm)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    reached, val = STEPS + EVERY, float("nan")
    for step in range(STEPS):
        idx = slice(step * BATCH, (step + 1) * BATCH)
        loss = F.mse_loss(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % EVERY == 0:
            with torch.no_grad():
                val = F.mse_loss(model(x_val), y_val).item()
            if val < TARGET and reached > STEPS:
                reached = step + 1
    return val, reached


@pytest.mark.claim
def test_ln_lstm_trains_faster_than_the_plain_lstm(record_property):
    ln = [train(True, seed) for seed in range(3)]
    plain = [train(False, seed) for seed in range(3)]
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    record_property("val_mse_ln_lstm", round(mean([v for v, _ in ln]), 4))
    record_property("val_mse_lstm", round(mean([v for v, _ in plain]), 4))
    record_property("steps_to_mse_0.05_ln_lstm", mean([s for _, s in ln]))
    record_property("steps_to_mse_0.05_lstm", mean([s for _, s in plain]))
    assert all(a < b for (a, _), (b, _) in zip(ln, plain)), f"LN-LSTM {ln}, LSTM {plain}"
    assert mean([s for _, s in ln]) < mean([s for _, s in plain]), f"LN-LSTM {ln}, LSTM {plain}"
