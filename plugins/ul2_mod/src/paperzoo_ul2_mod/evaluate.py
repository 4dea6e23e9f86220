"""The evaluator ``ul2_mod_denoising``: a model's target-token loss and accuracy on infilling (a fixed
span-corruption draw) and on continuation (a fixed prefix split) of the validation split, each with its
mode token, and their mean (``union_loss``). Deterministic: the corruption is drawn from ``seed``."""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle, fetch

from paperzoo_ul2_mod.denoisers import MixtureOfDenoisers, R, S
from paperzoo_ul2_mod.training import objective_loss, to_decoder_only


def _accuracy(model: torch.nn.Module, t) -> float:
    from paperzoo_tinylm.encdec import TinyLMEncoderDecoder, shift_right
    from paperzoo_tinylm.tokenizer import PAD

    if isinstance(model, TinyLMEncoderDecoder):
        dec = shift_right(t.targets.masked_fill(~t.loss_mask, PAD), PAD)
        logits = model(t.inputs, dec, attention_mask=(t.inputs != PAD).long()).logits
    else:
        t = to_decoder_only(t)
        logits = model(t.inputs).logits
    hit = (logits.argmax(-1) == t.targets) & t.loss_mask
    return float(hit.sum() / t.loss_mask.sum())


@torch.no_grad()
def denoising_metrics(
    model: torch.nn.Module,
    ids: torch.Tensor,
    seed: int = 0,
    infill_rate: float = 0.15,
    infill_span: float = 3.0,
    suffix_rate: float = 0.25,
) -> dict[str, float]:
    """``infill_loss``, ``infill_acc``, ``continuation_loss``, ``continuation_acc``, ``union_loss`` of
    ``model`` (eval mode for the pass) on ``ids`` ``[B, L]``."""
    was = model.training
    model.eval()
    out = {}
    tasks = {"infill": R(infill_span, infill_rate), "continuation": S(suffix_rate)}
    for name, denoiser in tasks.items():
        t = MixtureOfDenoisers((denoiser,))(ids, generator=torch.Generator().manual_seed(seed))
        out[f"{name}_loss"] = float(objective_loss(model, t))
        out[f"{name}_acc"] = _accuracy(model, t)
    out["union_loss"] = (out["infill_loss"] + out["continuation_loss"]) / 2
    model.train(was)
    return out


class DenoisingEvaluator:
    """Registered as ``ul2_mod_denoising``.

    :param batch_size: rows per batch; :param n_batches: batches (the first of the split);
    :param split: ``val`` or ``train``; :param seed: the corruption draw; :param infill_rate,
        infill_span: the infilling task's R-denoiser; :param suffix_rate: the continuation's mean share.
    """

    keys = ("infill_loss", "infill_acc", "continuation_loss", "continuation_acc", "union_loss")

    def __init__(
        self,
        batch_size: int = 32,
        n_batches: int = 4,
        split: str = "val",
        seed: int = 0,
        infill_rate: float = 0.15,
        infill_span: float = 3.0,
        suffix_rate: float = 0.25,
    ) -> None:
        from paperzoo.errors import ParamError

        if split not in ("val", "train"):
            raise ParamError("split", f"{split!r}; accepted: 'val' or 'train'")
        for name, value in (("batch_size", batch_size), ("n_batches", n_batches)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParamError(name, f"{value!r}; accepted: an integer >= 1")
        self.batch_size, self.n_batches, self.split, self.seed = batch_size, n_batches, split, seed
        self.task = {"infill_rate": infill_rate, "infill_span": infill_span, "suffix_rate": suffix_rate}

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        dataset = data.val if self.split == "val" else data.train
        device = next(model.parameters()).device
        sums: dict[str, float] = {}
        n = 0
        for b in range(self.n_batches):
            idx = torch.arange(b * self.batch_size, min((b + 1) * self.batch_size, len(dataset)))
            if len(idx) == 0:
                break
            x, _ = fetch(dataset, idx)
            got = denoising_metrics(model, x.to(device), self.seed + b, **self.task)
            sums = {k: sums.get(k, 0.0) + v for k, v in got.items()}
            n += 1
        return {k: v / max(n, 1) for k, v in sums.items()}
