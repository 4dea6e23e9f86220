"""The claim's experiment: a graph-structured sequence task, GIN-Attention against softmax attention at
equal parameters, and the train-test gap of each.

Task (undirected reachability): a random graph on ``n_nodes`` labelled nodes is written as its
``n_edges`` edges, two tokens each (``u v``), followed by a separator and two query nodes ``a b``; the
target, predicted at the last position, is whether ``b`` is reachable from ``a``. Queries are drawn so
that both answers are equally likely. A small training set (so that models can memorise it) and a
large fresh test set; the gap is train accuracy minus test accuracy (and test minus train loss) after a
fixed number of steps.

Models: tinylm encoders (bidirectional, RoPE) with ``attention: gin_attention`` (the paper's per-head
MLP, multiplier 2) or ``softmax``; the softmax model's ``d_ff`` is widened so that both have the same
number of parameters (within 0.5%).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SEP_OFFSET, NO_OFFSET, YES_OFFSET = 0, 1, 2  # special ids after the node ids


def _root(parent: list[int], x: int) -> int:
    """The union-find root of ``x`` (with path halving)."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@dataclass
class GraphTask:
    n_nodes: int = 8
    n_edges: int = 6

    @property
    def vocab_size(self) -> int:
        return self.n_nodes + 3

    def sample(self, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` sequences ``[count, 2 n_edges + 3]`` and their labels (0: unreachable, 1: reachable)."""
        rng = random.Random(seed)
        n, sep = self.n_nodes, self.n_nodes + SEP_OFFSET
        rows, labels = [], []
        while len(rows) < count:
            want = len(rows) % 2
            edges = [tuple(rng.sample(range(n), 2)) for _ in range(self.n_edges)]
            parent = list(range(n))

            for u, v in edges:
                parent[_root(parent, u)] = _root(parent, v)
            pairs = [
                (a, b)
                for a in range(n)
                for b in range(n)
                if a != b and (_root(parent, a) == _root(parent, b)) == bool(want)
            ]
            if not pairs:
                continue
            a, b = rng.choice(pairs)
            rows.append([t for e in edges for t in e] + [sep, a, b])
            labels.append(want)
        return torch.tensor(rows), torch.tensor(labels)


def models(task: GraphTask, d_model: int = 32, n_layers: int = 2, n_heads: int = 4, seed: int = 0):
    """``{"gin": ..., "softmax": ...}`` encoders with equal parameter counts (the softmax one wider)."""
    from paperzoo_tinylm.model import TinyLMEncoder

    common = {"vocab_size": task.vocab_size, "d_model": d_model, "n_layers": n_layers, "n_heads": n_heads}
    common["max_seq_len"] = 2 * task.n_edges + 3
    torch.manual_seed(seed)
    head_dim = d_model // n_heads
    gin = TinyLMEncoder(
        **common, attention="gin_attention", attention_params={"n_heads": n_heads, "head_dim": head_dim}
    )
    target = gin.num_parameters()
    base_ff = TinyLMEncoder(**common).config.ffn_dim
    per_ff = 3 * d_model * n_layers  # gated ffn: three d_model x d_ff matrices per block
    d_ff = base_ff + round((target - TinyLMEncoder(**common).num_parameters()) / per_ff)
    torch.manual_seed(seed)
    soft = TinyLMEncoder(**common, d_ff=d_ff)
    return {"gin": gin, "softmax": soft}


def evaluate(model, x: torch.Tensor, y: torch.Tensor, task: GraphTask) -> tuple[float, float]:
    """(loss, accuracy) of the yes/no prediction at the last position."""
    model.eval()
    with torch.no_grad():
        logits = answer_logits(model, x, task)
        loss = F.cross_entropy(logits, y).item()
        acc = (logits.argmax(-1) == y).float().mean().item()
    model.train()
    return loss, acc


def answer_logits(model, x: torch.Tensor, task: GraphTask) -> torch.Tensor:
    no, yes = task.n_nodes + NO_OFFSET, task.n_nodes + YES_OFFSET
    return model(x).logits[:, -1, [no, yes]]


def run(
    seed: int,
    n_train: int = 256,
    n_test: int = 2048,
    steps: int = 400,
    batch_size: int = 32,
    lr: float = 3e-3,
    task: GraphTask | None = None,
) -> dict[str, dict[str, float]]:
    """Train both models on the same data and batches; per model: train/test loss and accuracy, gaps."""
    task = task or GraphTask()
    x_train, y_train = task.sample(n_train, seed=1000 + seed)
    x_test, y_test = task.sample(n_test, seed=5000 + seed)
    out: dict[str, dict[str, float]] = {}
    for name, model in models(task, seed=seed).items():
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        g = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            idx = torch.randint(n_train, (batch_size,), generator=g)
            loss = F.cross_entropy(answer_logits(model, x_train[idx], task), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        tr_loss, tr_acc = evaluate(model, x_train, y_train, task)
        te_loss, te_acc = evaluate(model, x_test, y_test, task)
        out[name] = {
            "params": float(model.num_parameters()),
            "train_loss": tr_loss,
            "test_loss": te_loss,
            "train_acc": tr_acc,
            "test_acc": te_acc,
            "acc_gap": tr_acc - te_acc,
            "loss_gap": te_loss - tr_loss,
        }
    return out
