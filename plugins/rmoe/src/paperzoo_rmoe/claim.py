"""The claim experiment: a tiny MoE decoder with RMoE's router against the same decoder with the linear
softmax router, trained alike on the standard library's source; both add the load-balance loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import encode

SIZES = {"d_model": 32, "n_layers": 4, "n_heads": 4, "vocab_size": 363, "max_seq_len": 64}
MOE = {"ffn": "moe", "n_experts": 8, "moe_top_k": 2, "d_ff": 32}
ROUTER = {"router": "recurrent_router_moe", "router_params": {"hidden_size": 16}}
# the linear-router model gets wider experts so both have (almost) the same parameters
BASELINE_D_FF = 33


def models() -> dict[str, TinyLMDecoder]:
    return {
        "linear": TinyLMDecoder(**SIZES, **{**MOE, "d_ff": BASELINE_D_FF}),
        "rmoe": TinyLMDecoder(**SIZES, **MOE, ffn_params=ROUTER),
    }


def _batches(text: bytes, seq: int, n: int, batch: int, seed: int) -> torch.Tensor:
    ids = torch.tensor(encode(text[:400_000]))
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(ids) - seq - 1, (n, batch), generator=g)
    return ids[starts[..., None] + torch.arange(seq + 1)]


def entropies(model: TinyLMDecoder) -> tuple[float, float]:
    """Mean over blocks of (the per-token entropy of the router probabilities, the paper's gate-score
    entropy; the entropy of the share of routed slots per expert, the load), in nats."""
    from paperzoo_tinylm.moe import routing_traces

    model(_VAL)
    gate, load = [], []
    for r in routing_traces(model):
        p = r["probs"].double()
        gate.append(float(-(p * p.clamp_min(1e-30).log()).sum(-1).mean()))
        share = (r["trace"] > 0).flatten(0, 1).double().mean(0)
        share = share / share.sum()
        load.append(float(-(share * share.clamp_min(1e-12).log()).sum()))
    return sum(gate) / len(gate), sum(load) / len(load)


_VAL = torch.zeros(1, 1, dtype=torch.long)


def run(seed: int, steps: int = 100, batch: int = 16, seq: int = 32, aux: float = 0.01) -> dict[str, dict]:
    """Train both models from ``seed``; validation loss (nats/byte) and selection entropy of each."""
    global _VAL
    train, val = stdlib_split(1_000_000, 0.1)
    data = _batches(train, seq, steps, batch, seed)
    vdata = _batches(val, seq, 4, 32, 1234)
    _VAL = vdata[0, :, :-1]
    out = {}
    for name in ("linear", "rmoe"):
        torch.manual_seed(seed)
        model = models()[name]
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0)
        for step in range(steps):
            lr = 3e-3 * min(1.0, (step + 1) / 15) * 0.5 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr
            x = data[step]
            res = model(x[:, :-1])
            loss = F.cross_entropy(res.logits.flatten(0, 1), x[:, 1:].flatten()) + aux * res.aux_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.eval()
        with torch.no_grad():
            vl = sum(
                F.cross_entropy(model(v[:, :-1]).logits.flatten(0, 1), v[:, 1:].flatten()).item()
                for v in vdata
            ) / len(vdata)
            gate, load = entropies(model)
            out[name] = {"val_loss": vl, "gate_entropy": gate, "load_entropy": load}
            out[name]["params"] = model.num_parameters()
    return out
