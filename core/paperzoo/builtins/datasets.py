"""Built-in datasets: seeded synthetic tasks, and real text from the standard library's source."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from ..data import DataBundle, split
from ..errors import ParamError


def _check(val_fraction: float, noise: float = 0.0, n_samples: int = 2, **counts: int) -> None:
    """ParamErrors for sizes below 1, a negative noise and a validation fraction that leaves a split
    empty."""
    for name, value in counts.items():
        if value < 1:
            raise ParamError(name, f"got {value}; accepted: at least 1")
    if n_samples < 2:
        raise ParamError(
            "n_samples", f"got {n_samples}; accepted: at least 2 (a training and a validation example)"
        )
    if noise < 0:
        raise ParamError("noise", f"got {noise}; accepted: a standard deviation of 0 or more")
    if not 0.0 < val_fraction < 1.0:
        raise ParamError(
            "val_fraction",
            f"{val_fraction} leaves a split empty; accepted: a fraction strictly between 0 and 1",
        )


def _bundle(x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int, **info) -> DataBundle:
    train_idx, val_idx = split(len(x), val_fraction, seed)
    return DataBundle(
        TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[val_idx], y[val_idx]), **info
    )


def synthetic_classification(
    n_samples: int = 2048,
    n_features: int = 16,
    num_classes: int = 4,
    noise: float = 1.0,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """Class ``c`` draws ``x ~ N(mu_c, noise^2 I)`` with ``mu_c ~ N(0, I)``."""
    _check(val_fraction, noise, n_samples, n_features=n_features, num_classes=num_classes)
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(num_classes, n_features, generator=g) * 2.0
    y = torch.randint(num_classes, (n_samples,), generator=g)
    x = centers[y] + noise * torch.randn(n_samples, n_features, generator=g)
    return _bundle(
        x,
        y,
        val_fraction,
        seed,
        task="classification",
        num_classes=num_classes,
        input_shape=(n_features,),
        name="synthetic_classification",
    )


def synthetic_regression(
    n_samples: int = 2048, n_features: int = 16, noise: float = 0.1, val_fraction: float = 0.2, seed: int = 0
) -> DataBundle:
    """``y = x w + noise * e`` with ``w, x, e ~ N(0, 1)``; targets have shape ``(1,)``."""
    _check(val_fraction, noise, n_samples, n_features=n_features)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_features, 1, generator=g)
    x = torch.randn(n_samples, n_features, generator=g)
    y = x @ w + noise * torch.randn(n_samples, 1, generator=g)
    return _bundle(
        x, y, val_fraction, seed, task="regression", input_shape=(n_features,), name="synthetic_regression"
    )


def stdlib_source_bytes(max_bytes: int) -> bytes:
    """The first ``max_bytes`` of the standard library's ``.py`` files, in sorted path order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    chunks, total = [], 0
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        data = path.read_bytes()
        chunks.append(data)
        total += len(data)
        if total >= max_bytes:
            break
    return b"".join(chunks)[:max_bytes]


def stdlib_text(
    seq_len: int = 128, max_bytes: int = 1_000_000, val_fraction: float = 0.1, seed: int = 0
) -> DataBundle:
    """Next-byte prediction on the standard library's source: blocks of ``seq_len + 1`` bytes,
    inputs ``b[:-1]`` and targets ``b[1:]``; vocabulary of 256 byte values. The validation split is
    the tail of the corpus (held-out text, not shuffled blocks)."""
    _check(val_fraction, seq_len=seq_len, max_bytes=max_bytes)
    data = torch.frombuffer(bytearray(stdlib_source_bytes(max_bytes)), dtype=torch.uint8).long()
    n_blocks = len(data) // (seq_len + 1)
    blocks = data[: n_blocks * (seq_len + 1)].view(n_blocks, seq_len + 1)
    n_val = max(1, int(round(n_blocks * val_fraction)))
    train, val = blocks[:-n_val], blocks[-n_val:]
    train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))]
    return DataBundle(
        TensorDataset(train[:, :-1], train[:, 1:]),
        TensorDataset(val[:, :-1], val[:, 1:]),
        task="language_modeling",
        vocab_size=256,
        input_shape=(seq_len,),
        name="stdlib_text",
    )
