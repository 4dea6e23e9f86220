"""Direct logit attribution of a tinylm decoder, read through its hook names.

The residual stream at the head is ``embed + sum_i attn_i + sum_i mlp_i`` (pre-norm blocks, no dropout at
evaluation), each term captured at ``embed``, ``blocks.<i>.attn.out`` and ``blocks.<i>.mlp.out``. The
*readout* ``r`` maps the residual stream to the logits (the final norm, if any, then the head). A
component ``c``'s direct logit attribution is the readout's linearisation at the actual residual stream
``x`` applied to it, ``DLA_c = J_r(x) c`` (a Jacobian-vector product). When every norm is removed the
readout is affine, so ``r(x) = r(0) + sum_c DLA_c`` holds exactly; with a LayerNorm it does not (LayerNorm
is scale invariant, so ``J_r(x) x = 0``). :func:`dla` returns the terms and the sum's error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.hooks import capture, hook_names
from torch import nn


def _n_blocks(model: nn.Module) -> int:
    names = hook_names(model)
    n = sum(1 for x in names if x.startswith("blocks.") and x.endswith(".resid_post"))
    if "embed" not in names or "final" not in names or n == 0:
        raise ValueError(
            f"DLA needs a tinylm decoder (hook names embed, blocks.<i>.*, final); got {type(model).__name__}"
        )
    return n


def component_names(n_layers: int) -> list[str]:
    """``embed``, then ``attn.<i>`` and ``mlp.<i>`` per block, in forward order."""
    return ["embed"] + [f"{k}.{i}" for i in range(n_layers) for k in ("attn", "mlp")]


def readout(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The logits of residual stream ``x``: the model's final norm (if any), then its head."""
    norm = getattr(model, "final_norm", None)
    return model.lm_head(norm(x) if norm is not None else x)


@torch.no_grad()
def dla(model: nn.Module, ids: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """``(terms, bias, logits)``: ``terms[name]`` ``[B, T, V]`` per :func:`component_names`,
    ``bias = r(0)`` and the model's logits. The residual stream is rebuilt from the captured components
    and checked against ``blocks.<last>.resid_post``."""
    n = _n_blocks(model)
    points = ["embed", f"blocks.{n - 1}.resid_post"]
    points += [f"blocks.{i}.{k}.out" for i in range(n) for k in ("attn", "mlp")]
    was = model.training
    model.eval()
    try:
        with capture(model, points) as got:
            logits = model(ids).logits
        parts = [got["embed"]] + [got[p] for p in points[2:]]
        resid = got[points[1]]
        with torch.enable_grad():
            terms = [torch.func.jvp(lambda z: readout(model, z), (resid,), (c,))[1].detach() for c in parts]
        bias = readout(model, torch.zeros_like(resid[..., :1, :]))
    finally:
        model.train(was)
    return dict(zip(component_names(n), terms)), bias, logits


class LNRemovalDLA:
    """``ln_removal_dla``: direct logit attribution over the first ``n_batches`` batches of a split.

    Keys: ``sum_error`` (the largest ``|logits - r(0) - sum_c DLA_c|`` relative to the largest logit
    magnitude: float rounding once every norm is removed), ``loss`` (next-token cross-entropy), and the
    *push* (a component's mean DLA to the correct next token's logit minus its mean DLA over the
    vocabulary) of ``embed`` and summed over every block's ``attn`` and ``mlp``. :meth:`per_component`
    gives the push of every component (:func:`component_names`).

    :param batch_size: sequences per batch. :param n_batches: batches (from the start of the split).
    :param split: ``val`` or ``train``.
    """

    def __init__(self, batch_size: int = 16, n_batches: int = 1, split: str = "val") -> None:
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if not (isinstance(batch_size, int) and isinstance(n_batches, int)) or min(batch_size, n_batches) < 1:
            raise ValueError("batch_size and n_batches: accepted: positive integers")
        self.batch_size, self.n_batches, self.split = batch_size, n_batches, split

    keys = ("sum_error", "loss", "embed", "attn", "mlp")

    def __call__(self, model: nn.Module, data) -> dict[str, float]:
        out = self.per_component(model, data)
        summary = {k: out.pop(k) for k in ("sum_error", "loss", "embed")}
        for kind in ("attn", "mlp"):
            summary[kind] = sum(v for name, v in out.items() if name.startswith(kind + "."))
        return summary

    def per_component(self, model: nn.Module, data) -> dict[str, float]:
        """``sum_error``, ``loss`` and the push of every component, averaged over the batches."""
        from paperzoo.data import batches

        device = next(model.parameters()).device
        sums: dict[str, float] = {}
        err, loss, k = 0.0, 0.0, 0
        for k, (x, y) in enumerate(batches(getattr(data, self.split), self.batch_size), 1):
            x, y = x.to(device), y.to(device)
            terms, bias, logits = dla(model, x)
            total = bias + sum(terms.values())
            err = max(err, float((logits - total).abs().max() / logits.abs().max().clamp_min(1e-30)))
            loss += float(F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100))
            keep = y >= 0
            for name, t in terms.items():
                push = t.gather(-1, y.clamp_min(0)[..., None]).squeeze(-1) - t.mean(-1)
                sums[name] = sums.get(name, 0.0) + float(push[keep].mean())
            if k == self.n_batches:
                break
        if k == 0:
            raise ValueError(f"the {self.split} split is empty")
        return {"sum_error": err, "loss": loss / k, **{name: v / k for name, v in sums.items()}}
