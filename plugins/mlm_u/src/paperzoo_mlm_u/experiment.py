"""The claim's experiment: MLM-U (bidirectional tinylm encoder) against next-token prediction (a
decoder of the same size) on DFS mazes, at equal optimizer steps, batch and learning rate.

Both runs share the data, the AdamW optimizer with a one-cycle schedule and the row draws (a generator
seeded with ``seed``); they differ only in the attention direction and the objective. Accuracy is the
exact-path accuracy of :class:`paperzoo_mlm_u.evaluator.MazeNavigation` on held-out mazes.
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder
from paperzoo_tinylm.training import fit_targets

from paperzoo_mlm_u.data import mlm_u_mazes
from paperzoo_mlm_u.evaluator import MazeNavigation
from paperzoo_mlm_u.mlmu import full_sequences, mlm_u_loss


def train(method: str, data, steps: int, batch: int, lr: float, seed: int, **model_kw) -> torch.nn.Module:
    """Train an encoder with MLM-U (``method="mlm_u"``) or a decoder with next-token prediction
    (``"ntp"``, :func:`~paperzoo_tinylm.training.fit_targets`' own loss) on ``data.train``; returns the
    model in eval mode."""
    torch.manual_seed(seed)
    cls = TinyLMEncoder if method == "mlm_u" else TinyLMDecoder
    model = cls(vocab_size=data.vocab_size, max_seq_len=data.input_shape[0] + 1, **model_kw)
    x, y = data.train.tensors
    mask_rng = torch.Generator().manual_seed(seed + 1)

    def mlm_u_objective(m: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return mlm_u_loss(m, *full_sequences(xb, yb), mask_rng)

    objective = mlm_u_objective if method == "mlm_u" else None
    return fit_targets(model, x, y, steps, batch, lr=lr, seed=seed, loss_fn=objective)


def compare(
    seed: int,
    grid_n: int = 5,
    n_mazes: int = 3000,
    steps: int = 300,
    batch: int = 32,
    lr: float = 3e-3,
    n_eval: int = 200,
    **model_kw,
) -> dict[str, float]:
    """Exact-path accuracy of MLM-U and NTP on one seed (fresh mazes per seed)."""
    model_kw = {"d_model": 64, "n_layers": 2, "n_heads": 4, **model_kw}
    data = mlm_u_mazes(
        grid_n=grid_n, n_mazes=n_mazes + n_eval, val_fraction=n_eval / (n_mazes + n_eval), seed=seed
    )
    out = {}
    for method in ("mlm_u", "ntp"):
        model = train(method, data, steps, batch, lr, seed, **model_kw)
        got = MazeNavigation(n_mazes=n_eval, batch_size=100)(model, data)
        out[f"{method}_exact"] = got["maze_exact_path"]
        out[f"{method}_legal"] = got["maze_legal_path"]
        out[f"{method}_token"] = got["maze_token_accuracy"]
    return out


__all__ = ["compare", "train"]
