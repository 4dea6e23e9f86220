"""The claim's experiment: digits, a 64-d MLP embedding trained with the Matryoshka loss (MRL-E), with
plain cross-entropy (then truncated), and a separately trained 8-d embedding, compute-matched."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from paperzoo_matryoshka.head import MatryoshkaHead
from paperzoo_matryoshka.loss import matryoshka_ce_loss

EPOCHS, BATCH, LR, HIDDEN = 30, 64, 3e-3, 128


def digits(seed: int) -> tuple[torch.Tensor, ...]:
    """Standardised digits, a seeded split of 1297 training and 500 validation images."""
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    tr, va = perm[:1297], perm[1297:]
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-3
    x = (x - mean) / std
    return x[tr], y[tr], x[va], y[va]


def train(kind: str, seed: int, data: tuple[torch.Tensor, ...]) -> MatryoshkaHead:
    """``kind``: ``mrl`` (64-d, loss at 8/16/32/64), ``standard`` (64-d, CE at 64), ``fixed8`` (8-d)."""
    xtr, ytr = data[0], data[1]
    torch.manual_seed(seed)
    d = 8 if kind == "fixed8" else 64
    dims = [8, 16, 32, 64] if kind == "mrl" else [d]
    model = MatryoshkaHead(d, 10, dims=dims, encoder_in_features=64, encoder_hidden=[HIDDEN])
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(xtr), generator=g).split(BATCH):
            z = model.encoder(xtr[idx])
            loss = matryoshka_ce_loss(model, z, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: MatryoshkaHead, data: tuple[torch.Tensor, ...], m: int) -> float:
    """Validation accuracy of the head restricted to the first ``m`` features (for a standard head,
    the full classifier on the zero-padded embedding)."""
    z = model.encoder(data[2])
    return float((model.logits_at(z, m).argmax(-1) == data[3]).float().mean())


def run(seed: int) -> dict[str, float]:
    data = digits(seed)
    mrl, std, ff8 = (train(k, seed, data) for k in ("mrl", "standard", "fixed8"))
    return {
        "mrl_d8": accuracy(mrl, data, 8),
        "standard_d8": accuracy(std, data, 8),
        "fixed8": accuracy(ff8, data, 8),
        "mrl_d64": accuracy(mrl, data, 64),
        "standard_d64": accuracy(std, data, 64),
    }


if __name__ == "__main__":
    import time

    torch.set_num_threads(1)
    for s in range(3):
        t = time.time()
        print(s, run(s), f"{time.time() - t:.1f}s")
