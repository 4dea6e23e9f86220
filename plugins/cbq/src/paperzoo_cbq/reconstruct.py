"""Cross-block reconstruction (CBQ, section 3.2) on a tinylm decoder, and the whole pipeline
:func:`cbq_quantize_`.

The ``L`` blocks are covered by a sliding window of ``window`` consecutive blocks moving by
``window - overlap`` (the last window ends at block ``L``). For each window ``[a, b)``:

* its input ``x_q`` is the output of the already quantised blocks ``< a`` on the calibration texts (the
  embedding stays in full precision);
* its targets are the float model's output of block ``b - 1`` on the same texts (``y``), and, for the
  homologous term, the float window applied to the quantised input (``y_h = T_fp(x_q)``);
* the LoRA-Rounding matrices of every Linear of the window are trained with Adam on
  ``||T_q(x_q) - y||^2 + homologous ||T_q(x_q) - y_h||^2 + kl_weight KL(softmax y || softmax T_q(x_q))
  + reg_weight mean 1 - |2h - 1|^beta`` (mean squared errors; the softmax over the hidden features;
  ``beta`` annealed from ``beta_start`` to ``beta_end`` after the first ``warmup`` fraction of the
  steps, without the regulariser before, as AdaRound);
* the blocks that leave the window (``[a, next start)``; all of them for the last window) are hardened
  (offsets rounded to 0/1) and ``x_q`` passes through them. Blocks in the overlap keep training in the
  next window from where they stopped.

``window = 1, overlap = 0`` is block-wise reconstruction (one block at a time).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from paperzoo_compress.calib import block_context, block_inputs, check_supported
from paperzoo_compress.linear import set_module
from torch import nn

from paperzoo_cbq.cfp import CFPReport, cfp_
from paperzoo_cbq.rounding import LoRARoundingLinear


@dataclass
class CBQConfig:
    """Hyperparameters of :func:`cbq_quantize_` (see the module docstring)."""

    bits: int = 4
    group_size: int = -1
    window: int = 2
    overlap: int = 1
    steps: int = 100
    lr: float = 1e-3
    rank: int = 4
    batch_size: int = 4
    reg_weight: float = 1e-2
    beta_start: float = 20.0
    beta_end: float = 2.0
    warmup: float = 0.2
    homologous: float = 0.0
    kl_weight: float = 0.0
    cfp: bool = True
    cfp_weights: bool = True
    cfp_alpha: float = 0.5
    seed: int = 0


@dataclass
class CBQResult:
    """Per window ``(start, end, final loss)``; what CFP changed (``None`` without CFP)."""

    windows: list[tuple[int, int, float]] = field(default_factory=list)
    cfp: CFPReport | None = None


def window_starts(n_blocks: int, window: int, overlap: int) -> list[int]:
    """Start of every window: ``0, stride, 2 stride, ...`` (``stride = window - overlap``), plus
    ``n_blocks - window`` when the last would stop short of the end."""
    if not 1 <= window <= n_blocks or not 0 <= overlap < window:
        raise ValueError(
            f"window {window}, overlap {overlap}; accepted: 1 <= window <= {n_blocks}, 0 <= overlap < window"
        )
    starts = list(range(0, n_blocks - window + 1, window - overlap))
    if starts[-1] + window < n_blocks:
        starts.append(n_blocks - window)
    return starts


def block_seed(seed: int, block: int) -> int:
    """The seed of block ``block``'s LoRA initialisation (independent of the window layout)."""
    return seed * 1_000_003 + block


def window_seed(seed: int, start: int) -> int:
    """The seed of the minibatch order of the window starting at ``start``."""
    return seed * 1_000_003 + 10_007 * (start + 1)


def wrap_block_(block: nn.Module, cfg: CBQConfig, seed: int) -> dict[str, LoRARoundingLinear]:
    """In place: every ``nn.Linear`` of ``block`` replaced by a :class:`LoRARoundingLinear` (initialised
    from ``seed``, in module order); returns them by name relative to the block."""
    g = torch.Generator().manual_seed(seed)
    linears = [(n, m) for n, m in block.named_modules() if isinstance(m, nn.Linear)]
    out = {}
    for name, linear in linears:
        rank = min(cfg.rank, linear.in_features, linear.out_features)
        out[name] = LoRARoundingLinear(linear, cfg.bits, cfg.group_size, rank, generator=g)
        set_module(block, name, out[name])
    return out


@torch.no_grad()
def unwrap_block_(block: nn.Module) -> None:
    """In place: every :class:`LoRARoundingLinear` of ``block`` back to an ``nn.Linear`` holding its
    hardened quantised weight."""
    for name, m in [(n, m) for n, m in block.named_modules() if isinstance(m, LoRARoundingLinear)]:
        linear = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        linear = linear.to(device=m.weight.device, dtype=m.weight.dtype)
        linear.weight.copy_(m.quantized_weight(hard=True))
        if m.bias is not None:
            linear.bias.copy_(m.bias)
        set_module(block, name, linear)


