"""Perplexity of the decode phase under CoreInfer, beside the dense model's on the same tokens.

Each sequence is split into a prompt (its first ``prompt_len`` tokens) and a continuation. CoreInfer:
a dense prefill over the prompt fixes every layer's core neurons, then each continuation token is fed
one at a time on the KV cache through the sliced FFNs (teacher forcing). Dense: the same model with its
core sets cleared (every FFN dense). Both score the same targets: the continuation tokens.
"""

from __future__ import annotations

import math

import torch
from paperzoo.data import DataBundle, batches
from torch import nn

from paperzoo_coreinfer.ffn import CoreInferFFN, apply_coreinfer, clear_cores


def _nll(model: nn.Module, seq: torch.Tensor, prompt_len: int, sparse: bool) -> float:
    """Summed next-token NLL of ``seq[:, prompt_len:]`` (batch 1), decoding one token at a time."""
    clear_cores(model)
    out = model(seq[:, :prompt_len], use_cache=True)
    logits = [out.logits[:, -1]]
    if not sparse:
        clear_cores(model)
    for t in range(prompt_len, seq.shape[1] - 1):
        out = model(seq[:, t : t + 1], past_key_values=out.past_key_values, use_cache=True)
        logits.append(out.logits[:, -1])
    logp = torch.stack(logits, 1).double().log_softmax(-1)
    return float(-logp.gather(-1, seq[:, prompt_len:, None]).sum())


def decode_perplexities(model: nn.Module, sequences: torch.Tensor, prompt_len: int) -> dict[str, float]:
    """``ppl_dense``, ``ppl_coreinfer`` and ``core_fraction`` (mean share of FFN neurons kept) over
    ``sequences`` ``[N, T]`` of a model whose FFNs are :class:`CoreInferFFN`."""
    ffns = [m for m in model.modules() if isinstance(m, CoreInferFFN)]
    nll = {True: 0.0, False: 0.0}
    kept, n_tok = [], 0
    with torch.no_grad():
        for seq in sequences:
            seq = seq[None]
            for sparse in (False, True):
                nll[sparse] += _nll(model, seq, prompt_len, sparse)
            kept += [m.core.numel() / m.up_proj.out_features for m in ffns]
            n_tok += seq.shape[1] - prompt_len
    clear_cores(model)
    return {
        "ppl_dense": math.exp(nll[False] / n_tok),
        "ppl_coreinfer": math.exp(nll[True] / n_tok),
        "core_fraction": sum(kept) / max(len(kept), 1),
    }


class CoreInferPerplexity:
    """Evaluator: decode-phase perplexity with CoreInfer's fixed core neurons versus dense.

    :param alpha: token-wise share kept per prompt token (see :mod:`paperzoo_coreinfer.selection`).
    :param beta: sentence-wise frequency threshold (or ``null`` with ``core_fraction``).
    :param core_fraction: keep this share of the most frequent neurons instead of ``beta``.
    :param prompt_len: tokens of each sequence used as the prompt.
    :param n_sequences: how many sequences of the split to score (each decoded one token at a time).
    :param split: ``val`` or ``train``.

    A model whose FFNs are not yet :class:`CoreInferFFN` (plain tinylm gated or MLP FFNs) is wrapped in
    place, sharing its weights.
    """

    def __init__(
        self,
        alpha: float = 0.4,
        beta: float | None = 0.2,
        core_fraction: float | None = None,
        prompt_len: int = 32,
        n_sequences: int = 8,
        split: str = "val",
    ) -> None:
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if prompt_len < 2 or n_sequences < 1:
            raise ValueError("prompt_len >= 2 and n_sequences >= 1 are required")
        if (beta is None) == (core_fraction is None):
            raise ValueError("beta, core_fraction: give exactly one (the other null)")
        self.alpha, self.beta, self.core_fraction = alpha, beta, core_fraction
        self.prompt_len, self.n_sequences, self.split = prompt_len, n_sequences, split
        self.keys = ("ppl_dense", "ppl_coreinfer", "core_fraction")

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        if not any(isinstance(m, CoreInferFFN) for m in model.modules()):
            apply_coreinfer(model, self.alpha, self.beta, self.core_fraction)
        for m in model.modules():
            if isinstance(m, CoreInferFFN):
                m.alpha, m.beta, m.core_fraction = self.alpha, self.beta, self.core_fraction
        device = next(model.parameters()).device
        x, _ = next(iter(batches(getattr(data, self.split), self.n_sequences)))
        if x.shape[1] <= self.prompt_len:
            raise ValueError(f"prompt_len: got {self.prompt_len}; accepted: < sequence length {x.shape[1]}")
        was_training = model.training
        model.eval()
        try:
            return decode_perplexities(model, x.to(device), self.prompt_len)
        finally:
            model.train(was_training)
