"""The one configuration every tinylm model is built from, and its checks.

Every field is a slot or a size; the slot names accepted here are frozen (see ``SLOTS``). A field that
names a registered component (``norm``, ``output_norm``, ``attention``, ``ffn``, ``activation``) also
accepts any installed paperzoo layer of that name, built as the README's "Slots" section says.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from paperzoo_tinylm.tokenizer import VOCAB_SIZE

PLACEMENTS = ("pre", "post", "peri", "sandwich")
POSITIONS = ("rope", "learned", "none")
ATTN_IMPLS = ("sdpa", "eager")
BUILTIN_NORMS = ("rms_norm", "layer_norm", "identity")
BUILTIN_ATTENTION = ("softmax",)
BUILTIN_FFN = ("gated", "mlp", "moe")
BUILTIN_ACTIVATIONS = ("silu", "gelu", "gelu_tanh", "relu", "relu2", "identity")

#: The slots of a block and what each accepts without any other plugin (frozen).
SLOTS: dict[str, tuple[str, ...]] = {
    "norm": BUILTIN_NORMS,
    "output_norm": BUILTIN_NORMS,
    "norm_placement": PLACEMENTS,
    "attention": BUILTIN_ATTENTION,
    "ffn": BUILTIN_FFN,
    "activation": BUILTIN_ACTIVATIONS,
    "position": POSITIONS,
}


@dataclass
class TinyLMConfig:
    """Sizes and slots of a tinylm model.

    :param vocab_size: output classes and embedding rows (the kit tokenizer's ``VOCAB_SIZE``).
    :param d_model: width of the residual stream.
    :param n_layers: number of blocks.
    :param n_heads: query heads.
    :param n_kv_heads: key/value heads (grouped-query attention; ``None``: ``n_heads``).
    :param head_dim: width of a head (``None``: ``d_model // n_heads``).
    :param d_ff: hidden width of the feed-forward sublayer (``None``: ``4 * d_model`` for ``mlp``,
        ``8/3 * d_model`` rounded up to a multiple of 8 for ``gated`` and ``moe``).
    :param max_seq_len: longest sequence (size of learned positions; RoPE has no limit).
    :param norm: the norm slot: ``rms_norm``, ``layer_norm``, ``identity`` or a registered layer.
    :param norm_eps: epsilon of the built-in norms.
    :param norm_params: extra params for a registered norm layer.
    :param output_norm: the sublayer-output norm of ``peri`` and ``sandwich`` (``None``: ``norm``).
    :param norm_placement: ``pre``, ``post``, ``peri``, ``sandwich``, or a list with one per block.
    :param final_norm: norm the last block's output (``None``: unless the last block is ``post``).
    :param embed_norm: norm the embedding output (the residual stream's input).
    :param attention: the attention slot: ``softmax`` or a registered attention kernel.
    :param attention_params: params for the attention kernel.
    :param attn_impl: ``sdpa`` (``scaled_dot_product_attention``) or ``eager`` (explicit softmax).
    :param ffn: ``gated`` (SwiGLU with ``silu``), ``mlp``, ``moe`` or a registered layer.
    :param ffn_params: extra params for a registered ffn layer.
    :param activation: ``silu``, ``gelu``, ``gelu_tanh``, ``relu``, ``relu2``, ``identity`` or a
        registered layer.
    :param n_experts: experts of the ``moe`` slot.
    :param moe_top_k: experts per token of the ``moe`` slot.
    :param moe_expert: the experts' kind: ``gated`` or ``mlp``.
    :param position: ``rope``, ``learned`` or ``none``.
    :param rope_theta: RoPE base.
    :param rope_inv_freq: overrides RoPE's inverse frequencies: a tensor or list of ``head_dim / 2``
        values, or a function ``(head_dim, theta) -> tensor``.
    :param bias: biases in every linear layer and norm (GPT-2 style).
    :param tie_embeddings: the output head shares the token embedding.
    :param dropout: dropout on the embedding and each sublayer's output (training only).
    :param init_std: standard deviation of the normal initialisation of weights.
    """

    vocab_size: int = VOCAB_SIZE
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int | None = None
    head_dim: int | None = None
    d_ff: int | None = None
    max_seq_len: int = 1024
    norm: str = "rms_norm"
    norm_eps: float = 1e-6
    norm_params: dict[str, Any] = field(default_factory=dict)
    output_norm: str | None = None
    norm_placement: str | list[str] = "pre"
    final_norm: bool | None = None
    embed_norm: bool = False
    attention: str = "softmax"
    attention_params: dict[str, Any] = field(default_factory=dict)
    attn_impl: str = "sdpa"
    ffn: str = "gated"
    ffn_params: dict[str, Any] = field(default_factory=dict)
    activation: str = "silu"
    n_experts: int = 4
    moe_top_k: int = 2
    moe_expert: str = "gated"
    position: str = "rope"
    rope_theta: float = 10000.0
    rope_inv_freq: Any = None
    bias: bool = False
    tie_embeddings: bool = False
    dropout: float = 0.0
    init_std: float = 0.02

    def __post_init__(self) -> None:
        self.check()

    # -- derived sizes ---------------------------------------------------------------------------
    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def dim_head(self) -> int:
        return self.d_model // self.n_heads if self.head_dim is None else self.head_dim

    @property
    def ffn_dim(self) -> int:
        if self.d_ff is not None:
            return self.d_ff
        if self.ffn == "mlp":
            return 4 * self.d_model
        return -(-(8 * self.d_model // 3) // 8) * 8

    def placements(self) -> list[str]:
        """The norm placement of each block."""
        if isinstance(self.norm_placement, str):
            return [self.norm_placement] * self.n_layers
        return list(self.norm_placement)

    @property
    def has_final_norm(self) -> bool:
        if self.final_norm is not None:
            return self.final_norm
        return self.n_layers == 0 or self.placements()[-1] != "post"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (a tensor or function ``rope_inv_freq`` is kept as is)."""
        return asdict(self)

    # -- checks ----------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ``ValueError`` naming the field, what it got and what is accepted."""
        for name in ("vocab_size", "d_model", "n_heads", "max_seq_len"):
            if getattr(self, name) < 1:
                _bad(name, getattr(self, name), "at least 1")
        if self.n_layers < 0:
            _bad("n_layers", self.n_layers, "0 or more")
        if self.head_dim is None and self.d_model % self.n_heads:
            _bad("n_heads", self.n_heads, f"a divisor of d_model={self.d_model} (or set head_dim)")
        if self.dim_head % 2 and self.position == "rope":
            _bad("head_dim", self.dim_head, "an even head width for rope")
        if self.n_kv_heads is not None and (self.n_kv_heads < 1 or self.n_heads % self.n_kv_heads):
            _bad("n_kv_heads", self.n_kv_heads, f"a divisor of n_heads={self.n_heads}")
        placements = self.placements()
        if len(placements) != self.n_layers:
            _bad("norm_placement", self.norm_placement, f"one of {PLACEMENTS} or a list of {self.n_layers}")
        for p in placements:
            if p not in PLACEMENTS:
                _bad("norm_placement", p, f"one of {PLACEMENTS}")
        for name, accepted in (("position", POSITIONS), ("attn_impl", ATTN_IMPLS)):
            if getattr(self, name) not in accepted:
                _bad(name, getattr(self, name), f"one of {accepted}")
        if self.moe_expert not in ("gated", "mlp"):
            _bad("moe_expert", self.moe_expert, "'gated' or 'mlp'")
        if self.ffn == "moe" and not 1 <= self.moe_top_k <= self.n_experts:
            _bad("moe_top_k", self.moe_top_k, f"between 1 and n_experts={self.n_experts}")
        if not 0.0 <= self.dropout < 1.0:
            _bad("dropout", self.dropout, "a probability in [0, 1)")


def _bad(name: str, value: Any, accepted: str) -> None:
    raise ValueError(f"{name}: got {value!r}; accepted: {accepted}")


def with_config_signature(cls: type | None = None, *, exclude: Iterable[str] = ()) -> Any:
    """Give a model class taking ``(config=None, **fields)`` the keyword signature and type hints of
    :class:`TinyLMConfig`, so a paperzoo config validates every field before building.

    The class's own parameters (all but ``self``, ``config`` and ``**kwargs``) lead, with their type hints;
    every config field that is neither one of them nor in ``exclude`` follows as a keyword, and the
    docstring gains the docs of those fields. Used bare (``@with_config_signature``) or with ``exclude``
    (``@with_config_signature(exclude=("norm_placement",))``)."""
    if cls is None:
        return lambda c: with_config_signature(c, exclude=exclude)
    own = [
        p
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "config"
    ]
    own_hints = typing.get_type_hints(cls.__init__) if own else {}
    own = [p.replace(annotation=own_hints.get(p.name, p.annotation)) for p in own]
    hints = typing.get_type_hints(TinyLMConfig)
    taken = {p.name for p in own} | set(exclude)
    params = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=f.default_factory() if callable(f.default_factory) else f.default,
            annotation=hints[f.name],
        )
        for f in fields(TinyLMConfig)
        if f.name not in taken
    ]
    cls.__signature__ = inspect.Signature(own + params)
    cls.__doc__ = (cls.__doc__ or "") + "\n\n    " + _field_docs({p.name for p in params})
    cls.__init__.__annotations__ = {
        **{p.name: p.annotation for p in own if p.name in own_hints},
        **{p.name: p.annotation for p in params},
    }
    return cls


def _field_docs(names: set[str]) -> str:
    """The ``:param`` entries of :class:`TinyLMConfig`'s docstring for the fields ``names``, in order."""
    doc = TinyLMConfig.__doc__ or ""
    entries = re.split(r"\n\s*(?=:param )", doc[doc.index(":param") :].strip())
    return "\n    ".join(e for e in entries if e[len(":param ") :].split(":")[0] in names)


def make_config(config: TinyLMConfig | None, params: dict[str, Any]) -> TinyLMConfig:
    """``config`` with ``params`` applied (a new object), or a config of ``params``."""
    if config is None:
        return TinyLMConfig(**params)
    if not params:
        return config
    values = {f.name: getattr(config, f.name) for f in fields(TinyLMConfig)}
    values.update(params)
    return TinyLMConfig(**values)
