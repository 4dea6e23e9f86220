"""The claim experiment: a tiny MoE decoder trained briefly on the standard library's source, its
routing traces on training text (to fit the placements) and held-out text (to score them), and the ILP
placement against round-robin."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import encode

from paperzoo_moetuner.placement import placement_cost, round_robin, solve_sequential
from paperzoo_moetuner.traces import RoutingTrace, collect_traces, trace_stats

SIZES = {"d_model": 32, "n_layers": 4, "n_heads": 4, "vocab_size": 363, "max_seq_len": 64}
MOE = {"ffn": "moe", "n_experts": 8, "moe_top_k": 2, "d_ff": 32}
N_DEVICES = 4


def _windows(text: bytes, seq: int, n: int, batch: int, seed: int) -> torch.Tensor:
    ids = torch.tensor(encode(text[:400_000]))
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(ids) - seq - 1, (n, batch), generator=g)
    return ids[starts[..., None] + torch.arange(seq + 1)]


def train(seed: int, steps: int = 150, batch: int = 16, seq: int = 32, aux: float = 0.01) -> TinyLMDecoder:
    """A tiny MoE decoder trained ``steps`` AdamW steps on standard-library text (load-balance loss
    weight ``aux``)."""
    train_text, _ = stdlib_split(1_000_000, 0.1)
    data = _windows(train_text, seq, steps, batch, seed)
    torch.manual_seed(seed)
    model = TinyLMDecoder(**SIZES, **MOE)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 3e-3 * min(1.0, (step + 1) / 15) * 0.5 * (1 + math.cos(math.pi * step / steps))
        x = data[step]
        out = model(x[:, :-1])
        loss = F.cross_entropy(out.logits.flatten(0, 1), x[:, 1:].flatten()) + aux * out.aux_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def traces(
    model: TinyLMDecoder, seed: int, n: int = 8, batch: int = 32, seq: int = 32
) -> tuple[RoutingTrace, RoutingTrace]:
    """(fit, held-out) routing traces: training text, then the validation text."""
    train_text, val_text = stdlib_split(1_000_000, 0.1)
    fit = collect_traces(model, _windows(train_text, seq, n, batch, seed + 100)[..., :-1])
    held = collect_traces(model, _windows(val_text, seq, n, batch, 1234)[..., :-1])
    return fit, held


def run(seed: int) -> dict[str, float]:
    """Train, trace, place (the sequential ILP, weights 1 and 1, on the fit trace); the held-out max load
    and transfers of the ILP and round-robin placements, and the mutual information of consecutive
    blocks' experts (trained and untrained)."""
    torch.manual_seed(seed)
    untrained = TinyLMDecoder(**SIZES, **MOE).eval()
    model = train(seed)
    fit, held = traces(model, seed)
    ilp = solve_sequential(fit.loads, fit.transitions, N_DEVICES)
    rr = round_robin(fit.n_layers, fit.n_experts, N_DEVICES)
    out: dict[str, float] = {}
    for name, p in (("ilp", ilp.placement), ("round_robin", rr)):
        c = placement_cost(p, held.loads, held.transitions, N_DEVICES)
        out[f"{name}_max_load"], out[f"{name}_transfers"] = c.max_load, c.transfers
        out[f"{name}_transfer_share"] = c.transfer_share
    out["mi_bits"] = trace_stats(held)["mutual_information_bits"]
    out["mi_bits_untrained"] = trace_stats(traces(untrained, seed)[1])["mutual_information_bits"]
    return out
