"""OpenELM's layer-wise scaling: the per-layer head counts and FFN widths (pure Python, no torch).

Layer ``i`` of ``N`` gets the multipliers ``alpha_i`` (attention) and ``beta_i`` (FFN), interpolated
linearly from ``(alpha_min, beta_min)`` at the first layer to ``(alpha_max, beta_max)`` at the last and
rounded to two decimals; then, as the official code (corenet's ``GPTConfig``) computes them:

* query width ``make_divisible(alpha_i * d_model, head_dim * num_gqa_groups)``, so
  ``n_heads_i = width / head_dim`` is a multiple of ``num_gqa_groups``;
* key/value heads ``n_kv_heads_i = n_heads_i // num_gqa_groups`` (corenet's ``num_gqa_groups`` is the number
  of query heads that share one key/value head);
* FFN hidden width ``make_divisible(beta_i * d_model, ffn_dim_divisor)`` (``ffn_dim_divisor`` 256 in
  corenet); the gated FFN has ``3 * d_model * width`` weights.

A single number instead of a pair gives every layer the same multiplier (corenet's uniform setting).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

#: corenet's OpenELM defaults (``gpt_configs["OpenELM-*"]``).
QKV_MULTIPLIERS = (0.5, 1.0)
FFN_MULTIPLIERS = (0.5, 4.0)
NUM_GQA_GROUPS = 4
FFN_DIM_DIVISOR = 256


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """The multiple of ``divisor`` nearest ``v`` (halves up), at least ``min_value`` (default ``divisor``),
    bumped by one ``divisor`` when rounding down lost more than 10% (the MobileNet rule corenet uses)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def interpolate(
    multipliers: float | tuple[float, float] | list[float], n_layers: int, name: str = "multipliers"
) -> list[float]:
    """Per-layer multipliers: ``start + i * (stop - start) / (n - 1)`` (the last exactly ``stop``), each
    rounded to two decimals; one number: that number for every layer (unrounded, as corenet). ``name``
    names the setting in errors."""
    accepted = "a positive number or a pair (min, max) of positive numbers"
    if isinstance(multipliers, Real) and not isinstance(multipliers, bool):
        if multipliers <= 0:
            raise ValueError(f"{name}: got {multipliers!r}; accepted: {accepted}")
        return [float(multipliers)] * n_layers
    if (
        not isinstance(multipliers, (tuple, list))
        or len(multipliers) != 2
        or not all(isinstance(m, Real) and not isinstance(m, bool) and m > 0 for m in multipliers)
    ):
        raise ValueError(f"{name}: got {multipliers!r}; accepted: {accepted}")
    start, stop = (float(m) for m in multipliers)
    if n_layers == 1:
        return [round(start, 2)]
    step = (stop - start) / (n_layers - 1)
    values = [i * step + start for i in range(n_layers)]
    values[-1] = stop
    return [round(v, 2) for v in values]


@dataclass(frozen=True)
class LayerSizes:
    """The sizes of every layer: ``n_heads``, ``n_kv_heads`` and ``ffn_dims`` (one entry per layer), and
    the rounded multipliers they came from."""

    n_heads: list[int]
    n_kv_heads: list[int]
    ffn_dims: list[int]
    qkv_multipliers: list[float]
    ffn_multipliers: list[float]


def layerwise_sizes(
    n_layers: int,
    d_model: int,
    head_dim: int,
    qkv_multipliers: float | tuple[float, float] = QKV_MULTIPLIERS,
    ffn_multipliers: float | tuple[float, float] = FFN_MULTIPLIERS,
    num_gqa_groups: int = NUM_GQA_GROUPS,
    ffn_dim_divisor: int = FFN_DIM_DIVISOR,
) -> LayerSizes:
    """The per-layer sizes of an OpenELM decoder (corenet's formulas, see the module docstring)."""
    for name, value in (("n_layers", n_layers), ("d_model", d_model), ("head_dim", head_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: got {value!r}; accepted: a positive integer")
    for name, value in (("num_gqa_groups", num_gqa_groups), ("ffn_dim_divisor", ffn_dim_divisor)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: got {value!r}; accepted: a positive integer")
    alphas = interpolate(qkv_multipliers, n_layers, "qkv_multipliers")
    betas = interpolate(ffn_multipliers, n_layers, "ffn_multipliers")
    q_dims = [make_divisible(d_model * a, head_dim * num_gqa_groups) for a in alphas]
    n_heads = [q // head_dim for q in q_dims]
    return LayerSizes(
        n_heads=n_heads,
        n_kv_heads=[h // num_gqa_groups for h in n_heads],
        ffn_dims=[make_divisible(b * d_model, ffn_dim_divisor) for b in betas],
        qkv_multipliers=alphas,
        ffn_multipliers=betas,
    )


def layerwise_num_parameters(
    sizes: LayerSizes,
    d_model: int,
    head_dim: int,
    vocab_size: int,
    normalize_qk: bool = True,
    tie_embeddings: bool = True,
) -> int:
    """Closed-form parameter count of the decoder: embedding (and an untied head), per layer
    ``d (h + 2 h_kv) Dh`` (q, k, v) ``+ h Dh d`` (out) ``+ 3 d f`` (gated FFN) ``+ 2 d`` (norms) ``+ 2 Dh``
    (q/k norms), and the final norm."""
    total = vocab_size * d_model * (1 if tie_embeddings else 2) + d_model
    for h, kv, f in zip(sizes.n_heads, sizes.n_kv_heads, sizes.ffn_dims):
        total += d_model * (h + 2 * kv) * head_dim + h * head_dim * d_model + 3 * d_model * f + 2 * d_model
        total += 2 * head_dim if normalize_qk else 0
    return total
