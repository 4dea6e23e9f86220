"""Q-VLM's post-training quantisation search (Wang et al., NeurIPS 2024), model-agnostic.

* Entropy proxy (the official ``QuantAct.cal_entropy``): the absolute quantised activation is
  L2-normalised along the token axis (dim 1 of ``[B, T, C]``) and ``H = -sum_t a log(a + 1e-7)`` is
  averaged over batch and channels. A 2-D input ``[N, C]`` is treated as one sequence of ``N`` tokens.
* Block partition: layers in execution order; layer ``i > 0`` starts a new block when the entropy of
  layer ``i - 1``'s input is at least the threshold (default: the mean entropy over all layers, the
  official running mean), or when the current block already holds ``max_block`` layers (the official
  code forces a new search every 3 layers).
* Joint search inside a block: each layer's weight clipping ratio and activation clipping ratio (the
  official range search ``1 - 0.1 k``) are searched by coordinate descent over the block's layers,
  minimising the error of the block's *last* layer output against the float model, with the earlier
  blocks already quantised and the later ones in float. Starting from round-to-nearest (both ratios 1)
  and accepting strict improvements only, the result is never worse than round-to-nearest on that
  objective. ``max_block=1`` is the layer-wise search the paper compares against.

Quantisers: weights asymmetric per output channel (or per group) on a range clipped by the ratio;
activations asymmetric per token (the compress kit's ``fake_quantize_activations``) with the clip ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from paperzoo_compress.act import fake_quantize_activations
from paperzoo_compress.quant import fake_quantize
from torch import nn

W_GRID = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
A_GRID = (1.0, 0.9, 0.8, 0.7)


def activation_entropy(x: torch.Tensor) -> float:
    """The official entropy proxy of an activation (see the module docstring)."""
    a = x.detach().abs().double()
    if a.dim() == 2:
        a = a.unsqueeze(0)
    a = F.normalize(a, dim=1)
    return float(-(a * torch.log(a + 1e-7)).sum(1).mean())


def partition_blocks(
    entropies: list[float], threshold: float | None = None, max_block: int = 3
) -> list[list[int]]:
    """Indices of consecutive layers grouped into blocks (see the module docstring)."""
    if not entropies:
        return []
    t = sum(entropies) / len(entropies) if threshold is None else threshold
    blocks = [[0]]
    for i in range(1, len(entropies)):
        if entropies[i - 1] >= t or len(blocks[-1]) >= max_block:
            blocks.append([i])
        else:
            blocks[-1].append(i)
    return blocks


@dataclass
class QVLMConfig:
    """``bits``/``a_bits``: weight/activation widths; ``group_size``: weight groups (-1: per channel);
    ``threshold``: entropy threshold (None: the mean); ``max_block``: layers per block at most;
    ``sweeps``: coordinate-descent passes per block; ``w_grid``/``a_grid``: candidate clipping ratios."""

    bits: int = 4
    a_bits: int = 4
    group_size: int = -1
    threshold: float | None = None
    max_block: int = 3
    sweeps: int = 2
    w_grid: tuple[float, ...] = W_GRID
    a_grid: tuple[float, ...] = A_GRID


@dataclass
class QVLMResult:
    """Layer names in execution order, their entropies, the blocks, the chosen ``(w_ratio, a_ratio)`` and
    each block's objective for round-to-nearest and after the search."""

    names: list[str]
    entropies: list[float]
    blocks: list[list[int]]
    ratios: dict[str, tuple[float, float]] = field(default_factory=dict)
    rtn_losses: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


class _Stop(Exception):
    pass