def set_hard_(block: nn.Module, hard: bool = True) -> None:
    """Switch every :class:`LoRARoundingLinear` of ``block`` to its hardened (or soft) weight."""
    for m in block.modules():
        if isinstance(m, LoRARoundingLinear):
            m.soft = not hard


def run_blocks(blocks, x: torch.Tensor, mask, rotary) -> torch.Tensor:
    for block in blocks:
        x = block(x, mask, rotary)
    return x


def _beta(cfg: CBQConfig, step: int) -> float | None:
    start = int(cfg.warmup * cfg.steps)
    if step < start:
        return None
    frac = (step - start) / max(1, cfg.steps - start)
    return cfg.beta_end + (cfg.beta_start - cfg.beta_end) * (1 - frac)


def reconstruct_window(
    blocks: list[nn.Module],
    x_q: torch.Tensor,
    target: torch.Tensor,
    homologous_target: torch.Tensor | None,
    mask,
    rotary,
    cfg: CBQConfig,
    seed: int,
) -> float:
    """Train the LoRA-Rounding matrices of ``blocks`` (already wrapped) so that they map ``x_q`` to
    ``target`` (see the module docstring); returns the last step's reconstruction loss."""
    mods = [m for b in blocks for m in b.modules() if isinstance(m, LoRARoundingLinear)]
    for m in mods:
        m.soft = True
    params = [p for m in mods for p in (m.lora_a, m.lora_b)]
    n_weights = sum(m.weight.numel() for m in mods)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    g = torch.Generator().manual_seed(seed)
    n = x_q.shape[0]
    loss_value = float("nan")
    for step in range(cfg.steps):
        idx = torch.randperm(n, generator=g)[: cfg.batch_size]
        out = run_blocks(blocks, x_q[idx], mask, rotary)
        loss = nn.functional.mse_loss(out, target[idx])
        if homologous_target is not None and cfg.homologous:
            loss = loss + cfg.homologous * nn.functional.mse_loss(out, homologous_target[idx])
        if cfg.kl_weight:
            kl = nn.functional.kl_div(
                out.log_softmax(-1), target[idx].log_softmax(-1), log_target=True, reduction="batchmean"
            )
            loss = loss + cfg.kl_weight * kl
        loss_value = float(loss.detach())
        beta = _beta(cfg, step)
        if beta is not None and cfg.reg_weight:
            loss = loss + cfg.reg_weight * sum(m.regularizer(beta) for m in mods) / n_weights
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return loss_value


def cbq_quantize_(model: nn.Module, calib_ids: torch.Tensor, cfg: CBQConfig | None = None) -> CBQResult:
    """In place: CBQ weight-only quantisation of every block Linear of a tinylm decoder from calibration
    texts ``calib_ids`` ``[N, T]``: CFP, then sliding-window reconstruction with LoRA-Rounding; the
    block Linears end as ``nn.Linear`` holding weights on the quantisation grid."""
    cfg = cfg or CBQConfig()
    check_supported(model)
    was_training = model.training
    model.eval()
    float_model = copy.deepcopy(model)
    result = CBQResult()
    if cfg.cfp:
        result.cfp = cfp_(model, calib_ids, alpha=cfg.cfp_alpha, weights=cfg.cfp_weights)
    points = block_inputs(float_model, calib_ids)
    dtype = points[0]["resid_pre"].dtype
    mask, rotary = block_context(model, calib_ids.shape[1], dtype)
    blocks = list(model.blocks)
    for i, block in enumerate(blocks):
        for p in block.parameters():
            p.requires_grad_(False)
        wrap_block_(block, cfg, block_seed(cfg.seed, i))
    starts = window_starts(len(blocks), cfg.window, cfg.overlap)
    x_q = points[0]["resid_pre"]
    for w, a in enumerate(starts):
        b = a + cfg.window
        nxt = starts[w + 1] if w + 1 < len(starts) else len(blocks)
        target = points[b - 1]["resid_post"]
        homologous = None
        if cfg.homologous:
            with torch.no_grad():
                homologous = run_blocks(float_model.blocks[a:b], x_q, mask, rotary)
        loss = reconstruct_window(
            blocks[a:b], x_q, target, homologous, mask, rotary, cfg, window_seed(cfg.seed, a)
        )
        result.windows.append((a, b, loss))
        with torch.no_grad():
            for block in blocks[a:nxt]:
                set_hard_(block)
                x_q = block(x_q, mask, rotary)
    for block in blocks:
        unwrap_block_(block)
        for p in block.parameters():
            p.requires_grad_(True)
    model.train(was_training)
    return result