class _State:
    """Float weights of the searched layers and the activation pre-hooks that quantise their inputs."""

    def __init__(self, layers: dict[str, nn.Linear], cfg: QVLMConfig) -> None:
        self.layers, self.cfg = layers, cfg
        self.float_w = {n: m.weight.detach().clone() for n, m in layers.items()}
        self.a_ratio: dict[str, float | None] = {n: None for n in layers}  # None: float input
        self.handles = [m.register_forward_pre_hook(self._hook(n)) for n, m in layers.items()]

    def _hook(self, name: str) -> Callable:
        def hook(_module: nn.Module, args: tuple) -> tuple | None:
            r = self.a_ratio[name]
            if r is None:
                return None
            return (fake_quantize_activations(args[0], self.cfg.a_bits, "token", clip_ratio=r), *args[1:])

        return hook

    @torch.no_grad()
    def set(self, name: str, ratios: tuple[float, float] | None) -> None:
        w = self.float_w[name]
        if ratios is None:
            self.layers[name].weight.copy_(w)
            self.a_ratio[name] = None
            return
        self.layers[name].weight.copy_(
            fake_quantize(w, self.cfg.bits, self.cfg.group_size, clip_ratio=ratios[0])
        )
        self.a_ratio[name] = ratios[1]


def _execution_order(layers: dict[str, nn.Linear], forward: Callable[[], object]) -> tuple[list[str], dict]:
    inputs: dict[str, torch.Tensor] = {}
    handles = []
    for n, m in layers.items():

        def hook(_m: nn.Module, args: tuple, n: str = n) -> None:
            inputs.setdefault(n, args[0].detach())

        handles.append(m.register_forward_pre_hook(hook))
    with torch.no_grad():
        forward()
    for h in handles:
        h.remove()
    missing = [n for n in layers if n not in inputs]
    if missing:
        raise ValueError(f"layers never called by the forward pass: {missing}")
    return list(inputs), inputs


def _output_at(module: nn.Module, forward: Callable[[], object]) -> torch.Tensor:
    """``module``'s output on the calibration forward (the forward stops there)."""
    box: list[torch.Tensor] = []

    def hook(_m: nn.Module, _a: tuple, out: torch.Tensor) -> None:
        box.append(out.detach())
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            forward()
    except _Stop:
        pass
    finally:
        handle.remove()
    return box[0]


@torch.no_grad()
def qvlm_quantize_(
    model: nn.Module, layers: dict[str, nn.Linear], forward: Callable[[], object], cfg: QVLMConfig
) -> QVLMResult:
    """Quantise ``layers`` (Linears of ``model``) in place with Q-VLM's search; ``forward()`` runs the model
    on the calibration batch. The weights end on the grid; the returned hooks quantising the inputs stay
    attached (``result`` lists the ratios; :func:`attach_act_quant` re-attaches them to a fresh model)."""
    names, inputs = _execution_order(layers, forward)
    ent = [activation_entropy(fake_quantize_activations(inputs[n], cfg.a_bits, "token")) for n in names]
    blocks = partition_blocks(ent, cfg.threshold, cfg.max_block)
    result = QVLMResult(names, ent, blocks)
    state = _State(layers, cfg)
    for block in blocks:
        last = layers[names[block[-1]]]
        for n in names:  # the reference: float from this block on (earlier blocks stay quantised)
            if n not in result.ratios:
                state.set(n, None)
        target = _output_at(last, forward)
        chosen = {names[i]: (1.0, 1.0) for i in block}
        for n, r in chosen.items():
            state.set(n, r)

        def loss(last: nn.Module = last, target: torch.Tensor = target) -> float:
            return float((_output_at(last, forward) - target).pow(2).mean())

        best = loss()
        result.rtn_losses.append(best)
        cands = [(w, a) for w in cfg.w_grid for a in cfg.a_grid]
        for _ in range(cfg.sweeps):
            for i in block:
                n = names[i]
                for c in cands:
                    if c == chosen[n]:
                        continue
                    state.set(n, c)
                    value = loss()
                    if value < best:
                        best, chosen[n] = value, c
                state.set(n, chosen[n])
        result.losses.append(best)
        result.ratios.update(chosen)
    return result


def attach_act_quant(
    layers: dict[str, nn.Linear], ratios: dict[str, tuple[float, float]], a_bits: int
) -> list:
    """Per-token ``a_bits`` quantisation of each layer's input with its searched clip ratio; the handles."""
    handles = []
    for n, m in layers.items():
        r = ratios[n][1]

        def hook(_m: nn.Module, args: tuple, r: float = r) -> tuple:
            return (fake_quantize_activations(args[0], a_bits, "token", clip_ratio=r), *args[1:])

        handles.append(m.register_forward_pre_hook(hook))
    return handles
